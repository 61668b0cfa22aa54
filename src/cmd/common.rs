//! Options every data command shares (inputs, output, formats, threads, quiet) and the progress
//! bar and summary they drive.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::driver::Progress;
use crate::io::{Format, Source, Target};

/// Input and output options, flattened into each data command.
#[derive(Debug, clap::Args)]
pub struct IoArgs {
    /// Input files or one dataset folder; `-` or nothing reads standard input (Parquet there is
    /// copied to a temporary file beside the output first, since reading it seeks). JSON
    /// compression (gzip, zstd) is detected. relabel mirrors a folder into an output folder,
    /// shard by shard; the other commands read its data files as one dataset.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Output file; `-` (the default) writes standard output. Regular files are written to a
    /// temporary file and renamed into place on success, so a failed run leaves nothing behind.
    #[arg(short, long, value_name = "OUTPUT", default_value = "-")]
    pub output: PathBuf,

    /// Input format, for standard input or unusual extensions [default: from the extension, else
    /// the first bytes]. JSON input may be JSON Lines or one array.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<FormatArg>,

    /// Output format; by default from the output's extension (`.jsonl`, `.json`, `.parquet`; `.gz`
    /// or `.zst` compress JSON), else JSON Lines (which pipe into `raug relabel -`), or Parquet
    /// where relabel reads Parquet. relabel of a folder writes each data
    /// file in it, renamed (`a.jsonl.gz` -> `a.parquet`), JSON files written as Parquet all in
    /// one schema; by default each keeps its own.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub output_format: Option<FormatArg>,

    /// Worker threads [default: the number of CPUs]; Parquet output is compressed on as many
    /// more. The output is the same for any number.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Print nothing on standard error but errors: no progress bar, no summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// Bytes per parallel work unit (for tests of block boundaries).
    #[arg(long, hide = true, value_name = "BYTES")]
    pub block_size: Option<usize>,

    /// Most Arrow bytes relabeled as one batch (for tests of batch splitting).
    #[arg(long, hide = true, value_name = "BYTES")]
    pub batch_bytes: Option<usize>,

    /// Make every worker panic (for tests of what a bug does to a run).
    #[arg(long, hide = true)]
    pub test_panic_in_worker: bool,
}

/// A file format on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// JSON Lines, one object per line.
    Jsonl,
    /// A JSON array of objects.
    Json,
    /// Apache Parquet (Hugging Face datasets' format).
    Parquet,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Json => Format::Json,
            FormatArg::Parquet => Format::Parquet,
        }
    }
}

impl IoArgs {
    /// The inputs as sources; standard input when none is given.
    pub fn sources(&self) -> anyhow::Result<Vec<Source>> {
        let sources: Vec<Source> = if self.inputs.is_empty() {
            vec![Source::Stdin]
        } else {
            let mut sources = Vec::new();
            for p in &self.inputs {
                if p.as_os_str() == "-" {
                    sources.push(Source::Stdin);
                } else {
                    sources.extend(crate::io::expand_glob(p)?.into_iter().map(Source::File));
                }
            }
            sources
        };
        if self.inputs.is_empty() && std::io::stdin().is_terminal() {
            return Err(crate::Error::Usage(
                "no input: name a file, or pipe data to standard input (see raug relabel --help)"
                    .to_string(),
            )
            .into());
        }
        // Parquet on standard input is read from a copy, since reading it seeks; made at the
        // first call, and the sources of every later one. (Named twice, standard input is left
        // for the paths' check to refuse.)
        let parquet = || -> anyhow::Result<bool> {
            Ok(match self.input_format {
                _ if crate::io::stdin_copied() => true,
                Some(format) => Format::from(format) == Format::Parquet,
                None => crate::io::stdin_is_parquet()?,
            })
        };
        let stdin = sources.iter().filter(|s| **s == Source::Stdin).count();
        if stdin == 1 && parquet()? {
            let dir = match self.target() {
                Target::File(path) => Some(
                    crate::io::folder_of(&path)
                        .unwrap_or(Path::new("."))
                        .to_path_buf(),
                ),
                Target::Stdout => None,
            };
            let copy = crate::io::copy_stdin(dir.as_deref())?;
            return Ok(sources
                .into_iter()
                .map(|s| match s {
                    Source::Stdin => copy.clone(),
                    file => file,
                })
                .collect());
        }
        Ok(sources)
    }

