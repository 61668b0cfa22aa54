//! The plan of one record: from the facts a representation reads off a record, the whole
//! outcome, decided once for JSON and Arrow alike: its output records, in order, with the edits
//! each makes, or the one reason the record is rejected.
//!
//! The JSON applier (byte splicing) and the Arrow applier (column building) gather [`Facts`],
//! call [`Planner::plan`], and carry out what it says; neither decides anything itself. The order
//! in which a record is validated, and so which reason a record with several problems gets, is
//! defined here and nowhere else.

use crate::error::{Reason, RowError};
use crate::fields::Resolved;
use crate::relabel::{format_score, Half, Spec, Style, TextKind};
use crate::reshape::{Cond, Join, Outcome, Split, Target, Test, Winner};

/// A string value as errors show it: `string "eight"`, long ones cut.
pub fn describe_string(value: &str) -> String {
    let quoted = serde_json::to_string(value).expect("strings always serialize");
    if quoted.chars().count() <= 40 {
        format!("string {quoted}")
    } else {
        let head: String = quoted.chars().take(37).collect();
        format!("string {head}...")
    }
}

/// The problem of a field with no value: absent and null are one case.
const MISSING: &str = "missing or null";

/// What a representation found in one record's text field (prompt, chosen or rejected).
#[derive(Debug, Clone, PartialEq)]
pub enum TextFact {
    /// The field is absent or null (Arrow and Parquet, and so `datasets`, can't tell the two
    /// apart, so the rules don't either).
    Missing,
    /// The field holds neither a string nor a list: what it holds (`number 3`, `an object`).
    Other(String),
    /// A string.
    Text,
    /// A list, read as messages.
    Messages(ListFact),
}

/// What a representation found in a message list.
#[derive(Debug, Clone, PartialEq)]
pub enum ListFact {
    /// No messages.
    Empty,
    /// Message `.0` is not an object; `.1` says what it is (`null`, `string "hi"`).
    NotAnObject(usize, String),
    /// Message `.0` has no string `role`; `.1` says what it has instead (`None`: no role, or a
    /// null one).
    BadRole(usize, Option<String>),
    /// Every message has a role (a message's `content` may be null or absent: tool calls).
    Messages {
        /// Whether message 0 is a system message.
        first_is_system: bool,
        /// Whether message 0's content is a string (a goal can be put in front of it).
        first_content_is_text: bool,
        /// Whether message 0's content is a list of typed parts (`[{"type": "text", ...}]`),
        /// multimodal messages' shape; a system message added then has that shape too.
        parts: bool,
        /// Whether message 0's content parts have a text part (`{"type": "text", "text": ...}`)
        /// the goal can be put in front of.
        first_text_part: bool,
        /// How many messages.
        len: usize,
    },
}

/// What a representation found in a score field.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreFact {
    /// The field is absent or null.
    Missing,
    /// Not a number: what it is instead (`string "eight"`).
    Other(String),
    /// A number written past a 64-bit float's range (JSON's `1e999`), as written.
    OutOfRange(String),
    /// A number (possibly not finite: Arrow's NaN or infinity).
    Number(f64),
}

/// Everything the rules need to know of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The chosen response.
    pub chosen: TextFact,
    /// The rejected response.
    pub rejected: TextFact,
    /// The prompt, in layouts that have one.
    pub prompt: Option<TextFact>,
    /// Per goal attribute, the chosen and the rejected score.
    pub scores: Vec<(ScoreFact, ScoreFact)>,
    /// Per field pair swapped but not stated in the goal ([`Resolved::also_swapped`]): whether
    /// both sides hold a value (present and not null), so the pair can be swapped.
    pub also_present: Vec<bool>,
    /// Which text fields already begin with the goal text ([`Planner::goal_marker`]): a string
    /// that starts with it, or a message list whose message 0's content does.
    pub led_by_goal: LedByGoal,
    /// The system prompt field, when the goal goes into one ([`Resolved::system`]).
    pub system: Option<SystemFact>,
}

/// What a representation found in a system prompt field.
#[derive(Debug, Clone, PartialEq)]
pub enum SystemFact {
    /// Absent or null.
    Missing,
    /// The empty string.
    Empty,
    /// A non-empty string.
    Text,
    /// Anything else: what it is.
    Other(String),
}

