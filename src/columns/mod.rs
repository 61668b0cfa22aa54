//! The Arrow representation: relabels a record batch column by column, with the same rules as the
//! JSON side. Unchanged columns are copied with Arrow kernels (`take`); only the conditioned
//! columns (the goal field, and the swapped responses and scores) are rebuilt.

pub mod hf;
mod shape;

use std::sync::Arc;

use arrow_array::builder::GenericStringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{
    Array, ArrayRef, GenericListArray, GenericStringArray, OffsetSizeTrait, RecordBatch,
    StructArray, UInt32Array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Fields, SchemaRef};
use arrow_select::take::take;

use crate::error::{Reason, RowError};
use crate::fields::{FieldPath, Resolved};
use crate::relabel::{list_edit, Half, Kind, ListEdit, Spec, Style, Template, GOAL_SEPARATOR};

pub use shape::detect;

/// What relabeling one batch produced.
#[derive(Debug, Default)]
pub struct BatchOut {
    /// Output batches: one per half (blocks order) or one interleaved.
    pub batches: Vec<RecordBatch>,
    /// Bad rows: index in the batch and what is wrong, in row order.
    pub bad: Vec<(usize, RowError)>,
    /// Rows whose scores tie.
    pub ties: u64,
    /// Ties dropped.
    pub ties_dropped: u64,
    /// Pairs relabeled.
    pub kept: u64,
}

/// Relabels Arrow record batches of one dataset.
#[derive(Debug)]
pub struct BatchRelabeler<'s> {
    spec: &'s Spec,
    resolved: &'s Resolved,
    schema: SchemaRef,
    halves: Vec<Half>,
}

/// A column looked up by path: the top-level index and the array.
fn column(batch: &RecordBatch, path: &FieldPath) -> Result<ArrayRef, ArrowError> {
    let parts = path.parts();
    let mut array = batch
        .column_by_name(&parts[0])
        .cloned()
        .ok_or_else(|| ArrowError::SchemaError(format!("no column {:?}", parts[0])))?;
    for part in &parts[1..] {
        let parent = array.as_struct_opt().ok_or_else(|| {
            ArrowError::SchemaError(format!("column {path} is not inside a struct"))
        })?;
        array = parent
            .column_by_name(part)
            .cloned()
            .ok_or_else(|| ArrowError::SchemaError(format!("no column {path}")))?;
    }
    Ok(array)
}

