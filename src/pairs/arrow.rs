//! Pairs from Arrow record batches (Parquet input): the same pairs as the JSON path, chosen by
//! the same rule, with every output column taken from the input's, so types stay as they were
//! (an int32 score stays int32).

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, StructBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{
    Array, ArrayRef, LargeStringArray, RecordBatch, StringArray, StringViewArray, StructArray,
    UInt32Array,
};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{ArrowError, DataType, Field, Fields, Metadata, Schema, SchemaRef};
use arrow_select::take::take;

use super::group::{fingerprint, spool_bytes, Grouping, Joined, LEFT_OUT};
use super::rules::{choose, pandas_index, PairSpec, PairSummary, PROMPT};
use crate::arrow::{column, SchemaShape};
use crate::error::{Error, Location, Position, Reason, Result, RowError};
use crate::fields::FieldPath;
use crate::rows::Batches;
use crate::write::Spool;

/// An input of record batches, read as often as the pairs need.
pub struct FlatInput<'a> {
    /// The batches of some top-level columns, by index (`None`: all of them).
    pub open: &'a dyn Fn(Option<&[usize]>) -> Result<Batches>,
    /// Each row group's rows and uncompressed bytes, in order (empty when not known): what a
    /// row read by its key alone weighs.
    pub row_groups: Vec<(u64, u64)>,
    /// The files the rows come from, for the locations of errors.
    pub files: Files,
}

/// The files a dataset's rows come from, one after another: each file's name and the index,
/// among all the rows, of its first row. A location names the file and the row in it.
#[derive(Debug, Clone)]
pub struct Files(Vec<(Arc<str>, u64)>);

impl Files {
    /// One file.
    pub fn one(name: &str) -> Files {
        Files(vec![(name.into(), 0)])
    }

    /// Files read one after another, each with its count of rows.
    pub fn new(files: impl IntoIterator<Item = (String, u64)>) -> Files {
        let mut first = 0u64;
        Files(
            files
                .into_iter()
                .map(|(name, rows)| {
                    let at = first;
                    first += rows;
                    (name.into(), at)
                })
                .collect(),
        )
    }

    /// Where row `row` (among all the rows) is.
    fn at(&self, row: u64) -> Location {
        let i = self.0.partition_point(|(_, first)| *first <= row).max(1) - 1;
        match self.0.get(i) {
            Some((file, first)) => Location {
                file: Arc::clone(file),
                position: Position::Row(row - first),
            },
            None => Location {
                file: "<no file>".into(),
                position: Position::Row(row),
            },
        }
    }
}

/// Pairs taken from one batch at a time, so no output column nears Arrow's 2 GiB offsets.
const PAIRS_PER_BATCH: usize = 8192;

/// One pair: the rows (or, nested, the responses) its fields come from.
struct Pick {
    /// The row of the prompt.
    prompt: u32,
    /// The chosen and rejected response: a row (flat) or an index into the responses (nested).
    chosen: u32,
    rejected: u32,
}

/// Where a batch's responses are: their text and score columns, and their numeric fields.
struct Responses {
    /// The prompt column (each pair takes its prompt row's).
    prompt: ArrayRef,
    text: ArrayRef,
    score: ArrayRef,
    /// Numeric fields of a response, by name (the score's included), as `NAME_chosen` and
    /// `NAME_rejected` in the output.
    numbers: Vec<(String, ArrayRef)>,
    /// The prompt's context: columns of the batch kept as they are, taken at each pair's
    /// prompt row.
    context: Vec<(String, ArrayRef)>,
    /// Output columns taken from a column read as a dictionary's values, with its field's
    /// metadata, so that a Parquet output declares them as that dictionary again.
    marks: Vec<(String, Metadata)>,
}

/// [`Responses::marks`]: the output columns (named so) taken from the top-level columns at
/// `sources` that were read as a dictionary's values, and the context columns that were.
fn dictionary_marks(
    schema: &Schema,
    sources: &[(&str, &FieldPath)],
    context: &[(String, ArrayRef)],
) -> Vec<(String, Metadata)> {
    let named = sources
        .iter()
        .filter_map(|(output, path)| match path.parts() {
            [top] => Some((output.to_string(), top.as_str())),
            _ => None,
        })
        .chain(
            context
                .iter()
                .map(|(name, _)| (name.clone(), name.as_str())),
        );
    named
        .filter_map(|(output, top)| {
            let field = schema.field_with_name(top).ok()?;
            field
                .metadata()
                .contains_key(crate::arrow::DICTIONARY_KEYS)
                .then(|| (output, field.metadata().clone()))
        })
        .collect()
}

/// The top-level columns other than those named in `used` and pandas' unnamed index (and, flat,
/// but numbers, which are each response's own).
fn context_columns(
    batch: &RecordBatch,
    used: &[&FieldPath],
    numbers_apart: bool,
) -> Vec<(String, ArrayRef)> {
    let schema = batch.schema();
    schema
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(f, _)| !used.iter().any(|p| p.parts()[0] == *f.name()))
        .filter(|(f, _)| !(numbers_apart && f.data_type().is_numeric()))
        .filter(|(f, _)| !pandas_index(f.name()))
        .map(|(f, c)| (f.name().clone(), Arc::clone(c)))
        .collect()
}

/// A column's values as the text groups compare (`None` for null): string columns read in
/// place (dictionaries of strings, pandas' categoricals, through their keys), any other type
/// formatted.
enum Texts<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Dictionary {
        array: &'a ArrayRef,
        keys: Vec<usize>,
        values: Box<Texts<'a>>,
    },
    Formatted(Vec<Option<String>>),
}

