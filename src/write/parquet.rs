//! Parquet output: row groups of bounded size, encoded column-parallel; row groups aligned with
//! the input's, whose unchanged column chunks are copied; a footer that lists row groups in the
//! output's order whatever order they were written in.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression as Codec, GzipLevel, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

use super::pages::{SpillingStores, PAGES_IN_MEMORY};
use super::row_groups::{AlignedRowGroup, ColumnEncoding, Place};
use super::sink::{format_error as arrow_error, Writer};
use crate::arrow::hf;
use crate::error::{Error, Reason, Result, RowError};
use crate::io::Output;
use crate::json::object::Object;

/// Parquet compression codecs `raug` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetCompression {
    /// Zstandard.
    Zstd,
    /// Snappy (what `datasets` writes).
    Snappy,
    /// gzip (Spark's and pandas' choice in places).
    Gzip,
    /// Brotli.
    Brotli,
    /// LZ4 (the raw format, `LZ4_RAW`).
    Lz4,
    /// None.
    None,
}

/// Data pages are cut at about this many bytes (Parquet writers' default is 1 MiB), the size
/// checked every [`PAGE_CHECK_VALUES`] values: a page's buffers (its values, then snappy's
/// worst-case output for them) then stay small enough for glibc's malloc to reuse. Pages of
/// 1 MiB and more (long texts made 2.4 MB pages, 1,024 values a check) were mapped afresh and
/// faulted in each time: on the `datasets`-written bench file 88-112 thousand page faults a
/// run against 37-40 thousand, and 8-10% of the CPU time.
const PAGE_BYTES: usize = 512 << 10;

/// Values written between checks of a page's size (the default is 1,024).
const PAGE_CHECK_VALUES: usize = 256;

/// Row groups are closed at about this many bytes, like `datasets`' 100 MB shards.
pub const ROW_GROUP_BYTES: usize = 100 << 20;

/// How Parquet output is written.
#[derive(Debug, Clone)]
pub struct ParquetOptions {
    /// The codec.
    pub compression: ParquetCompression,
    /// The largest row group in bytes.
    pub row_group_bytes: usize,
    /// Whether to write the page index (column and offset indexes). Off where row groups may be
    /// written out of order: the footer is then rewritten, and page index offsets can't be.
    pub page_index: bool,
    /// Threads that encode and compress columns (the writer's own pool, so that `--threads`
    /// bounds them too).
    pub threads: usize,
    /// Bytes of encoded pages held in memory until their row group is written, over all column
    /// chunks; past it pages wait in temporary files beside the output.
    pub pages_in_memory: usize,
    /// The schema JSON rows are written with; `None` takes it from the first rows (see
    /// [`with_widening`]).
    pub json_schema: Option<SchemaRef>,
}

impl Default for ParquetOptions {
    fn default() -> ParquetOptions {
        ParquetOptions {
            compression: ParquetCompression::Snappy,
            row_group_bytes: ROW_GROUP_BYTES,
            page_index: true,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            pages_in_memory: PAGES_IN_MEMORY,
            json_schema: None,
        }
    }
}

struct ParquetOut {
    /// The file, until the writer (which needs the schema) takes it.
    output: Option<Output>,
    writer: Option<RowGroups>,
    /// Set when rows arrive as JSON: schema inferred from the first rows.
    decoder: Option<RowDecoder>,
    options: ParquetOptions,
}

/// Writes Parquet, fed Arrow batches (or JSON rows, decoded with a schema inferred from the first
/// rows).
pub(super) struct ParquetWriter {
    out: ParquetOut,
    name: String,
}

impl ParquetWriter {
    pub(super) fn new(output: Output, options: ParquetOptions) -> ParquetWriter {
        ParquetWriter {
            name: output.name().to_string(),
            out: ParquetOut {
                output: Some(output),
                writer: None,
                decoder: None,
                options,
            },
        }
    }
}

