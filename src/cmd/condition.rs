//! `raug condition`: eval-time goals for prompt-only data.

use std::path::PathBuf;
use std::sync::Arc;

use crate::condition::{
    condition, condition_batches, ConditionSpec, ConditionSummary, TargetScore,
};
use crate::fields::FieldPath;
use crate::io::Format;

use super::common::{write_stats, GoalArgs, IoArgs, OnErrorArg};

const AFTER_HELP: &str = "\
At inference the paper asks the model for the top score. Use the same goal options as for
`raug relabel` (--template, --style, --scale, --attribute) so prompts match training exactly:
  raug condition alpaca_eval.json -o alpaca_eval.goal.jsonl --target max
  raug condition chats.jsonl --prompt messages --attribute helpfulness --scale 0-4 --target 4
The prompt is a string (goal + blank line before it) or a message list (a system message at its
head, or a prefix of message 0 with --style prefix). Where relabel puts the goal into a system
prompt field (a `system` string beside alpaca's `instruction` or axolotl-intel's `question`),
condition does too, unless --style prefix.";

/// Put the goal (e.g. the top score) into prompt-only data for evaluation.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    io: IoArgs,

    #[command(flatten)]
    goal: GoalArgs,

    /// The prompt field, a string or a message list [default: prompt, else instruction, else
    /// question, else a `context` message list].
    #[arg(long, value_name = "PATH")]
    prompt: Option<String>,

    /// The goal score: max (the top of --scale) or a value, given to every attribute.
    #[arg(long, value_name = "max|VALUE", default_value = "max")]
    target: String,

    /// Rows whose prompt can't take the goal (missing, not text, damaged), or, JSON written as
    /// Parquet, that the output can't hold: fail stops at the first with its file, line and
    /// field (exit 1); skip leaves them out, counts them and names the first.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Fail, help_heading = "Errors")]
    on_error: OnErrorArg,

    /// Write the summary as JSON here (rows conditioned, skipped by reason), for CI.
    #[arg(long, value_name = "FILE", help_heading = "Errors")]
    stats: Option<PathBuf>,
}

/// Runs `raug condition`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let stats = args.io.open_stats(args.stats.as_deref())?;
    let (summary, notes) = conditioned(&args)?;
    write_stats(stats, &summary)?;
    report(&args.io, &summary, &notes);
    Ok(())
}

/// Conditions the rows; what it did, and notes for the user.
fn conditioned(args: &Args) -> anyhow::Result<(ConditionSummary, Vec<String>)> {
    let usage = |m: String| anyhow::Error::from(crate::Error::Usage(m));
    let target = match args.target.as_str() {
        "max" => TargetScore::Max,
        v => TargetScore::Value(
            v.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| usage(format!("--target: expected max or a number, got {v:?}")))?,
        ),
    };
    if args.goal.attributes()?.iter().any(|a| a.paths.is_some()) {
        return Err(usage(
            "--attribute NAME=PATHS names score fields, which prompt-only data has none of; give names only"
                .to_string(),
        ));
    }
    let spec = ConditionSpec {
        template: args.goal.template()?,
        style: args.goal.style(),
        prompt: args
            .prompt
            .as_deref()
            .map(|p| FieldPath::parse(p).map_err(|e| usage(format!("--prompt: {e}"))))
            .transpose()?,
        target,
        skip_bad: args.on_error == OnErrorArg::Skip,
    };
    let sources = args.io.data_sources()?;
    let parquet = sources
        .iter()
        .all(|s| args.io.format_of(s) == Format::Parquet);
    // One Parquet file to Parquet: only the prompt column is rewritten, the rest copied.
    if let ([source], Format::Parquet) = (sources.as_slice(), args.io.output_format()) {
        if parquet {
            let target = args.io.target();
            crate::io::check_distinct(&sources, &[("the output", &target)])?;
            crate::io::check_compression(&target, Format::Parquet, target.compression())?;
            let progress = args.io.progress(std::slice::from_ref(source));
            let done = crate::driver::condition_parquet(
                source,
                &spec,
                &target,
                args.io.threads()?,
                progress.as_ref().map(|(_, p)| p),
            );
            if let Some((bar, _)) = &progress {
                bar.finish_and_clear();
            }
            if let Some(summary) = done? {
                return Ok((summary, Vec::new()));
            }
            // Otherwise nothing was written: the general path below writes every column.
        }
    }
    let (summary, notes) = if parquet {
        // Parquet stays Arrow, so its types (int32, large strings, ...) stay as they were.
        let mut sink = args.io.row_sink()?;
        let mut total = ConditionSummary::default();
        // Files whose columns differ a little are read with one schema that holds them all;
        // each file apart, so that locations name it.
        let dataset = crate::rows::ParquetDataset::open(&sources, "condition")?;
        let schema = dataset.schema();
        sink.set_schema(Arc::clone(&schema))?;
        for (i, file) in dataset.files().iter().enumerate() {
            let _progress = args.io.progress_of_parquet(file, true);
            let batches = dataset.read_file(i, None)?;
            let summary = condition_batches(&schema, batches, file.name(), &spec, |batch| {
                sink.write_batch(batch)
            })?;
            total.add(summary);
        }
        if let Some(error) = total.nothing_kept() {
            return Err(error.into());
        }
        sink.finish()?;
        (total, Vec::new())
    } else {
        args.io.check_output()?;
        let inputs = args.io.inputs()?;
        // JSON written as Parquet starts again if a later row needs a wider schema.
        crate::write::with_widening(args.io.can_widen(), |schema| {
            let mut blocks =
                crate::write::RowBlocks::new(args.io.row_writer(schema)?).skipping(spec.skip_bad);
            let progress = args.io.progress_of(&inputs, true);
            let summary = condition(inputs.rows_ahead()?, &spec, |line, from| {
                blocks.push(line, from)
            });
            drop(progress);
            let mut summary = summary?;
            // Rows the output can't hold (JSON written as Parquet), left out under skip.
            summary.rows -= summary.skips.left_out(blocks.take_skipped()?);
            if let Some(error) = summary.nothing_kept() {
                return Err(error);
            }
            blocks.into_inner()?.finish()?;
            Ok(summary)
        })?
    };
    Ok((summary, notes))
}

fn report(io: &IoArgs, summary: &ConditionSummary, notes: &[String]) {
    if io.quiet {
        return;
    }
    for note in notes {
        eprintln!("raug: note: {note}");
    }
    // No row, no field found to name.
    let skipped = match summary.skips.skipped {
        0 => String::new(),
        n => format!(", {n} skipped ({})", summary.skips.reasons()),
    };
    match summary.prompt.as_str() {
        "" => eprintln!("raug: {} rows conditioned{skipped}", summary.rows),
        field => eprintln!(
            "raug: {} rows conditioned (field {field}){skipped}",
            summary.rows
        ),
    }
    if let Some(first) = &summary.skips.first_skip {
        eprintln!("raug: first skipped row: {first}");
    }
}