impl<'a> Texts<'a> {
    fn new(array: &'a ArrayRef) -> std::result::Result<Texts<'a>, ArrowError> {
        Ok(match array.data_type() {
            DataType::Utf8 => Texts::Utf8(array.as_string()),
            DataType::LargeUtf8 => Texts::LargeUtf8(array.as_string()),
            DataType::Utf8View => Texts::Utf8View(array.as_string_view()),
            DataType::Dictionary(_, value)
                if matches!(
                    **value,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) =>
            {
                let dictionary = array.as_any_dictionary();
                Texts::Dictionary {
                    array,
                    keys: dictionary.normalized_keys(),
                    values: Box::new(Texts::new(dictionary.values())?),
                }
            }
            _ => {
                let options = FormatOptions::default();
                let formatter = ArrayFormatter::try_new(array.as_ref(), &options)?;
                Texts::Formatted(
                    (0..array.len())
                        .map(|i| (!array.is_null(i)).then(|| formatter.value(i).to_string()))
                        .collect(),
                )
            }
        })
    }

    /// Row `i`'s value.
    fn get(&self, i: usize) -> Option<&str> {
        match self {
            Texts::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Texts::LargeUtf8(a) => a.is_valid(i).then(|| a.value(i)),
            Texts::Utf8View(a) => a.is_valid(i).then(|| a.value(i)),
            Texts::Dictionary {
                array,
                keys,
                values,
            } => match array.is_valid(i) {
                true => values.get(keys[i]),
                false => None,
            },
            Texts::Formatted(v) => v[i].as_deref(),
        }
    }
}

/// A [`fingerprint`] of values (at most two), a null apart from any text.
fn print_of(values: &[Option<&str>]) -> u128 {
    let mut parts: [&[u8]; 4] = [&[]; 4];
    let mut n = 0;
    for value in values {
        let (tag, text): (&[u8], &[u8]) = match value {
            Some(text) => (b"v", text.as_bytes()),
            None => (b"\0null", b""),
        };
        parts[n] = tag;
        parts[n + 1] = text;
        n += 2;
    }
    fingerprint(&parts[..n])
}

/// Where [`pairs_batches`] writes its pairs, as Arrow batches: [`super::PairSink`]'s
/// counterpart (a closure `|batch|` is a sink that can't rewind).
pub trait BatchSink: Send {
    /// Writes a batch of pairs.
    fn emit(&mut self, batch: &RecordBatch) -> Result<()>;

    /// Whether [`BatchSink::rewind`] can throw away what was written; then flat rows grouped
    /// together are paired and written as they are read (see [`super::PairSink::can_rewind`]).
    fn can_rewind(&self) -> bool {
        false
    }

    /// Throws away everything written so far (called only when [`BatchSink::can_rewind`]).
    fn rewind(&mut self) -> Result<()> {
        Err(Error::Internal("this output can't start again".to_string()))
    }
}

impl<F: FnMut(&RecordBatch) -> Result<()> + Send> BatchSink for F {
    fn emit(&mut self, batch: &RecordBatch) -> Result<()> {
        self(batch)
    }
}

/// Where pairs go.
type BatchEmit<'e> = &'e mut dyn BatchSink;

/// Builds pairs from Arrow batches, each output batch going to `sink`. `name` is the file, for
/// locations; `open` reads its batches from the first (flat data not grouped together is read
/// twice). Flat data (one row per response) is grouped in order of each key's first row (see
/// [`super::pairs`]); nested data is paired row by row.
pub fn pairs_batches(
    schema: &SchemaRef,
    input: &FlatInput,
    name: &str,
    spec: &PairSpec,
    sink: &mut dyn BatchSink,
) -> Result<PairSummary> {
    let mut summary = PairSummary::default();
    let spec = &spec.in_row(&SchemaShape(schema));
    if spec.responses.is_none() {
        let spec = &spec.with_flat_prompt(schema.field_with_name(PROMPT).is_ok());
        flat(schema, input, name, spec, &mut summary, sink)?;
        return Ok(summary);
    }
    let mut first_row = 0u64;
    for batch in (input.open)(None)? {
        let batch = batch?;
        let (picks, responses) = nested(&batch, name, &input.files, first_row, spec, &mut summary)?;
        first_row += batch.num_rows() as u64;
        summary.pairs += picks.len() as u64;
        for chunk in picks.chunks(PAIRS_PER_BATCH) {
            let (batch, _) = pairs_of(&[&responses], chunk, |i| (0, i as usize), spec)
                .map_err(|e| Error::format(name, e))?;
            sink.emit(&batch)?;
        }
    }
    Ok(summary)
}

/// A column the options name, or the usage error saying it's not there.
fn named(batch: &RecordBatch, name: &str, path: &FieldPath, option: &str) -> Result<ArrayRef> {
    column(batch, path).map_err(|_| {
        Error::Usage(format!(
            "{name}: no column {:?}; name the field with {option} PATH",
            path.as_str()
        ))
    })
}

/// A child of a struct array at a path.
fn child(responses: &StructArray, path: &FieldPath, option: &str) -> Result<ArrayRef> {
    let mut array: ArrayRef = Arc::new(responses.clone());
    for part in path.parts() {
        array = array
            .as_struct_opt()
            .and_then(|s| s.column_by_name(part))
            .cloned()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "the responses have no field {:?}; name it with {option} PATH",
                    path.as_str()
                ))
            })?;
    }
    Ok(array)
}

/// The numeric fields among `fields`, but those named in `skip` and pandas' unnamed index.
fn numbers(fields: &Fields, columns: &[ArrayRef], skip: &[&FieldPath]) -> Vec<(String, ArrayRef)> {
    fields
        .iter()
        .zip(columns)
        .filter(|(f, _)| f.data_type().is_numeric())
        .filter(|(f, _)| !skip.iter().any(|p| p.parts() == [f.name().as_str()]))
        .filter(|(f, _)| !pandas_index(f.name()))
        .map(|(f, c)| (f.name().clone(), Arc::clone(c)))
        .collect()
}

/// Each score as a float, or why it is not a number (`what` names the response for the message).
fn score_values(
    score: &ArrayRef,
    path: &FieldPath,
    present: impl Fn(usize) -> bool,
    what: impl Fn(usize) -> String,
) -> Result<Vec<std::result::Result<f64, RowError>>, ArrowError> {
    let floats = arrow_cast::cast(score, &DataType::Float64)?;
    let floats = floats.as_primitive::<Float64Type>();
    Ok((0..floats.len())
        .map(|i| {
            if !present(i) {
                return Err(RowError::field(
                    Reason::MissingField,
                    path.as_str(),
                    format!("missing in {}", what(i)),
                ));
            }
            let bad = |message| RowError::field(Reason::BadScore, path.as_str(), message);
            match floats.is_valid(i).then(|| floats.value(i)) {
                Some(v) if v.is_finite() => Ok(v),
                Some(v) => Err(bad(format!("{v} is not a finite number"))),
                None => Err(bad(format!("expected a number in {}, got null", what(i)))),
            }
        })
        .collect())
}

