//! Pairs from Arrow record batches (Parquet input): the same pairs as the JSON path, chosen by
//! the same rule, with every output column taken from the input's, so types stay as they were
//! (an int32 score stays int32).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, StructBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray, UInt32Array};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef};
use arrow_select::take::take;

use super::{choose, PairSpec, PairSummary};
use crate::arrow::column;
use crate::error::{Error, Location, Position, Reason, Result, RowError};
use crate::fields::FieldPath;

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
}

/// The top-level columns other than those named in `used` (and, flat, but numbers, which are
/// each response's own).
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
        .map(|(f, c)| (f.name().clone(), Arc::clone(c)))
        .collect()
}

/// Each row's value as text, null apart from any string: what groups compare.
fn texts(array: &ArrayRef) -> std::result::Result<Vec<String>, ArrowError> {
    let options = FormatOptions::default();
    let formatter = ArrayFormatter::try_new(array.as_ref(), &options)?;
    Ok((0..array.len())
        .map(|i| {
            if array.is_null(i) {
                "\0null".to_string()
            } else {
                format!("v{}", formatter.value(i))
            }
        })
        .collect())
}

/// Builds pairs from Arrow batches, each output batch going to `emit`. `name` is the file, for
/// locations. Flat data (one row per response) is grouped over all batches, in order of each
/// key's first row; nested data is paired row by row.
pub fn pairs_batches(
    schema: &SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch>>,
    name: &str,
    spec: &PairSpec,
    mut emit: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<PairSummary> {
    let mut summary = PairSummary::default();
    if spec.responses.is_some() {
        let mut first_row = 0u64;
        for batch in batches {
            let batch = batch?;
            let (picks, responses) = nested(&batch, name, first_row, spec, &mut summary)?;
            first_row += batch.num_rows() as u64;
            summary.pairs += picks.len() as u64;
            write(name, &responses, &picks, spec, &mut emit)?;
        }
        return Ok(summary);
    }
    let all: Vec<RecordBatch> = batches.collect::<Result<_>>()?;
    let batch =
        arrow_select::concat::concat_batches(schema, &all).map_err(|e| Error::format(name, e))?;
    let (picks, responses) = flat(&batch, name, spec, &mut summary)?;
    summary.pairs += picks.len() as u64;
    write(name, &responses, &picks, spec, &mut emit)?;
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

/// The numeric fields among `fields`, but those named in `skip`.
fn numbers(fields: &Fields, columns: &[ArrayRef], skip: &[&FieldPath]) -> Vec<(String, ArrayRef)> {
    fields
        .iter()
        .zip(columns)
        .filter(|(f, _)| f.data_type().is_numeric())
        .filter(|(f, _)| !skip.iter().any(|p| p.parts() == [f.name().as_str()]))
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
            match floats.is_valid(i).then(|| floats.value(i)) {
                Some(v) if v.is_finite() => Ok(v),
                got => Err(RowError::field(
                    Reason::BadScore,
                    path.as_str(),
                    format!(
                        "expected a number in {}, got {}",
                        what(i),
                        got.map_or("null".to_string(), |v| v.to_string())
                    ),
                )),
            }
        })
        .collect())
}

/// Nested data: each row's list of responses, paired within the row.
fn nested(
    batch: &RecordBatch,
    name: &str,
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
        let location = Location {
            file: name.to_string(),
            position: Position::Row(first_row + i as u64),
        };
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
            Err(_) if spec.skip_bad => summary.skipped += 1,
            Err(problem) => return Err(Error::Row { location, problem }),
        }
    }
    let numbers = numbers(structs.fields(), structs.columns(), &[]);
    let context = context_columns(batch, &[&prompt_path, list_path], false);
    Ok((
        picks,
        Responses {
            prompt,
            text,
            score,
            numbers,
            context,
        },
    ))
}

