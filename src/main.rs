//! The `raug` command line: parses arguments, runs a subcommand, maps errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

mod cmd;

fn main() -> ExitCode {
    // Ctrl-C: delete temporary outputs so an interrupted run leaves nothing behind.
    let _ = ctrlc::set_handler(|| {
        raug::io::remove_pending();
        std::process::exit(130);
    });
    let cli = cmd::Cli::parse();
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => cmd::report(&err),
    }
}
