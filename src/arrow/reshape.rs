//! The Arrow side of `--to`: rewrites a record batch into the target layout column by column, as
//! the [`Reshape`] and the plan's per-row rules say, before it is relabeled.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, Float64Array, GenericListArray, OffsetSizeTrait, RecordBatch,
    RecordBatchOptions, StringArray, UInt32Array,
};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, FieldRef, Schema, SchemaRef};
use serde_json::{Map, Value};

use super::columns::{
    column, common_type, list_parts, pick, score_facts, system_messages, text_facts, widen,
};
use crate::error::{Reason, RowError};
use crate::fields::FieldPath;
use crate::plan::{check_text, join_input, outcome, split_at, CondValue, SplitFacts, TextFact};
use crate::relabel::TextKind;
use crate::reshape::{
    Outcome, Reshape, Retag, Target, ToMessages, Winner, WinnerScores, INPUT_SEPARATOR,
    WINNER_FIELDS,
};

/// The schema of batches reshaped from batches of `input`.
pub fn schema(input: &Schema, reshape: &Reshape) -> Result<Schema, ArrowError> {
    let prompt = match &reshape.split {
        Some(split) => {
            let chosen = input.field_with_name(&split.chosen)?;
            Some(Arc::new(Field::new(
                "prompt",
                chosen.data_type().clone(),
                true,
            )))
        }
        None => None,
    };
    let mut fields: Vec<FieldRef> = Vec::with_capacity(input.fields().len() + 1);
    // The output field each comes from: `None` for the prompt a split makes.
    let mut sources: Vec<Option<&str>> = Vec::new();
    if let (Some(prompt), None) = (
        &prompt,
        reshape.split.as_ref().and_then(|s| s.prompt.as_ref()),
    ) {
        fields.push(Arc::clone(prompt));
        sources.push(None);
    }
    for field in input.fields() {
        let name = field.name().as_str();
        let split_prompt = reshape.split.as_ref().and_then(|s| s.prompt.as_deref());
        if let (Some(prompt), true) = (&prompt, split_prompt == Some(name)) {
            fields.push(Arc::clone(prompt));
            sources.push(None);
            continue;
        }
        if let Some(to) = reshape.output_name(name) {
            let mut field = field.as_ref().clone().with_name(to);
            if is_message_text(reshape, name) {
                field = field.with_data_type(message_list_type());
            }
            fields.push(Arc::new(field));
            sources.push(Some(name));
        }
    }
    let mut metadata = input.metadata().clone();
    let schema = Schema::new(fields.clone());
    edit_features(
        &mut metadata,
        |features| {
            let mut out = Map::new();
            for (field, source) in fields.iter().zip(&sources) {
                let feature = match source {
                    Some(name) if is_message_text(reshape, name) => {
                        super::hf::feature(&message_list_type())?
                    }
                    Some(name) => features.get(*name)?.clone(),
                    None => features.get(&reshape.split.as_ref()?.chosen)?.clone(),
                };
                out.insert(field.name().clone(), feature);
            }
            Some(out)
        },
        || super::hf::metadata(&schema),
    );
    Ok(Schema::new_with_metadata(fields, metadata))
}

/// Whether an input field is a string text that becomes a message list ([`ToMessages`]).
fn is_message_text(reshape: &Reshape, name: &str) -> bool {
    reshape
        .to_messages
        .as_ref()
        .is_some_and(|t| t.texts().iter().any(|(text, _)| *text == name))
}

/// The type of the message lists string texts become: `list<struct<role, content>>`.
fn message_list_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(message_fields()),
        true,
    )))
}

/// The fields of a message string texts become.
fn message_fields() -> arrow_schema::Fields {
    arrow_schema::Fields::from(vec![
        Field::new("role", DataType::Utf8, true),
        Field::new("content", DataType::Utf8, true),
    ])
}

