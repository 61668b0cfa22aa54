//! The JSON applier: carries out each record's [`Plan`] by splicing, so the output is the input
//! line with only the rewritten values replaced, and every other byte (key order, spacing,
//! escapes, float digits) stays as it was. It reads [`Facts`] off a row and decides nothing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use crate::error::{RowError, SpecError};
use crate::fields::{FieldNames, FieldPath, ItemFields, Resolved, RowShape};
use crate::json::object::{
    describe, lookup, lookup_first, non_finite, spaced_colon, span, Object, Row,
};
use crate::json::text::{kind_of, read_text_with, ReadList, Text};
use crate::plan::{
    Arrangement, Facts, Insert, LedByGoal, OutRecord, Plan, Planner, ScoreFact, SystemFact,
};
use crate::relabel::{Layout, Spec, Style, TextKind};
use crate::reshape::Target;

/// A parsed row seen through the [`RowShape`] detection needs.
pub(crate) struct Shape<'o, 'a>(pub(crate) &'o Object<'a>);

impl RowShape for Shape<'_, '_> {
    fn kind(&self, path: &FieldPath) -> Option<Result<TextKind, String>> {
        match lookup_first(self.0, path) {
            Ok(Some(raw)) => Some(kind_of(raw)),
            Ok(None) => None,
            Err(e) => Some(Err(e.to_string())),
        }
    }

    fn has(&self, path: &FieldPath) -> bool {
        matches!(lookup_first(self.0, path), Ok(Some(_)))
    }

    fn object_fields(&self) -> Vec<String> {
        self.0
            .entries()
            .filter(|(_, v)| v.starts_with('{'))
            .map(|(k, _)| k.to_string())
            .collect()
    }

    fn numbers(&self) -> Vec<String> {
        numbers_of(self.0)
    }

    fn item_fields(&self, list: &FieldPath) -> Option<ItemFields> {
        let raw = lookup_first(self.0, list).ok()??;
        let first = *crate::json::object::items(raw).ok()?.first()?;
        let item = Object::parse(first).ok()?;
        Some(ItemFields {
            texts: item
                .entries()
                .filter(|(_, v)| v.starts_with('"'))
                .map(|(k, _)| k.to_string())
                .collect(),
            numbers: numbers_of(&item),
        })
    }

    fn fields(&self) -> Vec<String> {
        let mut fields = Vec::new();
        for (key, value) in self.0.entries() {
            fields.push(key.to_string());
            if value.starts_with('{') {
                if let Ok(inner) = Object::parse(value) {
                    fields.extend(inner.keys().map(|k| format!("{key}.{k}")));
                }
            }
        }
        fields
    }
}

/// An object's fields holding a number, in order.
fn numbers_of(object: &Object) -> Vec<String> {
    object
        .entries()
        .filter(|(_, v)| v.starts_with(|c: char| c == '-' || c.is_ascii_digit()))
        .map(|(k, _)| k.to_string())
        .collect()
}

/// Detects the dataset's shape from one line: `Ok(None)` when the line is not a JSON object (the
/// next one is tried), `Err` when it is a row but the dataset or options can't work.
pub fn detect(
    line: &str,
    names: &FieldNames,
    style: Option<Style>,
) -> Result<Option<Resolved>, SpecError> {
    match Object::parse(line) {
        Ok(object) => Resolved::detect(&Shape(&object), names, style).map(Some),
        Err(_) => Ok(None),
    }
}

/// Relabels JSON rows of one dataset.
#[derive(Debug)]
pub struct Relabeler<'s> {
    planner: Planner<'s>,
    arrangement: Arrangement,
    /// The text every goal begins with, JSON-escaped, to recognize rows relabeled before.
    marker: Option<String>,
    /// Goal texts made so far, JSON-escaped, by the scores they state: scores take few distinct
    /// values, and rendering each row's goal anew was a third of the work.
    goals: std::cell::RefCell<GoalCache>,
    /// The top-level keys of the message lists the rules read (chosen, rejected, then prompt),
    /// read with the row in one pass, and which of them each text is.
    list_keys: Vec<&'s str>,
    list_of: [Option<usize>; 3],
}

/// Escaped goal texts by the scores they state (as bits).
type GoalCache = HashMap<Vec<u64>, Rc<str>>;

/// A row's fields as the rules see them, with where each sits in the line.
struct Found<'a> {
    facts: Facts,
    chosen: Option<Text<'a>>,
    rejected: Option<Text<'a>>,
    prompt: Option<Text<'a>>,
    /// Per score pair (goal attributes, then pairs swapped alongside): the raw values, where
    /// both are present.
    scores: Vec<Option<(&'a str, &'a str)>>,
    /// The system prompt field's raw value, when the goal goes there and the row has it.
    system: Option<&'a str>,
}