impl Writer for ParquetWriter {
    fn write_rows(&mut self, rows: &[u8]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.out.decoder.is_none() {
            let decoder = match &self.out.options.json_schema {
                Some(schema) => RowDecoder::with_schema(Arc::clone(schema)),
                // No row makes a schema: the first is a bad row for its own reason.
                None => RowDecoder::infer(rows).map_err(|_| Error::Unwritable {
                    output: self.name.clone(),
                    problem: RowDecoder::uninferable(
                        rows.split(|&b| b == b'\n').next().unwrap_or_default(),
                    ),
                })?,
            };
            self.out.decoder = Some(decoder);
        }
        let decoder = self.out.decoder.as_ref().expect("set above");
        match decoder.decode(rows) {
            Ok(Some(batch)) => write_parquet(&mut self.out, &batch, &self.name),
            Ok(None) => Ok(()),
            Err(whole) => {
                let unwritable = Error::Unwritable {
                    output: self.name.clone(),
                    problem: decoder.check_rows(rows).err().unwrap_or(whole),
                };
                // Only if the wider schema holds all of them: else a row is bad as it is.
                let wider = decoder.widened(rows).filter(|(schema, _)| {
                    RowDecoder::with_schema(Arc::clone(schema))
                        .decode(rows)
                        .is_ok()
                });
                Err(match wider {
                    Some((schema, change)) => Error::SchemaWidens {
                        original: Box::new(unwritable),
                        schema,
                        change,
                    },
                    None => unwritable,
                })
            }
        }
    }

    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        write_parquet(&mut self.out, batch, &self.name)
    }

    fn write_aligned(&mut self, aligned: AlignedRowGroup) -> Result<()> {
        match self.out.writer.as_mut() {
            Some(writer) => writer.write_aligned(aligned, &self.name),
            None => Err(arrow_error(&self.name, "the Parquet schema was not set")),
        }
    }

    fn column_encoding(&self) -> Option<ColumnEncoding> {
        self.out.writer.as_ref().map(|w| ColumnEncoding {
            factory: Arc::clone(&w.factory),
            schema: Arc::clone(&w.schema),
            roots: Arc::clone(&w.roots),
            parquet: Arc::new(w.file.schema_descr().clone()),
        })
    }

    fn set_place(&mut self, place: Place) -> Result<()> {
        if let Some(writer) = self.out.writer.as_mut() {
            let next = place.half == writer.place.half
                && (place.unit == writer.place.unit || place.unit == writer.place.unit + 1);
            if !next {
                // A row group never spans rows that are apart in the output's order.
                writer.close_row_group(&self.name)?;
            }
            writer.place = place;
        }
        Ok(())
    }

    fn set_schema(&mut self, schema: SchemaRef) -> Result<()> {
        if self.out.writer.is_none() {
            open_writer(&mut self.out, schema, &self.name)?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let ParquetWriter { mut out, name } = *self;
        if out.writer.is_none() {
            // No rows at all: an empty file with no columns is still a valid Parquet file.
            open_writer(&mut out, Arc::new(Schema::empty()), &name)?;
        }
        let writer = out.writer.take().expect("opened above");
        writer.finish(&name)?.finish()
    }
}

/// JSON rows decoded to Arrow with one schema, taken from the first rows of an output: how
/// JSON becomes Parquet. A row it can't decode is a bad row ([`Reason::Unwritable`]), so the
/// caller, who knows the row's input line, can report or skip it.
#[derive(Debug, Clone)]
pub struct RowDecoder {
    schema: SchemaRef,
    /// The names of integer fields, each quoted as a key (`"name"`): arrow-json reads a number
    /// with a fraction into an integer column truncated (3.5 as 3), so rows are searched for
    /// such values first. Only names no other field of the schema has, at any depth.
    integer_keys: Vec<(String, Vec<u8>)>,
}

impl RowDecoder {
    /// A decoder whose schema is inferred from `rows` (JSON Lines), with the `huggingface`
    /// features metadata added.
    pub fn infer(rows: &[u8]) -> std::result::Result<RowDecoder, String> {
        Ok(RowDecoder::with_schema(
            infer_schema(rows).map_err(|e| e.to_string())?,
        ))
    }

    /// Why one JSON row makes no schema alone (when no row of the first makes one, each is a
    /// bad row for its own reason): the field holding a lone surrogate escape, or what Arrow's
    /// inference says of it.
    pub fn uninferable(row: &[u8]) -> RowError {
        if let Some(problem) = unholdable(row) {
            return problem;
        }
        let why = match arrow_json::reader::infer_json_schema(row, None) {
            Err(e) if e.to_string().contains("recursion limit exceeded") => {
                "it nests deeper than the 128 levels Arrow's JSON reader takes".into()
            }
            Err(e) => format!("no column type fits it ({e})"),
            Ok(_) => "no column type fits it".into(),
        };
        RowError::row(
            Reason::Unwritable,
            format!("can't be written to Parquet: {why}"),
        )
    }

    /// A decoder of rows into `schema` (one [`RowDecoder::widened`] made).
    pub fn with_schema(schema: SchemaRef) -> RowDecoder {
        let mut integers = Vec::new();
        let mut others = Vec::new();
        leaf_names(schema.fields(), &mut integers, &mut others);
        integers.sort();
        integers.dedup();
        let integer_keys = integers
            .into_iter()
            .filter(|name| !others.contains(name))
            .map(|name| {
                let key = serde_json::to_string(&name).expect("strings always serialize");
                (name, key.into_bytes())
            })
            .collect();
        RowDecoder {
            schema,
            integer_keys,
        }
    }

    /// The schema widened to hold `rows` too, if they need it and it can: fields they add
    /// (appended, at any depth), integers where they hold fractions (as floats), types where
    /// the first rows held only nulls. `None` if the schema holds them already or a type
    /// contradicts (a string where numbers were): then a row that fails is a bad row. With
    /// the schema, how it is wider, for a message.
    pub fn widened(&self, rows: &[u8]) -> Option<(SchemaRef, String)> {
        let later = infer_schema(rows).ok()?;
        let fields = merge_fields(self.schema.fields(), later.fields())?;
        (&fields != self.schema.fields()).then(|| {
            let wider = with_features(fields);
            let change = describe_widening(&self.schema, &wider);
            (wider, change)
        })
    }

