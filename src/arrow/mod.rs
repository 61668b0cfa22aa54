//! The Arrow applier: carries out each record's [`Plan`] column by column. It reads [`Facts`]
//! off a record batch, asks the planner for every row, and rebuilds only the columns the plans
//! edit (the goal field, and the swapped responses and scores); the others are copied with Arrow
//! kernels (`take`). It decides nothing itself.

mod dictionary;
pub mod hf;
pub mod reshape;
mod shape;
mod unify;

use std::collections::HashMap;
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

use crate::error::RowError;
use crate::fields::{FieldPath, Resolved};
use crate::plan::{
    Arrangement, Facts, Insert, LedByGoal, ListFact, Plan, Planner, ScoreFact, SystemFact, TextFact,
};
use crate::relabel::{Spec, GOAL_SEPARATOR};

pub use dictionary::{
    compact_dictionary, declared_dictionaries, interleave, read_as_values, same_columns,
    DICTIONARY_KEYS,
};
pub use shape::detect;
pub(crate) use shape::SchemaShape;
pub use unify::{conform, unify};

/// What relabeling one batch produced.
#[derive(Debug, Default)]
pub struct BatchOut {
    /// Output batches per stream: one stream per half (blocks order) or one (interleaved, or a
    /// single half), each its batches in order (one, or one per record for a batch of one row
    /// in the interleaved order, so that a huge row's halves are never copied into one batch).
    pub batches: Vec<Vec<RecordBatch>>,
    /// Bad rows: index in the batch and what is wrong, in row order.
    pub bad: Vec<(usize, RowError)>,
    /// The plan of every good row, in row order, with its index in the batch.
    pub plans: Vec<(usize, Plan)>,
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
    planner: Planner<'s>,
    arrangement: Arrangement,
    /// With a winner field: the schema of the `chosen`/`rejected` batches made first.
    winner_schema: Option<SchemaRef>,
    /// With ShareGPT or OpenAI input: the schema of its rows read as TRL's.
    adapt_schema: Option<SchemaRef>,
    /// The schema of the batches relabeled.
    schema: SchemaRef,
    /// Fields that trade places with fields of another numeric type, and the type both are
    /// written in (see [`widened`]).
    widened: Vec<(FieldPath, DataType)>,
    /// The schema of the relabeled batches: `schema` with the widened types.
    relabeled: SchemaRef,
    /// With `--to sharegpt` or `openai`: the layout relabeled batches are written in, and its
    /// schema.
    emit: Option<(crate::reshape::Target, SchemaRef)>,
}

/// The top-level columns of `schema` holding the given paths, sorted: what a reader projects to
/// read only those fields.
pub fn roots(schema: &arrow_schema::Schema, paths: &[&FieldPath]) -> Vec<usize> {
    let mut roots: Vec<usize> = paths
        .iter()
        .filter_map(|p| schema.index_of(&p.parts()[0]).ok())
        .collect();
    roots.sort_unstable();
    roots.dedup();
    roots
}

/// The bytes a batch's rows use: for a slice, only its rows (its buffers are shared with the
/// whole); for a batch read from Arrow IPC, its own values, not the message it was read from.
pub fn slice_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum()
}

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