impl<'s> Relabeler<'s> {
    /// Makes a relabeler for rows of the resolved shape.
    pub fn new(spec: &'s Spec, resolved: &'s Resolved) -> Relabeler<'s> {
        let planner = Planner::new(spec, resolved);
        // Message lists in the detected layout, at the top level of the row.
        let (responses, prompt) = match resolved.layout {
            Layout::H4 | Layout::ConversationalImplicit => (true, false),
            Layout::ConversationalExplicit => (true, true),
            Layout::ConversationText => (false, true),
            Layout::Standard | Layout::StandardImplicit => (false, false),
        };
        let texts = [
            Some(&resolved.chosen).filter(|_| responses),
            Some(&resolved.rejected).filter(|_| responses),
            resolved.prompt.as_ref().filter(|_| prompt),
        ];
        let mut list_keys = Vec::new();
        let mut list_of = [None; 3];
        for (which, path) in texts.iter().enumerate() {
            if let Some([key]) = path.map(|p| p.parts()) {
                if !list_keys.contains(&key.as_str()) {
                    list_of[which] = Some(list_keys.len());
                    list_keys.push(key.as_str());
                }
            }
        }
        Relabeler {
            marker: planner.goal_marker().map(|m| escape(&m)),
            planner,
            arrangement: Arrangement::of(spec),
            goals: Default::default(),
            list_keys,
            list_of,
        }
    }

    /// How many output buffers [`Relabeler::relabel`] fills: one per half in blocks order.
    pub fn streams(&self) -> usize {
        self.arrangement.streams(self.planner.halves().len())
    }

    /// The number of output rows each kept input row yields.
    pub fn rows_per_pair(&self) -> usize {
        self.planner.halves().len()
    }

    /// Relabels one line (a JSON object, no newline). Output rows are appended, newline
    /// terminated, to `outs` (one buffer per half in blocks order, see [`Relabeler::streams`],
    /// else one). Nothing is written when the row is bad.
    pub fn relabel(&self, line: &str, outs: &mut [Vec<u8>]) -> Result<Plan, RowError> {
        // Only the end: trimming the start would shift the columns errors report.
        let line = line.trim_end();
        let r = self.planner.resolved();
        let mut line = Cow::Borrowed(line);
        let mut swapped = false;
        if let Some(winner) = &r.winner {
            let (made, swap) = crate::json::reshape::winner(&line, winner)?;
            (line, swapped) = (Cow::Owned(made), swap);
        }
        let blame = |mut e: RowError| {
            if let Some(reshape) = &r.reshape {
                e = reshape.blame_input(e);
            }
            match &r.winner {
                Some(winner) => winner.blame_input(e, swapped),
                None => e,
            }
        };
        if let Some(via) = r.reshape.as_ref().and_then(|r| r.adapt) {
            line = Cow::Owned(crate::json::reshape::adapt(&line, via).map_err(blame)?);
        }
        if let Some(reshape) = r.reshape.as_ref().filter(|r| r.changes_fields()) {
            line = Cow::Owned(crate::json::reshape::reshape(&line, reshape).map_err(blame)?);
        }
        match r.reshape.as_ref().map(|r| r.target) {
            Some(target @ (Target::ShareGpt | Target::OpenAi)) => {
                let mut made: Vec<Vec<u8>> = vec![Vec::new(); outs.len()];
                let plan = self.relabel_line(&line, &mut made).map_err(blame)?;
                let mut written: Vec<Vec<u8>> = vec![Vec::new(); outs.len()];
                for (rows, out) in made.iter().zip(&mut written) {
                    let rows = std::str::from_utf8(rows).expect("relabeled from UTF-8");
                    for row in rows.lines() {
                        crate::json::reshape::emit(row, target, out).map_err(blame)?;
                    }
                }
                for (out, rows) in outs.iter_mut().zip(written) {
                    out.extend_from_slice(&rows);
                }
                Ok(plan)
            }
            _ => self.relabel_line(&line, outs).map_err(blame),
        }
    }

    /// Relabels one line of the layout the rules read.
    fn relabel_line(&self, line: &str, outs: &mut [Vec<u8>]) -> Result<Plan, RowError> {
        let row = match self.list_keys.is_empty() {
            true => None,
            false => Row::parse(line, &self.list_keys),
        };
        let (object, mut lists) = match row {
            Some(row) => (row.object, row.lists),
            // Anything unusual: the row read as before, which says what is wrong.
            None => (Object::parse(line)?, Vec::new()),
        };
        let found = self.find(line, &object, &mut lists)?;
        let plan = self.planner.plan(&found.facts)?;
        if let Plan::Emit { records, .. } = &plan {
            for (i, record) in records.iter().enumerate() {
                let out = match self.arrangement {
                    Arrangement::Blocks => &mut outs[i],
                    _ => &mut outs[0],
                };
                self.apply(line, &found, &plan, record, out);
            }
        }
        Ok(plan)
    }

    /// Reads the facts the rules need, and where each field is.
    fn find<'a>(
        &self,
        line: &'a str,
        object: &Object<'a>,
        lists: &mut [Option<ReadList<'a>>],
    ) -> Result<Found<'a>, RowError> {
        let r = self.planner.resolved();
        let mut read = |which: usize| {
            self.list_of[which]
                .and_then(|k| lists.get_mut(k))
                .and_then(Option::take)
        };
        let (chosen_fact, chosen) = read_text_with(line, object, &r.chosen, read(0))?;
        let (rejected_fact, rejected) = read_text_with(line, object, &r.rejected, read(1))?;
        let (prompt_fact, prompt) = match &r.prompt {
            Some(path) => {
                let (fact, text) = read_text_with(line, object, path, read(2))?;
                (Some(fact), text)
            }
            None => (None, None),
        };
        let mut scores = Vec::with_capacity(r.scores.len());
        let mut raws = Vec::with_capacity(r.scores.len() + r.also_swapped.len());
        for (c, rj) in &r.scores {
            let c = lookup(object, c)?;
            let rj = lookup(object, rj)?;
            scores.push((score_fact(c), score_fact(rj)));
            raws.push(c.zip(rj));
        }
        // The system prompt field, when the goal goes there: its raw value, if present.
        let system = match &r.system {
            Some(path) => Some(lookup(object, path)?),
            None => None,
        };
        let system_fact = system.map(system_fact);
        let system_led = match (system.flatten(), &self.marker) {
            (Some(raw), Some(marker)) if raw.starts_with('"') => {
                raw[1..].starts_with(marker.as_str())
            }
            _ => false,
        };
        let mut also_present = Vec::with_capacity(r.also_swapped.len());
        for (c, rj) in &r.also_swapped {
            let c = lookup(object, c)?;
            let rj = lookup(object, rj)?;
            let both = c.zip(rj).filter(|(c, rj)| *c != "null" && *rj != "null");
            also_present.push(both.is_some());
            raws.push(both);
        }
        Ok(Found {
            facts: Facts {
                led_by_goal: LedByGoal {
                    prompt: self.led_by_goal(prompt.as_ref()),
                    chosen: self.led_by_goal(chosen.as_ref()),
                    rejected: self.led_by_goal(rejected.as_ref()),
                    system: system_led,
                },
                chosen: chosen_fact,
                rejected: rejected_fact,
                prompt: prompt_fact,
                scores,
                also_present,
                system: system_fact,
            },
            chosen,
            rejected,
            prompt,
            scores: raws,
            system: system.flatten(),
        })
    }

    /// Whether a text already begins with the goal: a string, or message 0's string content.
    fn led_by_goal(&self, text: Option<&Text>) -> bool {
        let (Some(marker), Some(text)) = (&self.marker, text) else {
            return false;
        };
        let string = match &text.list {
            None => text.raw,
            Some(list) => match list
                .first_content
                .as_ref()
                .or(list.first_text_part.as_ref())
            {
                Some(range) => &text.raw[range.clone()],
                None => return false,
            },
        };
        string[1..].starts_with(marker.as_str())
    }

    /// Writes one output record: the line with the record's edits spliced in.
    fn apply(&self, line: &str, found: &Found, plan: &Plan, record: &OutRecord, out: &mut Vec<u8>) {
        let goal = record.goal.map(|side| self.goal(plan.goal_values(side)));
        let goal = goal.as_deref().unwrap_or("");
        let mut edits: Vec<(Range<usize>, Edit)> = Vec::with_capacity(6);
        if let (Some(chosen), Some(rejected)) = (&found.chosen, &found.rejected) {
            let (to_chosen, to_rejected) = if record.swap {
                (rejected, chosen)
            } else {
                (chosen, rejected)
            };
            if record.swap || record.chosen.is_some() {
                edits.push((chosen.span.clone(), Edit::Goal(to_chosen, record.chosen)));
            }
            if record.swap || record.rejected.is_some() {
                edits.push((
                    rejected.span.clone(),
                    Edit::Goal(to_rejected, record.rejected),
                ));
            }
        }
        let attributes = found.facts.scores.len();
        for (k, raws) in found.scores.iter().enumerate() {
            let swap = if k < attributes {
                record.swap
            } else {
                record.swap_also[k - attributes]
            };
            if let (true, Some((c, rj))) = (swap, raws) {
                edits.push((span(line, c), Edit::Bytes(Cow::Borrowed(rj.as_bytes()))));
                edits.push((span(line, rj), Edit::Bytes(Cow::Borrowed(c.as_bytes()))));
            }
        }
        if let (Some(insert), Some(prompt)) = (record.prompt, &found.prompt) {
            edits.push((prompt.span.clone(), Edit::Goal(prompt, Some(insert))));
        }
        if let Some(insert) = record.system {
            let resolved = self.planner.resolved();
            let system = resolved.system.as_ref().map_or("system", |p| p.as_str());
            edits.push(system_edit(line, system, found.system, insert, goal));
        }
        splice(line, &mut edits, goal, out);
    }

    /// The goal stating these values, JSON-escaped.
    fn goal(&self, values: &[f64]) -> Rc<str> {
        let key = values.iter().map(|v| v.to_bits()).collect();
        let mut goals = self.goals.borrow_mut();
        let goal = goals
            .entry(key)
            .or_insert_with(|| escape(&self.planner.spec().template.render(values)).into());
        Rc::clone(goal)
    }
}

