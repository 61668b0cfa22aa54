//! Relabels a job whose inputs are files (or standard input): Parquet through Arrow, JSON as
//! text.

use super::job::{check_paths, input_format, output_format, Job, Summary};
use super::{json, parquet};
use crate::error::{Error, Result};
use crate::io::{check_compression, Format};

/// Relabels a job's input files into its output: Parquet goes through Arrow, JSON streams as
/// text.
pub(super) fn relabel(job: &Job) -> Result<Summary> {
    check_paths(job)?;
    check_compression(
        &job.output,
        output_format(job),
        job.output_compression
            .unwrap_or_else(|| job.output.compression()),
    )?;
    if let Some(rejects) = &job.rejects {
        let format = rejects.format().unwrap_or(Format::Jsonl);
        check_compression(rejects, format, rejects.compression())?;
    }
    let formats: Vec<Format> = job.inputs.iter().map(|s| input_format(job, s)).collect();
    let parquet = formats.iter().filter(|f| **f == Format::Parquet).count();
    if parquet == 0 {
        json::relabel(job)
    } else if parquet == formats.len() {
        parquet::relabel(job)
    } else {
        Err(Error::Usage(
            "inputs mix Parquet and JSON; relabel them in separate runs".to_string(),
        ))
    }
}
