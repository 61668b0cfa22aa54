//! What a relabeling job is ([`Job`]), what a run reports ([`Summary`]), and what the drivers
//! share: formats, path checks, the permits that bound the work in flight.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use serde::Serialize;

use crate::error::{Error, Reason, Result};
use crate::fields::FieldNames;
use crate::io::{check_distinct, Compression, Format, Source, Target};
use crate::relabel::Spec;
use crate::write::ParquetCompression;

/// What to do with a bad row (`--on-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop at the first bad row with an error naming file, line and field.
    #[default]
    Fail,
    /// Skip bad rows, count them by reason and write them to the rejects file.
    Skip,
}

/// A relabeling run: inputs, output and every option, free of command-line types.
#[derive(Debug, Clone)]
pub struct Job {
    /// Input files, read one after another as one dataset.
    pub inputs: Vec<Source>,
    /// Where the relabeled rows go.
    pub output: Target,
    /// The output format; `None` takes it from the output's extension, else JSON Lines.
    pub output_format: Option<Format>,
    /// The input format; `None` takes it from each file's extension and first bytes.
    pub input_format: Option<Format>,
    /// The output compression; `None` takes it from the output's extension.
    pub output_compression: Option<Compression>,
    /// Parquet output compression; `None` keeps the input's (snappy when there is none).
    pub parquet_compression: Option<ParquetCompression>,
    /// In folder mode, data files whose name matches one of these globs are copied unchanged.
    pub passthrough: Vec<String>,
    /// The relabeling rules.
    pub spec: Spec,
    /// Field names given by the user.
    pub fields: FieldNames,
    /// Worker threads.
    pub threads: usize,
    /// What to do with bad rows.
    pub on_error: OnError,
    /// Where skipped rows are written, verbatim.
    pub rejects: Option<Target>,
    /// Block size in bytes: rows are relabeled in parallel a block at a time.
    pub block_size: usize,
    /// The most Arrow input bytes relabeled as one batch (keeps output offsets under 2 GiB).
    pub batch_bytes: usize,
    /// Called with the input bytes read so far, after each block is written.
    pub progress: Option<Progress>,
    /// Only this shard's part of the inputs (`--shard I/N`, see [`crate::shard`]).
    pub shard: Option<crate::shard::Shard>,
    /// Parquet output of JSON rows: the schema they are written with, instead of the one their
    /// first rows make (still widened if later rows need it). Folder mode gives every shard
    /// one schema this way.
    pub json_schema: Option<arrow_schema::SchemaRef>,
    /// Makes every worker panic: for tests of what a bug does to a run.
    #[doc(hidden)]
    pub panic_in_worker: bool,
}

/// A callback told the input bytes read so far, after each block is written.
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(u64) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl Job {
    /// A job with default options.
    pub fn new(inputs: Vec<Source>, output: Target) -> Job {
        Job {
            inputs,
            output,
            output_format: None,
            input_format: None,
            output_compression: None,
            parquet_compression: None,
            passthrough: Vec::new(),
            spec: Spec::default(),
            fields: FieldNames::default(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            on_error: OnError::Fail,
            rejects: None,
            block_size: 1 << 20,
            batch_bytes: BATCH_BYTES,
            progress: None,
            shard: None,
            json_schema: None,
            panic_in_worker: false,
        }
    }

    /// Where each input starts when the inputs are laid end to end, and their total size: what
    /// `--shard` cuts. Standard input can't be cut.
    pub(crate) fn input_offsets(&self) -> Result<(Vec<u64>, u64)> {
        let mut offsets = Vec::with_capacity(self.inputs.len());
        let mut total = 0u64;
        for source in &self.inputs {
            offsets.push(total);
            total += source
                .size()
                .ok_or_else(|| crate::shard::Shard::unsized_input(&source.name()))?;
        }
        Ok((offsets, total))
    }
}

/// What a run did; printed as one line and written as JSON by `--stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Non-blank input rows.
    pub rows_in: u64,
    /// Output rows.
    pub rows_out: u64,
    /// Input rows whose scores tie (kept or dropped).
    pub ties: u64,
    /// Ties dropped by `--ties drop`.
    pub ties_dropped: u64,
    /// Rows skipped as bad under `--on-error skip`.
    pub skipped: u64,
    /// Skipped rows by reason.
    pub skipped_by_reason: BTreeMap<&'static str, u64>,
    /// Blank lines, ignored.
    pub blank_lines: u64,
    /// The detected layout, fields and style.
    pub layout: Option<String>,
    /// Files copied unchanged (`--passthrough`, folder mode).
    #[serde(skip_serializing_if = "is_zero")]
    pub passed_through: u64,
    /// The first skipped row's error, as a hint.
    #[serde(skip)]
    pub first_skip: Option<String>,
    /// What the run did that the user should know of (a Parquet output started again with a
    /// wider schema), one sentence each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Summary {
    pub(crate) fn add(&mut self, other: &Counts) {
        self.rows_in += other.rows_in;
        self.rows_out += other.rows_out;
        self.ties += other.ties;
        self.ties_dropped += other.ties_dropped;
        self.blank_lines += other.blank;
        for (reason, n) in &other.skipped {
            self.skipped += n;
            *self.skipped_by_reason.entry(reason.as_str()).or_default() += n;
        }
    }

    /// The one-line summary printed at the end of a run.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} rows in, {} rows out, {} ties{}, {} skipped",
            self.rows_in,
            self.rows_out,
            self.ties,
            if self.ties_dropped > 0 {
                format!(" ({} dropped)", self.ties_dropped)
            } else {
                String::new()
            },
            self.skipped
        );
        if !self.skipped_by_reason.is_empty() {
            let reasons = crate::error::reason_counts(&self.skipped_by_reason);
            line.push_str(&format!(" ({reasons})"));
        }
        line
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(super) rows_in: u64,
    pub(super) rows_out: u64,
    pub(super) ties: u64,
    pub(super) ties_dropped: u64,
    pub(super) blank: u64,
    pub(super) skipped: HashMap<Reason, u64>,
}

