//! `raug pairs`: preference pairs from several scored responses per prompt.

use std::path::PathBuf;

use crate::error::Location;
use crate::fields::FieldPath;
use crate::io::Format;
use crate::pairs::{
    pairs, pairs_batches, BatchSink, Files, FlatInput, PairSink, PairSpec, Strategy,
};
use crate::rows::{ParquetDataset, RowGroups};
use crate::write::{RowBlocks, Writer};

use super::common::{write_stats, IoArgs, OnErrorArg};

const AFTER_HELP: &str = "\
Nested data has one row per prompt with a list of responses:
  raug pairs stack_exchange.jsonl --prompt question --responses answers --text text --score pm_score
  raug pairs ultrafeedback_raw.jsonl --prompt instruction --responses completions \\
      --text response --score overall_score --strategy best-random --seed 42
Ranks, 1 the best (Nectar), with --lower-is-better; relabel their pairs with --from-scale 7-1:
  raug pairs nectar.parquet --responses answers --text answer --score rank --lower-is-better
Flat data has one row per response; rows with the same --group-by value are one prompt:
  raug pairs helpsteer.jsonl --group-by prompt --text response --score helpfulness --strategy all
Flat data whose groups' rows are next to each other (sorted or written group by group) streams
in little memory: the fast path. Otherwise raug notices, reads the input again and sorts its
rows by group through temporary files beside the output (standard input is kept there for it),
so memory stays bounded either way; the pairs come out in the order of each group's first row.
On the fast path, pairs written to a file go out as they are made (the file starts again if a
row turns up apart from its group, or a field kept in the pairs differs within a later group);
to standard output they wait in a temporary file until the input ends.

Each output row has prompt, chosen, rejected, score_chosen, score_rejected, and every numeric
field of the responses as FIELD_chosen/FIELD_rejected, so `raug relabel --attribute FIELD` works
on the result directly. A prompt whose responses all tie (or that has one) yields no pair. The
index pandas writes for a DataFrame whose index has no name (__index_level_0__) numbers the rows
read, not the pairs: it is left out.";

/// Build preference pairs from several scored responses per prompt.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    io: IoArgs,

    /// The prompt field [default: prompt; flat rows without one: the --group-by field].
    #[arg(long, value_name = "PATH", help_heading = "Fields")]
    prompt: Option<String>,

    /// Nested: the field holding each row's list of responses.
    #[arg(
        long,
        value_name = "PATH",
        help_heading = "Fields",
        conflicts_with = "group_by"
    )]
    responses: Option<String>,

    /// Flat: rows with the same value here are responses to one prompt.
    #[arg(long, value_name = "PATH", help_heading = "Fields")]
    group_by: Option<String>,

    /// The response text field (inside each response when nested).
    #[arg(long, value_name = "FIELD", help_heading = "Fields")]
    text: String,

    /// The score field responses are ranked by (the higher the better, unless
    /// --lower-is-better).
    #[arg(long, value_name = "FIELD", help_heading = "Fields")]
    score: String,

    /// Lower scores are better, as ranks are (Nectar's `rank`, 1 the best): the chosen response
    /// is the lower-scored. The pairs keep the raw scores; relabel them with --from-scale HI-LO
    /// (e.g. --from-scale 7-1) so that the best states the top of the goal's scale.
    #[arg(long, help_heading = "Pairing")]
    lower_is_better: bool,

    /// best-worst: the best against the worst; best-random: the best against a random other
    /// (UltraFeedback's binarization, reproducible with --seed); all: every pair whose score gap
    /// is at least --min-gap.
    #[arg(long, value_enum, default_value_t = StrategyArg::BestWorst, help_heading = "Pairing")]
    strategy: StrategyArg,

    /// The seed of best-random.
    #[arg(long, default_value_t = 42, help_heading = "Pairing")]
    seed: u64,

    /// The smallest score gap of a pair under --strategy all (pairs always differ in score).
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "GAP",
        help_heading = "Pairing"
    )]
    min_gap: f64,

    /// Write chosen and rejected as [user prompt, assistant response] message lists (the
    /// ultrafeedback_binarized layout) instead of strings.
    #[arg(long, help_heading = "Pairing")]
    messages: bool,

    /// Bad rows and responses: fail stops at the first with its file, line and field (exit 1);
    /// skip counts them by reason, names the first and goes on. Skip also leaves out a row's
    /// (or a flat group's) pairs that JSON written as Parquet can't hold (a context field of
    /// another type than the first pairs'). A run that skips every row fails (exit 1).
    #[arg(long, value_enum, default_value_t = OnErrorArg::Fail, help_heading = "Errors")]
    on_error: OnErrorArg,

    /// Write the summary as JSON here (rows in, prompts, pairs out, skipped by reason), for CI.
    #[arg(long, value_name = "FILE", help_heading = "Errors")]
    stats: Option<PathBuf>,

    /// The same as --on-error skip (its name before --on-error).
    #[arg(long, hide = true)]
    skip_bad: bool,

    /// Flat data: rows of one key whose prompts differ make one group per prompt. Without it
    /// they are an error naming the group (a pair's prompt must be both responses' prompt).
    #[arg(long, help_heading = "Pairing")]
    split_by_prompt: bool,

    /// Flat data: the most bytes of rows grouped in memory at once (for tests of the paths
    /// through temporary files).
    #[arg(long, hide = true, value_name = "BYTES")]
    memory_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StrategyArg {
    /// Best against worst.
    BestWorst,
    /// Best against a random other.
    BestRandom,
    /// Every pair with enough gap.
    All,
}