/// String texts as message lists, as [`ToMessages`] says; rows that can't be are added to `bad`.
fn to_message_lists(
    batch: &RecordBatch,
    to: &ToMessages,
    from: &str,
    bad: &mut [Option<RowError>],
) -> Result<Vec<(String, ArrayRef)>, ArrowError> {
    let n = batch.num_rows();
    let strings = |name: &str| -> Result<(ArrayRef, Vec<TextFact>), ArrowError> {
        let array = batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| ArrowError::SchemaError(format!("no column {name:?}")))?;
        let facts = text_facts(&array)?;
        Ok((arrow_cast::cast(&array, &DataType::Utf8)?, facts))
    };
    let system = match &to.system {
        Some(name) => Some(strings(name)?.0),
        None => None,
    };
    let mut out = Vec::new();
    for (name, role) in to.texts() {
        let (texts, facts) = strings(name)?;
        for (i, fact) in facts.iter().enumerate() {
            if let (Err(e), None) = (check_text(fact, name, TextKind::Text, from), &bad[i]) {
                bad[i] = Some(e);
            }
        }
        let texts = texts.as_string::<i32>();
        let mut roles: Vec<&str> = Vec::with_capacity(n + 1);
        let mut contents: Vec<Option<&str>> = Vec::with_capacity(n + 1);
        let mut offsets: Vec<i32> = vec![0];
        for i in 0..n {
            let system = system
                .as_ref()
                .map(|s| s.as_string::<i32>())
                .filter(|s| role == "user" && s.is_valid(i) && !s.value(i).is_empty());
            if let Some(system) = system {
                roles.push("system");
                contents.push(Some(system.value(i)));
            }
            if texts.is_valid(i) {
                roles.push(role);
                contents.push(Some(texts.value(i)));
            }
            offsets.push(roles.len() as i32);
        }
        let values = arrow_array::StructArray::try_new(
            message_fields(),
            vec![
                Arc::new(StringArray::from(roles)) as ArrayRef,
                Arc::new(StringArray::from(contents)),
            ],
            None,
        )?;
        let item = match message_list_type() {
            DataType::List(item) => item,
            _ => unreachable!("a list type"),
        };
        let list = GenericListArray::<i32>::try_new(
            item,
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Arc::new(values),
            texts.nulls().cloned(),
        )?;
        out.push((name.to_string(), Arc::new(list) as ArrayRef));
    }
    Ok(out)
}

/// Rewrites the `datasets` features in schema metadata with `edit` (the input's features to the
/// output's); where they can't be read so, `fallback` makes them, else they go.
pub(super) fn edit_features(
    metadata: &mut arrow_schema::Metadata,
    edit: impl FnOnce(&Map<String, Value>) -> Option<Map<String, Value>>,
    fallback: impl FnOnce() -> Option<String>,
) {
    let Some(text) = metadata.get(super::hf::KEY) else {
        return;
    };
    let edited = (|| {
        let mut value: Value = serde_json::from_str(text).ok()?;
        let features = value.get_mut("info")?.get_mut("features")?;
        *features = Value::Object(edit(features.as_object()?)?);
        Some(value.to_string())
    })();
    match edited.or_else(fallback) {
        Some(text) => metadata.insert(super::hf::KEY.to_string(), text),
        None => metadata.remove(super::hf::KEY),
    };
}