/// Nested data: each row's list of responses, paired within the row.
fn nested(
    batch: &RecordBatch,
    name: &str,
    files: &Files,
    first_row: u64,
    spec: &PairSpec,
    summary: &mut PairSummary,
) -> Result<(Vec<Pick>, Responses)> {
    let list_path = spec.responses.as_ref().expect("nested mode");
    let prompt_path = spec
        .prompt
        .clone()
        .unwrap_or_else(|| FieldPath::parse("prompt").expect("valid"));
    let prompt = named(batch, name, &prompt_path, "--prompt")?;
    let list = named(batch, name, list_path, "--responses")?;
    let (offsets, values) = match list.data_type() {
        DataType::List(_) => {
            let l = list.as_list::<i32>();
            let o: Vec<usize> = l.offsets().iter().map(|&o| o as usize).collect();
            (o, l.values().clone())
        }
        DataType::LargeList(_) => {
            let l = list.as_list::<i64>();
            let o: Vec<usize> = l.offsets().iter().map(|&o| o as usize).collect();
            (o, l.values().clone())
        }
        other => {
            return Err(Error::Usage(format!(
                "--responses {}: expected a list of responses, got a column of type {other}",
                list_path.as_str()
            )))
        }
    };
    let Some(structs) = values.as_struct_opt() else {
        return Err(Error::Usage(format!(
            "--responses {}: expected a list of response objects",
            list_path.as_str()
        )));
    };
    let text = child(structs, &spec.text, "--text")?;
    let score = child(structs, &spec.score, "--score")?;
    let row_of: Vec<usize> = (0..list.len())
        .flat_map(|i| std::iter::repeat_n(i, offsets[i + 1] - offsets[i]))
        .collect();
    let what = |j: usize| format!("response {}", j - offsets[row_of[j]]);
    let scores = score_values(&score, &spec.score, |j| structs.is_valid(j), what)
        .map_err(|e| Error::format(name, e))?;
    let mut picks = Vec::new();
    for i in 0..batch.num_rows() {
        summary.rows_in += 1;
        let location = files.at(first_row + i as u64);
        let read = || -> std::result::Result<Vec<f64>, RowError> {
            if list.is_null(i) {
                return Err(RowError::field(
                    Reason::WrongType,
                    list_path.as_str(),
                    "expected a list of responses",
                ));
            }
            (offsets[i]..offsets[i + 1])
                .map(|j| scores[j].clone())
                .collect()
        };
        match read() {
            Ok(row_scores) => {
                summary.prompts += 1;
                let chosen = choose(&row_scores, spec, summary.rows_in - 1);
                if chosen.is_empty() {
                    summary.no_pair += 1;
                }
                for (c, r) in chosen {
                    picks.push(Pick {
                        prompt: i as u32,
                        chosen: (offsets[i] + c) as u32,
                        rejected: (offsets[i] + r) as u32,
                    });
                }
            }
            Err(problem) if spec.skip_bad => summary.skips.skip(&Error::Row { location, problem }),
            Err(problem) => return Err(Error::Row { location, problem }),
        }
    }
    let numbers = numbers(structs.fields(), structs.columns(), &[]);
    let context = context_columns(batch, &[&prompt_path, list_path], false);
    let marks = dictionary_marks(&batch.schema(), &[("prompt", &prompt_path)], &context);
    Ok((
        picks,
        Responses {
            prompt,
            text,
            score,
            numbers,
            context,
            marks,
        },
    ))
}

/// The columns of flat data (one row per response) a batch's pairs are made of.
struct FlatColumns {
    keys: KeyColumns,
    /// The key (when it is not the prompt), then every other column but numbers, which are
    /// each response's own: kept in a pair when every row of every group agrees.
    candidates: Vec<(String, ArrayRef)>,
    responses: Responses,
}