impl<'s> BatchRelabeler<'s> {
    /// Makes a relabeler for batches of `schema`, already resolved with [`detect`].
    pub fn new(spec: &'s Spec, resolved: &'s Resolved, schema: SchemaRef) -> BatchRelabeler<'s> {
        BatchRelabeler {
            spec,
            resolved,
            schema,
            halves: spec.halves(),
        }
    }

    /// Relabels one batch. `split` gives one batch per half (blocks order) instead of one
    /// interleaved batch. Bad rows are left out and reported; the caller decides to fail or skip.
    pub fn relabel(&self, batch: &RecordBatch, split: bool) -> Result<BatchOut, ArrowError> {
        let r = self.resolved;
        let n = batch.num_rows();
        let mut problems: Vec<Option<RowError>> = vec![None; n];
        // Per attribute, the chosen and the rejected values of every row.
        let mut chosen_score = Vec::with_capacity(r.scores.len());
        let mut rejected_score = Vec::with_capacity(r.scores.len());
        for (c, rj) in &r.scores {
            chosen_score.push(scores(batch, c, &self.spec.template, &mut problems)?);
            rejected_score.push(scores(batch, rj, &self.spec.template, &mut problems)?);
        }
        let row_scores = |i: usize| -> (Vec<f64>, Vec<f64>) {
            (
                chosen_score.iter().map(|a| a[i]).collect(),
                rejected_score.iter().map(|a| a[i]).collect(),
            )
        };
        let chosen = column(batch, &r.chosen)?;
        let rejected = column(batch, &r.rejected)?;
        let kind = r.layout.responses();
        check_texts(&chosen, &r.chosen, kind, &mut problems)?;
        check_texts(&rejected, &r.rejected, kind, &mut problems)?;
        let prompt = match (&r.prompt, r.layout.prompt()) {
            (Some(path), Some(kind)) => {
                let array = column(batch, path)?;
                check_texts(&array, path, kind, &mut problems)?;
                Some(array)
            }
            _ => None,
        };
        // Bad rows first, in order; a problem found by an earlier check wins.
        let mut out = BatchOut::default();
        let mut keep: Vec<u32> = Vec::with_capacity(n);
        for (i, problem) in problems.into_iter().enumerate() {
            if let Some(problem) = problem {
                out.bad.push((i, problem));
                continue;
            }
            let (c, rj) = row_scores(i);
            if Spec::is_tie(&c, &rj) {
                out.ties += 1;
            }
            if self.spec.keeps(&c, &rj) {
                keep.push(i as u32);
            } else {
                out.ties_dropped += 1;
            }
        }
        out.kept = keep.len() as u64;
        // Every row kept (the usual case): the input arrays are reused, not copied.
        let all_kept = keep.len() == n;
        let keep = UInt32Array::from(keep);
        let kept = |a: &ArrayRef| {
            if all_kept {
                Ok(Arc::clone(a))
            } else {
                take(a.as_ref(), &keep, None)
            }
        };
        let scores_kept: Vec<(Vec<f64>, Vec<f64>)> = keep
            .values()
            .iter()
            .map(|&i| row_scores(i as usize))
            .collect();

        // Each half's version of every column.
        let mut halves: Vec<Vec<ArrayRef>> = Vec::with_capacity(self.halves.len());
        let unchanged: Vec<ArrayRef> =
            batch.columns().iter().map(kept).collect::<Result<_, _>>()?;
        let (chosen, rejected) = (kept(&chosen)?, kept(&rejected)?);
        let prompt = prompt.as_ref().map(kept).transpose()?;
        for &half in &self.halves {
            // Scores take few distinct values: each goal text is rendered once.
            let values: Vec<Option<&[f64]>> = scores_kept
                .iter()
                .map(|(c, rj)| Spec::goal_values(half, c, rj))
                .collect();
            let key = |v: &[f64]| -> Vec<u64> { v.iter().map(|x| x.to_bits()).collect() };
            let mut texts: std::collections::HashMap<Vec<u64>, String> = Default::default();
            for v in values.iter().flatten() {
                texts
                    .entry(key(v))
                    .or_insert_with(|| self.spec.template.render(v));
            }
            let goals: Option<Vec<&str>> = (half != Half::Original).then(|| {
                values
                    .iter()
                    .flatten()
                    .map(|v| texts[&key(v)].as_str())
                    .collect()
            });
            let (mut new_chosen, mut new_rejected) = if half.swapped() {
                (rejected.clone(), chosen.clone())
            } else {
                (chosen.clone(), rejected.clone())
            };
            let mut new_prompt = prompt.clone();
            if let Some(goals) = &goals {
                if r.layout.site().in_responses() {
                    new_chosen = put_goals(&new_chosen, goals, r.style)?;
                    new_rejected = put_goals(&new_rejected, goals, r.style)?;
                } else if let Some(p) = &new_prompt {
                    new_prompt = Some(put_goals(p, goals, r.style)?);
                }
            }
            let mut replaced: Vec<(&FieldPath, ArrayRef)> =
                vec![(&r.chosen, new_chosen), (&r.rejected, new_rejected)];
            if let (Some(path), Some(p)) = (&r.prompt, new_prompt) {
                replaced.push((path, p));
            }
            if half.swapped() {
                for (c, rj) in r.scores.iter().chain(&r.also_swapped) {
                    let cs = kept(&column(batch, c)?)?;
                    let rs = kept(&column(batch, rj)?)?;
                    replaced.push((c, rs));
                    replaced.push((rj, cs));
                }
            }
            // Only what the rules say a half rewrites: the Parquet writer copies the rest.
            let rewritten = r.rewritten(half);
            replaced.retain(|(path, _)| rewritten.contains(path));
            let mut columns = unchanged.clone();
            for (path, array) in replaced {
                replace(&self.schema, &mut columns, path, array)?;
            }
            halves.push(columns);
        }

        let rows = keep.len();
        if split || halves.len() == 1 {
            for columns in halves {
                out.batches.push(self.batch(columns, rows)?);
            }
        } else {
            // Interleave: pair 0's halves, then pair 1's, ...
            let order: Vec<(usize, usize)> = (0..rows)
                .flat_map(|row| (0..halves.len()).map(move |h| (h, row)))
                .collect();
            let mut columns = Vec::with_capacity(self.schema.fields().len());
            for c in 0..self.schema.fields().len() {
                let parts: Vec<&dyn Array> = halves.iter().map(|h| h[c].as_ref()).collect();
                columns.push(arrow_select::interleave::interleave(&parts, &order)?);
            }
            out.batches.push(self.batch(columns, rows * halves.len())?);
        }
        Ok(out)
    }

    fn batch(&self, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }
}