/// A batch reshaped into `schema` (made by [`schema`]), and the rows that can't be.
pub fn batch(
    batch: &RecordBatch,
    reshape: &Reshape,
    schema: &SchemaRef,
) -> Result<Made, ArrowError> {
    let n = batch.num_rows();
    let mut bad: Vec<Option<RowError>> = vec![None; n];
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| ArrowError::SchemaError(format!("no column {name:?}")))
    };
    // Rebuilt columns, by input name; the split's prompt apart.
    let mut rebuilt: Vec<(&str, ArrayRef)> = Vec::new();
    let mut prompt = None;
    if let Some(split) = &reshape.split {
        let (chosen, rejected) = (column(&split.chosen)?, column(&split.rejected)?);
        let (c_facts, r_facts) = (text_facts(&chosen)?, text_facts(&rejected)?);
        let c_parts = list_parts(&chosen).ok();
        let r_parts = list_parts(&rejected).ok();
        let mut prompt_ranges = Vec::with_capacity(n);
        let mut c_ranges = Vec::with_capacity(n);
        let mut r_ranges = Vec::with_capacity(n);
        for (i, (c_fact, r_fact)) in c_facts.into_iter().zip(r_facts).enumerate() {
            let lists = |f: &TextFact| matches!(f, TextFact::Messages(_));
            let (c, r) = match (&c_parts, &r_parts) {
                (Some(c), Some(r)) if lists(&c_fact) && lists(&r_fact) => (c.0[i], r.0[i]),
                _ => ((0, 0), (0, 0)),
            };
            let shared = match (&c_parts, &r_parts) {
                (Some((_, cv)), Some((_, rv))) if c.1 > c.0 && r.1 > r.0 => (0..(c.1 - c.0)
                    .min(r.1 - r.0))
                    .take_while(|&j| {
                        cv.slice(c.0 + j, 1).to_data() == rv.slice(r.0 + j, 1).to_data()
                    })
                    .count(),
                _ => 0,
            };
            let facts = SplitFacts {
                chosen: c_fact,
                rejected: r_fact,
                lens: (c.1 - c.0, r.1 - r.0),
                shared,
            };
            let at = match split_at(&facts, split, &reshape.from) {
                Ok(at) => at,
                Err(e) => {
                    bad[i] = Some(e);
                    0
                }
            };
            prompt_ranges.push((c.0, c.0 + at));
            c_ranges.push((c.0 + at, c.1));
            r_ranges.push((r.0 + at, r.1));
        }
        prompt = Some(sublists(&chosen, &prompt_ranges, false)?);
        rebuilt.push((split.chosen.as_str(), sublists(&chosen, &c_ranges, true)?));
        rebuilt.push((
            split.rejected.as_str(),
            sublists(&rejected, &r_ranges, true)?,
        ));
    }
    if let Some(join) = &reshape.join {
        let prompt = column(&join.prompt)?;
        let p_facts = text_facts(&prompt)?;
        let p_plain = arrow_cast::cast(&prompt, &DataType::Utf8)?;
        let p_strings = p_plain.as_string::<i32>();
        let input = batch.column_by_name(&join.input).cloned();
        let i_plain = input.as_ref().and_then(|a| {
            let text = matches!(
                a.data_type(),
                DataType::Utf8
                    | DataType::LargeUtf8
                    | DataType::Utf8View
                    | DataType::Dictionary(..)
            );
            text.then(|| arrow_cast::cast(a, &DataType::Utf8))
                .transpose()
                .ok()
                .flatten()
        });
        let i_strings = i_plain.as_ref().map(|a| a.as_string::<i32>());
        let mut joined: Vec<Option<String>> = Vec::with_capacity(n);
        for (i, p_fact) in p_facts.iter().enumerate() {
            let i_fact = match (&input, i_strings) {
                (Some(a), _) if a.is_null(i) => TextFact::Missing,
                (None, _) => TextFact::Missing,
                (Some(_), Some(_)) => TextFact::Text,
                (Some(a), None) => TextFact::Other(format!("a value of type {}", a.data_type())),
            };
            let empty = i_strings.is_some_and(|s| s.is_valid(i) && s.value(i).is_empty());
            let value = p_strings
                .is_valid(i)
                .then(|| p_strings.value(i).to_string());
            match join_input(p_fact, &i_fact, empty, join, &reshape.from) {
                Ok(true) => {
                    let input = i_strings.expect("a string column").value(i);
                    joined.push(value.map(|v| v + INPUT_SEPARATOR + input));
                }
                Ok(false) => joined.push(value),
                Err(e) => {
                    if bad[i].is_none() {
                        bad[i] = Some(e);
                    }
                    joined.push(value);
                }
            }
        }
        let joined: ArrayRef = Arc::new(StringArray::from(joined));
        rebuilt.push((
            join.prompt.as_str(),
            arrow_cast::cast(&joined, prompt.data_type())?,
        ));
    }
    if let Some(to) = &reshape.to_messages {
        // The texts as they are by now (the prompt joined with its input, if it was).
        let mut columns = batch.columns().to_vec();
        for (name, array) in rebuilt.drain(..) {
            columns[batch.schema().index_of(name)?] = array;
        }
        let texts = RecordBatch::try_new_with_options(
            batch.schema(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?;
        for (name, array) in to_message_lists(&texts, to, &reshape.from, &mut bad)? {
            let name = to
                .texts()
                .into_iter()
                .find(|(n, _)| *n == name)
                .expect("one of the texts")
                .0;
            rebuilt.push((name, array));
        }
    }
    let split_prompt = reshape.split.as_ref().map(|s| s.prompt.as_deref());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    if let (Some(prompt), Some(None)) = (&prompt, split_prompt) {
        columns.push(Arc::clone(prompt));
    }
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let name = field.name().as_str();
        if let (Some(prompt), Some(Some(p))) = (&prompt, split_prompt) {
            if p == name {
                columns.push(Arc::clone(prompt));
                continue;
            }
        }
        if reshape.output_name(name).is_none() {
            continue;
        }
        let array = rebuilt
            .iter()
            .find(|(from, _)| *from == name)
            .map_or(array, |(_, a)| a);
        columns.push(Arc::clone(array));
    }
    made(schema, columns, bad)
}

/// The batch of these columns in `schema`, and per row its problem if it has one.
fn made(
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    bad: Vec<Option<RowError>>,
) -> Result<Made, ArrowError> {
    let out = RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(bad.len())),
    )?;
    let bad = bad
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| e.map(|e| (i, e)))
        .collect();
    Ok((out, bad))
}