/// A score field's fact: a number (JSON numbers only), what it is instead, or missing.
pub(crate) fn score_fact(raw: Option<&str>) -> ScoreFact {
    // NaN and the infinities some writers emit: numbers, but no goal (as Arrow's are).
    if let Some(value) = raw.and_then(non_finite) {
        return ScoreFact::Number(value);
    }
    match raw {
        None | Some("null") => ScoreFact::Missing,
        Some(raw) if matches!(raw.as_bytes().first(), Some(b'-' | b'0'..=b'9')) => {
            match raw.parse::<f64>() {
                // JSON has no infinity: a number that parses to one was written past the range.
                Ok(v) if v.is_infinite() => ScoreFact::OutOfRange(raw.to_string()),
                Ok(v) => ScoreFact::Number(v),
                Err(_) => ScoreFact::Other(describe(raw)),
            }
        }
        Some(raw) => ScoreFact::Other(describe(raw)),
    }
}

/// The edit that puts the goal (JSON-escaped) into the top-level system prompt field `name` of
/// `line`, whose raw value is `raw` (`None` when the row lacks it: it gets the field, last).
pub(crate) fn system_edit<'a>(
    line: &str,
    name: &str,
    raw: Option<&str>,
    insert: Insert,
    goal: &str,
) -> (Range<usize>, Edit<'a>) {
    let quoted = |text: &str| format!("\"{text}\"").into_bytes();
    match (insert, raw) {
        (Insert::PrefixText, Some(raw)) => {
            let mut prefixed = Vec::with_capacity(raw.len() + goal.len() + 8);
            prefix_string(raw, goal, &mut prefixed);
            (span(line, raw), Edit::Bytes(Cow::Owned(prefixed)))
        }
        (_, Some(raw)) => (span(line, raw), Edit::Bytes(Cow::Owned(quoted(goal)))),
        (_, None) => {
            let close = line.rfind('}').expect("an object");
            let key_sep = if spaced_colon(line) { ": " } else { ":" };
            let item_sep = if key_sep == ": " { ", " } else { "," };
            let mut entry = format!("{item_sep}\"{name}\"{key_sep}").into_bytes();
            entry.extend(quoted(goal));
            (close..close, Edit::Bytes(Cow::Owned(entry)))
        }
    }
}

