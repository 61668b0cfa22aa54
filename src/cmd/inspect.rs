//! `raug inspect`: look at a dataset the way `relabel` will, before converting it.

use crate::inspect::{inspect, inspect_parquet};
use crate::io::{Format, Output};
use crate::relabel::Spec;
use crate::rows::RowGroups;

use super::common::{FieldArgs, GoalArgs, IoArgs};

/// Show the detected format, layout and score fields, row count, score histogram, ties, the
/// rows that would be rejected and why, and one relabeled row.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    io: IoArgs,

    #[command(flatten)]
    fields: FieldArgs,

    #[command(flatten)]
    goal: GoalArgs,

    /// Print the report as JSON, for scripts.
    #[arg(long)]
    json: bool,
}

/// Runs `raug inspect`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let spec = Spec {
        template: args.goal.template()?,
        style: args.goal.style(),
        ..Spec::default()
    };
    let names = args.fields.names(args.goal.attributes()?)?;
    if let Some(fixed) = names.fixed_scores {
        spec.template
            .check_fixed(fixed)
            .map_err(|e| super::common::usage(e.to_string()))?;
    }
    let sources = args.io.data_sources()?;
    let pool = args.io.pool()?;
    let mut reports = Vec::new();
    for source in &sources {
        let format = args.io.format_of(source);
        // Each representation is judged by its own applier: Parquet as Arrow columns.
        // A bar per input, on a terminal.
        let mut report = pool.install(|| -> crate::Result<_> {
            if format == Format::Parquet {
                let file = RowGroups::open(source)?;
                let _progress = args.io.progress_of_parquet(&file, true);
                inspect_parquet(&file, &spec, &names)
            } else {
                let inputs = crate::rows::Inputs::new(vec![(source.clone(), format)]);
                let _progress = args.io.progress_of(&inputs, true);
                inspect(inputs.rows()?, &spec, &names)
            }
        })?;
        report.file = source.name();
        report.format = match format {
            Format::Parquet => "Parquet",
            _ => "JSON (lines or array)",
        }
        .to_string();
        reports.push(report);
    }
    let mut text = if args.json {
        if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])?
        } else {
            serde_json::to_string_pretty(&reports)?
        }
    } else {
        reports.iter().map(|r| r.text()).collect::<String>()
    };
    if args.json {
        text.push('\n');
    }
    let target = args.io.target();
    let mut out = Output::create(&target, target.compression())?;
    out.write_bytes(text.as_bytes())?;
    out.finish()?;
    // Like relabel would: a detection error is a usage error, a bad row bad data.
    if let Some(e) = reports.iter().find_map(|r| r.failure()) {
        return Err(e.into());
    }
    Ok(())
}