/// A list column of `array`'s type holding, per row, its messages `start..end` (indices into the
/// list's values); with `keep_nulls`, rows null in `array` stay null.
fn sublists(
    array: &ArrayRef,
    ranges: &[(usize, usize)],
    keep_nulls: bool,
) -> Result<ArrayRef, ArrowError> {
    fn build<O: OffsetSizeTrait>(
        list: &GenericListArray<O>,
        ranges: &[(usize, usize)],
        keep_nulls: bool,
    ) -> Result<ArrayRef, ArrowError> {
        let mut indices: Vec<u32> = Vec::new();
        let mut offsets: Vec<O> = Vec::with_capacity(ranges.len() + 1);
        offsets.push(O::usize_as(0));
        for &(start, end) in ranges {
            indices.extend((start..end).map(|j| j as u32));
            offsets.push(O::usize_as(indices.len()));
        }
        let values = arrow_select::take::take(list.values(), &UInt32Array::from(indices), None)?;
        let item = match list.data_type() {
            DataType::List(item) | DataType::LargeList(item) => Arc::clone(item),
            other => unreachable!("a list type, got {other}"),
        };
        Ok(Arc::new(GenericListArray::<O>::try_new(
            item,
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values,
            list.nulls().cloned().filter(|_| keep_nulls),
        )?))
    }
    match array.data_type() {
        DataType::List(_) => build(array.as_list::<i32>(), ranges, keep_nulls),
        DataType::LargeList(_) => build(array.as_list::<i64>(), ranges, keep_nulls),
        other => Err(ArrowError::SchemaError(format!(
            "expected a list of messages, got {other}"
        ))),
    }
}

/// The schema of batches a [`Winner`] makes from batches of `input`: the responses (and scores
/// read) renamed in place, scores given added at the end.
pub fn winner_schema(input: &Schema, winner: &Winner) -> Result<Schema, ArrowError> {
    let mut fields: Vec<FieldRef> = input
        .fields()
        .iter()
        .map(|f| match winner.renamed(f.name()) {
            Some(to) => Arc::new(f.as_ref().clone().with_name(to)),
            None => Arc::clone(f),
        })
        .collect();
    let fixed = matches!(winner.scores, WinnerScores::Fixed(..));
    if fixed {
        for name in &WINNER_FIELDS[2..] {
            fields.push(Arc::new(Field::new(*name, DataType::Float64, true)));
        }
    }
    // Scores of two numeric types trade places in one wider type.
    let mut widened = None;
    if let [_, _, Some(a), Some(b)] = winner.sources() {
        let (ia, ib) = (input.index_of(a)?, input.index_of(b)?);
        let (ta, tb) = (input.field(ia).data_type(), input.field(ib).data_type());
        if let Some(to) = common_type(ta, tb) {
            for i in [ia, ib] {
                fields[i] = Arc::new(fields[i].as_ref().clone().with_data_type(to.clone()));
            }
            widened = Some(to);
        }
    }
    let mut metadata = input.metadata().clone();
    let schema = Schema::new(fields.clone());
    edit_features(
        &mut metadata,
        |features| {
            let mut out = Map::new();
            for (name, feature) in features {
                let name = winner.renamed(name).unwrap_or(name);
                out.insert(name.to_string(), feature.clone());
            }
            if fixed {
                for name in &WINNER_FIELDS[2..] {
                    out.insert(name.to_string(), super::hf::feature(&DataType::Float64)?);
                }
            }
            if let Some(to) = &widened {
                for name in &WINNER_FIELDS[2..] {
                    out.insert(name.to_string(), super::hf::feature(to)?);
                }
            }
            Some(out)
        },
        || super::hf::metadata(&schema),
    );
    Ok(Schema::new_with_metadata(fields, metadata))
}

/// A batch made from another, and the rows that can't be (index, why): their values in the
/// batch are placeholders, to be left out.
pub type Made = (RecordBatch, Vec<(usize, RowError)>);