/// Which text fields already begin with the goal text: a record relabeled before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedByGoal {
    /// The prompt.
    pub prompt: bool,
    /// The chosen response.
    pub chosen: bool,
    /// The rejected response.
    pub rejected: bool,
    /// The system prompt field.
    pub system: bool,
}

/// Which of the two responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The chosen response (and its scores).
    Chosen,
    /// The rejected response.
    Rejected,
}

/// How a goal is put into one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// Goal + separator in front of a string.
    PrefixText,
    /// A new system message, holding the goal, at the head of a message list.
    InsertSystem,
    /// Goal + separator in front of message 0's content (a string).
    PrefixFirstContent,
    /// A new system message at the head of the list whose content is one text part holding the
    /// goal (`[{"type": "text", "text": goal}]`), as multimodal neighbours' are.
    InsertSystemParts,
    /// Goal + separator in front of the text of message 0's first text part.
    PrefixFirstTextPart,
    /// The goal alone, in place of a missing or empty string (a system prompt field).
    SetText,
}

/// How the goal goes into a system prompt field (`path`) that takes it instead of the prompt:
/// in front of its text, or alone where it is missing or empty; anything but a string is a bad
/// row.
pub fn system_insert(fact: &SystemFact, path: &str) -> Result<Insert, RowError> {
    match fact {
        SystemFact::Text => Ok(Insert::PrefixText),
        SystemFact::Missing | SystemFact::Empty => Ok(Insert::SetText),
        SystemFact::Other(what) => Err(RowError::field(
            Reason::WrongType,
            path,
            format!("expected a string (the system prompt), got {what}"),
        )),
    }
}

/// One output record: which fields come from where, and which take the goal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecord {
    /// The kind of output record.
    pub half: Half,
    /// Whose scores the goal states; `None` for the unconditioned original.
    pub goal: Option<Side>,
    /// Whether chosen and rejected, and every score pair, trade places.
    pub swap: bool,
    /// The edit of the prompt field, when it takes the goal.
    pub prompt: Option<Insert>,
    /// The edit of the output's chosen field (the input's rejected one when swapped).
    pub chosen: Option<Insert>,
    /// The edit of the output's rejected field.
    pub rejected: Option<Insert>,
    /// The edit of the system prompt field, when it takes the goal.
    pub system: Option<Insert>,
    /// Per [`Resolved::also_swapped`] pair: whether it trades places.
    pub swap_also: Vec<bool>,
}

/// The outcome of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The record becomes these output records, in this order.
    Emit {
        /// Whether its goal scores tie.
        tie: bool,
        /// The goal attributes' chosen values.
        chosen: Vec<f64>,
        /// The goal attributes' rejected values.
        rejected: Vec<f64>,
        /// The output records.
        records: Vec<OutRecord>,
    },
    /// A tie, dropped by `--ties drop`.
    DropTie {
        /// The goal attributes' values (equal on both sides).
        scores: Vec<f64>,
    },
}

impl Plan {
    /// Whether the record's goal scores tie.
    pub fn is_tie(&self) -> bool {
        match self {
            Plan::Emit { tie, .. } => *tie,
            Plan::DropTie { .. } => true,
        }
    }

    /// The goal attributes' (chosen, rejected) values.
    pub fn scores(&self) -> (&[f64], &[f64]) {
        match self {
            Plan::Emit {
                chosen, rejected, ..
            } => (chosen, rejected),
            Plan::DropTie { scores } => (scores, scores),
        }
    }

    /// The values a goal states for one side.
    pub fn goal_values(&self, side: Side) -> &[f64] {
        let (c, r) = self.scores();
        match side {
            Side::Chosen => c,
            Side::Rejected => r,
        }
    }
}

/// Which output records a pair yields, and how they are ordered in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrangement {
    /// One output record per pair: nothing to order.
    Single,
    /// A pair's records together, pair after pair.
    Interleaved,
    /// Every pair's first record, then every pair's second, ... (the authors' order): the later
    /// halves wait until the first is written.
    Blocks,
}

impl Arrangement {
    /// The arrangement a spec asks for.
    pub fn of(spec: &Spec) -> Arrangement {
        match (spec.halves().len(), spec.order) {
            (1, _) => Arrangement::Single,
            (_, crate::relabel::Order::Interleaved) => Arrangement::Interleaved,
            (_, crate::relabel::Order::Blocks) => Arrangement::Blocks,
        }
    }

