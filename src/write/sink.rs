//! The one trait every output format's writer implements ([`Writer`]), and what the writers
//! share.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::row_groups::{AlignedRowGroup, ColumnEncoding, Place};
use crate::error::{Error, Result};

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

/// An Arrow batch as JSON rows, each ended by a newline; nulls written out.
pub(crate) fn batch_to_json(batch: &RecordBatch, name: &str) -> Result<Vec<u8>> {
    crate::json::rows_of_batch(batch).map_err(|e| Error::format(name, e))
}

/// A format error about the output.
pub(crate) fn format_error(name: &str, e: impl std::fmt::Display) -> Error {
    Error::format(name, e)
}

/// The error for an aligned row group sent to a JSON writer.
pub(super) fn not_parquet(name: &str) -> Error {
    format_error(name, "aligned row groups need Parquet output")
}
