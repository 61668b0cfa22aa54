//! Opens the writer of an output's format.

use super::json_array::JsonArray;
use super::jsonl::JsonLines;
use super::parquet::{ParquetOptions, ParquetWriter};
use super::sink::Writer;
use crate::io::{Format, Output};

/// A writer of `format` into `output`.
pub fn create(output: Output, format: Format, options: ParquetOptions) -> Box<dyn Writer> {
    match format {
        Format::Jsonl => Box::new(JsonLines::new(output)),
        Format::Json => Box::new(JsonArray::new(output)),
        Format::Parquet => Box::new(ParquetWriter::new(output, options)),
    }
}
