//! Runs relabeling jobs: what a job is, what a run reports, and the choice between the JSON
//! streaming driver, the Parquet driver and folder mirroring.

mod condition;
mod file;
mod folder;
mod job;
pub(crate) mod json;
mod order;
pub(crate) mod parquet;

pub use self::condition::condition_parquet;
pub use self::folder::data_files;
pub use self::job::{source_format, Job, OnError, Progress, Summary};
pub use self::json::relabel_bytes;
pub use crate::io::glob_match;
pub use crate::write::ParquetCompression;

use crate::error::{Error, Result};
use crate::io::Source;

/// Relabels a job's inputs into its output: a folder is mirrored file by file, Parquet goes
/// through Arrow, JSON streams as text.
pub fn relabel(job: &Job) -> Result<Summary> {
    let folders = job
        .inputs
        .iter()
        .filter(|s| matches!(s, Source::File(p) if p.is_dir()))
        .count();
    if folders > 0 {
        if let Some(shard) = job.shard {
            return Err(Error::Usage(format!(
                "--shard {}/{} writes one file per shard, and a folder input is mirrored into a \
                 folder: name the folder's data files instead, e.g. 'data/train-*.parquet' \
                 -o part-{}.parquet",
                shard.index, shard.count, shard.index
            )));
        }
        if job.inputs.len() > 1 {
            return Err(Error::Usage(
                "a folder input must be the only input; its files are mirrored into the output folder"
                    .to_string(),
            ));
        }
        return folder::relabel(job);
    }
    file::relabel(job)
}
