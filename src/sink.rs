//! Where relabeled rows are written: JSON Lines, a JSON array or Parquet, from either
//! representation (JSON row bytes or Arrow batches), converting between them when the formats
//! differ.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as Codec, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::columns::hf;
use crate::driver::ParquetCompression;
use crate::error::{Error, Result};
use crate::io::{Format, Output};

/// Row groups are closed at about this many bytes, like `datasets`' 100 MB shards.
pub const ROW_GROUP_BYTES: usize = 100 << 20;

/// How Parquet output is written.
#[derive(Debug, Clone)]
pub struct ParquetOptions {
    /// The codec.
    pub compression: ParquetCompression,
    /// The largest row group in bytes.
    pub row_group_bytes: usize,
}

impl Default for ParquetOptions {
    fn default() -> ParquetOptions {
        ParquetOptions {
            compression: ParquetCompression::Snappy,
            row_group_bytes: ROW_GROUP_BYTES,
        }
    }
}

enum Kind {
    Lines(Output),
    Array { output: Output, rows: u64 },
    Parquet(Box<ParquetOut>),
}

struct ParquetOut {
    /// The file, until the writer (which needs the schema) takes it.
    output: Option<Output>,
    writer: Option<ArrowWriter<Output>>,
    /// Set when rows arrive as JSON: schema inferred from the first rows.
    decoder: Option<arrow_json::reader::Decoder>,
    options: ParquetOptions,
}

/// An output in one format, fed JSON rows or Arrow batches.
pub struct Sink {
    kind: Kind,
    name: String,
}

fn arrow_error(name: &str, e: impl std::fmt::Display) -> Error {
    Error::Format {
        path: name.to_string(),
        detail: e.to_string(),
    }
}

impl Sink {
    /// A sink writing `format` into `output`.
    pub fn new(output: Output, format: Format, options: ParquetOptions) -> Sink {
        let name = output.name().to_string();
        let kind = match format {
            Format::Jsonl => Kind::Lines(output),
            Format::Json => Kind::Array { output, rows: 0 },
            Format::Parquet => Kind::Parquet(Box::new(ParquetOut {
                output: Some(output),
                writer: None,
                decoder: None,
                options,
            })),
        };
        Sink { kind, name }
    }

