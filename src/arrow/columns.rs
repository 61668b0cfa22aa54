//! The columns the relabel rules read and rebuild, for the Arrow applier and the reshaping
//! steps: facts read off score and text columns, goals put into strings and message lists,
//! columns picked per row, widened and replaced.

use std::sync::Arc;

use arrow_array::builder::GenericStringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{
    Array, ArrayRef, BooleanArray, GenericListArray, GenericStringArray, OffsetSizeTrait,
    RecordBatch, StructArray, UInt32Array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Fields, SchemaRef};
use arrow_select::take::take;

use super::shape::SchemaShape;
use crate::fields::{FieldPath, Resolved};
use crate::plan::{Insert, ListFact, ScoreFact, SystemFact, TextFact};
use crate::relabel::GOAL_SEPARATOR;

/// The column at a path: a top-level column, or a field inside struct columns.
pub fn column(batch: &RecordBatch, path: &FieldPath) -> Result<ArrayRef, ArrowError> {
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

/// Per row, whether a text column's value already begins with `marker`: a string, or message
/// 0's string content.
pub(super) fn led_by(array: &ArrayRef, marker: &str) -> Result<Vec<bool>, ArrowError> {
    let none = || vec![false; array.len()];
    // Per row, where its leading string is: the value itself, or message 0's content.
    let (strings, rows): (&ArrayRef, Vec<Option<usize>>) = match array.data_type() {
        DataType::List(_) | DataType::LargeList(_) => {
            let (offsets, values) = list_parts(array)?;
            let Some(content) = values.column_by_name("content") else {
                return Ok(none());
            };
            let firsts: Vec<Option<usize>> =
                offsets.iter().map(|&(s, e)| (s < e).then_some(s)).collect();
            if let DataType::List(_) | DataType::LargeList(_) = content.data_type() {
                // Typed parts: message 0's first text part.
                let (_, parts) = list_parts(content)?;
                let Some(texts) = parts.column_by_name("text") else {
                    return Ok(none());
                };
                let Ok(texts) = arrow_cast::cast(texts, &DataType::Utf8) else {
                    return Ok(none());
                };
                let texts = texts.as_string::<i32>();
                return Ok(first_text_parts(values, &firsts)?
                    .into_iter()
                    .map(|k| k.is_some_and(|k| texts.value(k).starts_with(marker)))
                    .collect());
            }
            (content, firsts)
        }
        _ => (array, (0..array.len()).map(Some).collect()),
    };
    // Contents that are no strings (multimodal parts) begin with no goal text.
    let Ok(strings) = arrow_cast::cast(strings, &DataType::Utf8) else {
        return Ok(none());
    };
    let strings = strings.as_string::<i32>();
    Ok(rows
        .into_iter()
        .map(|j| j.is_some_and(|j| strings.is_valid(j) && strings.value(j).starts_with(marker)))
        .collect())
}

/// Per message asked for (by its index in the messages), the index of its first text part
/// (`{"type": "text", "text": ...}`) among all parts, when its content is a list of typed parts.
pub(super) fn first_text_parts(
    messages: &StructArray,
    wanted: &[Option<usize>],
) -> Result<Vec<Option<usize>>, ArrowError> {
    let none = || Ok(vec![None; wanted.len()]);
    let Some(content) = messages.column_by_name("content") else {
        return none();
    };
    if !matches!(
        content.data_type(),
        DataType::List(_) | DataType::LargeList(_)
    ) {
        return none();
    }
    let (offsets, parts) = list_parts(content)?;
    let (Some(kinds), Some(texts)) = (parts.column_by_name("type"), parts.column_by_name("text"))
    else {
        return none();
    };
    let (Ok(kinds), Ok(texts)) = (
        arrow_cast::cast(kinds, &DataType::Utf8),
        arrow_cast::cast(texts, &DataType::Utf8),
    ) else {
        return none();
    };
    let (kinds, texts) = (kinds.as_string::<i32>(), texts.as_string::<i32>());
    Ok(wanted
        .iter()
        .map(|m| {
            let m = (*m)?;
            if content.is_null(m) {
                return None;
            }
            let (start, end) = offsets[m];
            (start..end).find(|&k| {
                parts.is_valid(k)
                    && kinds.is_valid(k)
                    && kinds.value(k) == "text"
                    && texts.is_valid(k)
            })
        })
        .collect())
}

/// The facts of a text column at `path` (a string or message-list column), one per row.
pub fn text_facts_at(batch: &RecordBatch, path: &FieldPath) -> Result<Vec<TextFact>, ArrowError> {
    text_facts(&column(batch, path)?)
}

/// The fact of each row's system prompt field, the column at `path`.
pub fn system_facts_at(
    batch: &RecordBatch,
    path: &FieldPath,
) -> Result<Vec<SystemFact>, ArrowError> {
    system_facts(&column(batch, path)?)
}

/// The batch with `goal` put into the column at `path` of every row, as each row's insert says
/// (eval-time goals: one goal for every row).
pub fn put_goal_at(
    batch: &RecordBatch,
    path: &FieldPath,
    goal: &str,
    inserts: &[Option<Insert>],
) -> Result<RecordBatch, ArrowError> {
    let goals = vec![Some(goal); batch.num_rows()];
    let array = put_goals(&column(batch, path)?, &goals, inserts)?;
    let schema = batch.schema();
    let mut columns = batch.columns().to_vec();
    replace(&schema, &mut columns, path, array)?;
    RecordBatch::try_new_with_options(
        schema,
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
}

/// Per row, `a`'s and `b`'s values, traded where `swap` is set: `(a', b')`. Numeric columns of
/// two types are widened first (see [`widened`]); other columns of two types trade values in
/// each other's type, so long as every value reads back the same.
pub(super) fn pick(
    swap: &[bool],
    (a_path, a): (&str, &ArrayRef),
    (b_path, b): (&str, &ArrayRef),
) -> Result<(ArrayRef, ArrayRef), ArrowError> {
    if !swap.iter().any(|&s| s) {
        return Ok((Arc::clone(a), Arc::clone(b)));
    }
    let (a_as_b, b_as_a) = if a.data_type() == b.data_type() {
        (Arc::clone(a), Arc::clone(b))
    } else {
        let unfit = || {
            ArrowError::CastError(format!(
                "{a_path} ({}) and {b_path} ({}) trade places, and their values don't fit each \
                 other's type; give both one type",
                a.data_type(),
                b.data_type()
            ))
        };
        (
            exact_cast(a, b.data_type()).ok_or_else(unfit)?,
            exact_cast(b, a.data_type()).ok_or_else(unfit)?,
        )
    };
    if swap.iter().all(|&s| s) {
        return Ok((b_as_a, a_as_b));
    }
    let mask = BooleanArray::from(swap.to_vec());
    Ok((
        arrow_select::zip::zip(&mask, &b_as_a, a)?,
        arrow_select::zip::zip(&mask, &a_as_b, b)?,
    ))
}

/// `array` in another type, or `None` where a value doesn't read back the same.
pub(super) fn exact_cast(array: &ArrayRef, to: &DataType) -> Option<ArrayRef> {
    let options = arrow_cast::CastOptions {
        safe: false,
        ..Default::default()
    };
    let cast = arrow_cast::cast_with_options(array, to, &options).ok()?;
    let back = arrow_cast::cast_with_options(&cast, array.data_type(), &options).ok()?;
    (back.as_ref() == array.as_ref()).then_some(cast)
}

/// The fields that trade places (score pairs, `--swap` pairs) with a field of another numeric
/// type, and the one type both are written in: int64 for two integer types, float64 where a
/// float or decimal is involved (an int64 chosen score and a float64 rejected one, as pyarrow
/// infers them from `9` and `3.5`). A decision made from the schema alone, so that every batch
/// and every shard is written alike.
pub fn widened(schema: &arrow_schema::Schema, resolved: &Resolved) -> Vec<(FieldPath, DataType)> {
    let mut widened = Vec::new();
    for (a, b) in resolved.scores.iter().chain(&resolved.also_swapped) {
        let (Some(ta), Some(tb)) = (field_type(schema, a), field_type(schema, b)) else {
            continue;
        };
        let Some(to) = common_type(&ta, &tb) else {
            continue;
        };
        for (path, from) in [(a, ta), (b, tb)] {
            if from != to {
                widened.push((path.clone(), to.clone()));
            }
        }
    }
    widened
}

/// The one type two numeric fields that trade places are written in, when theirs differ (see
/// [`widened`]).
pub(super) fn common_type(a: &DataType, b: &DataType) -> Option<DataType> {
    if a == b || !a.is_numeric() || !b.is_numeric() {
        None
    } else if a.is_integer() && b.is_integer() {
        Some(DataType::Int64)
    } else {
        Some(DataType::Float64)
    }
}

/// The type of the field at `path`, if there is one.
pub(super) fn field_type(schema: &arrow_schema::Schema, path: &FieldPath) -> Option<DataType> {
    SchemaShape(schema)
        .field(path)
        .map(|f| f.data_type().clone())
}

/// A numeric column in a wider type (see [`widened`]). float32 and float16 values become the
/// float64 of their shortest decimal, as their scores read (a float32 7.3 stays 7.3).
pub(super) fn widen(array: &ArrayRef, to: &DataType) -> Result<ArrayRef, ArrowError> {
    let narrow = shortest_of(array.data_type());
    let options = arrow_cast::CastOptions {
        safe: false,
        ..Default::default()
    };
    let cast = arrow_cast::cast_with_options(array, to, &options)?;
    match (narrow, to) {
        (Some(narrow), DataType::Float64) => Ok(Arc::new(
            cast.as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(narrow),
        )),
        _ => Ok(cast),
    }
}

/// The fact of each row's score: a number (any numeric column, read as f64), or missing (null).
/// A float32 or float16 score is the shortest decimal that reads back as it at its own
/// precision (a float32 7.3 is 7.3, not 7.300000190734863), as its column shows it.
pub(super) fn score_facts(array: &ArrayRef) -> Result<Vec<ScoreFact>, ArrowError> {
    if !array.data_type().is_numeric() {
        return other_scores(array);
    }
    let narrow = shortest_of(array.data_type());
    let floats = arrow_cast::cast(array, &DataType::Float64)?;
    let floats = floats.as_primitive::<Float64Type>();
    Ok((0..floats.len())
        .map(|i| {
            if floats.is_null(i) {
                ScoreFact::Missing
            } else {
                let v = floats.value(i);
                ScoreFact::Number(narrow.map_or(v, |n| n(v)))
            }
        })
        .collect())
}

/// The facts of a score column that holds no numbers: what each row holds instead, as a JSON
/// score that is not a number is described (a string score is bad data, not a usage error).
pub(super) fn other_scores(array: &ArrayRef) -> Result<Vec<ScoreFact>, ArrowError> {
    let strings = match array.data_type() {
        DataType::Boolean => None,
        _ => arrow_cast::cast(array, &DataType::Utf8).ok(),
    };
    Ok((0..array.len())
        .map(|i| {
            if array.is_null(i) {
                return ScoreFact::Missing;
            }
            ScoreFact::Other(match (&strings, array.data_type()) {
                (_, DataType::Boolean) => {
                    format!("boolean {}", array.as_boolean().value(i))
                }
                (Some(strings), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
                | (Some(strings), DataType::Dictionary(..)) => {
                    crate::plan::describe_string(strings.as_string::<i32>().value(i))
                }
                (_, other) => format!("a value of type {other}"),
            })
        })
        .collect())
}

/// For float32 and float16 values read as float64: the float64 of their shortest decimal.
pub(super) fn shortest_of(data_type: &DataType) -> Option<fn(f64) -> f64> {
    match data_type {
        DataType::Float32 => Some(|v| shortest_f32(v as f32)),
        DataType::Float16 => Some(|v| shortest_f16(v as f32)),
        _ => None,
    }
}

/// The shortest decimal that reads back as this float32, as a float64: how raug reads a
/// float32 score.
pub fn shortest_f32(v: f32) -> f64 {
    if !v.is_finite() {
        return f64::from(v);
    }
    v.to_string().parse().unwrap_or(f64::from(v))
}

/// The shortest decimal that rounds to this float16 (given as the float32 it converts to
/// exactly), as a float64: how raug reads a float16 score. float16 has 11 significant bits, so
/// 5 digits always suffice.
pub fn shortest_f16(v: f32) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return f64::from(v);
    }
    // Half the distance to the neighbouring float16s: 2^(exponent - 11), and subnormals
    // (below 2^-14) are spaced 2^-24 apart.
    let exponent = v.abs().log2().floor().max(-14.0);
    let half_ulp = 2f64.powf(f64::from(exponent) - 11.0);
    let exact = f64::from(v);
    for digits in 1..=5 {
        let candidate: f64 = format!("{:.*e}", digits - 1, exact)
            .parse()
            .unwrap_or(exact);
        if (candidate - exact).abs() < half_ulp {
            return candidate;
        }
    }
    exact
}

/// The fact of each row's system prompt field: a string (empty or not), null, or another type.
pub(super) fn system_facts(array: &ArrayRef) -> Result<Vec<SystemFact>, ArrowError> {
    let strings = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => {
            Some(arrow_cast::cast(array, &DataType::Utf8)?)
        }
        _ => None,
    };
    Ok((0..array.len())
        .map(|i| match &strings {
            _ if array.is_null(i) => SystemFact::Missing,
            Some(s) if s.as_string::<i32>().value(i).is_empty() => SystemFact::Empty,
            Some(_) => SystemFact::Text,
            None => SystemFact::Other(format!("a value of type {}", array.data_type())),
        })
        .collect())
}