    /// The inputs as sources, a folder read as its data files (every command but relabel,
    /// which mirrors a folder into a folder).
    pub fn data_sources(&self) -> anyhow::Result<Vec<Source>> {
        let mut sources = Vec::new();
        for source in self.sources()? {
            match source {
                Source::File(path) if path.is_dir() => {
                    let files = crate::driver::data_files(&path)?;
                    if files.is_empty() {
                        return Err(crate::Error::Usage(format!(
                            "{}: the folder holds no data files (.jsonl, .json, .parquet)",
                            path.display()
                        ))
                        .into());
                    }
                    sources.extend(files.into_iter().map(Source::File));
                }
                other => sources.push(other),
            }
        }
        Ok(sources)
    }

    /// A source's format: `--input-format`, else what its name and first bytes say.
    pub fn format_of(&self, source: &Source) -> Format {
        crate::driver::source_format(source, self.input_format.map(Format::from))
    }

    /// The output target.
    pub fn target(&self) -> Target {
        if self.output.as_os_str() == "-" {
            Target::Stdout
        } else {
            Target::File(self.output.clone())
        }
    }

    /// The thread count.
    pub fn threads(&self) -> anyhow::Result<usize> {
        match self.threads {
            Some(0) => Err(crate::Error::Usage("--threads must be at least 1".to_string()).into()),
            Some(n) => Ok(n),
            None => Ok(std::thread::available_parallelism().map_or(2, |n| n.get())),
        }
    }