/// Reads a score column as f64, noting nulls and non-finite values as bad rows.
fn scores(
    batch: &RecordBatch,
    path: &FieldPath,
    template: &Template,
    problems: &mut [Option<RowError>],
) -> Result<Vec<f64>, ArrowError> {
    let array = column(batch, path)?;
    let floats = arrow_cast::cast(&array, &DataType::Float64)?;
    let floats = floats.as_primitive::<Float64Type>();
    let mut values = Vec::with_capacity(floats.len());
    for (i, problem) in problems.iter_mut().enumerate().take(floats.len()) {
        let v = floats.value(i);
        if problem.is_none() {
            if floats.is_null(i) {
                *problem = Some(RowError::field(
                    Reason::BadScore,
                    path.as_str(),
                    "expected a number, got null",
                ));
            } else if !v.is_finite() {
                *problem = Some(RowError::field(
                    Reason::BadScore,
                    path.as_str(),
                    format!("{v} is not a finite number"),
                ));
            } else if let Err(e) = template.check(v) {
                *problem = Some(RowError::field(Reason::BadScore, path.as_str(), e));
            }
        }
        values.push(v);
    }
    Ok(values)
}

/// Notes rows whose text field is null, or whose message list is empty or has a message without
/// role or content.
fn check_texts(
    array: &ArrayRef,
    path: &FieldPath,
    kind: Kind,
    problems: &mut [Option<RowError>],
) -> Result<(), ArrowError> {
    let mut note = |i: usize, reason, detail: String| {
        if problems[i].is_none() {
            problems[i] = Some(RowError::field(reason, path.as_str(), detail));
        }
    };
    for i in 0..array.len() {
        if array.is_null(i) {
            note(i, Reason::MissingField, "missing (null)".to_string());
        }
    }
    if kind == Kind::Text {
        return Ok(());
    }
    let (offsets, values) = list_parts(array)?;
    let (role, content) = message_columns(values, path)?;
    for (i, &(start, end)) in offsets.iter().enumerate() {
        if array.is_null(i) {
            continue;
        }
        if start == end {
            note(i, Reason::BadMessage, "empty message list".to_string());
            continue;
        }
        for j in start..end {
            if values.is_null(j) || role.is_null(j) {
                note(
                    i,
                    Reason::BadMessage,
                    format!("message {} has no \"role\"", j - start),
                );
                break;
            }
            if content.is_null(j) {
                note(
                    i,
                    Reason::BadMessage,
                    format!("message {} has no \"content\"", j - start),
                );
                break;
            }
        }
    }
    Ok(())
}

/// The (start, end) of each list, and the struct of all messages.
type ListParts<'a> = (Vec<(usize, usize)>, &'a StructArray);

