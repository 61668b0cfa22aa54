//! `inspect`: what a dataset looks like to `relabel` before converting it: format, layout and
//! fields, row count, score histogram, ties, the rows that would be rejected, and an example.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::arrow::BatchRelabeler;
use crate::error::{Error, Location, Position, Reason, Result, RowError};
use crate::fields::{FieldNames, Resolved};
use crate::json::row::{detect, Relabeler};
use crate::plan::Plan;
use crate::relabel::{format_score, Spec};
use crate::rows::{Batches, Row, RowGroups};

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

/// How many rejected rows a report shows.
const FIRST_REJECTED: usize = 5;

/// Input rows judged at once, by every worker: enough to keep them busy, little memory.
const CHUNK_BYTES: usize = 8 << 20;

/// Gathers a report from the outcome of each record, whichever applier planned it.
struct Tally {
    report: Report,
    scores: Vec<(f64, f64)>,
    /// The file's first row that relabel keeps (Arrow; JSON rows make the example at once).
    first_kept: Option<u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            report: Report::default(),
            scores: Vec::new(),
            first_kept: None,
        }
    }

    /// Counts one record: its plan, or why it is rejected.
    fn record(&mut self, location: &Location, outcome: Result<&Plan, &RowError>) {
        let report = &mut self.report;
        report.rows += 1;
        match outcome {
            Ok(plan) => {
                report.ties += u64::from(plan.is_tie());
                let (c, r) = plan.scores();
                if let (Some(&c), Some(&r)) = (c.first(), r.first()) {
                    self.scores.push((c, r));
                }
            }
            Err(problem) => {
                *report.rejected.entry(problem.reason.as_str()).or_default() += 1;
                if report.first_rejected.len() < FIRST_REJECTED {
                    report.first_rejected.push(format!("{location}: {problem}"));
                }
            }
        }
    }

    /// Adds the tally of the records that came after this one's.
    fn merge(&mut self, later: Tally) {
        let (report, more) = (&mut self.report, later.report);
        report.rows += more.rows;
        report.ties += more.ties;
        for (reason, n) in more.rejected {
            *report.rejected.entry(reason).or_default() += n;
        }
        report.first_rejected.extend(more.first_rejected);
        report.first_rejected.truncate(FIRST_REJECTED);
        if report.example.is_none() {
            report.example = more.example;
        }
        self.first_kept = self.first_kept.or(later.first_kept);
        self.scores.extend(later.scores);
    }

    fn finish(mut self) -> Report {
        self.report.histogram = histogram(&self.scores);
        self.report
    }
}

/// Reads every JSON row as `relabel` would, without writing anything; once the layout is
/// known, rows are judged in parallel (in the current rayon pool), a chunk at a time.
pub fn inspect(
    rows: impl Iterator<Item = Result<Row>>,
    spec: &Spec,
    names: &FieldNames,
) -> Result<Report> {
    let mut tally = Tally::new();
    let mut rows = rows;
    // Until a row shows the layout, rows are judged one by one.
    let resolved = loop {
        let Some(row) = rows.next() else {
            return Ok(tally.finish());
        };
        let row = row?;
        let text = String::from_utf8_lossy(&row.data);
        let report = &mut tally.report;
        if report.detection_error.is_none() {
            match detect(&text, names, spec.style) {
                Ok(Some(r)) => {
                    report.layout = Some(r.to_string());
                    tally.merge(judge(&[row], spec, &r));
                    break r;
                }
                Ok(None) => {}
                Err(e) => report.detection_error = Some(format!("{}: {e}", row.location)),
            }
        }
        // No layout yet: relabel would stop at this row, so it counts as rejected (why it
        // is no preference row, or the detection error that stops everything).
        match crate::json::object::Object::parse(&text) {
            Err(problem) => tally.record(&row.location, Err(&problem)),
            Ok(_) => tally.report.rows += 1,
        }
    };
    let workers = rayon::current_num_threads().max(1);
    loop {
        let mut chunk = Vec::new();
        let mut bytes = 0;
        while bytes < CHUNK_BYTES {
            let Some(row) = rows.next() else { break };
            let row = row?;
            bytes += row.data.len();
            chunk.push(row);
        }
        if chunk.is_empty() {
            return Ok(tally.finish());
        }
        let per_worker = chunk.len().div_ceil(workers);
        let tallies: Vec<Tally> = chunk
            .par_chunks(per_worker)
            .map(|rows| judge(rows, spec, &resolved))
            .collect();
        for t in tallies {
            tally.merge(t);
        }
    }
}

