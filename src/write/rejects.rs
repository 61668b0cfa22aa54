//! The rejects file of JSON input (`--rejects`): JSON Lines keep each rejected row verbatim; a
//! JSON array or Parquet file, which can't hold rows that are not JSON objects, gets one record
//! per rejected row saying where it was, why it was rejected, and its text.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::open::create;
use super::parquet::ParquetOptions;
use super::sink::{format_error, Writer};
use crate::error::{Location, Position, Result, RowError};
use crate::io::{Format, Output};

/// One rejected row of JSON input.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Where it was.
    pub location: Location,
    /// Why it was rejected.
    pub problem: RowError,
    /// Its bytes, verbatim.
    pub row: Vec<u8>,
}

/// Where the rejected rows of JSON input go, in the rejects file's own format.
pub struct Rejects {
    writer: Box<dyn Writer>,
    verbatim: bool,
    name: String,
}

impl Rejects {
    /// A rejects file of `format` (JSON Lines: verbatim rows; others: described rows).
    pub fn new(output: Output, format: Format, options: ParquetOptions) -> Result<Rejects> {
        let name = output.name().to_string();
        let verbatim = format == Format::Jsonl;
        let mut writer = create(output, format, options);
        if !verbatim {
            writer.set_schema(schema())?;
        }
        Ok(Rejects {
            writer,
            verbatim,
            name,
        })
    }

    /// Writes rejected rows.
    pub fn write(&mut self, rows: &[Rejected]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.verbatim {
            let mut bytes = Vec::new();
            for r in rows {
                bytes.extend_from_slice(&r.row);
                bytes.push(b'\n');
            }
            return self.writer.write_rows(&bytes);
        }
        let strings = |f: &dyn Fn(&Rejected) -> Option<String>| -> ArrayRef {
            Arc::new(rows.iter().map(f).collect::<StringArray>())
        };
        let columns: Vec<ArrayRef> = vec![
            strings(&|r| Some(r.location.file.to_string())),
            Arc::new(
                rows.iter()
                    .map(|r| match r.location.position {
                        Position::Line(n) | Position::Row(n) => n,
                    })
                    .collect::<UInt64Array>(),
            ),
            strings(&|r| Some(r.problem.reason.as_str().to_string())),
            strings(&|r| r.problem.field.clone()),
            strings(&|r| Some(r.problem.detail.clone())),
            strings(&|r| Some(String::from_utf8_lossy(&r.row).into_owned())),
        ];
        let batch =
            RecordBatch::try_new(schema(), columns).map_err(|e| format_error(&self.name, e))?;
        self.writer.write_batch(&batch)
    }

    /// Commits the file.
    pub fn finish(self) -> Result<()> {
        self.writer.finish()
    }
}

/// The columns of a described rejects file.
fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("field", DataType::Utf8, true),
        Field::new("detail", DataType::Utf8, false),
        Field::new("row", DataType::Utf8, false),
    ]))
}
