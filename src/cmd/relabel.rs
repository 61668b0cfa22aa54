//! `raug relabel`: the paper's reward-augmented relabeling of a preference dataset.

use std::path::PathBuf;

use clap::ValueEnum;

use super::common::{usage, write_stats, FieldArgs, GoalArgs, IoArgs, OnErrorArg};
use crate::driver::{self, Job, OnError, ParquetCompression, Summary};
use crate::fields::FieldNames;
use crate::io::{Compression, Output, Target};
use crate::relabel::{Goals, Order, Spec, Ties};

const AFTER_HELP: &str = "\
Each input pair (prompt, chosen, rejected, score_chosen, score_rejected) becomes two rows:
  1. goal = score_chosen: chosen and rejected as they were;
  2. goal = score_rejected: chosen and rejected swapped, and their score fields swapped too.
The goal is written into the prompt with --template (by default the paper's text, ending in
\"Overall score: 8.\"). Every other field passes through byte for byte.

The layout is detected from the first row:
  ultrafeedback_binarized   prompt string, chosen/rejected message lists -> goal in both lists
  conversational            prompt message list -> goal at the head of the prompt
  conversational, implicit  chosen/rejected full conversations -> goal in both lists
  standard                  prompt/chosen/rejected strings -> goal + blank line before the prompt
  standard, implicit        chosen/rejected full texts -> goal before both texts
The fields of other frameworks' layouts are found by name (alpaca: instruction/input/chosen/
rejected; nemo: prompt/chosen_response/rejected_response; axolotl-intel: question/...;
axolotl-argilla: instruction/chosen_response/...); `raug layouts` lists them all, and
--layout NAME picks one. Scores are found as score_chosen/score_rejected,
chosen_score/rejected_score, overall_score_chosen/..., chosen_rating/..., chosen-rating/...,
chosen_avg_rating/..., avg_fine_score_chosen/..., chosen_reward/..., at the top level or one
level down (metadata.*).