/// Flat data: one row per response, grouped by a key.
fn flat(
    batch: &RecordBatch,
    name: &str,
    spec: &PairSpec,
    summary: &mut PairSummary,
) -> Result<(Vec<Pick>, Responses)> {
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
    let format = |e: ArrowError| Error::format(name, e);
    let scores =
        score_values(&score, &spec.score, |_| true, |_| "the row".to_string()).map_err(format)?;
    let keys = texts(&key).map_err(format)?;
    let prompts = texts(&prompt).map_err(format)?;
    let used = [key_path, prompt_path, &spec.text, &spec.score];
    // The key is the group's (when it is not the prompt itself), then every other column but
    // numbers, which are each response's own.
    let mut candidates = Vec::new();
    if key_path != prompt_path {
        candidates.push((key_path.parts()[0].clone(), Arc::clone(&key)));
    }
    candidates.extend(context_columns(batch, &used, true));
    let candidate_texts: Vec<Vec<String>> = candidates
        .iter()
        .map(|(_, c)| texts(c))
        .collect::<std::result::Result<_, _>>()
        .map_err(format)?;
    let mut differs = vec![false; candidates.len()];
    // Groups in order of their first row: that row (for the prompt) and the responses' rows.
    let mut groups: Vec<(u32, Vec<u32>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, score) in scores.iter().enumerate() {
        summary.rows_in += 1;
        if let Err(problem) = score {
            if spec.skip_bad {
                summary.skipped += 1;
                continue;
            }
            return Err(Error::Row {
                location: Location {
                    file: name.to_string(),
                    position: Position::Row(i as u64),
                },
                problem: problem.clone(),
            });
        }
        let k = if spec.split_by_prompt {
            format!("{}\u{0}{}", keys[i], prompts[i])
        } else {
            keys[i].clone()
        };
        let at = *index.entry(k).or_insert_with(|| {
            groups.push((i as u32, Vec::new()));
            groups.len() - 1
        });
        let first = groups[at].0 as usize;
        if prompts[i] != prompts[first] {
            return Err(Error::Row {
                location: Location {
                    file: name.to_string(),
                    position: Position::Row(i as u64),
                },
                problem: RowError::field(
                    Reason::LayoutMismatch,
                    prompt_path.as_str(),
                    format!(
                        "the group {} has another prompt in an earlier row; group by the prompt, or --split-by-prompt makes one group per prompt",
                        keys[i].strip_prefix('v').unwrap_or("null")
                    ),
                ),
            });
        }
        for (c, values) in candidate_texts.iter().enumerate() {
            differs[c] |= values[i] != values[first];
        }
        groups[at].1.push(i as u32);
    }
    let mut picks = Vec::new();
    for (g, (first, rows)) in groups.iter().enumerate() {
        summary.prompts += 1;
        let group_scores: Vec<f64> = rows
            .iter()
            .map(|&r| *scores[r as usize].as_ref().expect("bad rows were left out"))
            .collect();
        let chosen = choose(&group_scores, spec, g as u64);
        if chosen.is_empty() {
            summary.no_pair += 1;
        }
        for (c, r) in chosen {
            picks.push(Pick {
                prompt: *first,
                chosen: rows[c],
                rejected: rows[r],
            });
        }
    }
    let skip: Vec<&FieldPath> = [Some(key_path), spec.prompt.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    let schema = batch.schema();
    let numbers = numbers(schema.fields(), batch.columns(), &skip);
    let context = candidates
        .into_iter()
        .zip(differs)
        .filter(|(_, d)| !d)
        .map(|(c, _)| c)
        .collect();
    Ok((
        picks,
        Responses {
            prompt,
            text,
            score,
            numbers,
            context,
        },
    ))
}

/// Takes the pairs' columns, a batch of pairs at a time, and emits them.
fn write(
    name: &str,
    responses: &Responses,
    picks: &[Pick],
    spec: &PairSpec,
    emit: &mut impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    for chunk in picks.chunks(PAIRS_PER_BATCH) {
        emit(&pairs_of(responses, chunk, spec).map_err(|e| Error::format(name, e))?)?;
    }
    Ok(())
}

/// One batch of pairs, every column taken from the input's.
fn pairs_of(
    responses: &Responses,
    chunk: &[Pick],
    spec: &PairSpec,
) -> std::result::Result<RecordBatch, ArrowError> {
    let index = |f: fn(&Pick) -> u32| UInt32Array::from_iter_values(chunk.iter().map(f));
    let (p, c, r) = (
        index(|p| p.prompt),
        index(|p| p.chosen),
        index(|p| p.rejected),
    );
    let prompts = take(responses.prompt.as_ref(), &p, None)?;
    let (chosen, rejected) = (
        take(responses.text.as_ref(), &c, None)?,
        take(responses.text.as_ref(), &r, None)?,
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
    let mut push = |name: String, array: ArrayRef| {
        // A response's own score field is also among its numbers: once is enough.
        if fields.iter().all(|f| f.name() != &name) {
            fields.push(Field::new(name, array.data_type().clone(), true));
            columns.push(array);
        }
    };
    push("prompt".into(), prompts);
    push("chosen".into(), chosen);
    push("rejected".into(), rejected);
    push(
        "score_chosen".into(),
        take(responses.score.as_ref(), &c, None)?,
    );
    push(
        "score_rejected".into(),
        take(responses.score.as_ref(), &r, None)?,
    );
    for (name, values) in &responses.numbers {
        push(format!("{name}_chosen"), take(values.as_ref(), &c, None)?);
        push(format!("{name}_rejected"), take(values.as_ref(), &r, None)?);
    }
    for (name, values) in &responses.context {
        push(name.clone(), take(values.as_ref(), &p, None)?);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
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
