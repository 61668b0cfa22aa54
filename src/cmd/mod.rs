//! The command line (with the `cli` feature): each file holds one command's arguments and its
//! `run`; [`main`] is the whole program, for the `raug` binary and the Python wheel's `raug`.

use std::ffi::OsString;

use clap::{CommandFactory, Parser, Subcommand};

pub mod common;
pub mod condition;
pub mod docs;
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
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Inspect(inspect::Args),
    Pairs(pairs::Args),
    Relabel(relabel::Args),
    Condition(condition::Args),
    Layouts(layouts::Args),
    Completions(docs::CompletionsArgs),
    Man(docs::ManArgs),
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

/// The whole program: parses `args` (the program's name first), runs the command and reports an
/// error on standard error. Returns the exit code. Ctrl-C, SIGTERM and SIGHUP delete temporary
/// outputs first, so an interrupted run leaves nothing behind.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> u8 {
    let _ = ctrlc::set_handler(|| {
        crate::io::remove_pending();
        std::process::exit(130);
    });
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to standard output and succeed; mistakes are usage
            // errors (2), as clap's own exit would make them.
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(Exit::Usage as u8);
        }
    };
    let code = match run(cli) {
        Ok(()) => Exit::Ok as u8,
        Err(err) => report(&err) as u8,
    };
    // What is left of the run's temporary files: a copy of standard input (outputs are
    // committed or removed by now).
    crate::io::remove_pending();
    code
}

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Relabel(args) => relabel::run(args),
        Command::Pairs(args) => pairs::run(args),
        Command::Condition(args) => condition::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Layouts(args) => layouts::run(args),
        Command::Completions(args) => docs::completions(args, Cli::command()),
        Command::Man(args) => docs::man(args, Cli::command()),
    }
}

/// Prints an error chain with the tool's prefix and picks the exit code; a closed pipe downstream
/// (`raug ... | head`) ends quietly.
pub fn report(err: &anyhow::Error) -> Exit {
    let lib = err.chain().find_map(|e| e.downcast_ref::<crate::Error>());
    if lib.is_some_and(crate::Error::is_broken_pipe)
        || err.chain().any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        })
    {
        return Exit::Ok;
    }
    let mut message = format!("raug: error: {err}");
    for cause in err.chain().skip(1) {
        message.push_str(&format!(": {cause}"));
    }
    eprintln!("{message}");
    match lib {
        Some(e) if e.is_usage() => Exit::Usage,
        Some(crate::Error::Internal(_)) => Exit::Internal,
        _ => Exit::Data,
    }
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