    /// A pool of `--threads` workers, for commands whose library calls work in the current
    /// rayon pool.
    pub fn pool(&self) -> anyhow::Result<rayon::ThreadPool> {
        let threads = self.threads()?;
        Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| crate::Error::Internal(format!("can't start {threads} threads: {e}")))?)
    }

    /// The inputs, read row by row as JSON text (Parquet converted through Arrow).
    pub fn inputs(&self) -> anyhow::Result<crate::rows::Inputs> {
        let sources = self.data_sources()?;
        Ok(crate::rows::Inputs::new(
            sources
                .into_iter()
                .map(|source| {
                    let format = self.format_of(&source);
                    (source, format)
                })
                .collect(),
        ))
    }

    /// The output format asked for or named by the extension (JSON Lines by default: relabel,
    /// which writes its input's format, decides its own).
    pub fn output_format(&self) -> Format {
        self.output_format
            .map(Format::from)
            .or_else(|| self.target().format())
            .unwrap_or(Format::Jsonl)
    }

    /// The output as a sink of JSON rows, in the format asked for or named by the extension
    /// (JSON Lines by default); Parquet output is snappy-compressed, as `datasets` writes it.
    pub fn row_sink(&self) -> anyhow::Result<Box<dyn crate::write::Writer>> {
        self.check_output()?;
        Ok(self.row_writer(None)?)
    }

    /// Opens `--stats FILE` (a temporary file until [`write_stats`] commits it), after checking
    /// that it is neither an input nor the output: a bad path fails before a row is read.
    pub fn open_stats(
        &self,
        stats: Option<&std::path::Path>,
    ) -> anyhow::Result<Option<crate::io::Output>> {
        let Some(path) = stats else { return Ok(None) };
        let stats = Target::File(path.to_path_buf());
        crate::io::check_distinct(
            &self.data_sources()?,
            &[("the output", &self.target()), ("--stats", &stats)],
        )?;
        Ok(Some(crate::io::Output::create(
            &stats,
            crate::io::Compression::None,
        )?))
    }

    /// Checks the output against the inputs (not one of them) and its format (compression
    /// only for JSON).
    pub fn check_output(&self) -> anyhow::Result<()> {
        let target = self.target();
        crate::io::check_distinct(&self.data_sources()?, &[("the output", &target)])?;
        let format = self.output_format();
        crate::io::check_compression(&target, format, target.compression())?;
        Ok(())
    }

    /// A writer of JSON rows to the output, unchecked ([`IoArgs::row_sink`] checks); Parquet
    /// output with `json_schema` if given, else the first rows' (see
    /// [`crate::write::with_widening`]).
    pub fn row_writer(
        &self,
        json_schema: Option<arrow_schema::SchemaRef>,
    ) -> crate::Result<Box<dyn crate::write::Writer>> {
        let target = self.target();
        let output = crate::io::Output::create(&target, target.compression())?;
        Ok(crate::write::create(
            output,
            self.output_format(),
            crate::write::ParquetOptions {
                threads: self
                    .threads()
                    .map_err(|e| crate::Error::Usage(e.to_string()))?,
                json_schema,
                ..crate::write::ParquetOptions::default()
            },
        ))
    }

    /// Whether a run writing JSON rows as Parquet can start again with a wider schema: the
    /// output is a file (thrown away unfinished), and the inputs can be read again.
    pub fn can_widen(&self) -> bool {
        self.output_format() == Format::Parquet
            && self.target().staged()
            && self
                .data_sources()
                .is_ok_and(|sources| sources.iter().all(Source::rereadable))
    }

    /// A progress bar on standard error when it is a terminal and not `--quiet`; none in a pipe.
    pub fn progress(&self, sources: &[Source]) -> Option<(ProgressBar, Progress)> {
        let bar = self.bar(sources.iter().map(Source::size).sum())?;
        let handle = bar.clone();
        Some((
            bar,
            Progress(Arc::new(move |bytes| handle.set_position(bytes))),
        ))
    }

    /// [`IoArgs::progress`] of a command reading [`crate::rows::Inputs`]: the bar follows
    /// their count of bytes read until the [`Ticker`] is dropped. `once`: the inputs are read
    /// once, so the bar can show their total; else it counts bytes without one.
    pub fn progress_of(&self, inputs: &crate::rows::Inputs, once: bool) -> Option<Ticker> {
        let read = inputs.bytes_read();
        self.ticker(inputs.size().filter(|_| once), move || {
            read.load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// [`IoArgs::progress_of`] of one Parquet file read through [`crate::rows::RowGroups`].
    pub fn progress_of_parquet(&self, file: &crate::rows::RowGroups, once: bool) -> Option<Ticker> {
        let read = file.bytes_read();
        self.ticker(Some(file.size()).filter(|_| once), move || {
            read.load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// [`IoArgs::progress_of`] of Parquet files read as one dataset.
    pub fn progress_of_dataset(
        &self,
        dataset: &Arc<crate::rows::ParquetDataset>,
        once: bool,
    ) -> Option<Ticker> {
        let dataset = Arc::clone(dataset);
        self.ticker(Some(dataset.size()).filter(|_| once), move || {
            dataset.bytes_read()
        })
    }

    /// A bar (of `total` bytes where known) that follows the count `read` gives until the
    /// [`Ticker`] is dropped.
    fn ticker(
        &self,
        total: Option<u64>,
        read: impl Fn() -> u64 + Send + 'static,
    ) -> Option<Ticker> {
        let bar = self.bar(total)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let handle = bar.clone();
        let thread = std::thread::Builder::new()
            .name("raug-progress".into())
            .spawn(move || loop {
                handle.set_position(read());
                match stopped.recv_timeout(std::time::Duration::from_millis(100)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
            })
            .ok()?;
        Some(Ticker {
            bar,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The bar [`IoArgs::progress`] shows: of the inputs' `total` bytes where known.
    fn bar(&self, total: Option<u64>) -> Option<ProgressBar> {
        if self.quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = match total {
            Some(total) => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                    )
                    .expect("valid template"),
                );
                bar
            }
            None => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {bytes} ({bytes_per_sec})",
                    )
                    .expect("valid template"),
                );
                bar
            }
        };
        Some(bar)
    }
}

/// A progress bar kept up to date by a thread of its own; cleared when dropped.
pub struct Ticker {
    bar: ProgressBar,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.bar.finish_and_clear();
    }
}

/// How goals are written, shared by `relabel` and `condition` so training and inference prompts
/// match exactly.
#[derive(Debug, clap::Args)]
pub struct GoalArgs {
    /// Where the goal goes in message lists: a system message at index 0, or a prefix of the
    /// first message's content (for models without a system role). Strings always take a prefix.
    /// [default: system for message lists, prefix for strings]
    #[arg(long, value_enum, value_name = "STYLE", help_heading = "Goals")]
    pub style: Option<StyleArg>,

    /// The goal text: `{score}` is the score (8.0 prints as 8, 7.5 as 7.5), `{scores}` one line
    /// per attribute, `{lo}`/`{hi}` the scale. [default: the paper's text, "You are an assistant
    /// ... (on a scale of 1-10, ...):" then "Overall score: {score}."]
    #[arg(long, value_name = "TEXT", help_heading = "Goals")]
    pub template: Option<String>,

    /// Condition on an attribute instead of the overall score (repeatable, in goal order): its
    /// scores are NAME_chosen/NAME_rejected or chosen_NAME/rejected_NAME, or name them with
    /// NAME=CHOSEN_PATH,REJECTED_PATH. The goal gets one line per attribute ("Helpfulness: 4.").
    #[arg(long = "attribute", value_name = "NAME", help_heading = "Goals")]
    pub attributes: Vec<String>,

    /// The scale the goal states ("on a scale of LO-HI, where LO is lowest ...").
    #[arg(
        long,
        value_name = "LO-HI",
        default_value = "1-10",
        allow_hyphen_values = true,
        help_heading = "Goals"
    )]
    pub scale: String,

    /// The scale raw scores are on, mapped linearly onto --scale (reward models give 0-1 or
    /// other ranges). A score outside it is a bad row. HI-LO for lower-is-better scores: 3-0
    /// maps a severity of 3 to the lowest goal.
    #[arg(
        long,
        value_name = "LO-HI",
        allow_hyphen_values = true,
        help_heading = "Goals"
    )]
    pub from_scale: Option<String>,

    /// Round printed scores to N decimals (then 9.0 prints as 9).
    #[arg(long, value_name = "N", help_heading = "Goals")]
    pub precision: Option<u32>,

    /// Move scores outside --scale (after --from-scale) to its nearest end. Without it such a
    /// score is a bad row: a goal can't state a score its scale doesn't have.
    #[arg(long, help_heading = "Goals")]
    pub clamp: bool,
}