--to trl writes TRL's layout instead of the input's (prompt list with the goal, chosen/rejected
as the responses' own turns), so DPOTrainer loads the output as it is.

Parquet is relabeled column by column and keeps its schema and Hugging Face metadata. A folder
input (a downloaded dataset) is mirrored into -o OUTDIR with the same relative paths and shard names;
other files (README.md, dataset_info.json) are copied.

Examples:
  raug relabel train.jsonl -o train.raug.jsonl
  raug relabel train_prefs.parquet --to trl -o train.parquet
  raug relabel ultrafeedback_binarized/data -o relabeled/data --passthrough 'test_*'
  zstdcat train.jsonl.zst | raug relabel --ties drop | head
  raug relabel data/*.jsonl --chosen-score meta.rm_chosen --rejected-score meta.rm_rejected \\
      --on-error skip --rejects bad.jsonl --stats stats.json -o out.jsonl.zst

Exit codes: 0 ok, 1 bad data or I/O error, 2 usage error, 3 an internal error (a bug in raug).";

/// Turn each scored pair into two reward-conditioned pairs (Zhang et al., arXiv 2410.08067).
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    io: IoArgs,

    #[command(flatten)]
    goal: GoalArgs,

    /// Which goal rows to emit: both (the paper), or only one side for ablations.
    #[arg(long, value_enum, default_value_t = GoalsArg::Both, help_heading = "Relabeling")]
    goals: GoalsArg,

    /// Also emit the unconditioned original pair, before its goal rows.
    #[arg(long, help_heading = "Relabeling")]
    keep_original: bool,

    /// Relabel rows that already begin with the goal text. Without it such a row is a bad row
    /// (already_conditioned): relabeling twice would state two goals.
    #[arg(long, help_heading = "Relabeling")]
    force: bool,

    /// Pairs with equal scores: keep them (two contradictory rows, as in the paper) or drop them.
    /// Ties are counted in the summary either way.
    #[arg(long, value_enum, default_value_t = TiesArg::Keep, help_heading = "Relabeling")]
    ties: TiesArg,

    /// Row order: interleaved (pair 0's rows, then pair 1's, ...) or blocks (every goal-chosen
    /// row, then every goal-rejected row: the authors' order). Both stream.
    #[arg(long, value_enum, default_value_t = OrderArg::Interleaved, help_heading = "Relabeling")]
    order: OrderArg,

    #[command(flatten)]
    fields: FieldArgs,

    /// Write the rows in this layout instead of the input's, so a trainer loads them as they
    /// are. trl: `prompt`, `chosen`, `rejected`; full conversations (ultrafeedback_binarized,
    /// implicit prompts) become a prompt list (the messages both responses share, carrying the
    /// goal) and the responses' own turns; other layouts' fields are renamed (alpaca's input is
    /// joined onto the instruction with a newline); `messages`, `completion` and `label` are
    /// dropped (TRL refuses rows that hold them too). Other fields pass through. sharegpt
    /// (LLaMA-Factory) and openai (OpenAI, Together, Fireworks) write message lists, strings
    /// becoming user and assistant messages and a `system` field the system message: sharegpt
    /// as `system` (with the goal), `conversations` of {from, value} and one-message
    /// `chosen`/`rejected`; openai as `input.messages`, `preferred_output`,
    /// `non_preferred_output` and no other field.
    #[arg(long, value_name = "LAYOUT", help_heading = "Fields",
          value_parser = clap::builder::PossibleValuesParser::new(
              crate::reshape::Target::ALL.iter().map(|t| t.name())))]
    to: Option<String>,

    /// Bad rows: fail stops at the first with its file, line and field (exit 1); skip counts them
    /// by reason and goes on.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Fail, help_heading = "Errors")]
    on_error: OnErrorArg,

    /// With --on-error skip: write skipped rows here, in the format the extension names. `.jsonl`
    /// keeps JSON rows byte for byte, one per line; `.json` or `.parquet` of JSON input gets one
    /// record per skipped row (file, line, reason, field, detail, row); Parquet input keeps its
    /// rows in its own schema.
    #[arg(long, value_name = "FILE", help_heading = "Errors")]
    rejects: Option<PathBuf>,

    /// Write the summary as JSON here (rows in/out, ties, skipped by reason), for CI.
    #[arg(long, value_name = "FILE", help_heading = "Errors")]
    stats: Option<PathBuf>,

    /// Parquet output compression [default: the input's, else snappy like `datasets`].
    #[arg(
        long,
        value_enum,
        value_name = "CODEC",
        help_heading = "Parquet and folders"
    )]
    compression: Option<CodecArg>,

    /// With a folder input: copy data files whose name matches GLOB unchanged (`*`, `?`;
    /// repeatable), e.g. --passthrough 'test_*' keeps the test split as it is.
    #[arg(long, value_name = "GLOB", help_heading = "Parquet and folders")]
    passthrough: Vec<String>,

    /// Relabel only part I of N (I from 0), for job arrays: N processes given the same inputs
    /// and --shard 0/N .. N-1/N, each with its own -o, cover every row exactly once. The inputs
    /// are cut by size: whole files, else Parquet row groups, else JSON Lines lines (compressed
    /// files and JSON arrays go whole). Every shard takes the layout (and the Parquet schema of
    /// JSON input) from the dataset's first rows, as the whole run does, so the parts agree; it
    /// orders --order blocks within itself.
    /// Example (Slurm): raug relabel 'data/*.parquet' --shard $SLURM_ARRAY_TASK_ID/16 -o
    /// out/part-$SLURM_ARRAY_TASK_ID.parquet
    #[arg(long, value_name = "I/N", help_heading = "Parquet and folders")]
    shard: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CodecArg {
    /// Zstandard.
    Zstd,
    /// Snappy.
    Snappy,
    /// gzip.
    Gzip,
    /// Brotli.
    Brotli,
    /// LZ4 (LZ4_RAW).
    Lz4,
    /// No compression.
    None,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GoalsArg {
    /// Both goal rows.
    Both,
    /// Only the goal-chosen row (original roles).
    Chosen,
    /// Only the goal-rejected row (roles swapped).
    Rejected,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TiesArg {
    /// Keep ties.
    Keep,
    /// Drop ties.
    Drop,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OrderArg {
    /// Each pair's rows together.
    Interleaved,
    /// All goal-chosen rows, then all goal-rejected rows.
    Blocks,
}

/// Parses the options of `raug relabel` (without `relabel` itself) the way the command line
/// does, for a program that relabels without the CLI (the Python bindings): clap's message, or
/// the option's problem, on a mistake.
pub fn parse(options: &[String]) -> anyhow::Result<Args> {
    use clap::Parser;
    /// `raug relabel` alone.
    #[derive(Parser)]
    #[command(name = "raug relabel")]
    struct Relabel {
        #[command(flatten)]
        args: Args,
    }
    let argv = std::iter::once("raug relabel".to_string()).chain(options.iter().cloned());
    match Relabel::try_parse_from(argv) {
        Ok(Relabel { args }) => Ok(args),
        // clap's message without its `error:` prefix and usage lines: the caller has no command
        // line to retype.
        Err(e) => {
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .map(|l| l.strip_prefix("error: ").unwrap_or(l).trim())
                .take_while(|l| !l.starts_with("Usage:"))
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            Err(usage(message.join("; ")))
        }
    }
}

impl Args {
    /// The relabel rules the options ask for: the method's spec, and where the fields are.
    pub fn rules(&self) -> anyhow::Result<(Spec, FieldNames)> {
        let template = self.goal.template()?;
        let spec = Spec {
            template,
            goals: match self.goals {
                GoalsArg::Both => Goals::Both,
                GoalsArg::Chosen => Goals::Chosen,
                GoalsArg::Rejected => Goals::Rejected,
            },
            keep_original: self.keep_original,
            force: self.force,
            ties: match self.ties {
                TiesArg::Keep => Ties::Keep,
                TiesArg::Drop => Ties::Drop,
            },
            order: match self.order {
                OrderArg::Interleaved => Order::Interleaved,
                OrderArg::Blocks => Order::Blocks,
            },
            style: self.goal.style(),
        };
        let mut fields = self.fields.names(self.goal.attributes()?)?;
        fields.to = self.to.as_deref().and_then(crate::reshape::Target::named);
        if let Some(fixed) = fields.fixed_scores {
            spec.template
                .check_fixed(fixed)
                .map_err(|e| usage(e.to_string()))?;
        }
        Ok((spec, fields))
    }

    /// Whether bad rows stop the run (`fail`) or are skipped.
    pub fn on_error(&self) -> OnError {
        match self.on_error {
            OnErrorArg::Fail => OnError::Fail,
            OnErrorArg::Skip => OnError::Skip,
        }
    }

    /// Converts the command line into the library's job.
    fn job(&self) -> anyhow::Result<Job> {
        if self.rejects.is_some() && matches!(self.on_error, OnErrorArg::Fail) {
            return Err(usage(
                "--rejects needs --on-error skip (under fail, the first bad row stops the run)"
                    .to_string(),
            ));
        }
        let (spec, fields) = self.rules()?;
        let mut job = Job::new(self.io.sources()?, self.io.target());
        job.spec = spec;
        job.fields = fields;
        job.threads = self.io.threads()?;
        if let Some(size) = self.io.block_size {
            job.block_size = size;
        }
        job.panic_in_worker = self.io.test_panic_in_worker;
        if let Some(size) = self.io.batch_bytes {
            job.batch_bytes = size;
        }
        job.output_format = self.io.output_format.map(Into::into);
        job.input_format = self.io.input_format.map(Into::into);
        job.parquet_compression = self.compression.map(|c| match c {
            CodecArg::Zstd => ParquetCompression::Zstd,
            CodecArg::Snappy => ParquetCompression::Snappy,
            CodecArg::Gzip => ParquetCompression::Gzip,
            CodecArg::Brotli => ParquetCompression::Brotli,
            CodecArg::Lz4 => ParquetCompression::Lz4,
            CodecArg::None => ParquetCompression::None,
        });
        job.passthrough = self.passthrough.clone();
        job.shard = self
            .shard
            .as_deref()
            .map(crate::shard::Shard::parse)
            .transpose()
            .map_err(usage)?;
        job.on_error = self.on_error();
        job.rejects = self.rejects.clone().map(Target::File);
        Ok(job)
    }
}

/// Runs `raug relabel` and prints its summary.
pub fn run(args: Args) -> anyhow::Result<()> {
    let quiet = args.io.quiet;
    let summary = execute(args)?;
    if !quiet {
        for note in &summary.notes {
            eprintln!("raug: note: {note}");
        }
        eprintln!("raug: {}", summary.line());
        if let Some(first) = &summary.first_skip {
            eprintln!("raug: first skipped row: {first}");
        }
    }
    Ok(())
}

/// Runs `raug relabel` and returns its summary, printing nothing but the progress bar.
pub fn execute(args: Args) -> anyhow::Result<Summary> {
    let mut job = args.job()?;
    // Every path this run writes, checked against the inputs and each other before a byte is
    // read; the stats file is opened (as a temporary beside it) before the output is written,
    // so a bad --stats path fails the run before anything is committed.
    let stats_target = args.stats.clone().map(Target::File);
    let mut outputs = vec![("the output", &job.output)];
    outputs.extend(job.rejects.as_ref().map(|r| ("the rejects file", r)));
    outputs.extend(stats_target.as_ref().map(|s| ("--stats", s)));
    crate::io::check_distinct(&job.inputs, &outputs)?;
    let stats = stats_target
        .as_ref()
        .map(|t| Output::create(t, Compression::None))
        .transpose()?;
    let progress = args.io.progress(&job.inputs);
    job.progress = progress.as_ref().map(|(_, p)| p.clone());
    let result = driver::relabel(&job);
    if let Some((bar, _)) = &progress {
        bar.finish_and_clear();
    }
    let summary = result?;
    write_stats(stats, &summary)?;
    Ok(summary)
}