/// A batch of winner rows as `chosen`/`rejected` rows in `schema` (made by [`winner_schema`]),
/// the rows that can't be, and per row whether its responses traded places.
pub fn winner_batch(
    batch: &RecordBatch,
    winner: &Winner,
    schema: &SchemaRef,
) -> Result<(Made, Vec<bool>), ArrowError> {
    let n = batch.num_rows();
    let values = |path: &str| -> Result<Vec<CondValue>, ArrowError> {
        let path = FieldPath::parse(path).map_err(|e| ArrowError::SchemaError(e.to_string()))?;
        Ok(cond_values(&column(batch, &path)?))
    };
    let (a_values, b_values) = (values(&winner.a_wins.path)?, values(&winner.b_wins.path)?);
    let mut bad = Vec::new();
    let mut outcomes = Vec::with_capacity(n);
    for (i, (a, b)) in a_values.iter().zip(&b_values).enumerate() {
        match outcome(a, b, winner) {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                bad.push((i, e));
                outcomes.push(Outcome::A);
            }
        }
    }
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| ArrowError::SchemaError(format!("no column {name:?}")))
    };
    let (a, b) = (column(&winner.a)?, column(&winner.b)?);
    let swap: Vec<bool> = (0..n)
        .map(|i| outcomes[i] == Outcome::B && a.is_valid(i) && b.is_valid(i))
        .collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let index = |name: &str| batch.schema().index_of(name);
    let sources = winner.sources();
    // Each column in the type `schema` gives it (scores of two types widened).
    let typed = |name: &str| -> Result<ArrayRef, ArrowError> {
        let (array, to) = (column(name)?, schema.field(index(name)?).data_type());
        if array.data_type() == to {
            Ok(array)
        } else {
            widen(&array, to)
        }
    };
    for pair in [0, 2] {
        let (Some(x), Some(y)) = (sources[pair], sources[pair + 1]) else {
            continue;
        };
        let (xs, ys) = (typed(x)?, typed(y)?);
        let traded: Vec<bool> = (0..n)
            .map(|i| swap[i] && xs.is_valid(i) && ys.is_valid(i))
            .collect();
        let (xs, ys) = pick(&traded, (x, &xs), (y, &ys))?;
        columns[index(x)?] = xs;
        columns[index(y)?] = ys;
    }
    if let WinnerScores::Fixed(hi, lo) = winner.scores {
        let scores: Vec<(f64, f64)> = outcomes
            .iter()
            .map(|&o| Winner::fixed_scores(hi, lo, o))
            .collect();
        columns.push(Arc::new(Float64Array::from_iter_values(
            scores.iter().map(|s| s.0),
        )));
        columns.push(Arc::new(Float64Array::from_iter_values(
            scores.iter().map(|s| s.1),
        )));
    }
    let out = RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )?;
    Ok(((out, bad), swap))
}

/// The fact of each row's value in a column a winner condition reads, as the JSON side reads
/// the same value.
fn cond_values(array: &ArrayRef) -> Vec<CondValue> {
    let text = matches!(
        array.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..)
    );
    let strings = text
        .then(|| arrow_cast::cast(array, &DataType::Utf8).ok())
        .flatten();
    let numbers = array
        .data_type()
        .is_numeric()
        .then(|| score_facts(array).ok())
        .flatten();
    (0..array.len())
        .map(|i| {
            if array.is_null(i) {
                return CondValue::Missing;
            }
            if let Some(strings) = &strings {
                return CondValue::String(strings.as_string::<i32>().value(i).to_string());
            }
            if let Some(numbers) = &numbers {
                if let crate::plan::ScoreFact::Number(v) = numbers[i] {
                    return CondValue::Number(v);
                }
            }
            match array.data_type() {
                DataType::Boolean => CondValue::Bool(array.as_boolean().value(i)),
                DataType::List(_) | DataType::LargeList(_) => CondValue::Other("an array".into()),
                DataType::Struct(_) => CondValue::Other("an object".into()),
                other => CondValue::Other(format!("a value of type {other}")),
            }
        })
        .collect()
}

/// The schema of relabeled rows of TRL's conversational layout (`canonical`) written as
/// `target` ([`emit`]).
pub fn emit_schema(canonical: &Schema, target: Target) -> Result<Schema, ArrowError> {
    let field = |name: &str| canonical.field_with_name(name).cloned();
    let fields: Vec<Field> = match target {
        Target::Trl => return Ok(canonical.clone()),
        Target::OpenAi => {
            let mut input = vec![Arc::new(field("prompt")?.with_name("messages"))];
            // The rest of an OpenAI row's input (tools, ...) after its messages.
            if let Ok(rest) = canonical.field_with_name("input") {
                if let DataType::Struct(rest) = rest.data_type() {
                    input.extend(rest.iter().cloned());
                }
            }
            vec![
                Field::new("input", DataType::Struct(input.into()), true),
                field("chosen")?.with_name("preferred_output"),
                field("rejected")?.with_name("non_preferred_output"),
            ]
        }
        Target::ShareGpt => {
            let has_system = canonical.field_with_name("system").is_ok();
            let mut fields = Vec::with_capacity(canonical.fields().len() + 1);
            for f in canonical.fields() {
                match f.name().as_str() {
                    "prompt" => {
                        if !has_system {
                            fields.push(Field::new("system", DataType::Utf8, true));
                        }
                        let item = retag_fields(list_item(f.data_type())?, Retag::ToShareGpt);
                        fields.push(Field::new(
                            "conversations",
                            DataType::List(Arc::new(Field::new(
                                "item",
                                DataType::Struct(item),
                                true,
                            ))),
                            true,
                        ));
                    }
                    "chosen" | "rejected" => {
                        let item = retag_fields(list_item(f.data_type())?, Retag::ToShareGpt);
                        fields.push(Field::new(f.name(), DataType::Struct(item), true));
                    }
                    _ => fields.push(f.as_ref().clone()),
                }
            }
            fields
        }
    };
    Ok(features_anew(canonical, fields))
}