/// The fact of each row's text field: a string, a message list (as far as the rules look into
/// it), or null.
pub(super) fn text_facts(array: &ArrayRef) -> Result<Vec<TextFact>, ArrowError> {
    let null = || TextFact::Missing;
    if matches!(
        array.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..)
    ) {
        return Ok((0..array.len())
            .map(|i| {
                if array.is_null(i) {
                    null()
                } else {
                    TextFact::Text
                }
            })
            .collect());
    }
    let (offsets, values) = list_parts(array)?;
    let role = values
        .column_by_name("role")
        .ok_or_else(|| ArrowError::SchemaError("messages have no \"role\" field".into()))?;
    let role = arrow_cast::cast(role, &DataType::Utf8)?;
    let roles = role.as_string::<i32>();
    let content = values.column_by_name("content");
    let parts = content
        .is_some_and(|c| matches!(c.data_type(), DataType::List(_) | DataType::LargeList(_)));
    let firsts: Vec<Option<usize>> = offsets.iter().map(|&(s, e)| (s < e).then_some(s)).collect();
    let text_parts = first_text_parts(values, &firsts)?;
    let content_is_text = |j: usize| {
        content.is_some_and(|c| {
            matches!(
                c.data_type(),
                DataType::Utf8
                    | DataType::LargeUtf8
                    | DataType::Utf8View
                    | DataType::Dictionary(..)
            ) && c.is_valid(j)
        })
    };
    Ok(offsets
        .iter()
        .enumerate()
        .map(|(i, &(start, end))| {
            if array.is_null(i) {
                return null();
            }
            if start == end {
                return TextFact::Messages(ListFact::Empty);
            }
            for j in start..end {
                if values.is_null(j) {
                    return TextFact::Messages(ListFact::NotAnObject(j - start, "null".into()));
                }
                if roles.is_null(j) {
                    return TextFact::Messages(ListFact::BadRole(j - start, None));
                }
            }
            TextFact::Messages(ListFact::Messages {
                first_is_system: roles.value(start) == "system",
                first_content_is_text: content_is_text(start),
                parts: parts && content.is_some_and(|c| c.is_valid(start)),
                first_text_part: text_parts[i].is_some(),
                len: end - start,
            })
        })
        .collect())
}

