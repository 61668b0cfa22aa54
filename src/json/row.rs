//! Relabels one JSON row by splicing: the output is the input line with only the rewritten values
//! replaced, so every other byte (key order, spacing, escapes, float digits) stays as it was.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use serde_json::value::RawValue;

use crate::error::{Reason, RowError};
use crate::fields::{FieldNames, FieldPath, Resolved, RowShape};
use crate::json::object::{describe, lookup, span, Object};
use crate::relabel::{list_edit, Half, Kind, ListEdit, Spec, Style, Template, GOAL_SEPARATOR};

/// A parsed row seen through the [`RowShape`] detection needs.
struct Shape<'a>(Object<'a>);

impl RowShape for Shape<'_> {
    fn kind(&self, path: &FieldPath) -> Option<Result<Kind, String>> {
        match lookup(&self.0, path) {
            Ok(Some(raw)) => Some(kind_of(raw.get())),
            Ok(None) => None,
            Err(e) => Some(Err(e.to_string())),
        }
    }

    fn has(&self, path: &FieldPath) -> bool {
        matches!(lookup(&self.0, path), Ok(Some(_)))
    }

    fn object_fields(&self) -> Vec<String> {
        self.0
            .entries()
            .filter(|(_, v)| v.get().starts_with('{'))
            .map(|(k, _)| k.to_string())
            .collect()
    }
}

/// The kind of a raw JSON value: a string, a list, or (as an error) what it is instead.
pub(crate) fn kind_of(raw: &str) -> Result<Kind, String> {
    match raw.as_bytes().first() {
        Some(b'"') => Ok(Kind::Text),
        Some(b'[') => Ok(Kind::Messages),
        _ => Err(describe(raw)),
    }
}

/// Detects the dataset's shape from one line: `Ok(None)` when the line is not a JSON object (the
/// next one is tried), `Err` when it is a row but the dataset or options can't work.
pub fn detect(
    line: &str,
    names: &FieldNames,
    style: Option<Style>,
) -> Result<Option<Resolved>, String> {
    match Object::parse(line) {
        Ok(object) => Resolved::detect(&Shape(object), names, style).map(Some),
        Err(_) => Ok(None),
    }
}

/// What became of one input row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Relabeled; `tie` when both scores were equal.
    Emitted {
        /// Whether the two scores were equal.
        tie: bool,
    },
    /// A tie dropped by `--ties drop`.
    DroppedTie,
}

/// Relabels JSON rows of one dataset.
#[derive(Debug)]
pub struct Relabeler<'s> {
    spec: &'s Spec,
    resolved: &'s Resolved,
    halves: Vec<Half>,
    /// Goal texts made so far, JSON-escaped, by the scores they state: scores take few distinct
    /// values, and rendering each row's goal anew was a third of the work.
    goals: std::cell::RefCell<GoalCache>,
}

/// Escaped goal texts by the scores they state (as bits).
type GoalCache = HashMap<Vec<u64>, std::rc::Rc<str>>;

/// A text field of the row: its raw JSON and where it sits in the line.
pub(crate) struct Text<'a> {
    raw: &'a str,
    pub(crate) span: Range<usize>,
    list: Option<List<'a>>,
}

impl Text<'_> {
    /// Whether the goal can go in: a message list needs a string content in message 0 unless a
    /// system message is inserted.
    pub(crate) fn takes_goal(&self, style: Style) -> bool {
        match &self.list {
            Some(list) => {
                list_edit(style, list.first_is_system) == ListEdit::InsertSystem
                    || list.first_content.is_some()
            }
            None => true,
        }
    }
}

/// What the relabeler needs to know of a message list.
struct List<'a> {
    /// Whether message 0 is a system message.
    first_is_system: bool,
    /// Message 0's content, when it is a string, relative to the list's raw text.
    first_content: Option<Range<usize>>,
    /// Where message 0 starts, relative to the list's raw text.
    first_start: usize,
    /// Whether messages write `content` before `role` (H4 does).
    content_first: bool,
    /// The separator between items, as the data writes it (`, ` or `,`).
    item_sep: Cow<'a, str>,
    /// The separator between a key and its value (`: ` or `:`).
    key_sep: &'static str,
}

