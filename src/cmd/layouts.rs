//! `raug layouts`: every layout raug reads, with a sketch of a row and the flags that read it.

/// List the layouts raug reads: a sketch of a row of each, and the flags that read it.
///
/// Layouts are detected from the first row; `--layout NAME` picks one. The goal goes where the
/// layout's field kinds say: before a prompt string, at the head of a prompt message list, or,
/// without a prompt, into both responses.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Prints the table of layouts on standard output.
pub fn run(_args: Args) -> anyhow::Result<()> {
    let mut out = String::new();
    for layout in crate::fields::LAYOUTS {
        out.push_str(&format!(
            "{}\n  {}\n  {}\n",
            layout.name, layout.origin, layout.sketch
        ));
        let flags = layout.flags();
        if !flags.is_empty() {
            out.push_str(&format!("  same as: {flags}\n"));
        }
        out.push('\n');
    }
    // Detected by its kinds alone: it has no name, as no trainer reads it as it is.
    out.push_str(
        "(detected, no name) a conversation with string responses\n  \
         nvidia/HelpSteer3: the goal goes into the prompt list; --to makes each response an \
         assistant message\n  \
         {\"prompt\" or \"context\": [messages], \"chosen\": \"...\", \"rejected\": \"...\"}\n\n",
    );
    let targets: Vec<&str> = crate::reshape::Target::ALL
        .iter()
        .map(|t| t.name())
        .collect();
    out.push_str(&format!(
        "--to LAYOUT writes another layout than the input's: {}\n",
        targets.join(", ")
    ));
    print!("{out}");
    Ok(())
}
