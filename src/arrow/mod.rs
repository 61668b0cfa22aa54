//! The Arrow applier: carries out each record's [`Plan`] column by column. It reads [`Facts`]
//! off a record batch, asks the planner for every row, and rebuilds only the columns the plans
//! edit (the goal field, and the swapped responses and scores); the others are copied with Arrow
//! kernels (`take`). It decides nothing itself.

mod columns;
mod dictionary;
pub mod hf;
pub mod reshape;
mod shape;
mod unify;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{ArrowError, DataType, Field, Fields, SchemaRef};
use arrow_select::take::take;

use crate::error::RowError;
use crate::fields::{FieldPath, Resolved};
use crate::plan::{Arrangement, Facts, Insert, LedByGoal, Plan, Planner};
use crate::relabel::Spec;

pub use columns::{
    column, put_goal_at, shortest_f16, shortest_f32, system_facts_at, text_facts_at, widened,
};
use columns::{led_by, pick, put_goals, replace, score_facts, system_facts, text_facts, widen};
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

    /// The top-level fields a half fills whole with another top-level field's values, as
    /// (field, from) (see [`Resolved::moved`]); widened fields are rebuilt, not moved.
    pub fn moved(&self, half: crate::relabel::Half) -> Vec<(&FieldPath, &FieldPath)> {
        let widened = |p: &FieldPath| self.widened.iter().any(|(w, _)| w == p);
        self.planner
            .resolved()
            .moved(half)
            .into_iter()
            .filter(|(to, from)| to.parts().len() == 1 && from.parts().len() == 1)
            .filter(|(to, from)| !widened(to) && !widened(from))
            .collect()
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
