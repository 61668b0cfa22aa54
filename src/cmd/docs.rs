//! `raug completions SHELL` and `raug man`: shell completions and a man page, generated from the
//! same clap definition as `--help`, so they never fall behind the options.

use std::io::Write;

use super::common::usage;

/// Print a completion script for a shell on standard output.
///
/// Install it where the shell looks, e.g.
///   raug completions bash > ~/.local/share/bash-completion/completions/raug
///   raug completions zsh > "${fpath[1]}/_raug"
///   raug completions fish > ~/.config/fish/completions/raug.fish
// The text is `--help`'s too: zsh's `${fpath[1]}` stays as the shell wants it, not a doc link.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Print raug's man page (roff) on standard output.
///
/// Install it, e.g.: raug man > ~/.local/share/man/man1/raug.1 (then `man raug`). Each
/// subcommand's page is written with --subcommand NAME.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The page of this subcommand (relabel, pairs, ...) instead of raug's own.
    #[arg(long, value_name = "NAME")]
    subcommand: Option<String>,
}

/// Runs `raug completions` for `command`, the whole command line.
pub fn completions(args: CompletionsArgs, mut command: clap::Command) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "raug", &mut out);
    write_out(&out)
}

/// Runs `raug man` for `command`, the whole command line.
pub fn man(args: ManArgs, mut command: clap::Command) -> anyhow::Result<()> {
    // Names from the unbuilt command: the built one also lists clap's own `help`.
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    command.build();
    let man = match &args.subcommand {
        None => clap_mangen::Man::new(command),
        Some(name) => {
            let sub = command.find_subcommand(name).cloned().ok_or_else(|| {
                usage(format!(
                    "--subcommand {name}: no such command; pick one of {}",
                    names.join(", ")
                ))
            })?;
            clap_mangen::Man::new(sub).title(format!("raug-{name}"))
        }
    };
    let mut out = Vec::new();
    man.render(&mut out)?;
    write_out(&out)
}

fn write_out(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| crate::Error::io("<stdout>", e))?;
    Ok(())
}