/// Where goals go in message lists, on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StyleArg {
    /// A system message at the head of the message list.
    System,
    /// Goal + blank line before the first message's content or the prompt text.
    Prefix,
}

pub(crate) fn usage(message: String) -> anyhow::Error {
    crate::Error::Usage(message).into()
}

impl GoalArgs {
    /// The style, if one was asked for.
    pub fn style(&self) -> Option<crate::relabel::Style> {
        self.style.map(|s| match s {
            StyleArg::System => crate::relabel::Style::System,
            StyleArg::Prefix => crate::relabel::Style::Prefix,
        })
    }

    /// The attributes as given.
    pub fn attributes(&self) -> anyhow::Result<Vec<crate::fields::Attribute>> {
        self.attributes
            .iter()
            .map(|a| {
                crate::fields::Attribute::parse(a).map_err(|e| usage(format!("--attribute: {e}")))
            })
            .collect()
    }

    /// The goal template with attributes, scale and number format applied.
    pub fn template(&self) -> anyhow::Result<crate::relabel::Template> {
        use crate::relabel::{display_name, Scale, Template};
        let template = match &self.template {
            Some(text) => {
                Template::new(text.as_str()).map_err(|e| usage(format!("--template: {e}")))?
            }
            None => Template::default(),
        };
        let scale = Scale::parse(&self.scale).map_err(|e| usage(format!("--scale: {e}")))?;
        let from = self
            .from_scale
            .as_deref()
            .map(|s| Scale::parse_raw(s).map_err(|e| usage(format!("--from-scale: {e}"))))
            .transpose()?;
        let names = self
            .attributes()?
            .iter()
            .map(|a| display_name(&a.name))
            .collect();
        Ok(template
            .with_attributes(names)
            .with_scale(scale)
            .with_from_scale(from)
            .with_precision(self.precision)
            .with_clamp(self.clamp))
    }
}