impl<'s> BatchRelabeler<'s> {
    /// Makes a relabeler for batches of `schema`, already resolved with [`detect`]. Its output
    /// batches have [`output_schema`]'s schema.
    pub fn new(
        spec: &'s Spec,
        resolved: &'s Resolved,
        schema: SchemaRef,
    ) -> Result<BatchRelabeler<'s>, ArrowError> {
        let relabeled = relabeled_schema(&schema, resolved)?;
        let widened = widened(&relabeled, resolved);
        let written = Arc::new(widen_schema(&relabeled, &widened)?);
        Ok(BatchRelabeler {
            planner: Planner::new(spec, resolved),
            arrangement: Arrangement::of(spec),
            winner_schema: match &resolved.winner {
                Some(w) => Some(Arc::new(reshape::winner_schema(&schema, w)?)),
                None => None,
            },
            adapt_schema: match resolved.reshape.as_ref().and_then(|r| r.adapt) {
                Some(via) => Some(Arc::new(reshape::adapt_schema(
                    &match &resolved.winner {
                        Some(w) => reshape::winner_schema(&schema, w)?,
                        None => schema.as_ref().clone(),
                    },
                    via,
                )?)),
                None => None,
            },
            emit: match emitted(resolved) {
                Some(target) => Some((
                    target,
                    Arc::new(reshape::emit_schema(written.as_ref(), target)?),
                )),
                None => None,
            },
            schema: relabeled,
            widened,
            relabeled: written,
        })
    }

    /// The schema of the output batches.
    pub fn schema(&self) -> &SchemaRef {
        self.emit
            .as_ref()
            .map_or(&self.relabeled, |(_, schema)| schema)
    }

    /// The fields a half rewrites: those its rules rewrite (see [`Resolved::rewritten`]), and
    /// every widened field. A Parquet writer copies the others' column chunks.
    pub fn rewritten(&self, half: crate::relabel::Half) -> Vec<&FieldPath> {
        let mut paths = self.planner.resolved().rewritten(half);
        for (path, _) in &self.widened {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        paths
    }

    /// A column of the batch relabeled, in the type it is written in.
    fn written_column(
        &self,
        batch: &RecordBatch,
        path: &FieldPath,
    ) -> Result<ArrayRef, ArrowError> {
        let array = column(batch, path)?;
        match self.widened.iter().find(|(p, _)| p == path) {
            Some((_, to)) => widen(&array, to),
            None => Ok(array),
        }
    }

    /// The facts of every row of a batch, in row order.
    pub fn facts(&self, batch: &RecordBatch) -> Result<Vec<Facts>, ArrowError> {
        let r = self.planner.resolved();
        let n = batch.num_rows();
        let mut chosen = text_facts(&column(batch, &r.chosen)?)?.into_iter();
        let mut rejected = text_facts(&column(batch, &r.rejected)?)?.into_iter();
        let mut prompt = match &r.prompt {
            Some(path) => Some(text_facts(&column(batch, path)?)?.into_iter()),
            None => None,
        };
        let marker = self.planner.goal_marker();
        let led = |path: Option<&FieldPath>| -> Result<Vec<bool>, ArrowError> {
            match (path, &marker) {
                (Some(path), Some(marker)) => led_by(&column(batch, path)?, marker),
                _ => Ok(vec![false; n]),
            }
        };
        let (led_prompt, led_chosen, led_rejected, led_system) = (
            led(r.prompt.as_ref())?,
            led(Some(&r.chosen))?,
            led(Some(&r.rejected))?,
            led(r.system.as_ref())?,
        );
        let system = match &r.system {
            Some(path) => Some(system_facts(&column(batch, path)?)?),
            None => None,
        };
        let mut scores = Vec::with_capacity(r.scores.len());
        for (c, rj) in &r.scores {
            scores.push((
                score_facts(&column(batch, c)?)?.into_iter(),
                score_facts(&column(batch, rj)?)?.into_iter(),
            ));
        }
        let mut also = Vec::with_capacity(r.also_swapped.len());
        for (c, rj) in &r.also_swapped {
            let (c, rj) = (column(batch, c)?, column(batch, rj)?);
            also.push(
                (0..n)
                    .map(|i| c.is_valid(i) && rj.is_valid(i))
                    .collect::<Vec<_>>(),
            );
        }
        Ok((0..n)
            .map(|i| Facts {
                chosen: chosen.next().expect("one per row"),
                rejected: rejected.next().expect("one per row"),
                prompt: prompt.as_mut().map(|p| p.next().expect("one per row")),
                scores: scores
                    .iter_mut()
                    .map(|(c, rj)| {
                        (
                            c.next().expect("one per row"),
                            rj.next().expect("one per row"),
                        )
                    })
                    .collect(),
                also_present: also.iter().map(|a| a[i]).collect(),
                led_by_goal: LedByGoal {
                    prompt: led_prompt[i],
                    chosen: led_chosen[i],
                    rejected: led_rejected[i],
                    system: led_system[i],
                },
                system: system.as_ref().map(|s| s[i].clone()),
            })
            .collect())
    }

    /// Plans every row of a batch (the records it becomes, or why it is bad) without making
    /// them: what `inspect` needs. [`BatchRelabeler::relabel`] plans, then carries out.
    pub fn plan(&self, batch: &RecordBatch) -> Result<BatchOut, ArrowError> {
        Ok(self.planned(batch)?.1)
    }

    /// The batch in the shape the plans read (after the winner step and --to), and the plans.
    fn planned<'b>(
        &self,
        batch: &'b RecordBatch,
    ) -> Result<(std::borrow::Cow<'b, RecordBatch>, BatchOut), ArrowError> {
        let r = self.planner.resolved();
        let n = batch.num_rows();
        // Rows the winner step and --to can't make, by index.
        let mut unshaped: Vec<(usize, RowError)> = Vec::new();
        let mut swapped = vec![false; n];
        let mut batch = std::borrow::Cow::Borrowed(batch);
        if let (Some(winner), Some(schema)) = (&r.winner, &self.winner_schema) {
            let ((made, bad), swap) = reshape::winner_batch(&batch, winner, schema)?;
            (batch, swapped) = (std::borrow::Cow::Owned(made), swap);
            unshaped.extend(bad);
        }
        let blame = |mut e: RowError, i: usize| {
            if let Some(reshape) = &r.reshape {
                e = reshape.blame_input(e);
            }
            match &r.winner {
                Some(winner) => winner.blame_input(e, swapped[i]),
                None => e,
            }
        };
        let adapt = r.reshape.as_ref().and_then(|r| r.adapt);
        if let (Some(via), Some(schema)) = (adapt, &self.adapt_schema) {
            let (made, bad) = reshape::adapt_batch(&batch, via, schema)?;
            batch = std::borrow::Cow::Owned(made);
            unshaped.extend(bad.into_iter().map(|(i, e)| (i, blame(e, i))));
        }
        if let Some(reshape) = r.reshape.as_ref().filter(|r| r.changes_fields()) {
            let (made, bad) = reshape::batch(&batch, reshape, &self.schema)?;
            batch = std::borrow::Cow::Owned(made);
            unshaped.extend(bad.into_iter().map(|(i, e)| (i, blame(e, i))));
        }
        // The first problem of each row, in row order.
        unshaped.sort_by_key(|(i, _)| *i);
        unshaped.dedup_by_key(|(i, _)| *i);
        let mut unshaped = unshaped.into_iter().peekable();
        let mut out = BatchOut::default();
        for (i, facts) in self.facts(batch.as_ref())?.iter().enumerate() {
            if let Some((_, problem)) = unshaped.next_if(|(j, _)| *j == i) {
                out.bad.push((i, problem));
                continue;
            }
            match self.planner.plan(facts) {
                Err(problem) => out.bad.push((i, blame(problem, i))),
                Ok(plan) => {
                    out.ties += u64::from(plan.is_tie());
                    out.ties_dropped += u64::from(matches!(plan, Plan::DropTie { .. }));
                    out.plans.push((i, plan));
                }
            }
        }
        Ok((batch, out))
    }

    /// Relabels one batch, in the arrangement the spec asks for. Bad rows are left out and
    /// reported; the caller decides to fail or skip.
    pub fn relabel(&self, batch: &RecordBatch) -> Result<BatchOut, ArrowError> {
        let r = self.planner.resolved();
        let n = batch.num_rows();
        let (batch, mut out) = self.planned(batch)?;
        let batch = batch.as_ref();
        // The rows kept, with the records each becomes.
        let kept: Vec<(u32, &[crate::plan::OutRecord], &Plan)> = out
            .plans
            .iter()
            .filter_map(|(i, plan)| match plan {
                Plan::Emit { records, .. } => Some((*i as u32, records.as_slice(), plan)),
                Plan::DropTie { .. } => None,
            })
            .collect();
        out.kept = kept.len() as u64;
        // Every row kept (the usual case): the input arrays are reused, not copied.
        let all_kept = kept.len() == n;
        let keep = UInt32Array::from_iter_values(kept.iter().map(|k| k.0));
        let take_kept = |a: &ArrayRef| {
            if all_kept {
                Ok(Arc::clone(a))
            } else {
                take(a.as_ref(), &keep, None)
            }
        };

        // Each half's version of every column.
        let halves = self.planner.halves().len();
        let mut versions: Vec<Vec<ArrayRef>> = Vec::with_capacity(halves);
        let unchanged: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(take_kept)
            .collect::<Result<_, _>>()?;
        let chosen = take_kept(&column(batch, &r.chosen)?)?;
        let rejected = take_kept(&column(batch, &r.rejected)?)?;
        let prompt = match &r.prompt {
            Some(path) => Some(take_kept(&column(batch, path)?)?),
            None => None,
        };
        let mut texts: HashMap<Vec<u64>, String> = HashMap::new();
        for h in 0..halves {
            let records: Vec<&crate::plan::OutRecord> = kept.iter().map(|k| &k.1[h]).collect();
            // Scores take few distinct values: each goal text is rendered once.
            let keys: Vec<Option<Vec<u64>>> = kept
                .iter()
                .zip(&records)
                .map(|((_, _, plan), record)| {
                    record.goal.map(|side| {
                        let values = plan.goal_values(side);
                        let key: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
                        texts
                            .entry(key.clone())
                            .or_insert_with(|| self.planner.spec().template.render(values));
                        key
                    })
                })
                .collect();
            let goals: Vec<Option<&str>> = keys
                .iter()
                .map(|k| k.as_ref().map(|k| texts[k].as_str()))
                .collect();
            let swap: Vec<bool> = records.iter().map(|rec| rec.swap).collect();
            let (base_chosen, base_rejected) = pick(
                &swap,
                (r.chosen.as_str(), &chosen),
                (r.rejected.as_str(), &rejected),
            )?;
            let inserts =
                |f: fn(&crate::plan::OutRecord) -> Option<Insert>| -> Vec<Option<Insert>> {
                    records.iter().map(|rec| f(rec)).collect()
                };
            let mut replaced: Vec<(&FieldPath, ArrayRef)> = vec![
                (
                    &r.chosen,
                    put_goals(&base_chosen, &goals, &inserts(|rec| rec.chosen))?,
                ),
                (
                    &r.rejected,
                    put_goals(&base_rejected, &goals, &inserts(|rec| rec.rejected))?,
                ),
            ];
            if let (Some(path), Some(p)) = (&r.prompt, &prompt) {
                replaced.push((path, put_goals(p, &goals, &inserts(|rec| rec.prompt))?));
            }
            if let Some(path) = &r.system {
                let system = take_kept(&column(batch, path)?)?;
                replaced.push((
                    path,
                    put_goals(&system, &goals, &inserts(|rec| rec.system))?,
                ));
            }
            let pairs = r.scores.iter().map(|pair| (pair, swap.clone()));
            let also = r
                .also_swapped
                .iter()
                .enumerate()
                .map(|(k, pair)| (pair, records.iter().map(|rec| rec.swap_also[k]).collect()));
            for ((c, rj), mask) in pairs.chain(also) {
                let (cs, rs) = pick(
                    &mask,
                    (c.as_str(), &take_kept(&self.written_column(batch, c)?)?),
                    (rj.as_str(), &take_kept(&self.written_column(batch, rj)?)?),
                )?;
                replaced.push((c, cs));
                replaced.push((rj, rs));
            }
            // Only what the half rewrites: the Parquet writer copies the rest.
            let rewritten = self.rewritten(self.planner.halves()[h]);
            replaced.retain(|(path, _)| rewritten.contains(path));
            let mut columns = unchanged.clone();
            for (path, array) in replaced {
                replace(&self.schema, &mut columns, path, array)?;
            }
            versions.push(columns);
        }

        let rows = kept.len();
        match self.arrangement {
            Arrangement::Blocks | Arrangement::Single => {
                for columns in versions {
                    out.batches.push(vec![self.batch(columns, rows)?]);
                }
            }
            // One pair: its records in order are its halves, as they are (interleaving would
            // copy every value, a huge row's too, into one batch).
            Arrangement::Interleaved if rows == 1 => {
                let records = versions.into_iter().map(|columns| self.batch(columns, 1));
                out.batches.push(records.collect::<Result<_, _>>()?);
            }
            Arrangement::Interleaved => {
                // Pair 0's records, then pair 1's, ...
                let order: Vec<(usize, usize)> = (0..rows)
                    .flat_map(|row| (0..halves).map(move |h| (h, row)))
                    .collect();
                let mut columns = Vec::with_capacity(self.schema.fields().len());
                for c in 0..self.schema.fields().len() {
                    let parts: Vec<&dyn Array> = versions.iter().map(|h| h[c].as_ref()).collect();
                    columns.push(interleave(&parts, &order)?);
                }
                out.batches.push(vec![self.batch(columns, rows * halves)?]);
            }
        }
        if let Some((target, schema)) = &self.emit {
            for stream in &mut out.batches {
                *stream = stream
                    .iter()
                    .map(|b| reshape::emit(b, *target, schema))
                    .collect::<Result<_, _>>()?;
            }
        }
        Ok(out)
    }

    fn batch(&self, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new_with_options(
            Arc::clone(&self.relabeled),
            columns,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }
}