    /// The first integer field in `rows` whose value has a fraction (or is out of range): a
    /// value arrow-json would truncate rather than refuse.
    fn fraction_in_integer(&self, rows: &[u8]) -> Option<RowError> {
        fn skip_space(b: &[u8]) -> &[u8] {
            &b[b.iter().take_while(|c| c.is_ascii_whitespace()).count()..]
        }
        for (name, key) in &self.integer_keys {
            for at in memchr::memmem::find_iter(rows, key) {
                // A key, not text inside a string (where its quotes would be escaped).
                if at > 0 && rows[at - 1] == b'\\' {
                    continue;
                }
                let rest = skip_space(&rows[at + key.len()..]);
                let Some(rest) = rest.strip_prefix(b":") else {
                    continue;
                };
                let rest = skip_space(rest);
                let len = rest
                    .iter()
                    .take_while(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .count();
                let number = std::str::from_utf8(&rest[..len]).unwrap_or_default();
                if !number.contains(['.', 'e', 'E']) {
                    continue;
                }
                let whole = number
                    .parse::<f64>()
                    .is_ok_and(|v| v.fract() == 0.0 && v.abs() < 9.2e18);
                if !whole {
                    return Some(RowError::field(
                        Reason::Unwritable,
                        name,
                        format!(
                            "{number} can't be written to Parquet: its column holds integers \
                             (the Parquet schema comes from the output's first rows)"
                        ),
                    ));
                }
            }
        }
        None
    }

    /// The schema every batch has.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Decodes JSON Lines into one batch (none for no rows).
    pub fn decode(&self, rows: &[u8]) -> std::result::Result<Option<RecordBatch>, RowError> {
        if let Some(problem) = self.fraction_in_integer(rows) {
            return Err(problem);
        }
        let lines = memchr::memchr_iter(b'\n', rows).count() + 1;
        let mut decoder = arrow_json::ReaderBuilder::new(Arc::clone(&self.schema))
            .with_strict_mode(true)
            .with_batch_size(lines)
            .build_decoder()
            .map_err(unwritable)?;
        let mut at = 0;
        while at < rows.len() {
            let used = decoder.decode(&rows[at..]).map_err(unwritable)?;
            if used == 0 {
                break;
            }
            at += used;
        }
        decoder.flush().map_err(unwritable)
    }

    /// Decodes each of a few JSON rows alone, to name what in the first that fails can't be
    /// written: the field holding a lone surrogate escape, or the field whose value the schema
    /// can't hold.
    pub fn check_rows(&self, rows: &[u8]) -> std::result::Result<(), RowError> {
        rows.split(|&b| b == b'\n')
            .filter(|row| !row.is_empty())
            .try_for_each(|row| self.check_row(row))
    }

    fn check_row(&self, row: &[u8]) -> std::result::Result<(), RowError> {
        let Err(problem) = self.decode(row) else {
            return Ok(());
        };
        Err(unholdable(row).unwrap_or(problem))
    }
}

/// The field of a JSON row that holds a value Parquet can't hold, if any: a lone surrogate
/// escape, or NaN or an infinity.
fn unholdable(row: &[u8]) -> Option<RowError> {
    let text = crate::io::utf8(row).unwrap_or_default();
    let object = Object::parse(text.trim_end()).ok()?;
    object
        .lone_surrogate_field(", so Parquet can't hold it")
        .or_else(|| object.non_finite_field())
}

/// The names of the leaf fields under `fields`, at any depth (inside structs and lists):
/// integer ones into `integers`, the others into `others`.
fn leaf_names(fields: &Fields, integers: &mut Vec<String>, others: &mut Vec<String>) {
    fn leaf(
        field: &Field,
        data_type: &DataType,
        integers: &mut Vec<String>,
        others: &mut Vec<String>,
    ) {
        match data_type {
            DataType::Struct(children) => {
                others.push(field.name().clone());
                leaf_names(children, integers, others);
            }
            DataType::List(item) | DataType::LargeList(item) => {
                leaf(field, item.data_type(), integers, others)
            }
            t if t.is_integer() => integers.push(field.name().clone()),
            _ => others.push(field.name().clone()),
        }
    }
    for field in fields {
        leaf(field, field.data_type(), integers, others);
    }
}

/// A JSON row arrow-json can't decode with the schema: the field it names, and why.
fn unwritable(e: arrow_schema::ArrowError) -> RowError {
    let message = match e {
        arrow_schema::ArrowError::JsonError(m) => m,
        other => other.to_string(),
    };
    // "whilst decoding field 'a': whilst decoding field 'b': expected ..." or
    // "column 'x' missing from schema".
    let mut path = Vec::new();
    let mut rest = message.as_str();
    while let Some(tail) = rest.strip_prefix("whilst decoding field '") {
        let Some(end) = tail.find("': ") else { break };
        path.push(&tail[..end]);
        rest = &tail[end + 3..];
    }
    if path.is_empty() {
        if let Some(name) = rest
            .strip_prefix("column '")
            .and_then(|t| t.strip_suffix("' missing from schema"))
        {
            return RowError::field(
                Reason::Unwritable,
                name,
                "is not a column of the Parquet output, whose schema comes from its first rows",
            );
        }
    }
    let detail = format!(
        "can't be written to Parquet: {rest} (the Parquet schema comes from the output's first rows)"
    );
    match path.is_empty() {
        true => RowError::row(Reason::Unwritable, detail),
        false => RowError::field(Reason::Unwritable, &path.join("."), detail),
    }
}

/// Infers an Arrow schema from JSON rows and adds the `huggingface` features metadata. Each
/// row's types are merged into the earlier rows' in order: a null takes the type of a value,
/// integers widen to floats, structs gain fields; a row whose value contradicts the earlier
/// rows' type (or that isn't JSON) is left out, so it, not the rows before it, is the bad row
/// when it is decoded.
fn infer_schema(rows: &[u8]) -> std::result::Result<SchemaRef, arrow_schema::ArrowError> {
    let mut fields: Option<Fields> = None;
    for row in rows.split(|&b| b == b'\n') {
        if row.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok((schema, _)) = arrow_json::reader::infer_json_schema(row, None) else {
            continue;
        };
        fields = Some(match fields {
            None => schema.fields().clone(),
            Some(before) => merge_fields(&before, schema.fields()).unwrap_or(before),
        });
    }
    let fields = fields.ok_or_else(|| {
        arrow_schema::ArrowError::JsonError("no row is a JSON object Arrow can hold".into())
    })?;
    Ok(with_features(fields))
}

/// A schema of `fields` with the `huggingface` features metadata they make.
fn with_features(fields: Fields) -> SchemaRef {
    let schema = Schema::new(fields);
    let mut metadata = schema.metadata().clone();
    if let Some(features) = hf::metadata(&schema) {
        metadata.insert(hf::KEY.to_string(), features);
    }
    Arc::new(schema.with_metadata(metadata))
}

/// One schema for Parquet files written from JSON rows, each with the schema its own rows
/// made: their fields merged as rows' are (fields only some have, integers beside floats,
/// nulls beside values), in the order the files first name them. With it, the files left out
/// because their schema contradicts those before them (a string where they hold numbers).
pub fn common_json_schema(schemas: &[SchemaRef]) -> (SchemaRef, Vec<usize>) {
    let mut fields = Fields::empty();
    let mut apart = Vec::new();
    for (i, schema) in schemas.iter().enumerate() {
        match merge_fields(&fields, schema.fields()) {
            Some(merged) => fields = merged,
            None => apart.push(i),
        }
    }
    (with_features(fields), apart)
}

/// How `common` (a [`common_json_schema`]) differs from `schema`, one file's own, for a
/// message: `column "a" as double (was int64), a new column "b" (string)`.
pub fn schema_change(schema: &Schema, common: &Schema) -> String {
    if schema.fields().is_empty() {
        return "their columns (its rows, if any, made none)".to_string();
    }
    match describe_widening(schema, common) {
        change if change.is_empty() => "its columns in the other files' order".to_string(),
        change => change,
    }
}

/// How `wider` widens `schema`, for a message: `column "a" as double (was int64), a new
/// column "b" (string)`. Nested changes are named by their top-level column.
fn describe_widening(schema: &Schema, wider: &Schema) -> String {
    let mut changes = Vec::new();
    for field in wider.fields() {
        let name = field.name();
        let ty = |f: &Field| type_name(f.data_type());
        match schema.field_with_name(name) {
            Err(_) => changes.push(format!("a new column {name:?} ({})", ty(field))),
            Ok(before) if before.data_type() != field.data_type() => changes.push(format!(
                "column {name:?} as {} (was {})",
                ty(field),
                ty(before)
            )),
            Ok(_) => {}
        }
    }
    changes.join(", ")
}

/// A type as a message names it: Arrow's lower-case names, lists and structs spelled out.
fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Int64 => "int64".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 => "string".into(),
        DataType::Boolean => "bool".into(),
        DataType::Null => "null".into(),
        DataType::List(item) => format!("list<{}>", type_name(item.data_type())),
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", f.name(), type_name(f.data_type())))
                .collect();
            format!("struct<{}>", inner.join(", "))
        }
        other => other.to_string().to_lowercase(),
    }
}