    /// How many output streams a unit of work fills: one per half in blocks order, else one.
    pub fn streams(self, halves: usize) -> usize {
        match self {
            Arrangement::Blocks => halves,
            _ => 1,
        }
    }

    /// Whether each half goes to a stream of its own (and row groups can align with the input's).
    pub fn halves_apart(self) -> bool {
        self != Arrangement::Interleaved
    }
}

/// Plans records of one dataset.
#[derive(Debug, Clone)]
pub struct Planner<'s> {
    spec: &'s Spec,
    resolved: &'s Resolved,
    halves: Vec<Half>,
}

impl<'s> Planner<'s> {
    /// A planner for records of the resolved shape.
    pub fn new(spec: &'s Spec, resolved: &'s Resolved) -> Planner<'s> {
        Planner {
            spec,
            resolved,
            halves: spec.halves(),
        }
    }

    /// The spec planned with.
    pub fn spec(&self) -> &'s Spec {
        self.spec
    }

    /// The resolved fields planned with.
    pub fn resolved(&self) -> &'s Resolved {
        self.resolved
    }

    /// The output records each kept pair yields.
    pub fn halves(&self) -> &[Half] {
        &self.halves
    }

    /// The text every goal begins with (the template up to its first placeholder), by which a
    /// record relabeled before is recognized; `None` when the template begins with one.
    pub fn goal_marker(&self) -> Option<String> {
        self.spec.template.marker().filter(|m| !m.is_empty())
    }

    /// Decides one record's outcome. Validation order: the chosen, rejected and prompt texts
    /// (and, for ShareGPT, one message per response), then each attribute's chosen and rejected
    /// score, then whether the goal fits.
    pub fn plan(&self, facts: &Facts) -> Result<Plan, RowError> {
        let r = self.resolved;
        let responses = r.layout.responses();
        let layout = r.layout.name();
        check_text(&facts.chosen, r.chosen.as_str(), responses, layout)?;
        check_text(&facts.rejected, r.rejected.as_str(), responses, layout)?;
        if let (Some(path), Some(kind)) = (&r.prompt, r.layout.prompt()) {
            let fact = facts.prompt.as_ref().unwrap_or(&TextFact::Missing);
            check_text(fact, path.as_str(), kind, layout)?;
        }
        if r.reshape
            .as_ref()
            .is_some_and(|x| x.target == Target::ShareGpt)
        {
            for (fact, path) in [(&facts.chosen, &r.chosen), (&facts.rejected, &r.rejected)] {
                if let TextFact::Messages(ListFact::Messages { len, .. }) = fact {
                    single_message(*len, path.as_str())?;
                }
            }
        }
        let system_insert = match (&r.system, &facts.system) {
            (Some(path), Some(fact)) => Some(system_insert(fact, path.as_str())?),
            _ => None,
        };
        let mut chosen = Vec::with_capacity(r.scores.len());
        let mut rejected = Vec::with_capacity(r.scores.len());
        for ((c, rj), (cf, rf)) in r.scores.iter().zip(&facts.scores) {
            chosen.push(self.score(cf, c.as_str())?);
            rejected.push(self.score(rf, rj.as_str())?);
        }
        if let Some((hi, lo)) = r.fixed {
            chosen.push(hi);
            rejected.push(lo);
        }
        let tie = Spec::is_tie(&chosen, &rejected);
        let site = r.layout.site();
        let style = r.style;
        // Where the goal goes, per input field: decided before any output, so a record the goal
        // doesn't fit is rejected whole.
        let (prompt_insert, chosen_insert, rejected_insert) = if system_insert.is_some() {
            (None, None, None)
        } else if site.in_responses() {
            (
                None,
                Some(insert(&facts.chosen, style, r.chosen.as_str())?),
                Some(insert(&facts.rejected, style, r.rejected.as_str())?),
            )
        } else {
            let fact = facts.prompt.as_ref().unwrap_or(&TextFact::Missing);
            let path = r.prompt.as_ref().map_or("prompt", |p| p.as_str());
            (Some(insert(fact, style, path)?), None, None)
        };
        if !self.spec.force {
            let led = facts.led_by_goal;
            let already = if let Some(path) = &r.system {
                Some((led.system, path.as_str())).filter(|(l, _)| *l)
            } else if site.in_responses() {
                [
                    (led.chosen, r.chosen.as_str()),
                    (led.rejected, r.rejected.as_str()),
                ]
                .into_iter()
                .find(|(l, _)| *l)
            } else {
                let path = r.prompt.as_ref().map_or("prompt", |p| p.as_str());
                Some((led.prompt, path)).filter(|(l, _)| *l)
            };
            if let Some((_, path)) = already {
                return Err(RowError::field(
                    Reason::AlreadyConditioned,
                    path,
                    "already begins with the goal text (relabeled before?); --force relabels it again",
                ));
            }
        }
        if !self.spec.keeps(&chosen, &rejected) {
            return Ok(Plan::DropTie { scores: chosen });
        }
        let records = self
            .halves
            .iter()
            .map(|&half| {
                let swap = half.swapped();
                let goal = match half {
                    Half::Original => None,
                    Half::Chosen => Some(Side::Chosen),
                    Half::Rejected => Some(Side::Rejected),
                };
                let with_goal = |i: Option<Insert>| i.filter(|_| goal.is_some());
                let (to_chosen, to_rejected) = if swap {
                    (rejected_insert, chosen_insert)
                } else {
                    (chosen_insert, rejected_insert)
                };
                OutRecord {
                    half,
                    goal,
                    swap,
                    prompt: with_goal(prompt_insert),
                    chosen: with_goal(to_chosen),
                    rejected: with_goal(to_rejected),
                    system: with_goal(system_insert),
                    swap_also: facts.also_present.iter().map(|&p| p && swap).collect(),
                }
            })
            .collect();
        Ok(Plan::Emit {
            tie,
            chosen,
            rejected,
            records,
        })
    }

    /// A score's value, or why it can't be one.
    fn score(&self, fact: &ScoreFact, path: &str) -> Result<f64, RowError> {
        match fact {
            ScoreFact::Missing => Err(RowError::field(Reason::MissingField, path, MISSING)),
            ScoreFact::Other(what) => Err(RowError::field(
                Reason::BadScore,
                path,
                format!("expected a number, got {what}"),
            )),
            ScoreFact::OutOfRange(raw) => Err(RowError::field(
                Reason::BadScore,
                path,
                format!("{raw} is beyond a 64-bit float's range"),
            )),
            &ScoreFact::Number(v) if !v.is_finite() => Err(RowError::field(
                Reason::BadScore,
                path,
                format!("{v} is not a finite number"),
            )),
            &ScoreFact::Number(v) => {
                let template = &self.spec.template;
                if let Some(from) = template.outside(v) {
                    return Err(RowError::field(
                        Reason::BadScore,
                        path,
                        format!("{} is outside --from-scale {from}", format_score(v)),
                    ));
                }
                if let Some(mapped) = template.outside_scale(v) {
                    let shown = if mapped == v {
                        format_score(v)
                    } else {
                        format!("{} (mapped from {})", format_score(mapped), format_score(v))
                    };
                    return Err(RowError::field(
                        Reason::BadScore,
                        path,
                        format!(
                            "{shown} is outside the goal's scale {}; name the scores' scale with --scale or --from-scale, or --clamp them to its ends",
                            template.scale()
                        ),
                    ));
                }
                Ok(v)
            }
        }
    }
}