    /// Writes JSON rows, each ended by a newline.
    pub fn write_rows(&mut self, rows: &[u8]) -> Result<()> {
        match &mut self.kind {
            Kind::Lines(output) => output.write_bytes(rows),
            Kind::Array {
                output,
                rows: count,
            } => {
                for row in rows.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
                    output.write_bytes(if *count == 0 { b"[\n" } else { b",\n" })?;
                    output.write_bytes(row)?;
                    *count += 1;
                }
                Ok(())
            }
            Kind::Parquet(out) => {
                if rows.is_empty() {
                    return Ok(());
                }
                if out.decoder.is_none() {
                    let schema = infer_schema(rows).map_err(|e| arrow_error(&self.name, e))?;
                    out.decoder = Some(
                        arrow_json::ReaderBuilder::new(Arc::clone(&schema))
                            .with_strict_mode(true)
                            .build_decoder()
                            .map_err(|e| arrow_error(&self.name, e))?,
                    );
                }
                let mut at = 0;
                while at < rows.len() {
                    let decoder = out.decoder.as_mut().expect("set above");
                    let used = decoder
                        .decode(&rows[at..])
                        .map_err(|e| arrow_error(&self.name, json_to_arrow(e)))?;
                    at += used;
                    let batch = decoder
                        .flush()
                        .map_err(|e| arrow_error(&self.name, json_to_arrow(e)))?;
                    if let Some(batch) = batch {
                        write_parquet(out, &batch, &self.name)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Writes an Arrow batch.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.kind {
            Kind::Parquet(out) => write_parquet(out, batch, &self.name),
            _ => {
                let mut writer = arrow_json::writer::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow_json::writer::LineDelimited>(Vec::new());
                writer
                    .write(batch)
                    .map_err(|e| arrow_error(&self.name, e))?;
                writer.finish().map_err(|e| arrow_error(&self.name, e))?;
                let rows = writer.into_inner();
                self.write_rows(&rows)
            }
        }
    }

    /// Sets the schema of Parquet output up front, so even an empty result has the input's
    /// columns and metadata. Does nothing for JSON.
    pub fn set_schema(&mut self, schema: SchemaRef) -> Result<()> {
        if let Kind::Parquet(out) = &mut self.kind {
            if out.writer.is_none() {
                open_writer(out, schema, &self.name)?;
            }
        }
        Ok(())
    }

    /// Ends the output (closing the array, writing the Parquet footer) and commits it.
    pub fn finish(self) -> Result<()> {
        let name = self.name;
        match self.kind {
            Kind::Lines(output) => output.finish(),
            Kind::Array { mut output, rows } => {
                output.write_bytes(if rows == 0 { b"[]\n" } else { b"\n]\n" })?;
                output.finish()
            }
            Kind::Parquet(mut out) => {
                if let Some(decoder) = out.decoder.as_mut() {
                    if let Some(batch) = decoder
                        .flush()
                        .map_err(|e| arrow_error(&name, json_to_arrow(e)))?
                    {
                        write_parquet(&mut out, &batch, &name)?;
                    }
                }
                if out.writer.is_none() {
                    // No rows at all: an empty file with no columns is still a valid Parquet file.
                    open_writer(&mut out, Arc::new(Schema::empty()), &name)?;
                }
                let writer = out.writer.take().expect("opened above");
                let output = writer.into_inner().map_err(|e| arrow_error(&name, e))?;
                output.finish()
            }
        }
    }
}

/// Makes arrow-json's messages say which column failed in plain words.
fn json_to_arrow(e: arrow_schema::ArrowError) -> String {
    format!(
        "converting JSON rows to Parquet: {e} (the Parquet schema is inferred from the first rows)"
    )
}

/// Infers an Arrow schema from JSON rows and adds the `huggingface` features metadata.
fn infer_schema(rows: &[u8]) -> std::result::Result<SchemaRef, arrow_schema::ArrowError> {
    let (schema, _) = arrow_json::reader::infer_json_schema(rows, None)?;
    let mut metadata = schema.metadata().clone();
    if let Some(features) = hf::metadata(&schema) {
        metadata.insert(hf::KEY.to_string(), features);
    }
    Ok(Arc::new(schema.with_metadata(metadata)))
}

fn open_writer(out: &mut ParquetOut, schema: SchemaRef, name: &str) -> Result<()> {
    let codec = match out.options.compression {
        ParquetCompression::Snappy => Codec::SNAPPY,
        ParquetCompression::Zstd => Codec::ZSTD(ZstdLevel::default()),
        ParquetCompression::None => Codec::UNCOMPRESSED,
    };
    let properties = WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_bytes(Some(out.options.row_group_bytes))
        .build();
    let output = out.output.take().expect("the writer is opened once");
    let writer =
        ArrowWriter::try_new(output, schema, Some(properties)).map_err(|e| arrow_error(name, e))?;
    out.writer = Some(writer);
    Ok(())
}

fn write_parquet(out: &mut ParquetOut, batch: &RecordBatch, name: &str) -> Result<()> {
    if out.writer.is_none() {
        open_writer(out, batch.schema(), name)?;
    }
    let writer = out.writer.as_mut().expect("opened above");
    writer.write(batch).map_err(|e| match e {
        parquet::errors::ParquetError::External(inner) => {
            match inner.downcast::<std::io::Error>() {
                Ok(io) => Error::io(name, *io),
                Err(other) => arrow_error(name, other),
            }
        }
        other => arrow_error(name, other),
    })
}