/// The fact of a system prompt field's raw value (`None`: the row lacks it).
pub(crate) fn system_fact(raw: Option<&str>) -> SystemFact {
    match raw {
        None | Some("null") => SystemFact::Missing,
        Some("\"\"") => SystemFact::Empty,
        Some(raw) if raw.starts_with('"') => SystemFact::Text,
        Some(raw) => SystemFact::Other(describe(raw)),
    }
}

/// Writes the text's raw JSON to `out` with the goal put in as `insert` says (`goal` is
/// JSON-escaped already), or as it is.
fn put_goal(text: &Text, insert: Option<Insert>, goal: &str, out: &mut Vec<u8>) {
    let raw = text.raw;
    match (insert, &text.list) {
        (None, _) => out.extend_from_slice(raw.as_bytes()),
        (Some(Insert::SetText), _) => {
            out.push(b'"');
            out.extend_from_slice(goal.as_bytes());
            out.push(b'"');
        }
        (Some(Insert::PrefixText), _) | (Some(_), None) => prefix_string(raw, goal, out),
        (Some(Insert::InsertSystem), Some(list)) => {
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
        (Some(Insert::InsertSystemParts), Some(list)) => {
            let (kv, sep) = (list.key_sep.as_bytes(), list.item_sep.as_bytes());
            let part: [&[u8]; 9] = [
                b"[{\"type\"",
                kv,
                b"\"text\"",
                sep,
                b"\"text\"",
                kv,
                b"\"",
                goal.as_bytes(),
                b"\"}]",
            ];
            let mut content: Vec<u8> = [b"\"content\"".as_slice(), kv].concat();
            part.iter().for_each(|p| content.extend_from_slice(p));
            let role: Vec<u8> = [b"\"role\"".as_slice(), kv, b"\"system\""].concat();
            let (first, second) = if list.content_first {
                (&content, &role)
            } else {
                (&role, &content)
            };
            out.extend_from_slice(b"[{");
            out.extend_from_slice(first);
            out.extend_from_slice(sep);
            out.extend_from_slice(second);
            out.extend_from_slice(b"}");
            out.extend_from_slice(sep);
            out.extend_from_slice(&raw.as_bytes()[list.first_start..]);
        }
        (Some(Insert::PrefixFirstTextPart), Some(list)) => {
            // The plan chose this edit only where message 0 has a text part.
            let text = list
                .first_text_part
                .clone()
                .expect("the plan prefixes only text parts");
            out.extend_from_slice(&raw.as_bytes()[..text.start]);
            prefix_string(&raw[text.clone()], goal, out);
            out.extend_from_slice(&raw.as_bytes()[text.end..]);
        }
        (Some(Insert::PrefixFirstContent), Some(list)) => {
            // The plan chose this edit only where message 0's content is a string.
            let content = list
                .first_content
                .clone()
                .expect("the plan prefixes only string contents");
            out.extend_from_slice(&raw.as_bytes()[..content.start]);
            prefix_string(&raw[content.clone()], goal, out);
            out.extend_from_slice(&raw.as_bytes()[content.end..]);
        }
    }
}

/// A JSON string (`raw`, quoted) with the escaped goal and the separator in front.
fn prefix_string(raw: &str, goal: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(goal.as_bytes());
    out.extend_from_slice(GOAL_SEPARATOR_ESCAPED.as_bytes());
    out.extend_from_slice(&raw.as_bytes()[1..]);
}

/// [`crate::relabel::GOAL_SEPARATOR`] as it is written inside a JSON string.
const GOAL_SEPARATOR_ESCAPED: &str = "\\n\\n";

/// A string escaped for JSON, without the surrounding quotes.
pub(crate) fn escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).expect("strings always serialize");
    quoted[1..quoted.len() - 1].to_string()
}