fn flat_columns(batch: &RecordBatch, name: &str, spec: &PairSpec) -> Result<FlatColumns> {
    let key_path = spec.group_by.as_ref().ok_or_else(|| {
        Error::Usage(
            "name the responses: --responses PATH (nested) or --group-by PATH (flat)".to_string(),
        )
    })?;
    let key = named(batch, name, key_path, "--group-by")?;
    let prompt_path = spec.prompt.as_ref().unwrap_or(key_path);
    let prompt = named(batch, name, prompt_path, "--prompt")?;
    let text = named(batch, name, &spec.text, "--text")?;
    let score = named(batch, name, &spec.score, "--score")?;
    let mut candidates = Vec::new();
    if key_path != prompt_path {
        candidates.push((key_path.parts()[0].clone(), Arc::clone(&key)));
    }
    candidates.extend(context_columns(
        batch,
        &[key_path, prompt_path, &spec.text, &spec.score],
        true,
    ));
    let skip: Vec<&FieldPath> = [Some(key_path), spec.prompt.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    let schema = batch.schema();
    let responses = Responses {
        prompt: Arc::clone(&prompt),
        text,
        score: Arc::clone(&score),
        numbers: numbers(schema.fields(), batch.columns(), &skip),
        marks: dictionary_marks(
            &schema,
            &[
                ("prompt", prompt_path),
                ("chosen", &spec.text),
                ("rejected", &spec.text),
            ],
            &candidates,
        ),
        context: candidates.clone(),
    };
    Ok(FlatColumns {
        keys: KeyColumns {
            key,
            prompt: Some(prompt),
            score,
        },
        candidates,
        responses,
    })
}

/// The columns that give a flat row's group and score.
struct KeyColumns {
    key: ArrayRef,
    /// The prompt: `None` when read by key alone without `--split-by-prompt` (only its keys
    /// need the prompt).
    prompt: Option<ArrayRef>,
    score: ArrayRef,
}

/// The top-level columns [`KeyColumns`] come from, by index; `None` if one isn't top-level.
fn key_roots(schema: &SchemaRef, spec: &PairSpec) -> Option<Vec<usize>> {
    let key_path = spec.group_by.as_ref()?;
    let prompt_path = spec.prompt.as_ref().unwrap_or(key_path);
    let mut roots = Vec::new();
    let prompt = spec.split_by_prompt.then_some(prompt_path);
    for path in [Some(key_path), prompt, Some(&spec.score)]
        .into_iter()
        .flatten()
    {
        roots.push(schema.index_of(&path.parts()[0]).ok()?);
    }
    roots.sort_unstable();
    roots.dedup();
    Some(roots)
}

/// The [`KeyColumns`] of a batch of the columns [`key_roots`] names (a batch of every column
/// gets them from [`flat_columns`], which checks the other options' columns in between).
fn key_columns(batch: &RecordBatch, name: &str, spec: &PairSpec) -> Result<KeyColumns> {
    let key_path = spec.group_by.as_ref().expect("flat");
    let prompt_path = spec.prompt.as_ref().unwrap_or(key_path);
    let prompt = match spec.split_by_prompt {
        true => Some(named(batch, name, prompt_path, "--prompt")?),
        false => None,
    };
    Ok(KeyColumns {
        key: named(batch, name, key_path, "--group-by")?,
        prompt,
        score: named(batch, name, &spec.score, "--score")?,
    })
}

/// Batches without their first `n` rows.
fn skip_rows(batches: Batches, mut n: u64) -> Batches {
    Box::new(batches.filter_map(move |batch| match batch {
        Ok(batch) if n >= batch.num_rows() as u64 => {
            n -= batch.num_rows() as u64;
            None
        }
        Ok(batch) => {
            let skip = n as usize;
            n = 0;
            Some(Ok(batch.slice(skip, batch.num_rows() - skip)))
        }
        Err(e) => Some(Err(e)),
    }))
}

/// What rows weigh in memory: the rows read whole, their Arrow bytes; the rows read by key
/// alone, their row group's uncompressed bytes per row, scaled as Arrow's bytes were to
/// Parquet's for the rows read whole.
struct Weights {
    /// Per row group: its first row, its rows and its uncompressed bytes.
    row_groups: Vec<(u64, u64, u64)>,
    /// The rows read whole (the input's first), and their Arrow bytes.
    rows: u64,
    arrow_bytes: u64,
}

impl Weights {
    fn new(row_groups: &[(u64, u64)]) -> Weights {
        let mut first = 0;
        let row_groups = row_groups
            .iter()
            .map(|&(rows, bytes)| {
                let entry = (first, rows, bytes);
                first += rows;
                entry
            })
            .collect();
        Weights {
            row_groups,
            rows: 0,
            arrow_bytes: 0,
        }
    }

    /// Counts rows read whole.
    fn read(&mut self, rows: u64, arrow_bytes: usize) {
        self.rows += rows;
        self.arrow_bytes += arrow_bytes as u64;
    }

    /// The weight of a row read by key alone, by its row number.
    fn by_key(&self) -> impl Fn(u64) -> usize + 'static {
        let per_row = |&(_, rows, bytes): &(u64, u64, u64)| bytes as f64 / rows.max(1) as f64;
        // The uncompressed Parquet bytes of the rows read whole.
        let parquet: f64 = self
            .row_groups
            .iter()
            .map(|rg| (self.rows.min(rg.0 + rg.1).saturating_sub(rg.0)) as f64 * per_row(rg))
            .sum();
        let scale = match parquet > 0.0 {
            true => (self.arrow_bytes as f64 / parquet).max(1.0),
            false => 1.0,
        };
        let average = self.arrow_bytes as f64 / self.rows.max(1) as f64;
        let row_groups = self.row_groups.clone();
        move |row| {
            let i = row_groups.partition_point(|&(first, _, _)| first <= row);
            let weight = match i.checked_sub(1) {
                Some(i) if parquet > 0.0 => per_row(&row_groups[i]) * scale,
                _ => average,
            };
            weight.max(1.0) as usize
        }
    }
}

/// The group key of each row (a [`fingerprint`]), and its score or why it can't be paired.
#[allow(clippy::type_complexity)]
fn keys_and_scores(
    columns: &KeyColumns,
    spec: &PairSpec,
) -> std::result::Result<(Vec<u128>, Vec<std::result::Result<f64, RowError>>), ArrowError> {
    let scores = score_values(
        &columns.score,
        &spec.score,
        |_| true,
        |_| "the row".to_string(),
    )?;
    let keys = Texts::new(&columns.key)?;
    let keys = match (spec.split_by_prompt, &columns.prompt) {
        (true, Some(prompts)) => {
            let prompts = Texts::new(prompts)?;
            (0..columns.key.len())
                .map(|i| print_of(&[keys.get(i), prompts.get(i)]))
                .collect()
        }
        (true, None) => unreachable!("the prompt is read to split by it"),
        (false, _) => (0..columns.key.len())
            .map(|i| print_of(&[keys.get(i)]))
            .collect(),
    };
    Ok((keys, scores))
}

