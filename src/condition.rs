//! Eval-time goals: the goal text put into prompt-only rows (AlpacaEval, MT-Bench, ...) with the
//! same template, style, scale and attributes as training, so the two prompts match exactly.

use std::borrow::Cow;

use serde::Serialize;

use crate::error::{Error, Reason, Result, RowError};
use crate::fields::FieldPath;
use crate::json::object::{lookup, Object};
use crate::json::row::{escape, put_goal, read_text, splice};
use crate::plan::{check_text, insert, text_kind};
use crate::relabel::{resolve_style, Style, Template};
use crate::rows::Row;

/// The goal value asked for (`--target`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetScore {
    /// The top of the scale (what the paper asks for at inference).
    Max,
    /// A given value on the goal's scale.
    Value(f64),
}

/// How prompts are conditioned.
#[derive(Debug, Clone)]
pub struct ConditionSpec {
    /// The goal text (its `--from-scale` is not applied: targets are on the goal's scale).
    pub template: Template,
    /// Where the goal goes in message lists; strings always take a prefix.
    pub style: Option<Style>,
    /// The prompt field; by default `prompt`, else `instruction`.
    pub prompt: Option<FieldPath>,
    /// The goal value.
    pub target: TargetScore,
}

/// What `condition` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConditionSummary {
    /// Rows conditioned.
    pub rows: u64,
    /// The prompt field used.
    pub prompt: String,
}

/// Puts the goal into every row's prompt, writing each row through `emit`.
pub fn condition(
    rows: impl Iterator<Item = Result<Row>>,
    spec: &ConditionSpec,
    mut emit: impl FnMut(&[u8]) -> Result<()>,
) -> Result<ConditionSummary> {
    let value = match spec.target {
        TargetScore::Max => spec.template.scale().hi,
        TargetScore::Value(v) => v,
    };
    let goal = escape(
        &spec
            .template
            .clone()
            .with_from_scale(None)
            .render(&vec![value; spec.template.attributes()]),
    );
    let mut summary = ConditionSummary::default();
    let mut prompt_path: Option<FieldPath> = spec.prompt.clone();
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        let fail = |problem: RowError| Error::Row {
            location: row.location.clone(),
            problem,
        };
        let line = std::str::from_utf8(&row.data)
            .map_err(|e| {
                fail(RowError::row(
                    Reason::InvalidUtf8,
                    format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                ))
            })?
            .trim_end();
        let object = Object::parse(line).map_err(fail)?;
        let path = match &prompt_path {
            Some(p) => p.clone(),
            None => {
                let found = ["prompt", "instruction"]
                    .iter()
                    .map(|k| FieldPath::parse(k).expect("valid"))
                    .find(|p| matches!(lookup(&object, p), Ok(Some(_))))
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "{}: no \"prompt\" or \"instruction\" field; name it with --prompt PATH",
                            row.location
                        ))
                    })?;
                prompt_path = Some(found.clone());
                found
            }
        };
        // The same rules as relabel's: the field's kind, the style it takes, whether the goal
        // fits.
        let (fact, text) = read_text(line, &object, &path).map_err(fail)?;
        let kind = text_kind(&fact, path.as_str()).map_err(fail)?;
        let style = resolve_style(kind, spec.style, &format!("field {:?}", path.as_str()))
            .map_err(Error::Usage)?;
        check_text(&fact, path.as_str(), kind, "prompt-only").map_err(fail)?;
        let insert = insert(&fact, style, path.as_str()).map_err(fail)?;
        let text = text.expect("a checked text is found");
        let mut edits: Vec<(std::ops::Range<usize>, Cow<[u8]>)> =
            vec![(text.span.clone(), put_goal(&text, Some(insert), &goal))];
        out.clear();
        splice(line, &mut edits, &mut out);
        emit(&out)?;
        summary.rows += 1;
    }
    summary.prompt = prompt_path.map(|p| p.to_string()).unwrap_or_default();
    Ok(summary)
}