/// Field names, when detection needs help; shared by `relabel` and `inspect`.
#[derive(Debug, clap::Args)]
pub struct FieldArgs {
    /// Read the rows as this layout (`raug layouts` lists them) [default: detected from the
    /// first row's fields].
    #[arg(long, value_name = "NAME", help_heading = "Fields",
          value_parser = clap::builder::PossibleValuesParser::new(
              crate::fields::LAYOUTS.iter().map(|l| l.name)))]
    pub layout: Option<String>,

    /// Give every chosen response the score HI and every rejected one LO, for data without
    /// scores (HH-RLHF, Skywork, RewardBench): the goal then says preferred (HI) or dispreferred
    /// (LO). On the goal's scale; real judge or reward-model scores are what the paper uses.
    #[arg(long, value_name = "HI,LO", help_heading = "Fields")]
    pub fixed_scores: Option<String>,

    /// The prompt field (a dotted path into nested objects) [default: prompt].
    #[arg(long, value_name = "PATH", help_heading = "Fields")]
    pub prompt: Option<String>,

    /// The chosen response field [default: chosen].
    #[arg(long, value_name = "PATH", help_heading = "Fields")]
    pub chosen: Option<String>,

    /// The rejected response field [default: rejected].
    #[arg(long, value_name = "PATH", help_heading = "Fields")]
    pub rejected: Option<String>,

    /// The chosen response's overall score, e.g. metadata.score_chosen [default: detected].
    #[arg(long, value_name = "PATH", help_heading = "Fields")]
    pub chosen_score: Option<String>,

    /// The rejected response's overall score [default: detected].
    #[arg(long, value_name = "PATH", help_heading = "Fields")]
    pub rejected_score: Option<String>,

    /// Another pair of fields that trade places with the responses in the goal-rejected row
    /// (repeatable). Fields named X_chosen/X_rejected, chosen_X/rejected_X or
    /// chosen-X/rejected-X, at the top level or one level down, already do.
    #[arg(long, value_name = "CHOSEN,REJECTED", help_heading = "Fields")]
    pub swap: Vec<String>,

    /// A field that stays where it is though its name says it belongs to one response
    /// (repeatable; either side of a pair keeps both).
    #[arg(long, value_name = "PATH", help_heading = "Fields")]
    pub no_swap: Vec<String>,

    /// For two unordered responses and a field saying which wins: the first response
    /// [default: detected: response_a/response_b, response_0/response_1, response1/response2,
    /// response_1/response_2, "response 1"/"response 2", completion_a/completion_b]. The output
    /// has `chosen` (the winner) and `rejected` in place of the two.
    #[arg(
        long = "a",
        value_name = "PATH",
        requires = "a_wins_when",
        help_heading = "Winner field"
    )]
    pub a: Option<String>,

    /// The second response.
    #[arg(
        long = "b",
        value_name = "PATH",
        requires = "a",
        help_heading = "Winner field"
    )]
    pub b: Option<String>,

    /// When the first response wins: PATH=V1,V2,... (JSON values; a bare word is a string) or
    /// PATH<N, PATH>N, PATH<=N, PATH>=N. A row where neither condition holds is a tie (--ties);
    /// one where both do is a bad row (two_winners).
    #[arg(
        long,
        value_name = "COND",
        requires = "b_wins_when",
        help_heading = "Winner field"
    )]
    pub a_wins_when: Option<String>,

    /// When the second response wins.
    #[arg(
        long,
        value_name = "COND",
        requires = "a_wins_when",
        help_heading = "Winner field"
    )]
    pub b_wins_when: Option<String>,

    /// The first response's score; it becomes score_chosen or score_rejected with its response.
    /// Without scores, --fixed-scores HI,LO gives the winner HI, the loser LO and a tie the
    /// midpoint.
    #[arg(long, value_name = "PATH", requires_all = ["b_score", "a_wins_when"], help_heading = "Winner field")]
    pub a_score: Option<String>,

    /// The second response's score.
    #[arg(
        long,
        value_name = "PATH",
        requires = "a_score",
        help_heading = "Winner field"
    )]
    pub b_score: Option<String>,
}