impl<'s> Relabeler<'s> {
    /// Makes a relabeler for rows of the resolved shape.
    pub fn new(spec: &'s Spec, resolved: &'s Resolved) -> Relabeler<'s> {
        Relabeler {
            spec,
            resolved,
            halves: spec.halves(),
            goals: Default::default(),
        }
    }

    /// The goal attributes' (chosen, rejected) values of a row, as `relabel` reads them.
    pub fn scores(&self, line: &str) -> Result<(Vec<f64>, Vec<f64>), RowError> {
        let object = Object::parse(line.trim_end())?;
        let mut chosen = Vec::new();
        let mut rejected = Vec::new();
        for (c, r) in &self.resolved.scores {
            chosen.push(score(&object, c, &self.spec.template)?.1);
            rejected.push(score(&object, r, &self.spec.template)?.1);
        }
        Ok((chosen, rejected))
    }

    /// The number of output rows each kept input row yields.
    pub fn rows_per_pair(&self) -> usize {
        self.halves.len()
    }

    /// Relabels one line (a JSON object, no newline). Output row `i` is appended, newline
    /// terminated, to `outs[i]`, or to `outs[0]` when only one buffer is given. Nothing is written
    /// when the row is bad.
    pub fn relabel(&self, line: &str, outs: &mut [Vec<u8>]) -> Result<Outcome, RowError> {
        // Only the end: trimming the start would shift the columns errors report.
        let line = line.trim_end();
        let object = Object::parse(line)?;
        let r = self.resolved;
        let responses = r.layout.responses();
        let chosen = self.text(line, &object, &r.chosen, responses)?;
        let rejected = self.text(line, &object, &r.rejected, responses)?;
        let prompt = match (&r.prompt, r.layout.prompt()) {
            (Some(path), Some(kind)) => Some(self.text(line, &object, path, kind)?),
            _ => None,
        };
        // One (raw, value) per attribute and side.
        let mut chosen_raw = Vec::with_capacity(r.scores.len());
        let mut rejected_raw = Vec::with_capacity(r.scores.len());
        let mut chosen_scores = Vec::with_capacity(r.scores.len());
        let mut rejected_scores = Vec::with_capacity(r.scores.len());
        for (c, rj) in &r.scores {
            let (raw, value) = score(&object, c, &self.spec.template)?;
            chosen_raw.push(raw);
            chosen_scores.push(value);
            let (raw, value) = score(&object, rj, &self.spec.template)?;
            rejected_raw.push(raw);
            rejected_scores.push(value);
        }
        // Fields swapped but not in the goal: swapped where both are present.
        for (c, rj) in &r.also_swapped {
            if let (Some(c), Some(rj)) = (lookup(&object, c)?, lookup(&object, rj)?) {
                chosen_raw.push(c.get());
                rejected_raw.push(rj.get());
            }
        }
        let tie = Spec::is_tie(&chosen_scores, &rejected_scores);
        if !self.spec.keeps(&chosen_scores, &rejected_scores) {
            return Ok(Outcome::DroppedTie);
        }

        let site = r.layout.site();
        let goal_fields: Vec<(&Text, &FieldPath)> = if site.in_responses() {
            vec![(&chosen, &r.chosen), (&rejected, &r.rejected)]
        } else {
            prompt.iter().zip(r.prompt.iter()).collect()
        };
        // Check up front that the goal fits, so a bad row writes nothing at all.
        for (text, path) in &goal_fields {
            if let Some(list) = &text.list {
                if list_edit(r.style, list.first_is_system) == ListEdit::PrefixFirst
                    && list.first_content.is_none()
                {
                    return Err(RowError::field(
                        Reason::BadMessage,
                        path.as_str(),
                        "message 0 has non-string \"content\"; the goal can only be put in front of a string",
                    ));
                }
            }
        }

        let single = outs.len() == 1;
        for (i, &half) in self.halves.iter().enumerate() {
            let goal = self.goal(half, &chosen_scores, &rejected_scores);
            let swapped = half.swapped();
            let mut edits: Vec<(Range<usize>, Cow<[u8]>)> = Vec::with_capacity(5);
            let (to_chosen, to_rejected) = if swapped {
                (&rejected, &chosen)
            } else {
                (&chosen, &rejected)
            };
            let response_goal = goal.as_deref().filter(|_| site.in_responses());
            if swapped || response_goal.is_some() {
                edits.push((chosen.span.clone(), self.put(to_chosen, response_goal)));
                edits.push((rejected.span.clone(), self.put(to_rejected, response_goal)));
            }
            if swapped {
                for (c, rj) in chosen_raw.iter().zip(&rejected_raw) {
                    edits.push((span(line, c), Cow::Borrowed(rj.as_bytes())));
                    edits.push((span(line, rj), Cow::Borrowed(c.as_bytes())));
                }
            }
            if let (Some(goal), Some(prompt)) = (&goal, &prompt) {
                if !site.in_responses() {
                    edits.push((prompt.span.clone(), self.put(prompt, Some(goal))));
                }
            }
            let out = &mut outs[if single { 0 } else { i }];
            splice(line, &mut edits, out);
        }
        Ok(Outcome::Emitted { tie })
    }

    fn text<'a>(
        &self,
        line: &'a str,
        object: &Object<'a>,
        path: &FieldPath,
        kind: Kind,
    ) -> Result<Text<'a>, RowError> {
        read_text(line, object, path, kind, &self.resolved.layout.to_string())
    }

    fn put<'a>(&self, text: &Text<'a>, goal: Option<&str>) -> Cow<'a, [u8]> {
        put_goal(text, goal, self.resolved.style)
    }

    /// The goal of one output row, JSON-escaped, or `None` for the original row.
    fn goal(&self, half: Half, chosen: &[f64], rejected: &[f64]) -> Option<std::rc::Rc<str>> {
        let values = Spec::goal_values(half, chosen, rejected)?;
        let key = values.iter().map(|v| v.to_bits()).collect();
        let mut goals = self.goals.borrow_mut();
        let goal = goals
            .entry(key)
            .or_insert_with(|| escape(&self.spec.template.render(values)).into());
        Some(std::rc::Rc::clone(goal))
    }
}