/// Checks a text field against the kind the layout wants; `layout` names the layout for the
/// message.
pub fn check_text(
    fact: &TextFact,
    path: &str,
    kind: TextKind,
    layout: &str,
) -> Result<(), RowError> {
    let want = match kind {
        TextKind::Text => "a string",
        TextKind::Messages => "a message list",
    };
    let wrong = |got: &str| {
        RowError::field(
            Reason::WrongType,
            path,
            format!("expected {want} (layout {layout}), got {got}"),
        )
    };
    match (fact, kind) {
        (TextFact::Missing, _) => Err(RowError::field(Reason::MissingField, path, MISSING)),
        (TextFact::Other(what), _) => Err(wrong(what)),
        (TextFact::Text, TextKind::Messages) => Err(wrong("a string")),
        (TextFact::Messages(_), TextKind::Text) => Err(wrong("an array")),
        (TextFact::Text, TextKind::Text) => Ok(()),
        (TextFact::Messages(list), TextKind::Messages) => check_list(list, path),
    }
}

/// Checks a message list: not empty, every message an object with a string role.
fn check_list(list: &ListFact, path: &str) -> Result<(), RowError> {
    let bad = |detail: String| RowError::field(Reason::BadMessage, path, detail);
    match list {
        ListFact::Empty => Err(bad("empty message list".to_string())),
        ListFact::NotAnObject(i, what) => Err(bad(format!(
            "message {i} is {what}, expected an object with \"role\" and \"content\""
        ))),
        ListFact::BadRole(i, None) => Err(bad(format!("message {i} has no \"role\""))),
        ListFact::BadRole(i, Some(what)) => {
            Err(bad(format!("message {i} has a \"role\" that is {what}")))
        }
        ListFact::Messages { .. } => Ok(()),
    }
}

