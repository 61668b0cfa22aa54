//! JSON rows on their way to a writer, a block at a time ([`RowBlocks`]).

use std::ops::DerefMut;
use std::sync::Arc;

use arrow_array::RecordBatch;

use super::sink::Writer;
use crate::error::{Error, Location, Result};

/// The rows a block of [`RowBlocks`] holds before it is written.
const ROW_BLOCK_BYTES: usize = 4 << 20;

/// JSON rows on their way to a writer, a block at a time: a Parquet writer decodes and encodes a
/// batch per call, and a call per row made `condition` and `pairs` eight times slower to Parquet
/// than to JSON Lines. A block the writer can't hold is written again row by row, so the error
/// names the input row of the row it can't.
pub struct RowBlocks<S: DerefMut<Target = dyn Writer>> {
    sink: S,
    rows: Vec<u8>,
    /// Where each row ends in `rows`, and the input row it came from.
    ends: Vec<(usize, Location)>,
    /// Whether a row the writer can't hold is left out (kept in `skipped`) rather than an error.
    skip: bool,
    skipped: Vec<(Error, u64)>,
}

impl<S: DerefMut<Target = dyn Writer>> RowBlocks<S> {
    /// Blocks for `sink` (a writer, or a reference to one).
    pub fn new(sink: S) -> RowBlocks<S> {
        RowBlocks {
            sink,
            rows: Vec::new(),
            ends: Vec::new(),
            skip: false,
            skipped: Vec::new(),
        }
    }

    /// Leaves out the rows the writer can't hold (`--on-error skip`), each kept with its error
    /// for [`RowBlocks::take_skipped`]; a row a wider schema would hold still stops the writing
    /// ([`Error::SchemaWidens`]), so that the output can start again with it.
    pub fn skipping(mut self, skip: bool) -> RowBlocks<S> {
        self.skip = skip;
        self
    }

    /// Whether rows the writer can't hold are left out ([`RowBlocks::skipping`]).
    pub fn is_skipping(&self) -> bool {
        self.skip
    }

    /// Writes the rows held, and returns the pushes left out since the last call, in order:
    /// why (a row error at the input row pushed with it) and how many rows (lines) each held.
    /// Those rows are not written.
    pub fn take_skipped(&mut self) -> Result<Vec<(Error, u64)>> {
        self.flush()?;
        Ok(std::mem::take(&mut self.skipped))
    }

    /// Writes the rows held, then `batch`.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.flush()?;
        self.sink.write_batch(batch)
    }

    /// Writes the rows held and hands the writer back.
    pub fn into_inner(mut self) -> Result<S> {
        self.flush()?;
        Ok(self.sink)
    }

    /// Adds rows made from the input row at `location`: one or more, each newline-terminated,
    /// written or (under [`RowBlocks::skipping`]) left out together.
    pub fn push(&mut self, row: &[u8], location: &Location) -> Result<()> {
        self.rows.extend_from_slice(row);
        self.ends.push((self.rows.len(), location.clone()));
        if self.rows.len() >= ROW_BLOCK_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the rows held.
    pub fn flush(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        match self.sink.write_rows(&self.rows) {
            Ok(()) => {}
            // Nothing of the block was written: find its row, one at a time.
            Err(block @ (Error::Unwritable { .. } | Error::SchemaWidens { .. })) => {
                let mut start = 0;
                for (end, location) in &self.ends {
                    let written = self.sink.write_rows(&self.rows[start..*end]);
                    match (written, &block) {
                        (Ok(()), _) => {}
                        // The block's wider schema, which holds every row of it, not just this
                        // one's: the next start needs fewer.
                        (
                            Err(Error::SchemaWidens { original, .. }),
                            Error::SchemaWidens { schema, change, .. },
                        ) => {
                            return Err(Error::SchemaWidens {
                                original,
                                schema: Arc::clone(schema),
                                change: change.clone(),
                            }
                            .at_row(location))
                        }
                        (Err(e @ Error::Unwritable { .. }), _) if self.skip => {
                            let rows = &self.rows[start..*end];
                            let lines = rows.iter().filter(|&&b| b == b'\n').count();
                            self.skipped.push((e.at_row(location), lines as u64))
                        }
                        (Err(e), _) => return Err(e.at_row(location)),
                    }
                    start = *end;
                }
            }
            Err(e) => return Err(e),
        }
        self.rows.clear();
        self.ends.clear();
        Ok(())
    }
}