/// The fields of `before` with those of a later row merged in; none if a type contradicts.
fn merge_fields(before: &Fields, later: &Fields) -> Option<Fields> {
    let mut out: Vec<Field> = before.iter().map(|f| f.as_ref().clone()).collect();
    for field in later {
        match out.iter_mut().find(|f| f.name() == field.name()) {
            Some(f) => {
                let merged = merge_types(f.data_type(), field.data_type())?;
                *f = f.clone().with_data_type(merged);
            }
            None => out.push(field.as_ref().clone()),
        }
    }
    Some(out.into())
}

/// How many times a run writing JSON rows as Parquet may start again with a wider schema.
const WIDENINGS: usize = 16;

/// Runs `run`, which writes JSON rows as Parquet with the schema it is given (or, given none,
/// the one its first rows make), again with a wider schema each time a later row needs one
/// ([`Error::SchemaWidens`]: a field the rows before lack, a fraction in a column of integers,
/// a value where they held only nulls), if `again` (its output and inputs can start again),
/// at most 16 times; otherwise such a row is the bad row it is without. Returns what `run`
/// returned and a note on each start.
pub fn with_widening<T>(
    again: bool,
    mut run: impl FnMut(Option<SchemaRef>) -> Result<T>,
) -> Result<(T, Vec<String>)> {
    let mut schema = None;
    let mut notes = Vec::new();
    loop {
        match run(schema.take()) {
            Ok(done) => return Ok((done, notes)),
            Err(Error::SchemaWidens {
                original,
                schema: wider,
                change,
            }) if again && notes.len() < WIDENINGS => {
                let at = match original.as_ref() {
                    Error::Row { location, .. } => location.to_string(),
                    other => other.to_string(),
                };
                notes.push(format!(
                    "{at}: a row the Parquet schema so far can't hold; the output started again \
                     with {change}"
                ));
                schema = Some(wider);
            }
            Err(Error::SchemaWidens { original, .. }) => {
                return Err(can_widen_elsewhere(*original))
            }
            Err(e) => return Err(e),
        }
    }
}