/// What a representation found in the two conversations `--to` splits ([`Split`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SplitFacts {
    /// The chosen conversation.
    pub chosen: TextFact,
    /// The rejected conversation.
    pub rejected: TextFact,
    /// Their lengths, in messages (0 unless both are message lists).
    pub lens: (usize, usize),
    /// How many leading messages the two have in common (equal values).
    pub shared: usize,
}

/// `--to`: how many leading messages of a row's conversations become its prompt, or why none
/// can. The messages both share do (as TRL's `extract_prompt` takes them), but each response
/// keeps at least its last message.
pub fn split_at(facts: &SplitFacts, split: &Split, layout: &str) -> Result<usize, RowError> {
    check_text(&facts.chosen, &split.chosen, TextKind::Messages, layout)?;
    check_text(&facts.rejected, &split.rejected, TextKind::Messages, layout)?;
    let (c, r) = facts.lens;
    let at = facts.shared.min(c - 1).min(r - 1);
    if at == 0 {
        return Err(RowError::field(
            Reason::BadMessage,
            &split.chosen,
            format!(
                "shares no leading message with {:?}, so no prompt can be split off them (--to)",
                split.rejected
            ),
        ));
    }
    Ok(at)
}

/// `--to sharegpt`: each response must be one message, as ShareGPT's `chosen` and `rejected`
/// are; `len` is the response's number of messages.
pub fn single_message(len: usize, path: &str) -> Result<(), RowError> {
    if len == 1 {
        Ok(())
    } else {
        Err(RowError::field(
            Reason::BadMessage,
            path,
            format!("has {len} messages; ShareGPT holds one response message (--to sharegpt)"),
        ))
    }
}

/// `--to`: whether a row's input field (Alpaca's `input`) is appended to its prompt string: a
/// non-empty string is; absent, null or empty is not; anything else makes the row bad.
pub fn join_input(
    prompt: &TextFact,
    input: &TextFact,
    input_empty: bool,
    join: &Join,
    layout: &str,
) -> Result<bool, RowError> {
    check_text(prompt, &join.prompt, TextKind::Text, layout)?;
    match input {
        TextFact::Missing => Ok(false),
        TextFact::Text => Ok(!input_empty),
        TextFact::Messages(_) => Err(RowError::field(
            Reason::WrongType,
            &join.input,
            "expected a string, got an array",
        )),
        TextFact::Other(what) => Err(RowError::field(
            Reason::WrongType,
            &join.input,
            format!("expected a string, got {what}"),
        )),
    }
}

/// What a representation found in the field a winner condition reads.
#[derive(Debug, Clone, PartialEq)]
pub enum CondValue {
    /// Absent or null.
    Missing,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(String),
    /// Anything else: what it is (`an array`).
    Other(String),
}

