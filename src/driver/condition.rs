//! `condition` from Parquet to Parquet: row groups in parallel, each reading and rewriting only
//! its prompt column and copying every other column chunk from the input as it is (the prompt
//! is a small part of a row; decoding and compressing the rest was most of the time).

use std::sync::Arc;

use arrow_array::RecordBatch;
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

use super::job::Progress;
use super::parquet::READ_BYTES;
use super::parquet::{check_copied, format_error, open, pieces, writable, Input};
use crate::arrow::roots;
use crate::condition::{BatchConditioner, ConditionSpec, ConditionSummary};
use crate::error::{Error, Result};
use crate::io::{Format, Output, Source, Target};
use crate::write::{self, AlignedRowGroup, ColumnEncoding, ParquetOptions, Place};

/// Conditions the Parquet file `source` into the Parquet `output`, the input's codec kept;
/// `progress`, if given, is told the input bytes done after each row group is written. `None`
/// when the prompt column would change type, or when a row is skipped as bad (its row group's
/// other columns can't be copied then), with nothing left written: then every column is
/// rewritten through [`crate::condition::condition_batches`]. Rows to skip are only found
/// while writing, so writing standard output (or a pipe) under [`ConditionSpec::skip_bad`] is `None` from
/// the start.
pub fn condition_parquet(
    source: &Source,
    spec: &ConditionSpec,
    output: &Target,
    threads: usize,
    progress: Option<&Progress>,
) -> Result<Option<ConditionSummary>> {
    if spec.skip_bad && !output.staged() {
        return Ok(None);
    }
    let input = open(source)?;
    let conditioner = BatchConditioner::new(&input.schema, &input.name, spec)?;
    let prompt_roots = roots(&input.schema, &[conditioner.prompt()]);
    let projected = Arc::new(
        input
            .schema
            .project(&prompt_roots)
            .map_err(|e| format_error(&input.name, e))?,
    );
    let (empty, _) = conditioner.condition(
        &RecordBatch::new_empty(Arc::clone(&projected)),
        0,
        &input.name,
    )?;
    if empty.schema().fields() != projected.fields() {
        return Ok(None);
    }
    let options = ParquetOptions {
        compression: writable(input.codec),
        // Copied chunks come without page indexes.
        page_index: false,
        threads,
        ..ParquetOptions::default()
    };
    let mut sink = write::create(
        Output::create(output, output.compression())?,
        Format::Parquet,
        options,
    );
    sink.set_schema(Arc::clone(&input.schema))?;
    let encoding = sink
        .column_encoding()
        .ok_or_else(|| Error::Internal("a Parquet sink without column encoding".into()))?;
    if !encoding.copies_from(input.parquet_schema()) {
        // A column Arrow reads as another type (INT96 timestamps): every column is rewritten.
        return Ok(None);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::Internal(format!("can't start {threads} threads: {e}")))?;
    let groups = input.row_group_starts.len();
    // A few row groups at a time: their rewritten prompts wait in memory to be written in order.
    let window = threads.max(1) * 2;
    for first in (0..groups).step_by(window) {
        let made: Vec<Result<Option<AlignedRowGroup>>> = pool.install(|| {
            (first..groups.min(first + window))
                .into_par_iter()
                .map(|rg| row_group(&input, rg, &conditioner, &prompt_roots, &encoding))
                .collect()
        });
        for (rg, aligned) in (first..).zip(made) {
            // A row skipped: the unfinished output is dropped (its temporary file removed).
            let Some(mut aligned) = aligned? else {
                return Ok(None);
            };
            aligned.place = Place { half: 0, unit: rg };
            sink.write_aligned(aligned)?;
            if let Some(progress) = progress {
                let done = match rg + 1 < groups {
                    true => input.row_group_offset(rg + 1),
                    false => source.size().unwrap_or(0),
                };
                (progress.0)(done);
            }
        }
    }
    sink.finish()?;
    Ok(Some(ConditionSummary {
        rows: input.num_rows(),
        prompt: conditioner.prompt().to_string(),
        ..ConditionSummary::default()
    }))
}

/// Conditions one row group: its prompt column read, rewritten and encoded; the other chunks
/// checked to be readable and left to be copied. `None` when a row is skipped as bad.
fn row_group(
    input: &Input,
    rg: usize,
    conditioner: &BatchConditioner,
    prompt_roots: &[usize],
    encoding: &ColumnEncoding,
) -> Result<Option<AlignedRowGroup>> {
    let fail = |e: &dyn std::fmt::Display| format_error(&input.name, e);
    let builder = input.builder()?;
    let metadata = builder.metadata().row_group(rg).clone();
    let mask = ProjectionMask::roots(builder.parquet_schema(), prompt_roots.to_vec());
    let reader = builder
        .with_projection(mask)
        .with_row_groups(vec![rg])
        .with_batch_size(input.batch_rows(rg, READ_BYTES))
        .build()
        .map_err(|e| fail(&e))?;
    let mut encoder = encoding
        .encoder(prompt_roots.to_vec())
        .map_err(|e| fail(&e))?;
    let mut row = input.row_group_starts[rg];
    // The other columns are checked beside (most of the reading: the prompt is a small part).
    let conditioned = || -> Result<bool> {
        for batch in reader {
            for piece in pieces(&batch.map_err(|e| fail(&e))?, READ_BYTES) {
                let (conditioned, skipped) = conditioner.condition(&piece, row, &input.name)?;
                if !skipped.is_empty() {
                    return Ok(false);
                }
                encoder.write(&conditioned).map_err(|e| fail(&e))?;
                row += piece.num_rows() as u64;
            }
        }
        Ok(true)
    };
    let (checked, conditioned) = rayon::join(
        || check_copied(input, rg, &metadata, prompt_roots),
        conditioned,
    );
    if !conditioned? {
        return Ok(None);
    }
    checked?;
    Ok(Some(AlignedRowGroup {
        path: input.path.clone(),
        sources: (0..metadata.num_columns()).collect(),
        metadata,
        chunks: encoder.finish().map_err(|e| fail(&e))?,
        place: Place::default(),
    }))
}