/// Finds a text field and checks its kind; message lists are validated message by message.
/// `layout` names what was expected, for the error message.
pub(crate) fn read_text<'a>(
    line: &'a str,
    object: &Object<'a>,
    path: &FieldPath,
    kind: Kind,
    layout: &str,
) -> Result<Text<'a>, RowError> {
    {
        let raw = lookup(object, path)?
            .ok_or_else(|| RowError::field(Reason::MissingField, path.as_str(), "missing"))?
            .get();
        let want = match kind {
            Kind::Text => "a string",
            Kind::Messages => "a message list",
        };
        if kind_of(raw) != Ok(kind) {
            return Err(RowError::field(
                Reason::WrongType,
                path.as_str(),
                format!("expected {want} (layout {layout}), got {}", describe(raw)),
            ));
        }
        let list = match kind {
            Kind::Text => None,
            Kind::Messages => {
                Some(read_list(raw).map_err(|e| RowError::field(e.0, path.as_str(), e.1))?)
            }
        };
        Ok(Text {
            raw,
            span: span(line, raw),
            list,
        })
    }
}

/// The bytes a text field gets: its own raw JSON, or that with the goal put in.
/// The text's raw JSON with the goal put in (`goal` is JSON-escaped already).
pub(crate) fn put_goal<'a>(text: &Text<'a>, goal: Option<&str>, style: Style) -> Cow<'a, [u8]> {
    {
        let Some(goal) = goal else {
            return Cow::Borrowed(text.raw.as_bytes());
        };
        let Some(list) = &text.list else {
            return Cow::Owned(prefix_string(text.raw, goal));
        };
        let raw = text.raw;
        let mut out = Vec::with_capacity(raw.len() + goal.len() + 64);
        match list_edit(style, list.first_is_system) {
            ListEdit::InsertSystem => {
                let (kv, sep) = (list.key_sep.as_bytes(), list.item_sep.as_bytes());
                let content: [&[u8]; 5] = [b"\"content\"", kv, b"\"", goal.as_bytes(), b"\""];
                let role: [&[u8]; 3] = [b"\"role\"", kv, b"\"system\""];
                let (first, second): (&[&[u8]], &[&[u8]]) = if list.content_first {
                    (&content, &role)
                } else {
                    (&role, &content)
                };
                out.extend_from_slice(b"[{");
                first.iter().for_each(|part| out.extend_from_slice(part));
                out.extend_from_slice(sep);
                second.iter().for_each(|part| out.extend_from_slice(part));
                out.extend_from_slice(b"}");
                out.extend_from_slice(sep);
                out.extend_from_slice(&raw.as_bytes()[list.first_start..]);
            }
            ListEdit::PrefixFirst => {
                let content = list
                    .first_content
                    .clone()
                    .expect("checked before any output");
                out.extend_from_slice(&raw.as_bytes()[..content.start]);
                out.extend_from_slice(&prefix_string(&raw[content.clone()], goal));
                out.extend_from_slice(&raw.as_bytes()[content.end..]);
            }
        }
        Cow::Owned(out)
    }
}