/// Judges JSON rows of a known layout.
fn judge(rows: &[Row], spec: &Spec, resolved: &Resolved) -> Tally {
    let mut tally = Tally::new();
    let relabeler = Relabeler::new(spec, resolved);
    let mut scratch = vec![Vec::new(); 3];
    for row in rows {
        let outcome = match crate::io::utf8(&row.data) {
            Ok(line) => relabeler.relabel(line, &mut scratch),
            Err(e) => Err(RowError::row(
                Reason::InvalidUtf8,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            )),
        };
        tally.record(&row.location, outcome.as_ref());
        if tally.report.example.is_none() && !scratch[0].is_empty() {
            let first = scratch[0].split(|&b| b == b'\n').next().unwrap_or_default();
            tally.report.example = Some(String::from_utf8_lossy(first).into_owned());
        }
        scratch.iter_mut().for_each(Vec::clear);
    }
    tally
}

/// Reads every record of a Parquet file as `relabel` would (through the Arrow applier, so
/// Parquet is judged as Parquet), without writing anything; row groups in parallel (in the
/// current rayon pool).
pub fn inspect_parquet(file: &RowGroups, spec: &Spec, names: &FieldNames) -> Result<Report> {
    let name = file.name();
    let mut tally = Tally::new();
    let resolved = match crate::arrow::detect(&file.schema(), names, spec.style) {
        Ok(r) => r,
        Err(e) => {
            tally.report.detection_error = Some(format!("{name}: {e}"));
            tally.report.rows = (0..file.len()).map(|rg| file.rows(rg)).sum();
            return Ok(tally.finish());
        }
    };
    tally.report.layout = Some(resolved.to_string());
    // Only the columns the rules read, when the rows are read as they are (no winner step, no
    // reshaping to another layout); the example row is then made again from every column.
    let roots: Option<Vec<usize>> = (resolved.winner.is_none() && resolved.reshape.is_none())
        .then(|| crate::arrow::roots(&file.schema(), &resolved.edited()));
    let tallies: Vec<Result<Tally>> = (0..file.len())
        .into_par_iter()
        .map(|rg| {
            let batches = file.batches(rg, roots.as_deref())?;
            judge_batches(batches, file.first_row(rg), name, spec, &resolved)
        })
        .collect();
    for t in tallies {
        tally.merge(t?);
    }
    if let Some(row) = tally.first_kept {
        tally.report.example = example_at(file, row, spec, &resolved)?;
    }
    Ok(tally.finish())
}

/// Judges Arrow batches of a known layout; `row` is the first one's index in the file. The
/// example is made when the batches hold every column.
fn judge_batches(
    batches: Batches,
    mut row: u64,
    name: &str,
    spec: &Spec,
    resolved: &Resolved,
) -> Result<Tally> {
    let mut tally = Tally::new();
    let arrow = |e: arrow_schema::ArrowError| Error::format(name, e);
    let file: std::sync::Arc<str> = name.into();
    for batch in batches {
        let batch = batch?;
        let relabeler = BatchRelabeler::new(spec, resolved, batch.schema()).map_err(arrow)?;
        let out = relabeler.plan(&batch).map_err(arrow)?;
        let mut bad = out.bad.iter().peekable();
        let mut plans = out.plans.iter().peekable();
        for i in 0..batch.num_rows() {
            let location = Location {
                file: std::sync::Arc::clone(&file),
                position: Position::Row(row + i as u64),
            };
            if let Some((_, problem)) = bad.next_if(|(j, _)| *j == i) {
                tally.record(&location, Err(problem));
            } else if let Some((_, plan)) = plans.next_if(|(j, _)| *j == i) {
                if tally.first_kept.is_none() && matches!(plan, Plan::Emit { .. }) {
                    tally.first_kept = Some(row + i as u64);
                }
                tally.record(&location, Ok(plan));
            }
        }
        row += batch.num_rows() as u64;
    }
    Ok(tally)
}

/// The goal-chosen row `relabel` makes of row `row` of the file, from every column.
fn example_at(
    file: &RowGroups,
    row: u64,
    spec: &Spec,
    resolved: &Resolved,
) -> Result<Option<String>> {
    let arrow = |e: arrow_schema::ArrowError| Error::format(file.name(), e);
    let rg = (0..file.len())
        .rfind(|&rg| file.first_row(rg) <= row)
        .unwrap_or(0);
    let mut at = file.first_row(rg);
    for batch in file.batches(rg, None)? {
        let batch = batch?;
        let rows = batch.num_rows() as u64;
        if row < at + rows {
            let one = batch.slice((row - at) as usize, 1);
            let relabeler = BatchRelabeler::new(spec, resolved, one.schema()).map_err(arrow)?;
            let out = relabeler.relabel(&one).map_err(arrow)?;
            let first = out.batches.first().and_then(|stream| stream.first());
            let Some(first) = first.filter(|b| b.num_rows() > 0) else {
                return Ok(None);
            };
            let line = crate::json::rows_of_batch(&first.slice(0, 1)).map_err(arrow)?;
            return Ok(Some(String::from_utf8_lossy(&line).trim_end().to_string()));
        }
        at += rows;
    }
    Ok(None)
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
    // About ten ranges with readable edges: whole numbers for whole scores, one decimal else.
    let integral = values.iter().all(|v| v.fract() == 0.0);
    let (width, bins) = if integral {
        let width = ((hi - lo + 1.0) / 10.0).ceil();
        (width, ((hi - lo + 1.0) / width).ceil() as usize)
    } else {
        ((hi - lo) / 10.0, 10)
    };
    let bin = |v: f64| (((v - lo) / width) as usize).min(bins - 1);
    (0..bins)
        .map(|i| {
            let from = lo + width * i as f64;
            let score = if integral {
                let to = (from + width - 1.0).min(hi);
                if to == from {
                    format_score(from)
                } else {
                    format!("{}-{}", format_score(from), format_score(to))
                }
            } else {
                format!("{:.1}-{:.1}", from, from + width)
            };
            Bin {
                score,
                chosen: scores.iter().filter(|s| bin(s.0) == i).count() as u64,
                rejected: scores.iter().filter(|s| bin(s.1) == i).count() as u64,
            }
        })
        .collect()
}