/// Flat data: streamed group by group when each group's rows come together, else read twice
/// (once to number the groups, once to sort rows into partitions on disk) and paired a
/// partition at a time.
fn flat(
    schema: &SchemaRef,
    input: &FlatInput,
    name: &str,
    spec: &PairSpec,
    summary: &mut PairSummary,
    emit: BatchEmit,
) -> Result<()> {
    let format = |e: ArrowError| Error::format(name, e);
    let mut grouping = Grouping::default();
    // Pairs go out as they are made if the output can start again, should the groups turn out
    // not to be together or a context column differ after pairs went out.
    let mut stream = Some(match emit.can_rewind() {
        true => Pairer::direct(name, &input.files, spec),
        false => Pairer::new(name, &input.files, spec),
    });
    // Each row's group (`LEFT_OUT` for rows that can't be paired), so that reading the rows
    // again needs no keys: 4 bytes a row.
    let mut all_groups: Vec<u32> = Vec::new();
    let mut row = 0u64;
    let mut weights = Weights::new(&input.row_groups);
    let mut batches = (input.open)(None)?;
    // Once the groups are known not to come together, the rest of this reading only numbers
    // them: it reads the key and score columns alone, and weighs rows by their row group's.
    let mut by_key: Option<Box<dyn Fn(u64) -> usize>> = None;
    while let Some(batch) = batches.next() {
        let batch = batch?;
        let columns = match by_key {
            Some(_) => key_columns(&batch, name, spec)?,
            None => flat_columns(&batch, name, spec)?.keys,
        };
        let (keys, scores) = keys_and_scores(&columns, spec).map_err(format)?;
        let whole_row = crate::arrow::slice_bytes(&batch) / batch.num_rows().max(1);
        let row_bytes = |i: usize| match &by_key {
            Some(weigh) => weigh(row + i as u64),
            None => whole_row,
        };
        let mut groups = Vec::with_capacity(batch.num_rows());
        for (i, (key, score)) in keys.iter().zip(&scores).enumerate() {
            summary.rows_in += 1;
            if let Err(problem) = score {
                let error = Error::Row {
                    location: input.files.at(row + i as u64),
                    problem: problem.clone(),
                };
                if spec.skip_bad {
                    summary.skips.skip(&error);
                    groups.push(None);
                    continue;
                }
                return Err(error);
            }
            match grouping.join(*key, row_bytes(i)) {
                Joined::Here(g) => groups.push(Some(g)),
                // Not together: read again below, a partition at a time.
                Joined::Earlier(g) => {
                    stop(&mut stream, emit)?;
                    groups.push(Some(g));
                }
            }
        }
        all_groups.extend(groups.iter().map(|g| g.unwrap_or(LEFT_OUT)));
        if let Some(pairer) = &mut stream {
            let rows = (row..row + batch.num_rows() as u64).collect();
            pairer.push(&batch, groups, rows, emit)?;
            if pairer.late {
                stop(&mut stream, emit)?;
            }
        }
        row += batch.num_rows() as u64;
        if by_key.is_none() {
            weights.read(batch.num_rows() as u64, crate::arrow::slice_bytes(&batch));
            if let (None, Some(roots)) = (&stream, key_roots(schema, spec)) {
                batches = skip_rows((input.open)(Some(&roots))?, row);
                by_key = Some(Box::new(weights.by_key()));
            }
        }
    }
    if let Some(pairer) = &mut stream {
        // The last group may still differ late.
        pairer.close(emit)?;
        if pairer.late {
            stop(&mut stream, emit)?;
        }
    }
    if let Some(pairer) = stream {
        return pairer.finish(summary, emit);
    }
    // A partition is held twice while sorted (its batches, and their rows in group order),
    // while the pairs made before it are being encoded. Smaller partitions were also faster
    // (shuffled flat pairs, 251 MB: a half of the budget 1.26 s, 271 MiB; an eighth 1.16 s,
    // 176 MiB).
    let partitions = grouping.partitions(spec.memory / 8);
    // One partition stays in memory; more go to disk.
    let limit = if partitions.len() == 1 { usize::MAX } else { 0 };
    let mut parts: Vec<Spool> = (0..partitions.len())
        .map(|_| Spool::new(PARTITION))
        .collect();
    let with_place = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .cloned()
            .chain([
                Arc::new(Field::new(GROUP, DataType::UInt32, false)),
                Arc::new(Field::new(ROW, DataType::UInt64, false)),
            ])
            .collect::<Vec<_>>(),
    ));
    let mut row = 0u64;
    // Every group's rows pass here: which context columns some group disagrees on is known
    // before the pairs are made, so they go out as they are made.
    let mut agreement = Agreement::default();
    for batch in (input.open)(None)? {
        let batch = batch?;
        let end = row as usize + batch.num_rows();
        let groups = all_groups
            .get(row as usize..end)
            .ok_or_else(|| super::flat::changed(&input.files.at(all_groups.len() as u64)))?;
        agreement
            .see(&flat_columns(&batch, name, spec)?, groups)
            .map_err(format)?;
        let mut rows_of: Vec<Vec<(u32, u32)>> = vec![Vec::new(); partitions.len()];
        for (i, &g) in groups.iter().enumerate() {
            // Rows that can't be paired were counted above.
            if g != LEFT_OUT {
                rows_of[partitions.of(g)].push((i as u32, g));
            }
        }
        for (part, rows) in parts.iter_mut().zip(rows_of) {
            if rows.is_empty() {
                continue;
            }
            let index = UInt32Array::from_iter_values(rows.iter().map(|r| r.0));
            let mut columns =
                arrow_select::take::take_arrays(batch.columns(), &index, None).map_err(format)?;
            columns.push(Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.1),
            )));
            columns.push(Arc::new(arrow_array::UInt64Array::from_iter_values(
                rows.iter().map(|r| row + u64::from(r.0)),
            )));
            let placed = RecordBatch::try_new(Arc::clone(&with_place), columns).map_err(format)?;
            part.push(0, placed, limit, &spec.temp)?;
        }
        row += batch.num_rows() as u64;
    }
    let mut pairer = Pairer::knowing(name, &input.files, spec, agreement.differs);
    for part in parts {
        let mut held = Vec::new();
        part.drain(|_, batch| {
            held.push(batch);
            Ok(())
        })?;
        if held.is_empty() {
            continue;
        }
        let n = schema.fields().len();
        // Each batch's group and input row columns.
        let group_of: Vec<&[u32]> = held
            .iter()
            .map(|b| {
                b.column(n)
                    .as_primitive::<arrow_array::types::UInt32Type>()
                    .values()
                    .as_ref()
            })
            .collect();
        let row_of: Vec<&[u64]> = held
            .iter()
            .map(|b| {
                b.column(n + 1)
                    .as_primitive::<arrow_array::types::UInt64Type>()
                    .values()
                    .as_ref()
            })
            .collect();
        // (batch, row) of every row, sorted by group; stable: a group's rows keep their order.
        let mut order = order_of(&held);
        order.sort_by_key(|&(b, r)| group_of[b][r]);
        let groups: Vec<u32> = order.iter().map(|&(b, r)| group_of[b][r]).collect();
        let rows: Vec<u64> = order.iter().map(|&(b, r)| row_of[b][r]).collect();
        let batches = held
            .iter()
            .map(|batch| batch.project(&(0..n).collect::<Vec<_>>()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(format)?;
        drop(held);
        // A partition holds its groups whole; its rows are taken from the batches they came
        // in (sorting them into one batch first was a copy of every row).
        pairer.pair_in(&batches, &order, &groups, &rows, emit)?;
    }
    pairer.finish(summary, emit)
}

/// What error messages call a partition of flat rows on disk.
const PARTITION: &str = "temporary file of flat rows sorted by group";
/// What error messages call pairs held until the end on disk.
const PENDING: &str = "temporary file of pairs";
/// The columns a partition's rows carry besides their own: their group and input row.
const GROUP: &str = "__raug_group";
const ROW: &str = "__raug_row";

/// Which context columns some group's rows disagree on, found while every row passes once:
/// each group's first row's values (as fingerprints of their text) against its other rows'.
#[derive(Default)]
struct Agreement {
    /// Per group: its first row's context values, once seen.
    firsts: Vec<Option<Box<[u128]>>>,
    /// Per context column (in [`FlatColumns::candidates`] order).
    differs: Vec<bool>,
}

impl Agreement {
    /// Takes a batch's rows, each of group `groups[i]` (`LEFT_OUT` for rows left out).
    fn see(
        &mut self,
        columns: &FlatColumns,
        groups: &[u32],
    ) -> std::result::Result<(), ArrowError> {
        if self.differs.len() != columns.candidates.len() {
            self.differs = vec![false; columns.candidates.len()];
        }
        let values: Vec<Vec<u128>> = columns
            .candidates
            .iter()
            .map(|(_, c)| {
                let texts = Texts::new(c)?;
                Ok((0..c.len()).map(|i| print_of(&[texts.get(i)])).collect())
            })
            .collect::<std::result::Result<_, ArrowError>>()?;
        for (i, &g) in groups.iter().enumerate() {
            if g == LEFT_OUT {
                continue;
            }
            let g = g as usize;
            if self.firsts.len() <= g {
                self.firsts.resize(g + 1, None);
            }
            match &self.firsts[g] {
                None => self.firsts[g] = Some(values.iter().map(|v| v[i]).collect()),
                Some(first) => {
                    for (c, v) in values.iter().enumerate() {
                        self.differs[c] |= v[i] != first[c];
                    }
                }
            }
        }
        Ok(())
    }
}

/// Rows of the group still open at the end of a batch (slices of the batches they came in),
/// with their groups and input rows.
struct Carry {
    batches: Vec<RecordBatch>,
    groups: Vec<u32>,
    rows: Vec<u64>,
}

/// Each row of `batches` as its batch and index, in order.
fn order_of(batches: &[RecordBatch]) -> Vec<(usize, usize)> {
    batches
        .iter()
        .enumerate()
        .flat_map(|(b, batch)| (0..batch.num_rows()).map(move |r| (b, r)))
        .collect()
}

/// Stops pairing as the rows come (the partitions pair them all), throwing away the pairs
/// already written.
fn stop(stream: &mut Option<Pairer>, sink: BatchEmit) -> Result<()> {
    match stream.take() {
        Some(pairer) if pairer.direct && pairer.pairs > 0 => sink.rewind(),
        _ => Ok(()),
    }
}

/// Pairs groups whose rows come together, batch after batch, keeping the pairs until the end:
/// a context column some group's rows disagree on is left out of every pair. Or, `direct`
/// (when the output can start again), emitting them as they are made until a context column
/// comes to differ after some went out (`late`).
struct Pairer<'s> {
    name: &'s str,
    files: &'s Files,
    spec: &'s PairSpec,
    direct: bool,
    late: bool,
    carry: Option<Carry>,
    /// Per context column (in [`FlatColumns::candidates`] order): whether a group disagrees.
    differs: Vec<bool>,
    /// The context columns' names, and how many columns of a pair come before them.
    context: Vec<String>,
    fixed: usize,
    /// The pairs made, until the end; `None` when `differs` was known from the start.
    pending: Option<Spool>,
    held_bytes: usize,
    prompts: u64,
    pairs: u64,
    no_pair: u64,
}

