//! `inspect`: what a dataset looks like to `relabel` before converting it: format, layout and
//! fields, row count, score histogram, ties, the rows that would be rejected, and an example.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Result;
use crate::fields::FieldNames;
use crate::json::row::{detect, Outcome, Relabeler};
use crate::relabel::{format_score, Spec};
use crate::rows::Row;

/// One histogram bin: a score (or range) and how many chosen and rejected responses have it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// The score, or `lo-hi` for a range.
    pub score: String,
    /// Chosen responses with that score.
    pub chosen: u64,
    /// Rejected responses with that score.
    pub rejected: u64,
}

/// What `inspect` found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// The input.
    pub file: String,
    /// The input format.
    pub format: String,
    /// The detected layout, fields and style.
    pub layout: Option<String>,
    /// Why detection failed, if it did.
    pub detection_error: Option<String>,
    /// Non-blank rows.
    pub rows: u64,
    /// Rows whose goal scores tie.
    pub ties: u64,
    /// Rows `relabel` would reject, by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// The first few rejected rows: location and problem.
    pub first_rejected: Vec<String>,
    /// The first goal attribute's scores, chosen vs rejected.
    pub histogram: Vec<Bin>,
    /// The goal-chosen row `relabel` makes of the first good row.
    pub example: Option<String>,
}

/// Reads every row as `relabel` would, without writing anything.
pub fn inspect(
    rows: impl Iterator<Item = Result<Row>>,
    spec: &Spec,
    names: &FieldNames,
) -> Result<Report> {
    let mut report = Report::default();
    let mut resolved = None;
    let mut scores: Vec<(f64, f64)> = Vec::new();
    let mut scratch = vec![Vec::new()];
    for row in rows {
        let row = row?;
        report.rows += 1;
        let text = String::from_utf8_lossy(&row.data);
        if resolved.is_none() && report.detection_error.is_none() {
            match detect(&text, names, spec.style) {
                Ok(Some(r)) => {
                    report.layout = Some(r.to_string());
                    resolved = Some(r);
                }
                Ok(None) => {}
                Err(e) => report.detection_error = Some(format!("{}: {e}", row.location)),
            }
        }
        let Some(resolved) = &resolved else { continue };
        let relabeler = Relabeler::new(spec, resolved);
        let outcome = match std::str::from_utf8(&row.data) {
            Ok(line) => relabeler.relabel(line, &mut scratch).map(|o| (o, line)),
            Err(e) => Err(crate::error::RowError::row(
                crate::error::Reason::InvalidUtf8,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            )),
        };
        match outcome {
            Ok((outcome, line)) => {
                if matches!(
                    outcome,
                    Outcome::Emitted { tie: true } | Outcome::DroppedTie
                ) {
                    report.ties += 1;
                }
                if let Ok((c, r)) = relabeler.scores(line) {
                    scores.push((c[0], r[0]));
                }
                if report.example.is_none() && !scratch[0].is_empty() {
                    let first = scratch[0].split(|&b| b == b'\n').next().unwrap_or_default();
                    report.example = Some(String::from_utf8_lossy(first).into_owned());
                }
                scratch[0].clear();
            }
            Err(problem) => {
                *report.rejected.entry(problem.reason.as_str()).or_default() += 1;
                if report.first_rejected.len() < 5 {
                    report
                        .first_rejected
                        .push(format!("{}: {problem}", row.location));
                }
            }
        }
    }
    report.histogram = histogram(&scores);
    Ok(report)
}

/// One bin per distinct score when there are few, else ten equal ranges.
fn histogram(scores: &[(f64, f64)]) -> Vec<Bin> {
    let mut values: Vec<f64> = scores.iter().flat_map(|&(c, r)| [c, r]).collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    if values.len() <= 15 {
        return values
            .iter()
            .map(|&v| Bin {
                score: format_score(v),
                chosen: scores.iter().filter(|s| s.0 == v).count() as u64,
                rejected: scores.iter().filter(|s| s.1 == v).count() as u64,
            })
            .collect();
    }
    let (lo, hi) = (values[0], values[values.len() - 1]);
    let width = (hi - lo) / 10.0;
    let bin = |v: f64| (((v - lo) / width) as usize).min(9);
    (0..10)
        .map(|i| {
            let from = lo + width * i as f64;
            Bin {
                score: format!("{}-{}", format_score(from), format_score(from + width)),
                chosen: scores.iter().filter(|s| bin(s.0) == i).count() as u64,
                rejected: scores.iter().filter(|s| bin(s.1) == i).count() as u64,
            }
        })
        .collect()
}

impl Report {
    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut line = |k: &str, v: &str| out.push_str(&format!("{k:<10}{v}\n"));
        line("file", &self.file);
        line("format", &self.format);
        match (&self.layout, &self.detection_error) {
            (Some(layout), _) => line("detected", layout),
            (None, Some(e)) => line("detected", &format!("nothing: {e}")),
            (None, None) => line("detected", "nothing: no row is a JSON object"),
        }
        let bad: u64 = self.rejected.values().sum();
        line(
            "rows",
            &format!(
                "{} ({} ties; {} would be rejected, {} relabeled into {} rows)",
                self.rows,
                self.ties,
                bad,
                self.rows - bad,
                2 * (self.rows - bad)
            ),
        );
        if !self.rejected.is_empty() {
            let reasons: Vec<String> = self
                .rejected
                .iter()
                .map(|(r, n)| format!("{r}: {n}"))
                .collect();
            line("rejected", &reasons.join(", "));
            for first in &self.first_rejected {
                line("", first);
            }
        }
        if !self.histogram.is_empty() {
            out.push_str("\nscore          chosen  rejected\n");
            let most = self
                .histogram
                .iter()
                .map(|b| b.chosen.max(b.rejected))
                .max()
                .unwrap_or(1)
                .max(1);
            for b in &self.histogram {
                let bar = |n: u64| "#".repeat((n * 20).div_ceil(most) as usize);
                let line = format!(
                    "{:<12} {:>8} {:>9}  {:<20} {}",
                    b.score,
                    b.chosen,
                    b.rejected,
                    bar(b.chosen),
                    bar(b.rejected)
                );
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        if let Some(example) = &self.example {
            out.push_str("\nfirst relabeled row (goal = chosen score):\n");
            out.push_str(example);
            out.push('\n');
        }
        out
    }
}