/// Reads a score; JSON numbers only, finite, and inside `--from-scale` when given.
fn score<'a>(
    object: &Object<'a>,
    path: &FieldPath,
    template: &Template,
) -> Result<(&'a str, f64), RowError> {
    let raw = lookup(object, path)?
        .ok_or_else(|| RowError::field(Reason::MissingField, path.as_str(), "missing"))?
        .get();
    let is_number = matches!(raw.as_bytes().first(), Some(b'-' | b'0'..=b'9'));
    let value = if is_number {
        raw.parse::<f64>().ok()
    } else {
        None
    };
    match value {
        Some(v) if v.is_finite() => match template.check(v) {
            Ok(()) => Ok((raw, v)),
            Err(e) => Err(RowError::field(Reason::BadScore, path.as_str(), e)),
        },
        Some(_) => Err(RowError::field(
            Reason::BadScore,
            path.as_str(),
            format!("number {raw} is out of range"),
        )),
        None => Err(RowError::field(
            Reason::BadScore,
            path.as_str(),
            format!("expected a number, got {}", describe(raw)),
        )),
    }
}

/// Validates a message list and notes what the edits need.
fn read_list(raw: &str) -> Result<List<'_>, (Reason, String)> {
    let items: Vec<&RawValue> =
        serde_json::from_str(raw).map_err(|e| (Reason::InvalidJson, e.to_string()))?;
    if items.is_empty() {
        return Err((Reason::BadMessage, "empty message list".to_string()));
    }
    let mut first = None;
    for (i, item) in items.iter().enumerate() {
        let text = item.get();
        if !text.starts_with('{') {
            return Err((
                Reason::BadMessage,
                format!(
                    "message {i} is {}, expected an object with \"role\" and \"content\"",
                    describe(text)
                ),
            ));
        }
        let message = Object::parse(text).map_err(|e| (e.reason, e.detail))?;
        let role = message.get("role").map(RawValue::get);
        if !role.is_some_and(|r| r.starts_with('"')) {
            let what = role.map_or("no \"role\"".to_string(), |r| {
                format!("a \"role\" that is {}", describe(r))
            });
            return Err((Reason::BadMessage, format!("message {i} has {what}")));
        }
        let Some(content) = message.get("content") else {
            return Err((
                Reason::BadMessage,
                format!("message {i} has no \"content\""),
            ));
        };
        if i == 0 {
            let content_first = message.position("content") < message.position("role");
            first = Some((role == Some("\"system\""), content.get(), content_first));
        }
    }
    let (first_is_system, content, content_first) = first.expect("list is not empty");
    let first_raw = items[0].get();
    let key_sep = if spaced_colon(first_raw) { ": " } else { ":" };
    let item_sep = match items.get(1) {
        Some(second) => {
            Cow::Borrowed(&raw[span(raw, first_raw).end..span(raw, second.get()).start])
        }
        None => Cow::Borrowed(if key_sep == ": " { ", " } else { "," }),
    };
    Ok(List {
        first_is_system,
        first_content: content.starts_with('"').then(|| span(raw, content)),
        first_start: span(raw, first_raw).start,
        content_first,
        item_sep,
        key_sep,
    })
}

/// Whether an object writes its first key as `"key": value` (with a space).
fn spaced_colon(object: &str) -> bool {
    let bytes = object.as_bytes();
    let Some(open) = bytes.iter().position(|&b| b == b'"') else {
        return true;
    };
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => break,
            _ => i += 1,
        }
    }
    bytes.get(i + 1) == Some(&b':') && bytes.get(i + 2) == Some(&b' ')
}

/// A JSON string with goal + separator put in front of its content, keeping the rest's escapes.
/// A JSON string (`raw`, quoted) with the escaped goal and the separator in front.
fn prefix_string(raw: &str, goal: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + goal.len() + 8);
    out.push(b'"');
    out.extend_from_slice(goal.as_bytes());
    out.extend_from_slice(escape(GOAL_SEPARATOR).as_bytes());
    out.extend_from_slice(&raw.as_bytes()[1..]);
    out
}

/// A string escaped for JSON, without the surrounding quotes.
pub(crate) fn escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).expect("strings always serialize");
    quoted[1..quoted.len() - 1].to_string()
}