/// The (start, end) of each list, and the struct of all messages.
pub(super) type ListParts<'a> = (Vec<(usize, usize)>, &'a StructArray);

/// Splits a message-list column into its list bounds and messages.
pub(super) fn list_parts(array: &ArrayRef) -> Result<ListParts<'_>, ArrowError> {
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

/// Puts each row's goal into a text or message-list column, as the row's insert says (`None`:
/// the row stays as it is).
pub(super) fn put_goals(
    array: &ArrayRef,
    goals: &[Option<&str>],
    inserts: &[Option<Insert>],
) -> Result<ArrayRef, ArrowError> {
    if inserts.iter().all(Option::is_none) {
        return Ok(Arc::clone(array));
    }
    match array.data_type() {
        DataType::Dictionary(..) => {
            // A goal makes each value new: prefixed as plain strings, encoded again.
            let plain = arrow_cast::cast(array, &DataType::Utf8)?;
            arrow_cast::cast(&put_goals(&plain, goals, inserts)?, array.data_type())
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            if inserts.contains(&Some(Insert::SetText)) =>
        {
            // A system prompt field: the goal in front of its text, or alone where it has none.
            let strings = strings_of(array)?;
            let values: Vec<Option<String>> = strings
                .iter()
                .zip(goals.iter().zip(inserts))
                .map(|(s, (g, i))| match (s, g, i) {
                    (_, Some(g), Some(Insert::SetText)) => Some(g.to_string()),
                    (Some(s), Some(g), Some(_)) => Some(crate::relabel::prefix(g, s)),
                    (s, _, _) => s.map(str::to_string),
                })
                .collect();
            let plain: ArrayRef = Arc::new(GenericStringArray::<i32>::from(values));
            arrow_cast::cast(&plain, array.data_type())
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let goals: Vec<Option<&str>> = goals
                .iter()
                .zip(inserts)
                .map(|(g, i)| g.filter(|_| i.is_some()))
                .collect();
            prefix_strings(array, &goals)
        }
        DataType::List(field) => goals_into_lists::<i32>(array, field, goals, inserts),
        DataType::LargeList(field) => goals_into_lists::<i64>(array, field, goals, inserts),
        other => Err(ArrowError::SchemaError(format!(
            "can't put a goal into a column of type {other}"
        ))),
    }
}

/// A string column with `goal + separator` in front of row i's value where `goals[i]` is set.
pub(super) fn prefix_strings(
    array: &ArrayRef,
    goals: &[Option<&str>],
) -> Result<ArrayRef, ArrowError> {
    if let DataType::Dictionary(..) = array.data_type() {
        let plain = arrow_cast::cast(array, &DataType::Utf8)?;
        return arrow_cast::cast(&prefix_strings(&plain, goals)?, array.data_type());
    }
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
/// message 0's content, as the row's insert says.
pub(super) fn goals_into_lists<O: OffsetSizeTrait>(
    array: &ArrayRef,
    item: &Arc<Field>,
    goals: &[Option<&str>],
    inserts: &[Option<Insert>],
) -> Result<ArrayRef, ArrowError> {
    let list = array.as_list::<O>();
    let messages = list
        .values()
        .as_struct_opt()
        .ok_or_else(|| ArrowError::SchemaError("message lists must hold structs".into()))?;
    let offsets: Vec<usize> = list.offsets().iter().map(|o| o.as_usize()).collect();
    let rows = list.len();
    let goals: Vec<&str> = goals.iter().map(|g| g.unwrap_or_default()).collect();
    let goals = goals.as_slice();
    let mut insert = vec![false; rows];
    let mut content_goals: Vec<Option<&str>> = vec![None; messages.len()];
    // Message 0's first text part, where the goal goes in front of it.
    let wanted: Vec<Option<usize>> = (0..rows)
        .map(|i| (inserts[i] == Some(Insert::PrefixFirstTextPart)).then_some(offsets[i]))
        .collect();
    let text_parts = first_text_parts(messages, &wanted)?;
    let mut part_goals: Vec<(usize, &str)> = Vec::new();
    for i in 0..rows {
        match inserts[i] {
            Some(Insert::InsertSystem | Insert::InsertSystemParts) => insert[i] = true,
            Some(Insert::PrefixFirstContent | Insert::PrefixText) => {
                content_goals[offsets[i]] = Some(goals[i])
            }
            Some(Insert::PrefixFirstTextPart) => {
                let k = text_parts[i].expect("the plan prefixes only text parts");
                part_goals.push((k, goals[i]));
            }
            // Only string fields are set.
            Some(Insert::SetText) | None => {}
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
    if !part_goals.is_empty() {
        children[content_index] = prefix_text_parts(&children[content_index], &part_goals)?;
    }
    let messages = StructArray::try_new(
        messages.fields().clone(),
        children,
        messages.nulls().cloned(),
    )?;
    let system_rows: Vec<usize> = (0..rows).filter(|&i| insert[i]).collect();
    if system_rows.is_empty() {
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
    let system_goals: Vec<&str> = system_rows.iter().map(|&i| goals[i]).collect();
    let system = system_messages(messages.fields(), &system_goals)?;
    let all = arrow_select::concat::concat(&[&messages, &system])?;
    let base = messages.len();
    let mut indices: Vec<u32> = Vec::with_capacity(base + system_rows.len());
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
pub(super) fn build_messages(
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
    let (Ok(roles), Ok(contents)) = (strings_of(role), strings_of(content)) else {
        return Ok(None);
    };
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
pub(super) fn strings_like(
    data_type: &DataType,
    values: &[Option<&str>],
) -> Result<ArrayRef, ArrowError> {
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
pub(super) fn system_messages(fields: &Fields, goals: &[&str]) -> Result<ArrayRef, ArrowError> {
    let n = goals.len();
    let columns: Vec<ArrayRef> = fields
        .iter()
        .map(|f| {
            let text = match f.name().as_str() {
                "content" => Some(goals.to_vec()),
                "role" => Some(vec!["system"; n]),
                _ => None,
            };
            match (text, f.data_type()) {
                // Content as typed parts: one text part holding the goal.
                (Some(values), DataType::List(item) | DataType::LargeList(item))
                    if f.name() == "content" =>
                {
                    text_part_lists(f.data_type(), item, &values)
                }
                (Some(values), _) => {
                    let array: ArrayRef = Arc::new(GenericStringArray::<i32>::from(values));
                    arrow_cast::cast(&array, f.data_type())
                }
                (None, _) => Ok(arrow_array::new_null_array(f.data_type(), n)),
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Arc::new(StructArray::try_new(
        fields.clone(),
        columns,
        None,
    )?))
}

/// Content lists of one text part each (`[{"type": "text", "text": goal}]`, other part fields
/// null), of the list type `data_type` whose items are `item`.
pub(super) fn text_part_lists(
    data_type: &DataType,
    item: &Arc<Field>,
    goals: &[&str],
) -> Result<ArrayRef, ArrowError> {
    let DataType::Struct(fields) = item.data_type() else {
        return Err(ArrowError::SchemaError(format!(
            "content parts must be structs, got {}",
            item.data_type()
        )));
    };
    let n = goals.len();
    let columns: Vec<ArrayRef> = fields
        .iter()
        .map(|f| {
            let text: Option<Vec<&str>> = match f.name().as_str() {
                "type" => Some(vec!["text"; n]),
                "text" => Some(goals.to_vec()),
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
    let parts = Arc::new(StructArray::try_new(fields.clone(), columns, None)?);
    Ok(match data_type {
        DataType::LargeList(_) => Arc::new(GenericListArray::<i64>::try_new(
            Arc::clone(item),
            OffsetBuffer::from_lengths(vec![1; n]),
            parts,
            None,
        )?),
        _ => Arc::new(GenericListArray::<i32>::try_new(
            Arc::clone(item),
            OffsetBuffer::from_lengths(vec![1; n]),
            parts,
            None,
        )?),
    })
}

/// A content-parts list column with `goal + separator` in front of the text of each part at
/// the given index (among all parts).
pub(super) fn prefix_text_parts(
    content: &ArrayRef,
    goals: &[(usize, &str)],
) -> Result<ArrayRef, ArrowError> {
    fn rebuild<O: OffsetSizeTrait>(
        list: &GenericListArray<O>,
        goals: &[(usize, &str)],
    ) -> Result<ArrayRef, ArrowError> {
        let parts = list
            .values()
            .as_struct_opt()
            .ok_or_else(|| ArrowError::SchemaError("content parts must be structs".into()))?;
        let text_index = parts
            .fields()
            .iter()
            .position(|f| f.name() == "text")
            .ok_or_else(|| ArrowError::SchemaError("content parts have no text".into()))?;
        let mut per_part: Vec<Option<&str>> = vec![None; parts.len()];
        for &(k, goal) in goals {
            per_part[k] = Some(goal);
        }
        let mut children = parts.columns().to_vec();
        children[text_index] = prefix_strings(&children[text_index], &per_part)?;
        let parts = StructArray::try_new(parts.fields().clone(), children, parts.nulls().cloned())?;
        let item = match list.data_type() {
            DataType::List(item) | DataType::LargeList(item) => Arc::clone(item),
            other => unreachable!("a list type, got {other}"),
        };
        Ok(Arc::new(GenericListArray::<O>::try_new(
            item,
            list.offsets().clone(),
            Arc::new(parts),
            list.nulls().cloned(),
        )?))
    }
    match content.data_type() {
        DataType::List(_) => rebuild(content.as_list::<i32>(), goals),
        DataType::LargeList(_) => rebuild(content.as_list::<i64>(), goals),
        other => Err(ArrowError::SchemaError(format!(
            "expected content parts, got {other}"
        ))),
    }
}

/// The values of a string column of any string type.
pub(super) fn strings_of(array: &ArrayRef) -> Result<Vec<Option<&str>>, ArrowError> {
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
pub(super) fn replace(
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

pub(super) fn replace_in(
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
    // A widened field changes its type.
    let fields: Fields = parent
        .fields()
        .iter()
        .zip(&children)
        .map(|(f, c)| {
            if f.data_type() == c.data_type() {
                Arc::clone(f)
            } else {
                Arc::new(f.as_ref().clone().with_data_type(c.data_type().clone()))
            }
        })
        .collect();
    Ok(Arc::new(StructArray::try_new(
        fields,
        children,
        parent.nulls().cloned(),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_floats_print_as_their_columns_show_them() {
        assert_eq!(shortest_f32(7.3), 7.3);
        assert_eq!(shortest_f32(0.1), 0.1);
        assert_eq!(shortest_f32(8.0), 8.0);
        // 7.3 as float16 is 7.30078125: "7.3" reads back as it.
        assert_eq!(shortest_f16(7.300_781), 7.3);
        assert_eq!(shortest_f16(0.099_975_586), 0.1);
        assert_eq!(shortest_f16(1000.0), 1000.0);
        assert_eq!(shortest_f16(-2.5), -2.5);
        assert_eq!(shortest_f16(65504.0), 65500.0);
        let column: ArrayRef = Arc::new(arrow_array::Float32Array::from(vec![Some(7.3), None]));
        assert_eq!(
            score_facts(&column).unwrap(),
            [ScoreFact::Number(7.3), ScoreFact::Missing]
        );
    }
}