/// The schema of the batches relabeled from batches of `input`: the input's, or with `--to` the
/// target layout's.
pub fn output_schema(input: &SchemaRef, resolved: &Resolved) -> Result<SchemaRef, ArrowError> {
    let schema = relabeled_schema(input, resolved)?;
    let schema = Arc::new(widen_schema(&schema, &widened(&schema, resolved))?);
    match emitted(resolved) {
        Some(target) => Ok(Arc::new(reshape::emit_schema(&schema, target)?)),
        None => Ok(schema),
    }
}

/// The layout relabeled rows are written in when it isn't the one relabeled (`--to sharegpt`,
/// `--to openai`).
fn emitted(resolved: &Resolved) -> Option<crate::reshape::Target> {
    resolved
        .reshape
        .as_ref()
        .map(|r| r.target)
        .filter(|t| *t != crate::reshape::Target::Trl)
}

/// The schema of the batches relabeled from batches of `input`: after the winner step and
/// `--to`'s reshaping.
fn relabeled_schema(input: &SchemaRef, resolved: &Resolved) -> Result<SchemaRef, ArrowError> {
    let mut schema = Arc::clone(input);
    if let Some(winner) = &resolved.winner {
        schema = Arc::new(reshape::winner_schema(&schema, winner)?);
    }
    if let Some(via) = resolved.reshape.as_ref().and_then(|r| r.adapt) {
        schema = Arc::new(reshape::adapt_schema(&schema, via)?);
    }
    if let Some(reshape) = resolved.reshape.as_ref().filter(|r| r.changes_fields()) {
        schema = Arc::new(reshape::schema(&schema, reshape)?);
    }
    Ok(schema)
}

