//! The subcommands; each file holds one command's arguments and its `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod common;
pub mod condition;
pub mod inspect;
pub mod layouts;
pub mod pairs;
pub mod relabel;

/// Reward-augmented relabeling of LLM preference datasets.
///
/// Turns each scored preference pair into two reward-conditioned pairs, as in "Reward-Augmented
/// Data Enhances Direct Preference Alignment of LLMs" (Zhang et al., arXiv 2410.08067).
#[derive(Debug, Parser)]
#[command(name = "raug", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Inspect(inspect::Args),
    Pairs(pairs::Args),
    Relabel(relabel::Args),
    Condition(condition::Args),
    Layouts(layouts::Args),
}

/// How a run ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Ok = 0,
    /// Bad data or an I/O error.
    Data = 1,
    /// The command line can't work.
    Usage = 2,
    /// A bug in raug (a worker panicked): neither the data's nor the user's fault.
    Internal = 3,
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Relabel(args) => relabel::run(args),
        Command::Pairs(args) => pairs::run(args),
        Command::Condition(args) => condition::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Layouts(args) => layouts::run(args),
    }
}

/// Prints an error chain with the tool's prefix and picks the exit code; a closed pipe downstream
/// (`raug ... | head`) ends quietly.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let lib = err.chain().find_map(|e| e.downcast_ref::<raug::Error>());
    if lib.is_some_and(raug::Error::is_broken_pipe)
        || err.chain().any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        })
    {
        return ExitCode::from(Exit::Ok as u8);
    }
    let mut message = format!("raug: error: {err}");
    for cause in err.chain().skip(1) {
        message.push_str(&format!(": {cause}"));
    }
    eprintln!("{message}");
    let code = match lib {
        Some(e) if e.is_usage() => Exit::Usage,
        Some(raug::Error::Internal(_)) => Exit::Internal,
        _ => Exit::Data,
    };
    ExitCode::from(code as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own consistency checks of every command and option.
    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