impl<'s> Pairer<'s> {
    fn new(name: &'s str, files: &'s Files, spec: &'s PairSpec) -> Pairer<'s> {
        Pairer {
            name,
            files,
            spec,
            direct: false,
            late: false,
            carry: None,
            differs: Vec::new(),
            context: Vec::new(),
            fixed: 0,
            pending: Some(Spool::new(PENDING)),
            held_bytes: spool_bytes(spec.memory),
            prompts: 0,
            pairs: 0,
            no_pair: 0,
        }
    }

    /// A pairer emitting pairs as it makes them, while no context column differs after some
    /// went out.
    fn direct(name: &'s str, files: &'s Files, spec: &'s PairSpec) -> Pairer<'s> {
        Pairer {
            direct: true,
            pending: None,
            ..Pairer::new(name, files, spec)
        }
    }

    /// A pairer told which context columns some group disagrees on (in
    /// [`FlatColumns::candidates`] order): its pairs go out as they are made.
    fn knowing(
        name: &'s str,
        files: &'s Files,
        spec: &'s PairSpec,
        differs: Vec<bool>,
    ) -> Pairer<'s> {
        Pairer {
            differs,
            pending: None,
            ..Pairer::new(name, files, spec)
        }
    }

    /// Adds a batch's rows (`groups`: each row's group, `None` for rows left out; `rows`: its
    /// input row); rows of a group come one after another. The batch's last group stays open.
    fn push(
        &mut self,
        batch: &RecordBatch,
        groups: Vec<Option<u32>>,
        rows: Vec<u64>,
        emit: BatchEmit,
    ) -> Result<()> {
        let format = |e: ArrowError| Error::format(self.name, e);
        let kept: Vec<u32> = (0..groups.len() as u32)
            .filter(|&i| groups[i as usize].is_some())
            .collect();
        let (batch, groups, rows) = if kept.len() == groups.len() {
            let groups = groups.into_iter().flatten().collect::<Vec<_>>();
            (batch.clone(), groups, rows)
        } else {
            let index = UInt32Array::from(kept.clone());
            (
                arrow_select::take::take_record_batch(batch, &index).map_err(format)?,
                kept.iter().filter_map(|&i| groups[i as usize]).collect(),
                kept.iter().map(|&i| rows[i as usize]).collect(),
            )
        };
        // The group left open by the batch before takes this batch's first rows of it (a
        // slice, not a copy): paired once another group starts.
        let mut start = 0;
        if let Some(mut carry) = self.carry.take() {
            start = groups
                .iter()
                .position(|&g| g != carry.groups[0])
                .unwrap_or(groups.len());
            if start > 0 {
                carry.batches.push(batch.slice(0, start));
                carry.groups.extend_from_slice(&groups[..start]);
                carry.rows.extend_from_slice(&rows[..start]);
            }
            if start == groups.len() {
                self.carry = Some(carry);
                return Ok(());
            }
            let order = order_of(&carry.batches);
            self.pair_in(&carry.batches, &order, &carry.groups, &carry.rows, emit)?;
        }
        // The last group's rows may go on in the next batch.
        let open = groups
            .iter()
            .rposition(|&g| Some(&g) != groups.last())
            .map_or(start, |i| (i + 1).max(start));
        let batch = batch.slice(start, batch.num_rows() - start);
        let (groups, rows) = (&groups[start..], &rows[start..]);
        let open = open - start;
        self.pair(&batch, &groups[..open], rows, emit)?;
        if open < groups.len() {
            self.carry = Some(Carry {
                batches: vec![batch.slice(open, batch.num_rows() - open)],
                groups: groups[open..].to_vec(),
                rows: rows[open..].to_vec(),
            });
        }
        Ok(())
    }

    /// Pairs the groups of the batch's first `groups.len()` rows, each group's rows together.
    fn pair(
        &mut self,
        batch: &RecordBatch,
        groups: &[u32],
        rows: &[u64],
        emit: BatchEmit,
    ) -> Result<()> {
        let order: Vec<(usize, usize)> = (0..groups.len()).map(|i| (0, i)).collect();
        self.pair_in(std::slice::from_ref(batch), &order, groups, rows, emit)
    }

    /// Pairs rows of several batches: `order` gives each row's batch and index, a group's rows
    /// one after another; `groups` and `rows` give each one's group and input row.
    fn pair_in(
        &mut self,
        batches: &[RecordBatch],
        order: &[(usize, usize)],
        groups: &[u32],
        rows: &[u64],
        emit: BatchEmit,
    ) -> Result<()> {
        // A late difference stopped the stream: nothing more is paired here.
        if groups.is_empty() || self.late {
            return Ok(());
        }
        let format = |e: ArrowError| Error::format(self.name, e);
        let columns = batches
            .iter()
            .map(|batch| flat_columns(batch, self.name, self.spec))
            .collect::<Result<Vec<_>>>()?;
        // Per batch: the prompts, the context candidates, the scores.
        let mut prompts = Vec::with_capacity(batches.len());
        let mut candidates = Vec::with_capacity(batches.len());
        let mut scores = Vec::with_capacity(batches.len());
        for columns in &columns {
            let prompt = columns.keys.prompt.as_ref().expect("a whole batch");
            prompts.push(Texts::new(prompt).map_err(format)?);
            candidates.push(
                columns
                    .candidates
                    .iter()
                    .map(|(_, c)| Texts::new(c))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(format)?,
            );
            scores.push(
                score_values(
                    &columns.keys.score,
                    &self.spec.score,
                    |_| true,
                    |_| "the row".to_string(),
                )
                .map_err(format)?,
            );
        }
        if self.context.is_empty() {
            self.context = columns[0]
                .candidates
                .iter()
                .map(|(n, _)| n.clone())
                .collect();
        }
        let width = columns[0].candidates.len();
        if self.differs.len() != width {
            self.differs = vec![false; width];
        }
        let mut picks = Vec::new();
        let mut start = 0;
        while start < groups.len() {
            let end = start
                + groups[start..]
                    .iter()
                    .position(|&g| g != groups[start])
                    .unwrap_or(groups.len() - start);
            let (b0, r0) = order[start];
            for (k, &row) in rows.iter().enumerate().take(end).skip(start + 1) {
                let (b, r) = order[k];
                if prompts[b].get(r) != prompts[b0].get(r0) {
                    let key_path = self.spec.group_by.as_ref().expect("flat");
                    let prompt_path = self.spec.prompt.as_ref().unwrap_or(key_path);
                    return Err(Error::Row {
                        location: self.files.at(row),
                        problem: RowError::field(
                            Reason::LayoutMismatch,
                            prompt_path.as_str(),
                            format!(
                                "the group {} has another prompt in an earlier row; group by the prompt, or --split-by-prompt makes one group per prompt",
                                Texts::new(&columns[b].keys.key)
                                    .map_err(format)?
                                    .get(r)
                                    .unwrap_or("null")
                            ),
                        ),
                    });
                }
                for (c, (here, first)) in candidates[b].iter().zip(&candidates[b0]).enumerate() {
                    if here.get(r) != first.get(r0) && !self.differs[c] {
                        if self.direct && self.pairs > 0 {
                            // Pairs that hold the column went out: the stream stops here.
                            self.late = true;
                            return Ok(());
                        }
                        if self.pending.is_none() && !self.direct {
                            // The first reading found no such difference: the input changed.
                            return Err(super::flat::changed_because(
                                &self.files.at(row),
                                "holds another value than it did the first time",
                            ));
                        }
                        self.differs[c] = true;
                    }
                }
            }
            self.prompts += 1;
            let group_scores: Vec<f64> = order[start..end]
                .iter()
                .map(|&(b, r)| *scores[b][r].as_ref().expect("bad rows were left out"))
                .collect();
            let chosen = choose(&group_scores, self.spec, u64::from(groups[start]));
            if chosen.is_empty() {
                self.no_pair += 1;
            }
            for (c, r) in chosen {
                picks.push(Pick {
                    prompt: start as u32,
                    chosen: (start + c) as u32,
                    rejected: (start + r) as u32,
                });
            }
            start = end;
        }
        self.pairs += picks.len() as u64;
        let responses: Vec<&Responses> = columns.iter().map(|c| &c.responses).collect();
        for chunk in picks.chunks(PAIRS_PER_BATCH) {
            let (pairs, fixed) =
                pairs_of(&responses, chunk, |k| order[k as usize], self.spec).map_err(format)?;
            self.fixed = fixed;
            match &mut self.pending {
                Some(pending) => pending.push(0, pairs, self.held_bytes, &self.spec.temp)?,
                None => emit.emit(&self.agreed(&pairs)?)?,
            }
        }
        Ok(())
    }

    /// A batch of pairs without the context columns some group's rows disagree on.
    fn agreed(&self, pairs: &RecordBatch) -> Result<RecordBatch> {
        let schema = pairs.schema();
        let keep: Vec<usize> = (0..pairs.num_columns())
            .filter(|&i| {
                i < self.fixed
                    || !self
                        .context
                        .iter()
                        .zip(&self.differs)
                        .any(|(n, &d)| d && n == schema.field(i).name())
            })
            .collect();
        pairs
            .project(&keep)
            .map_err(|e| Error::format(self.name, e))
    }

    /// Pairs the group left open, the input's last.
    fn close(&mut self, emit: BatchEmit) -> Result<()> {
        match self.carry.take() {
            Some(carry) => {
                let order = order_of(&carry.batches);
                self.pair_in(&carry.batches, &order, &carry.groups, &carry.rows, emit)
            }
            None => Ok(()),
        }
    }

    /// Pairs the last group and emits every pair, without the context columns some group's
    /// rows disagree on.
    fn finish(mut self, summary: &mut PairSummary, emit: BatchEmit) -> Result<()> {
        self.close(emit)?;
        summary.prompts += self.prompts;
        summary.no_pair += self.no_pair;
        summary.pairs += self.pairs;
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        pending.drain(|_, batch| emit.emit(&self.agreed(&batch)?))
    }
}

/// One column of the responses of several batches (`column` picks it), at `at` (batch, index).
fn gather<'a>(
    responses: &[&'a Responses],
    column: impl Fn(&'a Responses) -> &'a ArrayRef,
    at: &[(usize, usize)],
) -> std::result::Result<ArrayRef, ArrowError> {
    if let [one] = responses {
        let index = UInt32Array::from_iter_values(at.iter().map(|&(_, i)| i as u32));
        return take(column(one).as_ref(), &index, None);
    }
    let arrays: Vec<&dyn Array> = responses.iter().map(|r| column(r).as_ref()).collect();
    crate::arrow::interleave(&arrays, at)
}

/// One batch of pairs, every column taken from the input's, and how many columns come before
/// the context's (which come last). A pick's indices go through `at` to a batch of
/// `responses` and an index in it.
fn pairs_of(
    responses: &[&Responses],
    chunk: &[Pick],
    at: impl Fn(u32) -> (usize, usize),
    spec: &PairSpec,
) -> std::result::Result<(RecordBatch, usize), ArrowError> {
    let index = |f: fn(&Pick) -> u32| chunk.iter().map(|p| at(f(p))).collect::<Vec<_>>();
    let (p, c, r) = (
        index(|p| p.prompt),
        index(|p| p.chosen),
        index(|p| p.rejected),
    );
    let prompts = gather(responses, |r| &r.prompt, &p)?;
    let (chosen, rejected) = (
        gather(responses, |r| &r.text, &c)?,
        gather(responses, |r| &r.text, &r)?,
    );
    let (chosen, rejected) = if spec.messages {
        (
            conversation(&prompts, &chosen)?,
            conversation(&prompts, &rejected)?,
        )
    } else {
        (chosen, rejected)
    };
    let mut fields: Vec<Field> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    let add =
        |fields: &mut Vec<Field>, columns: &mut Vec<ArrayRef>, name: String, array: ArrayRef| {
            // A response's own score field is also among its numbers: once is enough.
            if fields.iter().all(|f| f.name() != &name) {
                let mark = responses[0].marks.iter().find(|(n, _)| *n == name);
                let field = Field::new(name, array.data_type().clone(), true);
                fields.push(match mark {
                    Some((_, metadata)) => field.with_metadata(metadata.clone()),
                    None => field,
                });
                columns.push(array);
            }
        };
    let mut push = |name: String, array: ArrayRef| add(&mut fields, &mut columns, name, array);
    push("prompt".into(), prompts);
    push("chosen".into(), chosen);
    push("rejected".into(), rejected);
    push("score_chosen".into(), gather(responses, |r| &r.score, &c)?);
    push(
        "score_rejected".into(),
        gather(responses, |r| &r.score, &r)?,
    );
    for (i, (name, _)) in responses[0].numbers.iter().enumerate() {
        push(
            format!("{name}_chosen"),
            gather(responses, |r| &r.numbers[i].1, &c)?,
        );
        push(
            format!("{name}_rejected"),
            gather(responses, |r| &r.numbers[i].1, &r)?,
        );
    }
    let fixed = columns.len();
    for (i, (name, _)) in responses[0].context.iter().enumerate() {
        let values = gather(responses, |r| &r.context[i].1, &p)?;
        add(&mut fields, &mut columns, name.clone(), values);
    }
    Ok((
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?,
        fixed,
    ))
}

/// `[{"content": prompt, "role": "user"}, {"content": text, "role": "assistant"}]` per row.
fn conversation(prompts: &ArrayRef, texts: &ArrayRef) -> std::result::Result<ArrayRef, ArrowError> {
    let prompts = arrow_cast::cast(prompts, &DataType::Utf8)?;
    let texts = arrow_cast::cast(texts, &DataType::Utf8)?;
    let (prompts, texts) = (prompts.as_string::<i32>(), texts.as_string::<i32>());
    let fields = Fields::from(vec![
        Field::new("content", DataType::Utf8, true),
        Field::new("role", DataType::Utf8, true),
    ]);
    let message = StructBuilder::new(
        fields.clone(),
        vec![
            Box::new(StringBuilder::new()),
            Box::new(StringBuilder::new()),
        ],
    );
    let mut list = ListBuilder::new(message).with_field(Arc::new(Field::new(
        "item",
        DataType::Struct(fields),
        true,
    )));
    for i in 0..prompts.len() {
        for (content, role) in [
            (prompts.is_valid(i).then(|| prompts.value(i)), "user"),
            (texts.is_valid(i).then(|| texts.value(i)), "assistant"),
        ] {
            let m = list.values();
            m.field_builder::<StringBuilder>(0)
                .expect("content")
                .append_option(content);
            m.field_builder::<StringBuilder>(1)
                .expect("role")
                .append_value(role);
            m.append(true);
        }
        list.append(true);
    }
    Ok(Arc::new(list.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_by_key_weigh_their_row_groups_bytes_scaled_as_the_rows_read_whole() {
        // Two row groups of 100 rows: 10 and 40 uncompressed bytes a row.
        let mut weights = Weights::new(&[(100, 1_000), (100, 4_000)]);
        // The first 50 rows, read whole, took 1,000 bytes in Arrow: twice Parquet's 500.
        weights.read(50, 1_000);
        let weigh = weights.by_key();
        assert_eq!(
            [weigh(60), weigh(99), weigh(100), weigh(199)],
            [20, 20, 80, 80]
        );
        // Arrow smaller than Parquet (dictionaries): never scaled down.
        let mut weights = Weights::new(&[(100, 1_000)]);
        weights.read(100, 500);
        assert_eq!(weights.by_key()(100), 10);
        // No row groups known: the average of the rows read whole.
        let mut weights = Weights::new(&[]);
        weights.read(10, 250);
        assert_eq!(weights.by_key()(1_000), 25);
    }
}