/// Whether a winner condition holds for a row's value, or why it can't be told.
pub fn holds(cond: &Cond, value: &CondValue) -> Result<bool, RowError> {
    let wrong = |want: &str, got: String| {
        RowError::field(
            Reason::WrongType,
            &cond.path,
            format!("expected {want} ({}), got {got}", cond.text),
        )
    };
    let got = |value: &CondValue| match value {
        CondValue::Bool(b) => format!("boolean {b}"),
        CondValue::Number(v) => format!("number {}", format_score(*v)),
        CondValue::String(s) => describe_string(s),
        CondValue::Other(what) => what.clone(),
        CondValue::Missing => MISSING.to_string(),
    };
    match (value, &cond.test) {
        (CondValue::Missing, _) => Err(RowError::field(
            Reason::MissingField,
            &cond.path,
            format!("{MISSING}; it says which response wins ({})", cond.text),
        )),
        (CondValue::Other(_), Test::OneOf(_)) => Err(wrong("a value to compare", got(value))),
        (_, Test::OneOf(values)) if !values.iter().any(|v| same_kind(v, value)) => {
            let mut kinds: Vec<&str> = values.iter().map(kind_name).collect();
            kinds.dedup();
            Err(wrong(&kinds.join(" or "), got(value)))
        }
        (CondValue::Bool(b), Test::OneOf(values)) => {
            Ok(values.iter().any(|v| v.as_bool() == Some(*b)))
        }
        (CondValue::Number(x), Test::OneOf(values)) => {
            Ok(values.iter().any(|v| v.as_f64() == Some(*x)))
        }
        (CondValue::String(s), Test::OneOf(values)) => {
            Ok(values.iter().any(|v| v.as_str() == Some(s.as_str())))
        }
        (CondValue::Number(x), &Test::Below(n, or_equal)) => Ok(*x < n || (or_equal && *x == n)),
        (CondValue::Number(x), &Test::Above(n, or_equal)) => Ok(*x > n || (or_equal && *x == n)),
        (_, _) => Err(wrong("a number", got(value))),
    }
}

/// Whether a condition's value and a row's value are of one kind (boolean, number, string): a
/// number never matches the string "0", so a condition of another kind is an error, not a tie.
fn same_kind(v: &serde_json::Value, value: &CondValue) -> bool {
    matches!(
        (v, value),
        (serde_json::Value::Bool(_), CondValue::Bool(_))
            | (serde_json::Value::Number(_), CondValue::Number(_))
            | (serde_json::Value::String(_), CondValue::String(_))
    )
}

/// A condition value's kind, as errors name it.
fn kind_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        _ => "a value",
    }
}

/// Which response of a winner row wins, from the values its two conditions read; a row where
/// both hold is bad.
pub fn outcome(a: &CondValue, b: &CondValue, winner: &Winner) -> Result<Outcome, RowError> {
    match (holds(&winner.a_wins, a)?, holds(&winner.b_wins, b)?) {
        (true, true) => Err(RowError::field(
            Reason::TwoWinners,
            &winner.b_wins.path,
            format!(
                "both {} and {} hold: which response wins?",
                winner.a_wins.text, winner.b_wins.text
            ),
        )),
        (true, false) => Ok(Outcome::A),
        (false, true) => Ok(Outcome::B),
        (false, false) => Ok(Outcome::Tie),
    }
}

/// The kind of a field that may be either (an eval prompt), or why it is neither.
pub fn text_kind(fact: &TextFact, path: &str) -> Result<TextKind, RowError> {
    match fact {
        TextFact::Text => Ok(TextKind::Text),
        TextFact::Messages(_) => Ok(TextKind::Messages),
        TextFact::Missing => Err(RowError::field(Reason::MissingField, path, MISSING)),
        TextFact::Other(what) => Err(RowError::field(
            Reason::WrongType,
            path,
            format!("expected a string or a message list, got {what}"),
        )),
    }
}