/// Splits a message-list column into its list bounds and messages.
fn list_parts(array: &ArrayRef) -> Result<ListParts<'_>, ArrowError> {
    fn parts<O: OffsetSizeTrait>(list: &GenericListArray<O>) -> Vec<(usize, usize)> {
        list.offsets()
            .windows(2)
            .map(|w| (w[0].as_usize(), w[1].as_usize()))
            .collect()
    }
    let (offsets, values) = match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            (parts(list), list.values())
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            (parts(list), list.values())
        }
        other => {
            return Err(ArrowError::SchemaError(format!(
                "expected a list of messages, got {other}"
            )))
        }
    };
    let values = values.as_struct_opt().ok_or_else(|| {
        ArrowError::SchemaError("message lists must hold structs with role and content".into())
    })?;
    Ok((offsets, values))
}

/// The role and content columns of a message struct.
fn message_columns<'a>(
    messages: &'a StructArray,
    path: &FieldPath,
) -> Result<(&'a ArrayRef, &'a ArrayRef), ArrowError> {
    let get = |name: &str| {
        messages.column_by_name(name).ok_or_else(|| {
            ArrowError::SchemaError(format!(
                "the messages in column {path} have no {name:?} field"
            ))
        })
    };
    Ok((get("role")?, get("content")?))
}

/// Puts one goal per row into a text or message-list column.
fn put_goals(array: &ArrayRef, goals: &[&str], style: Style) -> Result<ArrayRef, ArrowError> {
    match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let firsts: Vec<Option<&str>> = goals.iter().map(|&g| Some(g)).collect();
            prefix_strings(array, &firsts)
        }
        DataType::List(field) => goals_into_lists::<i32>(array, field, goals, style),
        DataType::LargeList(field) => goals_into_lists::<i64>(array, field, goals, style),
        other => Err(ArrowError::SchemaError(format!(
            "can't put a goal into a column of type {other}"
        ))),
    }
}

/// A string column with `goal + separator` in front of row i's value where `goals[i]` is set.
fn prefix_strings(array: &ArrayRef, goals: &[Option<&str>]) -> Result<ArrayRef, ArrowError> {
    fn build<O: OffsetSizeTrait>(
        values: impl Iterator<Item = Option<String>>,
        cap: usize,
        bytes: usize,
    ) -> ArrayRef {
        let mut builder = GenericStringBuilder::<O>::with_capacity(cap, bytes);
        for v in values {
            builder.append_option(v);
        }
        Arc::new(builder.finish())
    }
    let strings = strings_of(array)?;
    let extra: usize = goals
        .iter()
        .map(|g| g.map_or(0, |g| g.len() + GOAL_SEPARATOR.len()))
        .sum();
    let bytes = strings.iter().map(|s| s.map_or(0, str::len)).sum::<usize>() + extra;
    let values = strings.iter().zip(goals).map(|(s, g)| match (s, g) {
        (Some(s), Some(g)) => Some(crate::relabel::prefix(g, s)),
        (s, _) => s.map(str::to_string),
    });
    Ok(match array.data_type() {
        DataType::Utf8 => build::<i32>(values, strings.len(), bytes),
        DataType::LargeUtf8 => build::<i64>(values, strings.len(), bytes),
        _ => {
            let mut builder = arrow_array::builder::StringViewBuilder::with_capacity(strings.len());
            for v in values {
                builder.append_option(v);
            }
            Arc::new(builder.finish())
        }
    })
}