/// Per row, whether a text column's value already begins with `marker`: a string, or message
/// 0's string content.
fn led_by(array: &ArrayRef, marker: &str) -> Result<Vec<bool>, ArrowError> {
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
fn first_text_parts(
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
fn pick(
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
fn exact_cast(array: &ArrayRef, to: &DataType) -> Option<ArrayRef> {
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
fn common_type(a: &DataType, b: &DataType) -> Option<DataType> {
    if a == b || !a.is_numeric() || !b.is_numeric() {
        None
    } else if a.is_integer() && b.is_integer() {
        Some(DataType::Int64)
    } else {
        Some(DataType::Float64)
    }
}

/// The type of the field at `path`, if there is one.
fn field_type(schema: &arrow_schema::Schema, path: &FieldPath) -> Option<DataType> {
    SchemaShape(schema)
        .field(path)
        .map(|f| f.data_type().clone())
}

/// `schema` with the widened fields in their new types.
fn widen_schema(
    schema: &arrow_schema::Schema,
    widened: &[(FieldPath, DataType)],
) -> Result<arrow_schema::Schema, ArrowError> {
    fn retype(field: &Field, parts: &[String], to: &DataType) -> Result<Field, ArrowError> {
        let Some((first, rest)) = parts.split_first() else {
            return Ok(field.clone().with_data_type(to.clone()));
        };
        let DataType::Struct(fields) = field.data_type() else {
            return Err(ArrowError::SchemaError(format!(
                "{first} is not inside a struct"
            )));
        };
        let fields: Fields = fields
            .iter()
            .map(|f| {
                if f.name() == first {
                    retype(f, rest, to).map(Arc::new)
                } else {
                    Ok(Arc::clone(f))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(field.clone().with_data_type(DataType::Struct(fields)))
    }
    if widened.is_empty() {
        return Ok(schema.clone());
    }
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (path, to) in widened {
        let parts = path.parts();
        let index = schema.index_of(&parts[0])?;
        fields[index] = retype(&fields[index], &parts[1..], to)?;
    }
    // `datasets` features name the new types too (it would cast the column back on loading).
    let mut metadata = schema.metadata().clone();
    let plain = arrow_schema::Schema::new(fields.clone());
    reshape::edit_features(
        &mut metadata,
        |features| {
            let mut features = features.clone();
            for (path, to) in widened {
                let (last, parents) = path.parts().split_last()?;
                let mut map = &mut features;
                for part in parents {
                    map = map.get_mut(part)?.as_object_mut()?;
                }
                map.insert(last.clone(), hf::feature(to)?);
            }
            Some(features)
        },
        || hf::metadata(&plain),
    );
    Ok(arrow_schema::Schema::new_with_metadata(fields, metadata))
}

/// A numeric column in a wider type (see [`widened`]). float32 and float16 values become the
/// float64 of their shortest decimal, as their scores read (a float32 7.3 stays 7.3).
fn widen(array: &ArrayRef, to: &DataType) -> Result<ArrayRef, ArrowError> {
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
fn score_facts(array: &ArrayRef) -> Result<Vec<ScoreFact>, ArrowError> {
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
fn other_scores(array: &ArrayRef) -> Result<Vec<ScoreFact>, ArrowError> {
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
fn shortest_of(data_type: &DataType) -> Option<fn(f64) -> f64> {
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
fn system_facts(array: &ArrayRef) -> Result<Vec<SystemFact>, ArrowError> {
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
fn text_facts(array: &ArrayRef) -> Result<Vec<TextFact>, ArrowError> {
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

/// Puts each row's goal into a text or message-list column, as the row's insert says (`None`:
/// the row stays as it is).
fn put_goals(
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
fn prefix_strings(array: &ArrayRef, goals: &[Option<&str>]) -> Result<ArrayRef, ArrowError> {
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
fn goals_into_lists<O: OffsetSizeTrait>(
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
fn text_part_lists(
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
fn prefix_text_parts(content: &ArrayRef, goals: &[(usize, &str)]) -> Result<ArrayRef, ArrowError> {
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
