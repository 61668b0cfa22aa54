//! The `raug` command line: everything is in [`raug::cmd`], shared with the Python wheel's `raug`.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(raug::cmd::main(std::env::args_os()))
}