/// The message fields of a message-list type.
fn list_item(data_type: &DataType) -> Result<&arrow_schema::Fields, ArrowError> {
    match data_type {
        DataType::List(item) | DataType::LargeList(item) => match item.data_type() {
            DataType::Struct(fields) => Ok(fields),
            other => Err(ArrowError::SchemaError(format!("messages of type {other}"))),
        },
        other => Err(ArrowError::SchemaError(format!(
            "expected a list of messages, got {other}"
        ))),
    }
}

/// Relabeled rows of TRL's conversational layout written as `target`, in `schema` (made by
/// [`emit_schema`]). For ShareGPT every response is one message (the plan checked it).
pub fn emit(
    batch: &RecordBatch,
    target: Target,
    schema: &SchemaRef,
) -> Result<RecordBatch, ArrowError> {
    let n = batch.num_rows();
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| ArrowError::SchemaError(format!("no column {name:?}")))
    };
    let columns: Vec<ArrayRef> = match target {
        Target::Trl => return Ok(batch.clone()),
        Target::OpenAi => {
            let mut children = vec![column("prompt")?];
            if let Some(rest) = batch
                .column_by_name("input")
                .and_then(|a| a.as_struct_opt())
            {
                children.extend(rest.columns().iter().cloned());
            }
            let input = arrow_array::StructArray::try_new(
                match schema.field(0).data_type() {
                    DataType::Struct(fields) => fields.clone(),
                    _ => unreachable!("input is a struct"),
                },
                children,
                None,
            )?;
            vec![Arc::new(input), column("chosen")?, column("rejected")?]
        }
        Target::ShareGpt => {
            let has_system = batch.schema().field_with_name("system").is_ok();
            let mut columns = Vec::with_capacity(schema.fields().len());
            for (f, array) in batch.schema().fields().iter().zip(batch.columns()) {
                match f.name().as_str() {
                    "prompt" => {
                        let (offsets, values) = list_parts(array)?;
                        let roles = arrow_cast::cast(
                            values.column_by_name("role").ok_or_else(|| {
                                ArrowError::SchemaError("messages have no role".into())
                            })?,
                            &DataType::Utf8,
                        )?;
                        let roles = roles.as_string::<i32>();
                        let contents = match values.column_by_name("content") {
                            Some(c) => Some(arrow_cast::cast(c, &DataType::Utf8)?),
                            None => None,
                        };
                        let mut system: Vec<Option<&str>> = Vec::with_capacity(n);
                        let mut indices: Vec<u32> = Vec::new();
                        let mut new_offsets: Vec<i32> = vec![0];
                        for &(start, end) in &offsets {
                            let lead = !has_system
                                && start < end
                                && roles.is_valid(start)
                                && roles.value(start) == "system";
                            let content = contents
                                .as_ref()
                                .map(|c| c.as_string::<i32>())
                                .filter(|c| lead && c.is_valid(start))
                                .map(|c| c.value(start));
                            system.push(content);
                            let from = if lead { start + 1 } else { start };
                            indices.extend((from..end).map(|j| j as u32));
                            new_offsets.push(indices.len() as i32);
                        }
                        if !has_system {
                            columns.push(Arc::new(StringArray::from(system)) as ArrayRef);
                        }
                        let kept =
                            arrow_select::take::take(values, &UInt32Array::from(indices), None)?;
                        let (messages, _) = retag_messages(kept.as_struct(), Retag::ToShareGpt)?;
                        let item = match schema.field_with_name("conversations")?.data_type() {
                            DataType::List(item) => Arc::clone(item),
                            _ => unreachable!("conversations is a list"),
                        };
                        columns.push(Arc::new(GenericListArray::<i32>::try_new(
                            item,
                            OffsetBuffer::new(ScalarBuffer::from(new_offsets)),
                            messages,
                            array.nulls().cloned(),
                        )?));
                    }
                    "chosen" | "rejected" => {
                        let (offsets, values) = list_parts(array)?;
                        let firsts =
                            UInt32Array::from_iter_values(offsets.iter().map(|&(s, _)| s as u32));
                        let only = arrow_select::take::take(values, &firsts, None)?;
                        columns.push(retag_messages(only.as_struct(), Retag::ToShareGpt)?.0);
                    }
                    _ => columns.push(Arc::clone(array)),
                }
            }
            columns
        }
    };
    RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )
}