/// Puts each row's goal into its message list: a new system message at index 0, or in front of
/// message 0's content (prefix style, or when message 0 is already a system message).
fn goals_into_lists<O: OffsetSizeTrait>(
    array: &ArrayRef,
    item: &Arc<Field>,
    goals: &[&str],
    style: Style,
) -> Result<ArrayRef, ArrowError> {
    let list = array.as_list::<O>();
    let messages = list
        .values()
        .as_struct_opt()
        .ok_or_else(|| ArrowError::SchemaError("message lists must hold structs".into()))?;
    let role = messages
        .column_by_name("role")
        .ok_or_else(|| ArrowError::SchemaError("messages have no role field".into()))?;
    let roles: Vec<Option<&str>> = strings_of(role)?;
    let offsets: Vec<usize> = list.offsets().iter().map(|o| o.as_usize()).collect();
    let rows = list.len();
    // Decide the edit per row, and prefix message 0's content where that's the edit.
    let mut insert = vec![false; rows];
    let mut content_goals: Vec<Option<&str>> = vec![None; messages.len()];
    for i in 0..rows {
        let first = offsets[i];
        if first == offsets[i + 1] {
            continue; // Empty lists were rejected as bad rows before.
        }
        match list_edit(style, roles[first] == Some("system")) {
            ListEdit::InsertSystem => insert[i] = true,
            ListEdit::PrefixFirst => content_goals[first] = Some(goals[i]),
        }
    }
    let content_index = messages
        .fields()
        .iter()
        .position(|f| f.name() == "content")
        .ok_or_else(|| ArrowError::SchemaError("messages have no content field".into()))?;
    let mut children: Vec<ArrayRef> = messages.columns().to_vec();
    if content_goals.iter().any(Option::is_some) {
        children[content_index] = prefix_strings(&children[content_index], &content_goals)?;
    }
    let messages = StructArray::try_new(
        messages.fields().clone(),
        children,
        messages.nulls().cloned(),
    )?;
    let inserts: Vec<usize> = (0..rows).filter(|&i| insert[i]).collect();
    if inserts.is_empty() {
        return Ok(Arc::new(GenericListArray::<O>::try_new(
            Arc::clone(item),
            list.offsets().clone(),
            Arc::new(messages),
            list.nulls().cloned(),
        )?));
    }
    if let Some(values) = build_messages(&messages, &offsets, &insert, goals)? {
        let mut new_offsets: Vec<O> = Vec::with_capacity(rows + 1);
        new_offsets.push(O::usize_as(0));
        let mut at = 0;
        for i in 0..rows {
            at += offsets[i + 1] - offsets[i] + usize::from(insert[i]);
            new_offsets.push(O::usize_as(at));
        }
        return Ok(Arc::new(GenericListArray::<O>::try_new(
            Arc::clone(item),
            OffsetBuffer::new(ScalarBuffer::from(new_offsets)),
            values,
            list.nulls().cloned(),
        )?));
    }
    // Other message fields: new system messages go after the existing ones, and a take puts
    // each at its list's head.
    let system_goals: Vec<&str> = inserts.iter().map(|&i| goals[i]).collect();
    let system = system_messages(messages.fields(), &system_goals)?;
    let all = arrow_select::concat::concat(&[&messages, &system])?;
    let base = messages.len();
    let mut indices: Vec<u32> = Vec::with_capacity(base + inserts.len());
    let mut new_offsets: Vec<O> = Vec::with_capacity(rows + 1);
    new_offsets.push(O::usize_as(0));
    let mut k = 0;
    for i in 0..rows {
        if insert[i] {
            indices.push((base + k) as u32);
            k += 1;
        }
        indices.extend((offsets[i]..offsets[i + 1]).map(|j| j as u32));
        new_offsets.push(O::usize_as(indices.len()));
    }
    let values = take(all.as_ref(), &UInt32Array::from(indices), None)?;
    Ok(Arc::new(GenericListArray::<O>::try_new(
        Arc::clone(item),
        OffsetBuffer::new(ScalarBuffer::from(new_offsets)),
        values,
        list.nulls().cloned(),
    )?))
}