/// A counting semaphore bounding the work in flight, so memory stays flat.
pub(crate) struct Permits {
    state: Mutex<(usize, bool)>,
    freed: Condvar,
}

impl Permits {
    pub(crate) fn new(n: usize) -> Permits {
        Permits {
            state: Mutex::new((n, false)),
            freed: Condvar::new(),
        }
    }

    /// Takes a permit, waiting for one; `false` once closed.
    pub(crate) fn acquire(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.1 {
                return false;
            }
            if state.0 > 0 {
                state.0 -= 1;
                return true;
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    pub(crate) fn release(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 += 1;
        self.freed.notify_one();
    }

    pub(crate) fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 = true;
        self.freed.notify_all();
    }
}

impl Summary {
    /// Merges one run's summary into a total (folder mode; calls of the Python API).
    pub fn merge(&mut self, other: Summary) {
        self.rows_in += other.rows_in;
        self.rows_out += other.rows_out;
        self.ties += other.ties;
        self.ties_dropped += other.ties_dropped;
        self.skipped += other.skipped;
        self.blank_lines += other.blank_lines;
        self.passed_through += other.passed_through;
        for (reason, n) in other.skipped_by_reason {
            *self.skipped_by_reason.entry(reason).or_default() += n;
        }
        if self.layout.is_none() {
            self.layout = other.layout;
        }
        if self.first_skip.is_none() {
            self.first_skip = other.first_skip;
        }
        self.notes.extend(other.notes);
    }

    /// The error of a run that rejected every row it read: its output would be empty, which is
    /// no success. `None` when a row was kept (or dropped as a tie), or nothing was read.
    pub(crate) fn nothing_kept(&self) -> Option<Error> {
        (self.rows_in > 0 && self.skipped == self.rows_in).then(|| Error::NothingKept {
            rows: self.rows_in,
            reasons: crate::error::reason_counts(&self.skipped_by_reason),
            first: self.first_skip.clone().unwrap_or_default(),
        })
    }

    pub(crate) fn skip(&mut self, reason: Reason, first: impl FnOnce() -> String) {
        self.skipped += 1;
        *self.skipped_by_reason.entry(reason.as_str()).or_default() += 1;
        if self.first_skip.is_none() {
            self.first_skip = Some(first());
        }
    }
}

/// The format of a source: the job's, else Parquet for `.parquet` files or files starting with
/// `PAR1`, else JSON (lines or an array).
pub(crate) fn input_format(job: &Job, source: &Source) -> Format {
    source_format(source, job.input_format)
}

/// The format of a source: `given`, else Parquet for files starting with `PAR1` (whatever their
/// name), else the extension's, else JSON (lines or an array, told apart when read).
pub fn source_format(source: &Source, given: Option<Format>) -> Format {
    if let Some(format) = given {
        return format;
    }
    match source {
        Source::Stdin => Format::Jsonl,
        Source::File(path) => {
            // Parquet bytes are Parquet whatever the name says.
            let mut magic = [0u8; 4];
            let is_parquet = std::fs::File::open(path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                .is_ok()
                && &magic == b"PAR1";
            if is_parquet {
                Format::Parquet
            } else {
                Format::from_path(path).unwrap_or(Format::Jsonl)
            }
        }
    }
}

/// Refuses to overwrite an input, or to write two outputs to one file.
pub(crate) fn check_paths(job: &Job) -> Result<()> {
    let mut outputs = vec![("the output", &job.output)];
    outputs.extend(job.rejects.as_ref().map(|r| ("the rejects file", r)));
    check_distinct(&job.inputs, &outputs)
}

/// The output format: the job's, else the output's extension, else the first input's format.
pub(crate) fn output_format(job: &Job) -> Format {
    job.output_format
        .or_else(|| job.output.format())
        .unwrap_or_else(|| {
            job.inputs
                .first()
                .map_or(Format::Jsonl, |s| match input_format(job, s) {
                    Format::Json => Format::Jsonl,
                    other => other,
                })
        })
}

/// The file name of a path, for glob matching.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The most input bytes relabeled as one batch. Output columns hold up to three copies of each
/// text plus goals, and Arrow's `Utf8`/`List` offsets are 32-bit: 512 MiB in keeps every output
/// column under 2 GiB. Larger batches are split by rows.
pub const BATCH_BYTES: usize = 512 << 20;