/// The error of a row a wider schema would hold, where the run can't start again: what would.
fn can_widen_elsewhere(mut error: Error) -> Error {
    const HINT: &str = "; writing a file from input files (without --shard), raug would start \
                        the output again with a wider schema";
    if let Error::Row { problem, .. } | Error::Unwritable { problem, .. } = &mut error {
        problem.detail.push_str(HINT);
    }
    error
}

/// The type holding values of both types, if the first doesn't contradict the second.
fn merge_types(a: &DataType, b: &DataType) -> Option<DataType> {
    match (a, b) {
        (a, b) if a == b => Some(a.clone()),
        (DataType::Null, b) => Some(b.clone()),
        (a, DataType::Null) => Some(a.clone()),
        (DataType::Int64, DataType::Float64) | (DataType::Float64, DataType::Int64) => {
            Some(DataType::Float64)
        }
        (DataType::List(x), DataType::List(y)) => {
            let item = merge_types(x.data_type(), y.data_type())?;
            Some(DataType::List(Arc::new(
                x.as_ref().clone().with_data_type(item),
            )))
        }
        (DataType::Struct(x), DataType::Struct(y)) => merge_fields(x, y).map(DataType::Struct),
        _ => None,
    }
}

/// A Parquet file written a row group at a time. Each batch's leaf columns are encoded and
/// compressed in parallel as it arrives (one core compressing everything is otherwise the
/// bottleneck); the row group is closed, and its chunks appended in order, once it holds about
/// `limit` bytes. Only compressed pages are held in memory.
struct RowGroups {
    file: SerializedFileWriter<Body>,
    factory: Arc<ArrowRowGroupWriterFactory>,
    schema: SchemaRef,
    /// The top-level column of each leaf column.
    roots: Arc<Vec<usize>>,
    /// Where the rows written next belong, where those of the open row group do, and where
    /// each written row group's do.
    place: Place,
    open_place: Place,
    places: Vec<Place>,
    /// The column writers of the open row group, encoding slices on the pool.
    lanes: Option<Arc<Lanes>>,
    /// Batches waiting to be encoded: handed to the column writers a slice at a time, large
    /// enough that each column's work outweighs the cost of spreading it over threads.
    pending: Vec<RecordBatch>,
    pending_bytes: usize,
    bytes: usize,
    rows: usize,
    written: usize,
    limit: usize,
    /// Where columns are encoded and compressed.
    pool: rayon::ThreadPool,
}

/// The leaf columns of a slice's batches: per batch, per leaf.
type Slice = Vec<Vec<ArrowLeafColumn>>;

/// Slices a column may lag behind the newest before the caller waits for it.
const SLICES_AHEAD: usize = 3;

/// A row group's column writers, each a lane of its own on the pool: a column encodes its slices
/// in order, as soon as it is done with the one before, whatever the other columns are at, while
/// the caller makes the next batches. A few columns hold most of the bytes; waiting for every
/// column at the end of each slice left a core idle while the largest finished, and a caller
/// waiting for each slice left the workers that make batches waiting for it.
struct Lanes {
    state: std::sync::Mutex<LaneState>,
    /// Signalled whenever a column finishes a slice.
    progress: std::sync::Condvar,
}

struct LaneState {
    /// Per column: its writer, `None` while it encodes on the pool.
    writers: Vec<Option<ArrowColumnWriter>>,
    /// Per column: the slices it has yet to encode, oldest first.
    queues: Vec<std::collections::VecDeque<Arc<Slice>>>,
    /// Per column: whether a task of the pool is working through its queue.
    running: Vec<bool>,
    /// Whether a column failed, which stops every column, and its error until reported.
    failed: bool,
    error: Option<Error>,
}

impl LaneState {
    /// The error a column stopped on, reported once.
    fn failure(&mut self) -> Result<()> {
        match (self.failed, self.error.take()) {
            (false, _) => Ok(()),
            (true, Some(e)) => Err(e),
            (true, None) => Err(Error::Internal(
                "the Parquet encoder stopped after an error".to_string(),
            )),
        }
    }
}

