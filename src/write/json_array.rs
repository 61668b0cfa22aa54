//! JSON array output: `[`, the rows separated by commas, `]`.

use arrow_array::RecordBatch;

use super::row_groups::AlignedRowGroup;
use super::sink::{batch_to_json, not_parquet, Writer};
use crate::error::Result;
use crate::io::Output;

/// Writes one JSON array of the rows.
pub(super) struct JsonArray {
    output: Output,
    rows: u64,
}

impl JsonArray {
    pub(super) fn new(output: Output) -> JsonArray {
        JsonArray { output, rows: 0 }
    }
}

impl Writer for JsonArray {
    fn write_rows(&mut self, rows: &[u8]) -> Result<()> {
        for row in rows.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
            self.output
                .write_bytes(if self.rows == 0 { b"[\n" } else { b",\n" })?;
            self.output.write_bytes(row)?;
            self.rows += 1;
        }
        Ok(())
    }

    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch_to_json(batch, self.output.name())?;
        self.write_rows(&rows)
    }

    fn write_aligned(&mut self, _aligned: AlignedRowGroup) -> Result<()> {
        Err(not_parquet(self.output.name()))
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let end: &[u8] = if self.rows == 0 { b"[]\n" } else { b"\n]\n" };
        self.output.write_bytes(end)?;
        self.output.finish()
    }
}