/// The `datasets` features of a schema made here, when the input had some: made anew.
fn features_anew(input: &Schema, fields: Vec<Field>) -> Schema {
    let mut metadata = input.metadata().clone();
    let schema = Schema::new(fields.clone());
    if metadata.contains_key(super::hf::KEY) {
        match super::hf::metadata(&schema) {
            Some(text) => metadata.insert(super::hf::KEY.to_string(), text),
            None => metadata.remove(super::hf::KEY),
        };
    }
    Schema::new_with_metadata(fields, metadata)
}

/// The schema of rows of a ShareGPT or OpenAI batch of `input` read as TRL's conversational
/// layout ([`Reshape::adapt`]).
pub fn adapt_schema(input: &Schema, via: Target) -> Result<Schema, ArrowError> {
    let list_of = |fields: arrow_schema::Fields| {
        DataType::List(Arc::new(Field::new("item", DataType::Struct(fields), true)))
    };
    let mut fields = Vec::with_capacity(input.fields().len());
    for f in input.fields() {
        match (via, f.name().as_str(), f.data_type()) {
            (Target::ShareGpt, "system", _) => {}
            (Target::ShareGpt, "conversations", t) => fields.push(Field::new(
                "prompt",
                list_of(retag_fields(list_item(t)?, Retag::FromShareGpt)),
                true,
            )),
            (Target::ShareGpt, "chosen" | "rejected", DataType::Struct(message)) => {
                fields.push(Field::new(
                    f.name(),
                    list_of(retag_fields(message, Retag::FromShareGpt)),
                    true,
                ))
            }
            (Target::OpenAi, "input", DataType::Struct(children)) => {
                let messages = children
                    .iter()
                    .find(|c| c.name() == "messages")
                    .ok_or_else(|| ArrowError::SchemaError("input has no messages".into()))?;
                fields.push(messages.as_ref().clone().with_name("prompt"));
                let rest: arrow_schema::Fields = children
                    .iter()
                    .filter(|c| c.name() != "messages")
                    .cloned()
                    .collect();
                if !rest.is_empty() {
                    fields.push(Field::new("input", DataType::Struct(rest), true));
                }
            }
            (Target::OpenAi, "preferred_output", _) => {
                fields.push(f.as_ref().clone().with_name("chosen"))
            }
            (Target::OpenAi, "non_preferred_output", _) => {
                fields.push(f.as_ref().clone().with_name("rejected"))
            }
            _ => fields.push(f.as_ref().clone()),
        }
    }
    Ok(features_anew(input, fields))
}

/// Message fields renamed as `retag` says; the role field becomes a string.
fn retag_fields(fields: &arrow_schema::Fields, retag: Retag) -> arrow_schema::Fields {
    let (role, to_role) = retag.role_key();
    let (text, to_text) = retag.text_key();
    fields
        .iter()
        .map(|f| match f.name().as_str() {
            name if name == role => Field::new(to_role, DataType::Utf8, true),
            name if name == text => f.as_ref().clone().with_name(to_text),
            _ => f.as_ref().clone(),
        })
        .collect()
}