/// How the goal goes into a field already checked with [`check_text`], or why it can't: an
/// existing system message absorbs it (never a second one); otherwise the style decides; a
/// prefix needs message 0's content to be a string.
pub fn insert(fact: &TextFact, style: Style, path: &str) -> Result<Insert, RowError> {
    match fact {
        TextFact::Messages(ListFact::Messages {
            first_is_system,
            first_content_is_text,
            parts,
            first_text_part,
            ..
        }) => {
            if !first_is_system && style == Style::System {
                Ok(if *parts {
                    Insert::InsertSystemParts
                } else {
                    Insert::InsertSystem
                })
            } else if *first_content_is_text {
                Ok(Insert::PrefixFirstContent)
            } else if *first_text_part {
                Ok(Insert::PrefixFirstTextPart)
            } else {
                Err(RowError::field(
                    Reason::BadMessage,
                    path,
                    "message 0 has neither string \"content\" nor a text part; the goal can only be put in front of text",
                ))
            }
        }
        _ => Ok(Insert::PrefixText),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{FieldNames, FieldPath, RowShape};
    use crate::relabel::{Goals, Ties};

    struct Standard;
    impl RowShape for Standard {
        fn kind(&self, path: &FieldPath) -> Option<Result<TextKind, String>> {
            ["prompt", "chosen", "rejected"]
                .contains(&path.as_str())
                .then_some(Ok(TextKind::Text))
        }
        fn has(&self, path: &FieldPath) -> bool {
            [
                "prompt",
                "chosen",
                "rejected",
                "score_chosen",
                "score_rejected",
            ]
            .contains(&path.as_str())
        }
        fn object_fields(&self) -> Vec<String> {
            Vec::new()
        }
        fn fields(&self) -> Vec<String> {
            [
                "prompt",
                "chosen",
                "rejected",
                "score_chosen",
                "score_rejected",
            ]
            .map(String::from)
            .to_vec()
        }
    }

    fn facts(c: ScoreFact, r: ScoreFact) -> Facts {
        Facts {
            chosen: TextFact::Text,
            rejected: TextFact::Text,
            prompt: Some(TextFact::Text),
            scores: vec![(c, r)],
            also_present: Vec::new(),
            led_by_goal: LedByGoal::default(),
            system: None,
        }
    }

    #[test]
    fn a_pair_becomes_two_records_the_second_swapped() {
        let spec = Spec::default();
        let resolved = Resolved::detect(&Standard, &FieldNames::default(), None).unwrap();
        let plan = Planner::new(&spec, &resolved)
            .plan(&facts(ScoreFact::Number(8.0), ScoreFact::Number(3.0)))
            .unwrap();
        let Plan::Emit { tie, records, .. } = &plan else {
            panic!("{plan:?}")
        };
        assert!(!tie);
        assert_eq!(
            records,
            &[
                OutRecord {
                    half: Half::Chosen,
                    goal: Some(Side::Chosen),
                    swap: false,
                    prompt: Some(Insert::PrefixText),
                    chosen: None,
                    rejected: None,
                    system: None,
                    swap_also: vec![],
                },
                OutRecord {
                    half: Half::Rejected,
                    goal: Some(Side::Rejected),
                    swap: true,
                    prompt: Some(Insert::PrefixText),
                    chosen: None,
                    rejected: None,
                    system: None,
                    swap_also: vec![],
                }
            ]
        );
        assert_eq!(plan.goal_values(Side::Rejected), [3.0]);
    }

    #[test]
    fn texts_are_checked_before_scores() {
        let spec = Spec::default();
        let resolved = Resolved::detect(&Standard, &FieldNames::default(), None).unwrap();
        let mut f = facts(ScoreFact::Missing, ScoreFact::Number(3.0));
        f.chosen = TextFact::Other("number 3".into());
        let err = Planner::new(&spec, &resolved).plan(&f).unwrap_err();
        assert_eq!(err.reason, Reason::WrongType);
        assert_eq!(
            err.to_string(),
            "field \"chosen\": expected a string (layout standard (explicit prompt)), got number 3"
        );
    }

    #[test]
    fn ties_drop_and_one_sided_goals() {
        let spec = Spec {
            ties: Ties::Drop,
            goals: Goals::Rejected,
            ..Spec::default()
        };
        let resolved = Resolved::detect(&Standard, &FieldNames::default(), None).unwrap();
        let planner = Planner::new(&spec, &resolved);
        let plan = planner
            .plan(&facts(ScoreFact::Number(5.0), ScoreFact::Number(5.0)))
            .unwrap();
        assert_eq!(plan, Plan::DropTie { scores: vec![5.0] });
        let err = planner
            .plan(&facts(
                ScoreFact::Number(f64::INFINITY),
                ScoreFact::Number(1.0),
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "field \"score_chosen\": inf is not a finite number"
        );
    }

    #[test]
    fn goals_go_where_lists_allow() {
        let list = |first_is_system, first_content_is_text| {
            TextFact::Messages(ListFact::Messages {
                first_is_system,
                first_content_is_text,
                parts: false,
                first_text_part: false,
                len: 2,
            })
        };
        assert_eq!(
            insert(&list(false, false), Style::System, "p"),
            Ok(Insert::InsertSystem)
        );
        assert_eq!(
            insert(&list(true, true), Style::System, "p"),
            Ok(Insert::PrefixFirstContent)
        );
        assert_eq!(
            insert(&list(false, true), Style::Prefix, "p"),
            Ok(Insert::PrefixFirstContent)
        );
        assert_eq!(
            insert(&list(true, false), Style::System, "p")
                .unwrap_err()
                .reason,
            Reason::BadMessage
        );
    }
}