fn path(option: &str, value: &str) -> anyhow::Result<FieldPath> {
    FieldPath::parse(value).map_err(|e| crate::Error::Usage(format!("{option}: {e}")).into())
}

/// Runs `raug pairs`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.responses.is_none() && args.group_by.is_none() {
        return Err(crate::Error::Usage(
            "name the responses: --responses PATH (a list in each row) or --group-by PATH (one row per response)"
                .to_string(),
        )
        .into());
    }
    let spec = PairSpec {
        prompt: args
            .prompt
            .as_deref()
            .map(|p| path("--prompt", p))
            .transpose()?,
        responses: args
            .responses
            .as_deref()
            .map(|p| path("--responses", p))
            .transpose()?,
        group_by: args
            .group_by
            .as_deref()
            .map(|p| path("--group-by", p))
            .transpose()?,
        text: path("--text", &args.text)?,
        score: path("--score", &args.score)?,
        strategy: match args.strategy {
            StrategyArg::BestWorst => Strategy::BestWorst,
            StrategyArg::BestRandom => Strategy::BestRandom,
            StrategyArg::All => Strategy::All,
        },
        lower_is_better: args.lower_is_better,
        seed: args.seed,
        min_gap: args.min_gap,
        messages: args.messages,
        skip_bad: args.skip_bad || args.on_error == OnErrorArg::Skip,
        split_by_prompt: args.split_by_prompt,
        temp: args.io.target(),
        memory: args.memory_bytes.unwrap_or(crate::pairs::MEMORY),
    };
    let stats = args.io.open_stats(args.stats.as_deref())?;
    let sources = args.io.data_sources()?;
    let parquet = sources
        .iter()
        .all(|s| args.io.format_of(s) == Format::Parquet);
    args.io.check_output()?;
    let staged = args.io.target().staged();
    let (summary, notes) = match sources.as_slice() {
        // Parquet files (a dataset's shards, whose columns may differ a little) stay Arrow, so
        // the pairs' columns keep the input's types.
        [..] if parquet => {
            let again = || args.io.row_writer(None);
            let mut out = PairsOut {
                blocks: RowBlocks::new(again()?),
                again: staged.then_some(&again),
            };
            let dataset = std::sync::Arc::new(ParquetDataset::open(&sources, "pair")?);
            // Flat rows whose groups are apart are read twice: the bar counts bytes read.
            let progress = args
                .io
                .progress_of_dataset(&dataset, spec.responses.is_some());
            let files = dataset.files();
            let input = FlatInput {
                open: &|roots| dataset.read_ahead(roots),
                row_groups: files.iter().flat_map(RowGroups::sizes).collect(),
                files: Files::new(files.iter().map(|f| {
                    let rows = f.sizes().iter().map(|(rows, _)| rows).sum();
                    (f.name().to_string(), rows)
                })),
            };
            let name = files[0].name();
            let summary = pairs_batches(&dataset.schema(), &input, name, &spec, &mut out)?;
            drop(progress);
            if let Some(error) = summary.nothing_kept() {
                return Err(error.into());
            }
            out.blocks.into_inner()?.finish()?;
            (summary, Vec::new())
        }
        _ => {
            let inputs = args.io.inputs()?;
            let pool = args.io.pool()?;
            // JSON written as Parquet starts again if a later row needs a wider schema.
            crate::write::with_widening(args.io.can_widen(), |schema| {
                let again = || args.io.row_writer(schema.clone());
                // Under --on-error skip, pairs the Parquet output can't hold are left out.
                let mut out = PairsOut {
                    blocks: RowBlocks::new(again()?).skipping(spec.skip_bad),
                    again: staged.then_some(&again),
                };
                // Flat rows whose groups are apart are read twice: the bar counts bytes read.
                let progress = args.io.progress_of(&inputs, spec.responses.is_some());
                // Rows are read on --threads workers.
                let summary = pool.install(|| pairs(&inputs, &spec, &mut out));
                drop(progress);
                let mut summary = summary?;
                summary.pairs -= summary.skips.left_out(out.blocks.take_skipped()?);
                if let Some(error) = summary.nothing_kept() {
                    return Err(error);
                }
                out.blocks.into_inner()?.finish()?;
                Ok(summary)
            })?
        }
    };
    write_stats(stats, &summary)?;
    if !args.io.quiet {
        for note in &notes {
            eprintln!("raug: note: {note}");
        }
        eprintln!("raug: {}", summary.line());
        if let Some(first) = &summary.skips.first_skip {
            eprintln!("raug: first skipped row: {first}");
        }
    }
    Ok(())
}

