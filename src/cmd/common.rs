//! Options every data command shares (inputs, output, formats, threads, quiet) and the progress
//! bar and summary they drive.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use raug::driver::Progress;
use raug::io::{Format, Source, Target};

/// Input and output options, flattened into each data command.
#[derive(Debug, clap::Args)]
pub struct IoArgs {
    /// Input files or one dataset folder; `-` or nothing reads standard input. JSON compression
    /// (gzip, zstd) is detected. A folder is mirrored into the output folder, shard by shard.
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
    /// or `.zst` compress JSON), else the input's format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub output_format: Option<FormatArg>,

    /// Worker threads [default: the number of CPUs]. The output is the same for any number.
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
                    sources.extend(raug::io::expand_glob(p)?.into_iter().map(Source::File));
                }
            }
            sources
        };
        if self.inputs.is_empty() && std::io::stdin().is_terminal() {
            return Err(raug::Error::Usage(
                "no input: name a file, or pipe data to standard input (see raug relabel --help)"
                    .to_string(),
            )
            .into());
        }
        Ok(sources)
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
            Some(0) => Err(raug::Error::Usage("--threads must be at least 1".to_string()).into()),
            Some(n) => Ok(n),
            None => Ok(std::thread::available_parallelism().map_or(2, |n| n.get())),
        }
    }

    /// A progress bar on standard error when it is a terminal and not `--quiet`; none in a pipe.
    pub fn progress(&self, sources: &[Source]) -> Option<(ProgressBar, Progress)> {
        if self.quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let sizes: Option<Vec<u64>> = sources.iter().map(Source::size).collect();
        let bar = match sizes {
            Some(sizes) => {
                let bar = ProgressBar::with_draw_target(
                    Some(sizes.iter().sum()),
                    ProgressDrawTarget::stderr(),
                );
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
        let handle = bar.clone();
        Some((
            bar,
            Progress(Arc::new(move |bytes| handle.set_position(bytes))),
        ))
    }
}