/// Builds the messages of lists that get a system message inserted, in one pass, when messages
/// are just role and content (the usual shape); `None` for other shapes.
fn build_messages(
    messages: &StructArray,
    offsets: &[usize],
    insert: &[bool],
    goals: &[&str],
) -> Result<Option<ArrayRef>, ArrowError> {
    if messages.num_columns() != 2 || messages.nulls().is_some_and(|n| n.null_count() > 0) {
        return Ok(None);
    }
    let (Some(role), Some(content)) = (
        messages.column_by_name("role"),
        messages.column_by_name("content"),
    ) else {
        return Ok(None);
    };
    let (roles, contents) = (strings_of(role)?, strings_of(content)?);
    let mut new_roles: Vec<Option<&str>> = Vec::with_capacity(roles.len() + insert.len());
    let mut new_contents: Vec<Option<&str>> = Vec::with_capacity(roles.len() + insert.len());
    for i in 0..insert.len() {
        if insert[i] {
            new_roles.push(Some("system"));
            new_contents.push(Some(goals[i]));
        }
        for j in offsets[i]..offsets[i + 1] {
            new_roles.push(roles[j]);
            new_contents.push(contents[j]);
        }
    }
    let columns: Vec<ArrayRef> = messages
        .fields()
        .iter()
        .map(|f| {
            let values = if f.name() == "role" {
                &new_roles
            } else {
                &new_contents
            };
            strings_like(f.data_type(), values)
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(Arc::new(StructArray::try_new(
        messages.fields().clone(),
        columns,
        None,
    )?)))
}

/// A string array of the given string type.
fn strings_like(data_type: &DataType, values: &[Option<&str>]) -> Result<ArrayRef, ArrowError> {
    let bytes: usize = values.iter().map(|v| v.map_or(0, str::len)).sum();
    Ok(match data_type {
        DataType::Utf8 => {
            let mut b = GenericStringBuilder::<i32>::with_capacity(values.len(), bytes);
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
        DataType::LargeUtf8 => {
            let mut b = GenericStringBuilder::<i64>::with_capacity(values.len(), bytes);
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
        DataType::Utf8View => {
            let mut b = arrow_array::builder::StringViewBuilder::with_capacity(values.len());
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
        other => {
            return Err(ArrowError::SchemaError(format!(
                "expected a string type, got {other}"
            )))
        }
    })
}

/// System messages with these goals: role "system", content the goal, other fields null.
fn system_messages(fields: &Fields, goals: &[&str]) -> Result<ArrayRef, ArrowError> {
    let n = goals.len();
    let columns: Vec<ArrayRef> = fields
        .iter()
        .map(|f| {
            let text = match f.name().as_str() {
                "content" => Some(goals.to_vec()),
                "role" => Some(vec!["system"; n]),
                _ => None,
            };
            match text {
                Some(values) => {
                    let array: ArrayRef = Arc::new(GenericStringArray::<i32>::from(values));
                    arrow_cast::cast(&array, f.data_type())
                }
                None => Ok(arrow_array::new_null_array(f.data_type(), n)),
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Arc::new(StructArray::try_new(
        fields.clone(),
        columns,
        None,
    )?))
}

/// The values of a string column of any string type.
fn strings_of(array: &ArrayRef) -> Result<Vec<Option<&str>>, ArrowError> {
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        DataType::Utf8View => array.as_string_view().iter().collect(),
        other => {
            return Err(ArrowError::SchemaError(format!(
                "expected strings, got {other}"
            )))
        }
    })
}

/// Replaces the column at `path` (top level, or inside structs) with `array`.
fn replace(
    schema: &SchemaRef,
    columns: &mut [ArrayRef],
    path: &FieldPath,
    array: ArrayRef,
) -> Result<(), ArrowError> {
    let parts = path.parts();
    let index = schema.index_of(&parts[0])?;
    columns[index] = replace_in(&columns[index], &parts[1..], array)?;
    Ok(())
}

fn replace_in(
    current: &ArrayRef,
    parts: &[String],
    array: ArrayRef,
) -> Result<ArrayRef, ArrowError> {
    let Some((first, rest)) = parts.split_first() else {
        return Ok(array);
    };
    let parent = current
        .as_struct_opt()
        .ok_or_else(|| ArrowError::SchemaError(format!("{first} is not inside a struct")))?;
    let index = parent
        .fields()
        .iter()
        .position(|f| f.name() == first)
        .ok_or_else(|| ArrowError::SchemaError(format!("no field {first}")))?;
    let mut children = parent.columns().to_vec();
    children[index] = replace_in(&children[index], rest, array)?;
    Ok(Arc::new(StructArray::try_new(
        parent.fields().clone(),
        children,
        parent.nulls().cloned(),
    )?))
}