/// The pairs' output: JSON rows a block at a time, or Arrow batches. An output file can start
/// again (a new temporary file), so grouped rows' pairs go out as they are made.
struct PairsOut<'a> {
    blocks: RowBlocks<Box<dyn Writer>>,
    again: Option<&'a (dyn Fn() -> crate::Result<Box<dyn Writer>> + Sync)>,
}

impl PairsOut<'_> {
    /// Throws away what was written: the writer replaced is dropped unfinished, its temporary
    /// file with it.
    fn start_again(&mut self) -> crate::Result<()> {
        let again = self.again.expect("asked only when it can");
        let skip = self.blocks.is_skipping();
        self.blocks = RowBlocks::new(again()?).skipping(skip);
        Ok(())
    }
}

impl PairSink for PairsOut<'_> {
    fn emit(&mut self, lines: &[u8], location: &Location) -> crate::Result<()> {
        self.blocks.push(lines, location)
    }

    fn can_rewind(&self) -> bool {
        self.again.is_some()
    }

    fn rewind(&mut self) -> crate::Result<()> {
        self.start_again()
    }
}

impl BatchSink for PairsOut<'_> {
    fn emit(&mut self, batch: &arrow_array::RecordBatch) -> crate::Result<()> {
        self.blocks.write_batch(batch)
    }

    fn can_rewind(&self) -> bool {
        self.again.is_some()
    }

    fn rewind(&mut self) -> crate::Result<()> {
        self.start_again()
    }
}