/// The example row for people: strings longer than `PREVIEW` characters cut, saying how much
/// was left out (`--json` keeps the whole row).
fn preview(row: &str) -> String {
    const PREVIEW: usize = 160;
    fn cut(value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) if s.chars().count() > PREVIEW => {
                let head: String = s.chars().take(PREVIEW).collect();
                let more = s.chars().count() - PREVIEW;
                Value::String(format!("{head}... ({more} more characters)"))
            }
            Value::Array(items) => Value::Array(items.into_iter().map(cut).collect()),
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, cut(v))).collect())
            }
            other => other,
        }
    }
    match serde_json::from_str::<serde_json::Value>(row) {
        // Rewritten only when something is cut: a short row stays as the data writes it.
        Ok(value) => {
            let cut = cut(value.clone());
            if cut == value {
                row.to_string()
            } else {
                cut.to_string()
            }
        }
        Err(_) => row.chars().take(PREVIEW * 4).collect(),
    }
}

impl Report {
    /// The error `relabel` would stop with on this input (under `--on-error fail`), if any:
    /// the detection error (a usage error) or the first rejected row (bad data).
    pub fn failure(&self) -> Option<crate::error::Error> {
        if let Some(e) = &self.detection_error {
            return Some(crate::error::Error::Usage(e.clone()));
        }
        let first = self.first_rejected.first()?;
        Some(crate::error::Error::WouldStop(first.clone()))
    }

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
        let outcome = if self.layout.is_none() {
            "nothing relabeled: no layout".to_string()
        } else {
            format!(
                "{} ties; {} would be rejected, {} relabeled into {} rows",
                self.ties,
                bad,
                self.rows - bad,
                2 * (self.rows - bad)
            )
        };
        line("rows", &format!("{} ({outcome})", self.rows));
        if !self.rejected.is_empty() {
            line("rejected", &crate::error::reason_counts(&self.rejected));
            for first in &self.first_rejected {
                line("", first);
            }
        }
        if !self.histogram.is_empty() {
            // Columns line up however long the bin labels are.
            let width = self
                .histogram
                .iter()
                .map(|b| b.score.len())
                .max()
                .unwrap_or(0)
                .max(12);
            out.push_str(&format!(
                "\n{:<width$} {:>8} {:>9}\n",
                "score", "chosen", "rejected"
            ));
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
                    "{:<width$} {:>8} {:>9}  {:<20} {}",
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
            out.push_str(&preview(example));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(scores: &[(f64, f64)]) -> Vec<String> {
        histogram(scores).into_iter().map(|b| b.score).collect()
    }

    #[test]
    fn histogram_bins_have_readable_edges() {
        // Whole scores 0..=24: ten ranges of 3, whole-number edges.
        let whole: Vec<(f64, f64)> = (0..25).map(|v| (f64::from(v), 0.0)).collect();
        assert_eq!(
            labels(&whole),
            ["0-2", "3-5", "6-8", "9-11", "12-14", "15-17", "18-20", "21-23", "24"]
        );
        let bins = histogram(&whole);
        assert_eq!(bins.iter().map(|b| b.chosen).sum::<u64>(), 25);
        assert_eq!(bins[0].rejected, 25);
        // Fractional scores: one decimal, never 3.6999999999999997.
        let fractional: Vec<(f64, f64)> =
            (0..20).map(|v| (1.0 + f64::from(v) * 0.45, 1.0)).collect();
        let got = labels(&fractional);
        assert_eq!(got.len(), 10);
        assert_eq!(got[0], "1.0-1.9");
        assert!(got.iter().all(|l| l.len() <= 9), "{got:?}");
        // Few distinct scores: one bin each.
        assert_eq!(labels(&[(8.0, 3.5), (8.0, 2.0)]), ["2", "3.5", "8"]);
    }

    #[test]
    fn the_preview_cuts_long_texts() {
        let long = "x".repeat(200);
        let row = format!(r#"{{"prompt": "{long}", "n": 1}}"#);
        assert_eq!(
            preview(&row),
            format!(
                r#"{{"prompt":"{}... (40 more characters)","n":1}}"#,
                "x".repeat(160)
            )
        );
    }
}