impl Lanes {
    fn new(writers: Vec<ArrowColumnWriter>) -> Lanes {
        let n = writers.len();
        Lanes {
            state: std::sync::Mutex::new(LaneState {
                writers: writers.into_iter().map(Some).collect(),
                queues: (0..n).map(|_| Default::default()).collect(),
                running: vec![false; n],
                failed: false,
                error: None,
            }),
            progress: std::sync::Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LaneState> {
        // A panic while encoding is caught and kept as an error, never while the lock is held.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a slice to every column, once none lags more than [`SLICES_AHEAD`] behind it.
    fn push(self: &Arc<Self>, slice: Slice, pool: &rayon::ThreadPool, name: &str) -> Result<()> {
        let slice = Arc::new(slice);
        let mut state = self.lock();
        while !state.failed && state.queues.iter().any(|q| q.len() >= SLICES_AHEAD) {
            state = self.progress.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.failure()?;
        for column in 0..state.queues.len() {
            state.queues[column].push_back(Arc::clone(&slice));
            if !state.running[column] {
                state.running[column] = true;
                let lanes = Arc::clone(self);
                let name = name.to_string();
                pool.spawn(move || lanes.drain(column, &name));
            }
        }
        Ok(())
    }

    /// Encodes column `column`'s queued slices in order, until its queue is empty.
    fn drain(&self, column: usize, name: &str) {
        loop {
            let (slice, mut writer) = {
                let mut state = self.lock();
                let next = match state.failed {
                    false => state.queues[column].pop_front(),
                    true => None,
                };
                let Some(slice) = next else {
                    state.queues[column].clear();
                    state.running[column] = false;
                    self.progress.notify_all();
                    return;
                };
                let writer = state.writers[column].take().expect("a lane runs once");
                (slice, writer)
            };
            let work = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                slice
                    .iter()
                    .try_for_each(|leaves| writer.write(&leaves[column]))
            }));
            let mut state = self.lock();
            state.writers[column] = Some(writer);
            let failed = match work {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(parquet_error(name, e)),
                Err(_) => Some(Error::Internal(format!(
                    "encoding a column of {name} panicked"
                ))),
            };
            if let Some(e) = failed.filter(|_| !state.failed) {
                state.failed = true;
                state.error = Some(e);
            }
            self.progress.notify_all();
        }
    }

    /// Waits until every column has encoded every slice handed over; the first error if one
    /// failed.
    fn wait(&self) -> Result<()> {
        let mut state = self.lock();
        while state.running.contains(&true) {
            state = self.progress.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.failure()
    }

    /// The writers, once [`Lanes::wait`] has returned.
    fn take_writers(&self) -> Vec<ArrowColumnWriter> {
        self.lock()
            .writers
            .iter_mut()
            .map(|w| w.take().expect("every lane is done"))
            .collect()
    }
}

/// Bytes of batches encoded together (32 MiB held ~60 MiB more at peak than 8, no faster).
const ENCODE_SLICE: usize = 8 << 20;

/// Rows per row group at most (parquet's default).
const ROW_GROUP_ROWS: usize = 1024 * 1024;

impl RowGroups {
    fn write(&mut self, batch: &RecordBatch, name: &str) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.rows == 0 {
            self.open_place = self.place;
        }
        let size = crate::arrow::slice_bytes(batch);
        self.pending.push(batch.clone());
        self.pending_bytes += size;
        self.bytes += size;
        self.rows += batch.num_rows();
        if self.bytes >= self.limit || self.rows >= ROW_GROUP_ROWS {
            self.close_row_group(name)?;
        } else if self.pending_bytes >= ENCODE_SLICE {
            self.encode(name)?;
        }
        Ok(())
    }

    /// Hands the pending batches to the column writers on the pool (see [`Lanes`]).
    fn encode(&mut self, name: &str) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let fail = |e: parquet::errors::ParquetError| parquet_error(name, e);
        let lanes = match &self.lanes {
            Some(lanes) => Arc::clone(lanes),
            None => {
                let writers = self
                    .factory
                    .create_column_writers(self.written)
                    .map_err(fail)?;
                Arc::clone(self.lanes.insert(Arc::new(Lanes::new(writers))))
            }
        };
        // Leaves of every batch, in the order of the column writers.
        let mut leaves: Slice = Vec::with_capacity(self.pending.len());
        for batch in &self.pending {
            let mut batch_leaves = Vec::new();
            for (field, array) in self.schema.fields().iter().zip(batch.columns()) {
                batch_leaves.extend(compute_leaves(field, array).map_err(fail)?);
            }
            leaves.push(batch_leaves);
        }
        self.pending.clear();
        self.pending_bytes = 0;
        lanes.push(leaves, &self.pool, name)
    }

    fn close_row_group(&mut self, name: &str) -> Result<()> {
        self.encode(name)?;
        let Some(lanes) = self.lanes.take() else {
            return Ok(());
        };
        lanes.wait()?;
        let writers = lanes.take_writers();
        let fail = |e: parquet::errors::ParquetError| parquet_error(name, e);
        let chunks: Vec<_> = self
            .pool
            .install(|| writers.into_par_iter().map(|w| w.close()).collect());
        let mut row_group = self.file.next_row_group().map_err(fail)?;
        for chunk in chunks {
            chunk
                .map_err(fail)?
                .append_to_row_group(&mut row_group)
                .map_err(fail)?;
        }
        row_group.close().map_err(fail)?;
        self.bytes = 0;
        self.rows = 0;
        self.written += 1;
        self.places.push(self.open_place);
        Ok(())
    }

    /// Closes the current row group and writes an aligned one: the encoded chunks, and the
    /// other leaves appended from the input file byte for byte.
    fn write_aligned(&mut self, aligned: AlignedRowGroup, name: &str) -> Result<()> {
        self.close_row_group(name)?;
        let fail = |e: parquet::errors::ParquetError| parquet_error(name, e);
        let input = std::fs::File::open(&aligned.path)
            .map_err(|e| Error::io(aligned.path.display().to_string(), e))?;
        let mut row_group = self.file.next_row_group().map_err(fail)?;
        for (leaf, chunk) in aligned.chunks.into_iter().enumerate() {
            match chunk {
                Some(chunk) => chunk.append_to_row_group(&mut row_group).map_err(fail)?,
                None => {
                    let source = aligned.sources.get(leaf).copied().unwrap_or(leaf);
                    let column = aligned.metadata.column(source);
                    // Another column's chunk takes this column's place (and, as every copied
                    // chunk, must fit the output's column: the writer checks).
                    let metadata = match source == leaf {
                        true => column.clone(),
                        false => {
                            let own = aligned.metadata.column(leaf).column_descr_ptr();
                            renamed(column, own).map_err(fail)?
                        }
                    };
                    let close = parquet::column::writer::ColumnCloseResult {
                        bytes_written: column.compressed_size() as u64,
                        rows_written: aligned.metadata.num_rows() as u64,
                        metadata,
                        bloom_filter: None,
                        column_index: None,
                        offset_index: None,
                    };
                    row_group.append_column(&input, close).map_err(fail)?;
                }
            }
        }
        row_group.close().map_err(fail)?;
        self.written += 1;
        self.places.push(aligned.place);
        Ok(())
    }

