//! Relabeling Arrow data a program holds in memory (a table's record batches), for callers that
//! hand raug Arrow data instead of files: the Python bindings, and through them `datasets`, Ray
//! Data and Spark. The rules are the files' ([`crate::arrow::BatchRelabeler`]); this only
//! counts, orders the halves and turns the first bad row into an error.

use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use rayon::prelude::*;

use crate::arrow::{detect, output_schema, BatchRelabeler};
use crate::driver::{OnError, Summary};
use crate::error::{Error, Location, Position};
use crate::fields::{FieldNames, Resolved};
use crate::relabel::Spec;

/// The name a row's location gives for data handed over in memory.
pub const IN_MEMORY: &str = "<arrow>";

/// The thread pool of this process. Not rayon's global pool: a process forked after using it
/// (`datasets.map(num_proc=2)` forks) inherits a pool whose threads are gone, and would wait for
/// them forever; a forked child makes a pool of its own.
fn pool() -> crate::Result<Arc<rayon::ThreadPool>> {
    static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    match pool.as_ref() {
        Some((owner, made)) if *owner == pid => Ok(Arc::clone(made)),
        _ => {
            // The parent's pool, if inherited, has no threads here: forget it, never drop it
            // (dropping would wake threads that don't exist).
            if let Some(old) = pool.take() {
                std::mem::forget(old);
            }
            let made = Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .thread_name(|i| format!("raug-{i}"))
                    .build()
                    .map_err(|e| Error::Internal(format!("can't start threads: {e}")))?,
            );
            *pool = Some((pid, Arc::clone(&made)));
            Ok(made)
        }
    }
}

/// Relabels record batches: built once from the options, reused for every table of one schema
/// (and detects again when the schema changes).
#[derive(Debug)]
pub struct TableRelabeler {
    spec: Spec,
    fields: FieldNames,
    on_error: OnError,
    /// The last schema seen, what detection made of it, and the output schema.
    detected: Mutex<Option<Detected>>,
}

#[derive(Debug, Clone)]
struct Detected {
    input: SchemaRef,
    resolved: Arc<Resolved>,
    output: SchemaRef,
}

/// What relabeling a table produced.
#[derive(Debug)]
pub struct TableOut {
    /// The output batches, in order: interleaved, or every batch's first half, then the second.
    pub batches: Vec<RecordBatch>,
    /// Their schema: the input's (with its metadata) or, with `--to`, the target layout's.
    pub schema: SchemaRef,
    /// Rows in and out, ties and rows skipped, as `--stats` counts them.
    pub summary: Summary,
}

impl TableRelabeler {
    /// A relabeler for these rules. Under [`OnError::Fail`] a bad row is an error
    /// ([`Error::Row`] at row N of the table); under [`OnError::Skip`] it is left out and counted.
    pub fn new(spec: Spec, fields: FieldNames, on_error: OnError) -> TableRelabeler {
        TableRelabeler {
            spec,
            fields,
            on_error,
            detected: Mutex::new(None),
        }
    }

    /// The schema a table of `schema` is relabeled into, detecting the layout if it is new.
    pub fn output_schema(&self, schema: &SchemaRef) -> crate::Result<SchemaRef> {
        Ok(self.detect(schema)?.output)
    }

    fn detect(&self, schema: &SchemaRef) -> crate::Result<Detected> {
        let mut detected = self.detected.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = detected.as_ref().filter(|d| d.input == *schema) {
            return Ok(d.clone());
        }
        let resolved =
            detect(schema, &self.fields, self.spec.style).map_err(|problem| Error::Spec {
                at: IN_MEMORY.to_string(),
                problem,
            })?;
        let output = output_schema(schema, &resolved).map_err(|e| Error::format(IN_MEMORY, e))?;
        let d = Detected {
            input: Arc::clone(schema),
            resolved: Arc::new(resolved),
            output,
        };
        *detected = Some(d.clone());
        Ok(d)
    }

    /// Relabels the batches of one table of `schema`, in parallel on this process's pool. Rows are
    /// numbered from 0 across the batches, in errors and in [`Summary`].
    pub fn relabel(&self, schema: &SchemaRef, batches: &[RecordBatch]) -> crate::Result<TableOut> {
        let d = self.detect(schema)?;
        let relabeler = BatchRelabeler::new(&self.spec, &d.resolved, Arc::clone(schema))
            .map_err(|e| Error::format(IN_MEMORY, e))?;
        let outs: Vec<_> = pool()?.install(|| {
            batches
                .par_iter()
                .map(|batch| relabeler.relabel(batch))
                .collect()
        });
        let mut summary = Summary {
            layout: Some(d.resolved.to_string()),
            ..Summary::default()
        };
        let mut streams: Vec<Vec<RecordBatch>> = Vec::new();
        let mut first_row = 0u64;
        for (batch, out) in batches.iter().zip(outs) {
            let out = out.map_err(|e| Error::format(IN_MEMORY, e))?;
            let location = |i: usize| Location {
                file: IN_MEMORY.into(),
                position: Position::Row(first_row + i as u64),
            };
            if let (OnError::Fail, Some((i, problem))) = (self.on_error, out.bad.first()) {
                return Err(Error::Row {
                    location: location(*i),
                    problem: problem.clone(),
                });
            }
            for (i, problem) in &out.bad {
                summary.skipped += 1;
                *summary
                    .skipped_by_reason
                    .entry(problem.reason.as_str())
                    .or_default() += 1;
                if summary.first_skip.is_none() {
                    summary.first_skip = Some(format!("{}: {problem}", location(*i)));
                }
            }
            summary.rows_in += batch.num_rows() as u64;
            summary.ties += out.ties;
            summary.ties_dropped += out.ties_dropped;
            streams.resize_with(streams.len().max(out.batches.len()), Vec::new);
            for (stream, made) in out.batches.into_iter().enumerate() {
                for made in made {
                    summary.rows_out += made.num_rows() as u64;
                    let made = RecordBatch::try_new(Arc::clone(&d.output), made.columns().to_vec())
                        .map_err(|e| Error::Internal(format!("relabeled batch: {e}")))?;
                    streams[stream].push(made);
                }
            }
            first_row += batch.num_rows() as u64;
        }
        Ok(TableOut {
            batches: streams.into_iter().flatten().collect(),
            schema: d.output,
            summary,
        })
    }
}