/// An option's field path, when given.
fn path(option: &str, value: &Option<String>) -> anyhow::Result<Option<crate::fields::FieldPath>> {
    value
        .as_deref()
        .map(|v| crate::fields::FieldPath::parse(v).map_err(|e| usage(format!("{option}: {e}"))))
        .transpose()
}

/// `HI,LO`: two numbers.
fn parse_fixed(text: &str) -> anyhow::Result<(f64, f64)> {
    let bad = || usage(format!("--fixed-scores {text:?}: write HI,LO, like 10,1"));
    let (hi, lo) = text.split_once(',').ok_or_else(bad)?;
    let number = |v: &str| v.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    Ok((number(hi).ok_or_else(bad)?, number(lo).ok_or_else(bad)?))
}

impl FieldArgs {
    /// The library's field names, with the goal's attributes.
    pub fn names(
        &self,
        attributes: Vec<crate::fields::Attribute>,
    ) -> anyhow::Result<crate::fields::FieldNames> {
        Ok(crate::fields::FieldNames {
            prompt: path("--prompt", &self.prompt)?,
            chosen: path("--chosen", &self.chosen)?,
            rejected: path("--rejected", &self.rejected)?,
            chosen_score: path("--chosen-score", &self.chosen_score)?,
            rejected_score: path("--rejected-score", &self.rejected_score)?,
            attributes,
            swap: self
                .swap
                .iter()
                .map(|pair| {
                    let (c, r) = pair.split_once(',').ok_or_else(|| {
                        usage(format!("--swap {pair:?}: write CHOSEN_PATH,REJECTED_PATH"))
                    })?;
                    let parse = |p: &str| {
                        crate::fields::FieldPath::parse(p.trim())
                            .map_err(|e| usage(format!("--swap: {e}")))
                    };
                    Ok((parse(c)?, parse(r)?))
                })
                .collect::<anyhow::Result<_>>()?,
            no_swap: self
                .no_swap
                .iter()
                .map(|p| {
                    crate::fields::FieldPath::parse(p).map_err(|e| usage(format!("--no-swap: {e}")))
                })
                .collect::<anyhow::Result<_>>()?,
            layout: self
                .layout
                .as_deref()
                .and_then(crate::fields::NamedLayout::named),
            fixed_scores: self.fixed_scores.as_deref().map(parse_fixed).transpose()?,
            to: None,
            winner: self.winner()?,
        })
    }

    /// The winner-field options, when given.
    fn winner(&self) -> anyhow::Result<Option<crate::fields::WinnerNames>> {
        let (Some(a_wins), Some(b_wins)) = (&self.a_wins_when, &self.b_wins_when) else {
            return Ok(None);
        };
        let cond = |option: &str, text: &str| {
            crate::reshape::Cond::parse(text).map_err(|e| usage(format!("{option} {e}")))
        };
        Ok(Some(crate::fields::WinnerNames {
            a: path("--a", &self.a)?,
            b: path("--b", &self.b)?,
            a_wins: cond("--a-wins-when", a_wins)?,
            b_wins: cond("--b-wins-when", b_wins)?,
            a_score: path("--a-score", &self.a_score)?,
            b_score: path("--b-score", &self.b_score)?,
        }))
    }
}

/// What a command does with a bad row (`--on-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnErrorArg {
    /// Stop at the first bad row.
    Fail,
    /// Skip bad rows and count them.
    Skip,
}

/// Writes a command's summary to `--stats`' file (see [`IoArgs::open_stats`]) as pretty JSON.
pub fn write_stats(
    out: Option<crate::io::Output>,
    summary: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let Some(mut out) = out else { return Ok(()) };
    let mut json = serde_json::to_vec_pretty(summary)
        .map_err(|e| crate::Error::Internal(format!("serializing the summary: {e}")))?;
    json.push(b'\n');
    out.write_bytes(&json)?;
    out.finish()?;
    Ok(())
}