    /// Writes the footer, listing the row groups in the order of their places, and returns
    /// the output.
    fn finish(mut self, name: &str) -> Result<Output> {
        self.close_row_group(name)?;
        let fail = |e: parquet::errors::ParquetError| parquet_error(name, e);
        if self.places.is_sorted() {
            return self
                .file
                .into_inner()
                .map_err(fail)?
                .into_output()
                .map_err(|e| Error::io(name, e))?
                .ok_or_else(|| arrow_error(name, "the output was taken"));
        }
        // Row groups were written out of order: let the writer make its footer (into nothing),
        // then write it again with the row groups in order. Their data stays where it is.
        self.file.flush().map_err(|e| Error::io(name, e))?;
        self.file.inner_mut().discard = true;
        let metadata = self.file.finish().map_err(fail)?;
        let mut output = self
            .file
            .inner_mut()
            .output
            .take()
            .ok_or_else(|| arrow_error(name, "the output was taken"))?;
        let mut order: Vec<usize> = (0..self.places.len()).collect();
        order.sort_by_key(|&i| self.places[i]);
        let row_groups = order
            .iter()
            .enumerate()
            .map(|(ordinal, &i)| {
                let ordinal = i32::try_from(ordinal).map_err(|_| {
                    parquet::errors::ParquetError::General("too many row groups".into())
                })?;
                metadata
                    .row_group(i)
                    .clone()
                    .into_builder()
                    .set_ordinal(ordinal)
                    .build()
            })
            .collect::<parquet::errors::Result<Vec<_>>>()
            .map_err(fail)?;
        let metadata = metadata
            .into_builder()
            .set_row_groups(row_groups)
            .set_page_index(None)
            .build();
        // Made in memory first: the metadata writer's buffer would drop a late write error.
        let mut footer = Vec::new();
        parquet::file::metadata::ParquetMetaDataWriter::new(&mut footer, &metadata)
            .with_preserve_page_index_locations(false)
            .finish()
            .map_err(fail)?;
        output.write_bytes(&footer)?;
        Ok(output)
    }
}

/// The file under the Parquet writer: the output, or nothing once `discard` is set. Its first
/// write (the file's magic number) is held back until more follows, so that a run that fails
/// before any row group is written leaves nothing behind, not even on standard output.
struct Body {
    output: Option<Output>,
    discard: bool,
    /// The first write, until the next (or a flush) lets it out.
    held: Vec<u8>,
    started: bool,
}

impl Body {
    fn new(output: Output) -> Body {
        Body {
            output: Some(output),
            discard: false,
            held: Vec::new(),
            started: false,
        }
    }

    /// Writes the held bytes, if they aren't yet.
    fn release(&mut self) -> std::io::Result<()> {
        if !self.started {
            self.started = true;
            let held = std::mem::take(&mut self.held);
            if let Some(output) = self.output.as_mut().filter(|_| !self.discard) {
                std::io::Write::write_all(output, &held)?;
            }
        }
        Ok(())
    }

    /// The output, with everything written to it.
    fn into_output(mut self) -> std::io::Result<Option<Output>> {
        self.release()?;
        Ok(self.output.take())
    }
}

impl std::io::Write for Body {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.started && self.held.is_empty() {
            self.held.extend_from_slice(buf);
            return Ok(buf.len());
        }
        self.release()?;
        match &mut self.output {
            Some(output) if !self.discard => output.write(buf),
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.release()?;
        match &mut self.output {
            Some(output) if !self.discard => output.flush(),
            _ => Ok(()),
        }
    }
}

/// An I/O error from the writer is reported as one (a full disk says so), others as format errors.
fn parquet_error(name: &str, e: parquet::errors::ParquetError) -> Error {
    match e {
        parquet::errors::ParquetError::External(inner) => {
            match inner.downcast::<std::io::Error>() {
                Ok(io) => Error::io(name, *io),
                Err(other) => arrow_error(name, other),
            }
        }
        other => arrow_error(name, other),
    }
}