/// Messages renamed as `retag` says, roles by their new names; and per message whether it has
/// no role.
fn retag_messages(
    messages: &arrow_array::StructArray,
    retag: Retag,
) -> Result<(ArrayRef, Vec<bool>), ArrowError> {
    let fields = retag_fields(messages.fields(), retag);
    let mut no_role = vec![true; messages.len()];
    let columns = messages
        .fields()
        .iter()
        .zip(messages.columns())
        .map(|(f, column)| {
            if f.name() != retag.role_key().0 {
                return Ok(Arc::clone(column));
            }
            let roles = arrow_cast::cast(column, &DataType::Utf8)?;
            let roles = roles.as_string::<i32>();
            for (j, role) in roles.iter().enumerate() {
                no_role[j] = role.is_none();
            }
            let renamed: StringArray = roles.iter().map(|r| r.map(|r| retag.role(r))).collect();
            Ok(Arc::new(renamed) as ArrayRef)
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    let array = arrow_array::StructArray::try_new(fields, columns, messages.nulls().cloned())?;
    Ok((Arc::new(array), no_role))
}

/// A ShareGPT or OpenAI batch as a batch of TRL's conversational layout in `schema` (made by
/// [`adapt_schema`]), and the rows that can't be.
pub fn adapt_batch(
    batch: &RecordBatch,
    via: Target,
    schema: &SchemaRef,
) -> Result<Made, ArrowError> {
    let n = batch.num_rows();
    let mut bad: Vec<Option<RowError>> = vec![None; n];
    let mut flag = |i: usize, e: RowError| {
        if bad[i].is_none() {
            bad[i] = Some(e);
        }
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    let system = batch
        .column_by_name("system")
        .filter(|_| via == Target::ShareGpt)
        .map(|s| arrow_cast::cast(s, &DataType::Utf8))
        .transpose()?;
    for (f, array) in batch.schema().fields().iter().zip(batch.columns()) {
        match (via, f.name().as_str()) {
            (Target::ShareGpt, "system") => {}
            (Target::ShareGpt, "conversations") => {
                let (offsets, values) = list_parts(array)?;
                let (messages, no_from) = retag_messages(values, Retag::FromShareGpt)?;
                // System messages (the `system` field, where non-empty) go after the others,
                // and a take puts each at its list's head. A null list stays null, as in JSON.
                let system = system.as_ref().map(|s| s.as_string::<i32>());
                let heads: Vec<Option<&str>> = (0..n)
                    .map(|i| {
                        system
                            .filter(|s| {
                                array.is_valid(i) && s.is_valid(i) && !s.value(i).is_empty()
                            })
                            .map(|s| s.value(i))
                    })
                    .collect();
                let item = match schema.field_with_name("prompt")?.data_type() {
                    DataType::List(item) => Arc::clone(item),
                    _ => unreachable!("the prompt is a list"),
                };
                let fields = match item.data_type() {
                    DataType::Struct(fields) => fields.clone(),
                    _ => unreachable!("messages are structs"),
                };
                let goals: Vec<&str> = heads.iter().flatten().copied().collect();
                let all = if goals.is_empty() {
                    messages
                } else {
                    let system = system_messages(&fields, &goals)?;
                    arrow_select::concat::concat(&[messages.as_ref(), system.as_ref()])?
                };
                let base = values.len();
                let mut indices: Vec<u32> = Vec::new();
                let mut new_offsets: Vec<i32> = vec![0];
                let mut k = 0;
                for (i, &(start, end)) in offsets.iter().enumerate() {
                    if heads[i].is_some() {
                        indices.push((base + k) as u32);
                        k += 1;
                    }
                    if let Some(j) = (start..end).find(|&j| no_from[j] && values.is_valid(j)) {
                        let detail = format!("message {} has no \"from\"", j - start);
                        flag(
                            i,
                            RowError::field(Reason::BadMessage, "conversations", detail),
                        );
                    }
                    indices.extend((start..end).map(|j| j as u32));
                    new_offsets.push(indices.len() as i32);
                }
                let values = arrow_select::take::take(&all, &UInt32Array::from(indices), None)?;
                columns.push(Arc::new(GenericListArray::<i32>::try_new(
                    item,
                    OffsetBuffer::new(ScalarBuffer::from(new_offsets)),
                    values,
                    array.nulls().cloned(),
                )?));
            }
            (Target::ShareGpt, name @ ("chosen" | "rejected")) => {
                let message = array.as_struct_opt().ok_or_else(|| {
                    ArrowError::SchemaError(format!("{name} is not a message struct"))
                })?;
                let (messages, no_from) = retag_messages(message, Retag::FromShareGpt)?;
                for (i, &missing) in no_from.iter().enumerate() {
                    if missing && array.is_valid(i) {
                        flag(
                            i,
                            RowError::field(Reason::BadMessage, name, "has no \"from\""),
                        );
                    }
                }
                let item = match schema.field_with_name(name)?.data_type() {
                    DataType::List(item) => Arc::clone(item),
                    _ => unreachable!("responses are lists"),
                };
                let offsets: Vec<i32> = (0..=n as i32).collect();
                // The messages without nulls of their own: a null row is a null list.
                let values = arrow_array::StructArray::try_new(
                    messages.as_struct().fields().clone(),
                    messages.as_struct().columns().to_vec(),
                    None,
                )?;
                columns.push(Arc::new(GenericListArray::<i32>::try_new(
                    item,
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    Arc::new(values),
                    array.nulls().cloned(),
                )?));
            }
            (Target::OpenAi, "input") => {
                let input = array.as_struct();
                for i in 0..n {
                    if input.is_null(i) {
                        let e = RowError::field(
                            Reason::MissingField,
                            "input.messages",
                            "missing or null",
                        );
                        flag(i, e);
                    }
                }
                let messages = input
                    .column_by_name("messages")
                    .ok_or_else(|| ArrowError::SchemaError("input has no messages".into()))?;
                columns.push(Arc::clone(messages));
                let (fields, children): (Vec<FieldRef>, Vec<ArrayRef>) = input
                    .fields()
                    .iter()
                    .zip(input.columns())
                    .filter(|(f, _)| f.name() != "messages")
                    .map(|(f, c)| (Arc::clone(f), Arc::clone(c)))
                    .unzip();
                if !fields.is_empty() {
                    columns.push(Arc::new(arrow_array::StructArray::try_new(
                        fields.into(),
                        children,
                        input.nulls().cloned(),
                    )?));
                }
            }
            _ => columns.push(Arc::clone(array)),
        }
    }
    made(schema, columns, bad)
}
