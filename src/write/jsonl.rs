//! JSON Lines output: rows as they come, one per line.

use arrow_array::RecordBatch;

use super::row_groups::AlignedRowGroup;
use super::sink::{batch_to_json, not_parquet, Writer};
use crate::error::Result;
use crate::io::Output;

/// Writes JSON Lines.
pub(super) struct JsonLines {
    output: Output,
}

impl JsonLines {
    pub(super) fn new(output: Output) -> JsonLines {
        JsonLines { output }
    }
}

impl Writer for JsonLines {
    fn write_rows(&mut self, rows: &[u8]) -> Result<()> {
        self.output.write_bytes(rows)
    }

    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch_to_json(batch, self.output.name())?;
        self.write_rows(&rows)
    }

    fn write_rows_from(&mut self, file: &mut std::fs::File) -> Result<()> {
        self.output.append(file)
    }

    fn write_aligned(&mut self, _aligned: AlignedRowGroup) -> Result<()> {
        Err(not_parquet(self.output.name()))
    }

    fn finish(self: Box<Self>) -> Result<()> {
        self.output.finish()
    }
}
