//! Where records are written: one writer per output format (JSON Lines, JSON array, Parquet),
//! each in its own file behind the [`Writer`] trait, fed JSON rows or Arrow batches and
//! converting between the two where the format needs it.

mod json_array;
mod jsonl;
mod pages;
mod parquet;
mod rejects;
mod spool;

use std::ops::DerefMut;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::{Error, Location, Result};
use crate::io::{Format, Output};

pub use self::parquet::{
    common_json_schema, schema_change, with_widening, AlignedEncoder, AlignedRowGroup,
    ColumnEncoding, ParquetCompression, ParquetOptions, RowDecoder, ROW_GROUP_BYTES,
};
pub use self::rejects::{Rejected, Rejects};
pub use self::spool::Spool;

/// Where rows belong in the output's order: which half (variant) of the relabeling, and which
/// unit of the input (a row group, in input order). Parquet output may be written out of this
/// order (later halves of `--order blocks` as soon as they are ready); the footer lists its row
/// groups in it, so readers see them in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    /// The half, 0 first.
    pub half: usize,
    /// The input unit, in input order.
    pub unit: usize,
}

/// An output in one format. Rows arrive as JSON (each ended by a newline) or as Arrow batches;
/// nothing is visible at the target until [`Writer::finish`] commits it.
pub trait Writer: Send {
    /// Writes JSON rows, each ended by a newline.
    fn write_rows(&mut self, rows: &[u8]) -> Result<()>;

    /// Writes an Arrow batch.
    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()>;

    /// Writes the JSON rows held in a file (a spill of `--order blocks`).
    fn write_rows_from(&mut self, file: &mut std::fs::File) -> Result<()> {
        for block in crate::json::split::LineBlocks::new(file, Vec::new(), 1 << 20) {
            let block = block.map_err(|e| Error::io("temporary file for --order blocks", e))?;
            self.write_rows(&block.data)?;
        }
        Ok(())
    }

    /// Sets the schema up front, so even an empty Parquet result has the input's columns and
    /// metadata. JSON has no schema.
    fn set_schema(&mut self, _schema: SchemaRef) -> Result<()> {
        Ok(())
    }

    /// Says where the rows written next belong (see [`Place`]). JSON is written in order and
    /// ignores it.
    fn set_place(&mut self, _place: Place) -> Result<()> {
        Ok(())
    }

    /// How this writer encodes columns, for encoding them on other threads (Parquet, once the
    /// schema is set).
    fn column_encoding(&self) -> Option<ColumnEncoding> {
        None
    }

    /// Writes a row group aligned with an input row group. Parquet only.
    fn write_aligned(&mut self, _aligned: AlignedRowGroup) -> Result<()>;

    /// Ends the output (closing the array, writing the Parquet footer) and commits it.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A writer of `format` into `output`.
pub fn create(output: Output, format: Format, options: ParquetOptions) -> Box<dyn Writer> {
    match format {
        Format::Jsonl => Box::new(jsonl::JsonLines::new(output)),
        Format::Json => Box::new(json_array::JsonArray::new(output)),
        Format::Parquet => Box::new(parquet::ParquetWriter::new(output, options)),
    }
}

/// An Arrow batch as JSON rows, each ended by a newline; nulls written out.
pub(crate) fn batch_to_json(batch: &RecordBatch, name: &str) -> Result<Vec<u8>> {
    crate::json::rows_of_batch(batch).map_err(|e| Error::format(name, e))
}

/// A format error about the output.
pub(crate) fn format_error(name: &str, e: impl std::fmt::Display) -> Error {
    Error::format(name, e)
}

/// The error for an aligned row group sent to a JSON writer.
fn not_parquet(name: &str) -> Error {
    format_error(name, "aligned row groups need Parquet output")
}

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
}

impl<S: DerefMut<Target = dyn Writer>> RowBlocks<S> {
    /// Blocks for `sink` (a writer, or a reference to one).
    pub fn new(sink: S) -> RowBlocks<S> {
        RowBlocks {
            sink,
            rows: Vec::new(),
            ends: Vec::new(),
        }
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

    /// Adds a row (newline-terminated) made from the input row at `location`.
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