/// Writes `line` with each edited range replaced, then a newline.
pub(crate) fn splice(line: &str, edits: &mut [(Range<usize>, Cow<[u8]>)], out: &mut Vec<u8>) {
    edits.sort_by_key(|(range, _)| range.start);
    let mut at = 0;
    for (range, bytes) in edits.iter() {
        out.extend_from_slice(&line.as_bytes()[at..range.start]);
        out.extend_from_slice(bytes);
        at = range.end;
    }
    out.extend_from_slice(&line.as_bytes()[at..]);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relabel::{Goals, Ties};

    fn resolved(line: &str, style: Option<Style>) -> Resolved {
        detect(line, &FieldNames::default(), style)
            .unwrap()
            .unwrap()
    }

    fn run(spec: &Spec, line: &str) -> String {
        let r = resolved(line, spec.style);
        let relabeler = Relabeler::new(spec, &r);
        let mut outs = vec![Vec::new()];
        relabeler.relabel(line, &mut outs).unwrap();
        String::from_utf8(outs.pop().unwrap()).unwrap()
    }

    fn short_spec() -> Spec {
        Spec {
            template: Template::new("S={score}").unwrap(),
            ..Spec::default()
        }
    }

    #[test]
    fn standard_strings_prefix_the_prompt_and_swap() {
        let line = r#"{"prompt": "Hi \u00e9", "chosen": "A", "rejected": "B", "score_chosen": 8.0, "score_rejected": 3.50}"#;
        assert_eq!(
            run(&short_spec(), line),
            concat!(
                r#"{"prompt": "S=8\n\nHi \u00e9", "chosen": "A", "rejected": "B", "score_chosen": 8.0, "score_rejected": 3.50}"#,
                "\n",
                r#"{"prompt": "S=3.5\n\nHi \u00e9", "chosen": "B", "rejected": "A", "score_chosen": 3.50, "score_rejected": 8.0}"#,
                "\n"
            )
        );
    }

    #[test]
    fn h4_gets_a_system_message_in_both_lists() {
        let line = r#"{"prompt": "q", "chosen": [{"content": "q", "role": "user"}, {"content": "A", "role": "assistant"}], "rejected": [{"content": "q", "role": "user"}, {"content": "B", "role": "assistant"}], "messages": [{"content": "q", "role": "user"}], "score_chosen": 9, "score_rejected": 2}"#;
        let out = run(&short_spec(), line);
        let rows: Vec<&str> = out.lines().collect();
        assert_eq!(
            rows[1],
            r#"{"prompt": "q", "chosen": [{"content": "S=2", "role": "system"}, {"content": "q", "role": "user"}, {"content": "B", "role": "assistant"}], "rejected": [{"content": "S=2", "role": "system"}, {"content": "q", "role": "user"}, {"content": "A", "role": "assistant"}], "messages": [{"content": "q", "role": "user"}], "score_chosen": 2, "score_rejected": 9}"#
        );
    }

    #[test]
    fn existing_system_message_absorbs_the_goal() {
        let line = r#"{"prompt":[{"role":"system","content":"Be brief."},{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"A"}],"rejected":[{"role":"assistant","content":"B"}],"chosen_score":1,"rejected_score":0.5}"#;
        let spec = Spec {
            goals: Goals::Chosen,
            ..short_spec()
        };
        assert_eq!(
            run(&spec, line),
            concat!(
                r#"{"prompt":[{"role":"system","content":"S=1\n\nBe brief."},{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"A"}],"rejected":[{"role":"assistant","content":"B"}],"chosen_score":1,"rejected_score":0.5}"#,
                "\n"
            )
        );
    }

    #[test]
    fn compact_lists_get_a_compact_system_message() {
        let line = r#"{"chosen":[{"role":"user","content":"q"}],"rejected":[{"role":"user","content":"q"}],"score_chosen":1,"score_rejected":1}"#;
        let spec = Spec {
            goals: Goals::Rejected,
            ties: Ties::Keep,
            ..short_spec()
        };
        assert_eq!(
            run(&spec, line),
            concat!(
                r#"{"chosen":[{"role":"system","content":"S=1"},{"role":"user","content":"q"}],"rejected":[{"role":"system","content":"S=1"},{"role":"user","content":"q"}],"score_chosen":1,"score_rejected":1}"#,
                "\n"
            )
        );
    }

    #[test]
    fn bad_rows_write_nothing() {
        let good = r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#;
        let spec = Spec::default();
        let r = resolved(good, None);
        let relabeler = Relabeler::new(&spec, &r);
        let mut outs = vec![Vec::new()];
        let bad = r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": "eight", "score_rejected": 3}"#;
        let err = relabeler.relabel(bad, &mut outs).unwrap_err();
        assert_eq!(
            err.to_string(),
            "field \"score_chosen\": expected a number, got string \"eight\""
        );
        assert!(outs[0].is_empty());
    }
}