/// What an edited range of a line becomes.
pub(crate) enum Edit<'a> {
    /// These bytes.
    Bytes(Cow<'a, [u8]>),
    /// A text with the goal put in as the insert says, written straight into the output.
    Goal(&'a Text<'a>, Option<Insert>),
}

/// Writes `line` with each edited range replaced, then a newline; `goal` (JSON-escaped) is what
/// [`Edit::Goal`] puts in.
pub(crate) fn splice(
    line: &str,
    edits: &mut [(Range<usize>, Edit)],
    goal: &str,
    out: &mut Vec<u8>,
) {
    edits.sort_by_key(|(range, _)| range.start);
    let mut at = 0;
    for (range, edit) in edits.iter() {
        out.extend_from_slice(&line.as_bytes()[at..range.start]);
        match edit {
            Edit::Bytes(bytes) => out.extend_from_slice(bytes),
            Edit::Goal(text, insert) => put_goal(text, *insert, goal, out),
        }
        at = range.end;
    }
    out.extend_from_slice(&line.as_bytes()[at..]);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relabel::{Goals, Template, Ties};

    #[test]
    fn the_goal_separator_is_written_escaped() {
        assert_eq!(
            GOAL_SEPARATOR_ESCAPED,
            escape(crate::relabel::GOAL_SEPARATOR)
        );
    }

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
        let line = r#"{"prompt":[{"role":"system","content":"Be brief."},{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"A"}],"rejected":[{"role":"assistant","content":"B"}],"chosen_score":1,"rejected_score":1.5}"#;
        let spec = Spec {
            goals: Goals::Chosen,
            ..short_spec()
        };
        assert_eq!(
            run(&spec, line),
            concat!(
                r#"{"prompt":[{"role":"system","content":"S=1\n\nBe brief."},{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"A"}],"rejected":[{"role":"assistant","content":"B"}],"chosen_score":1,"rejected_score":1.5}"#,
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