fn open_writer(out: &mut ParquetOut, schema: SchemaRef, name: &str) -> Result<()> {
    // Columns read as the values of a dictionary are declared as it again: their values are
    // encoded as they are (a dictionary's would be too), and the file's Arrow schema says
    // dictionary, so readers give pandas its categoricals back.
    let schema = crate::arrow::declared_dictionaries(&schema);
    let codec = match out.options.compression {
        ParquetCompression::Snappy => Codec::SNAPPY,
        ParquetCompression::Zstd => Codec::ZSTD(ZstdLevel::default()),
        ParquetCompression::Gzip => Codec::GZIP(GzipLevel::default()),
        ParquetCompression::Brotli => Codec::BROTLI(BrotliLevel::default()),
        ParquetCompression::Lz4 => Codec::LZ4_RAW,
        ParquetCompression::None => Codec::UNCOMPRESSED,
    };
    let mut properties = WriterProperties::builder()
        .set_compression(codec)
        .set_data_page_size_limit(PAGE_BYTES)
        .set_write_batch_size(PAGE_CHECK_VALUES);
    if !out.options.page_index {
        properties = properties
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_offset_index_disabled(true);
    }
    let output = out.output.take().expect("the writer is opened once");
    let stores = SpillingStores::new(output.spill_dir(), out.options.pages_in_memory);
    let options = ArrowWriterOptions::new()
        .with_properties(properties.build())
        .with_page_store_factory(Arc::new(stores));
    let output = Body::new(output);
    // ArrowWriter sets up the Parquet schema and the ARROW:schema metadata; the row groups are
    // then written by hand.
    let (file, factory) = ArrowWriter::try_new_with_options(output, Arc::clone(&schema), options)
        .and_then(ArrowWriter::into_serialized_writer)
        .map_err(|e| parquet_error(name, e))?;
    let descr = file.schema_descr();
    let roots = (0..descr.num_columns())
        .map(|leaf| descr.get_column_root_idx(leaf))
        .collect();
    out.writer = Some(RowGroups {
        file,
        factory: Arc::new(factory),
        schema,
        roots: Arc::new(roots),
        place: Place::default(),
        open_place: Place::default(),
        places: Vec::new(),
        lanes: None,
        pending: Vec::new(),
        pending_bytes: 0,
        bytes: 0,
        rows: 0,
        written: 0,
        limit: out.options.row_group_bytes,
        pool: rayon::ThreadPoolBuilder::new()
            .num_threads(out.options.threads.max(1))
            .thread_name(|i| format!("raug-parquet-{i}"))
            .build()
            .map_err(|e| {
                Error::Internal(format!("can't start {} threads: {e}", out.options.threads))
            })?,
    });
    Ok(())
}

fn write_parquet(out: &mut ParquetOut, batch: &RecordBatch, name: &str) -> Result<()> {
    if out.writer.is_none() {
        open_writer(out, batch.schema(), name)?;
    }
    out.writer
        .as_mut()
        .expect("opened above")
        .write(batch, name)
}

/// A column chunk's metadata as the chunk of another column (`descr`) of the same Parquet type:
/// a copied chunk holds values, never its column's name.
fn renamed(
    column: &parquet::file::metadata::ColumnChunkMetaData,
    descr: parquet::schema::types::ColumnDescPtr,
) -> parquet::errors::Result<parquet::file::metadata::ColumnChunkMetaData> {
    let mut builder = parquet::file::metadata::ColumnChunkMetaData::builder(descr)
        .set_compression_codec(column.compression_codec())
        .set_encodings_mask(*column.encodings_mask())
        .set_total_compressed_size(column.compressed_size())
        .set_total_uncompressed_size(column.uncompressed_size())
        .set_num_values(column.num_values())
        .set_data_page_offset(column.data_page_offset())
        .set_dictionary_page_offset(column.dictionary_page_offset())
        .set_unencoded_byte_array_data_bytes(column.unencoded_byte_array_data_bytes());
    if let Some(histogram) = column.repetition_level_histogram() {
        builder = builder.set_repetition_level_histogram(Some(histogram.clone()));
    }
    if let Some(histogram) = column.definition_level_histogram() {
        builder = builder.set_definition_level_histogram(Some(histogram.clone()));
    }
    if let Some(statistics) = column.statistics() {
        builder = builder.set_statistics(statistics.clone());
    }
    if let Some(stats) = column.page_encoding_stats() {
        builder = builder.set_page_encoding_stats(stats.clone());
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{ArrayRef, Float64Array, RecordBatch};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;
    use crate::io::{Compression, Target};

    fn batch(rows: usize) -> RecordBatch {
        let mut texts = ListBuilder::new(StringBuilder::new());
        for row in 0..rows {
            for k in 0..3 {
                // Texts that don't compress much, so that pages take room.
                let text: String = (0..200)
                    .map(|i| char::from(b'a' + ((row * 7919 + k * 104_729 + i * i) % 26) as u8))
                    .collect();
                texts.values().append_value(text);
            }
            texts.append(row % 5 != 0);
        }
        let scores = Float64Array::from_iter((0..rows).map(|r| Some(r as f64 / 3.0)));
        RecordBatch::try_from_iter([
            ("texts", Arc::new(texts.finish()) as ArrayRef),
            ("score", Arc::new(scores) as ArrayRef),
        ])
        .unwrap()
    }

    fn write_and_read(dir: &std::path::Path, name: &str, options: ParquetOptions) -> RecordBatch {
        let path = dir.join(name);
        let output = Output::create(&Target::File(path.clone()), Compression::None).unwrap();
        let mut writer: Box<dyn Writer> = Box::new(ParquetWriter::new(output, options));
        let input = batch(3_000);
        for k in 0..6 {
            writer.write_batch(&input.slice(k * 500, 500)).unwrap();
        }
        writer.finish().unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
            .unwrap()
            .with_batch_size(10_000)
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap()
    }

    #[test]
    fn pages_spilled_past_the_memory_budget_come_back_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let small_groups = ParquetOptions {
            row_group_bytes: 400_000,
            ..ParquetOptions::default()
        };
        let spilled = write_and_read(
            dir.path(),
            "spilled.parquet",
            ParquetOptions {
                pages_in_memory: 0,
                ..small_groups.clone()
            },
        );
        let kept = write_and_read(dir.path(), "kept.parquet", small_groups);
        assert_eq!(spilled.num_rows(), 3_000);
        assert_eq!(spilled, kept);
        assert_eq!(spilled, batch(3_000));
        // Nothing else is left beside the outputs (spill files are anonymous).
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["kept.parquet", "spilled.parquet"]);
    }
}
