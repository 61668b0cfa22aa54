//! `--to`: writing the layout a trainer reads instead of the input's. A [`Reshape`] says how every
//! row is turned into the target layout before it is relabeled; the `fields` layer above decides
//! it from the dataset's fields, the `plan` layer decides each row's part of it, and the JSON and
//! Arrow appliers carry it out.

use std::fmt;

use crate::error::RowError;

/// A layout `--to` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// TRL's preference layouts: `prompt`, `chosen` and `rejected`; message lists become an
    /// explicit prompt (the messages both responses share, carrying the goal) and the responses'
    /// own turns; strings stay strings.
    Trl,
    /// LLaMA-Factory's ShareGPT preference layout: `conversations` of `{"from", "value"}`, the
    /// goal in the `system` field, `chosen`/`rejected` single `{"from": "gpt", ...}` messages.
    ShareGpt,
    /// OpenAI's preference fine-tuning layout (Together and Fireworks take it too):
    /// `input.messages` (the goal its system message), `preferred_output` and
    /// `non_preferred_output`, and no other field.
    OpenAi,
}

impl Target {
    /// Every target, in the order `--help` lists them.
    pub const ALL: &'static [Target] = &[Target::Trl, Target::ShareGpt, Target::OpenAi];

    /// The name `--to` takes.
    pub fn name(self) -> &'static str {
        match self {
            Target::Trl => "trl",
            Target::ShareGpt => "sharegpt",
            Target::OpenAi => "openai",
        }
    }

    /// Where a field of TRL's conversational layout comes from in rows of this layout, when it
    /// is read through it ([`Reshape::adapt`]).
    pub fn source_of(self, field: &str) -> Option<&'static str> {
        match (self, field) {
            (Target::ShareGpt, "prompt") => Some("conversations"),
            (Target::OpenAi, "prompt") => Some("input.messages"),
            (Target::OpenAi, "chosen") => Some("preferred_output"),
            (Target::OpenAi, "rejected") => Some("non_preferred_output"),
            _ => None,
        }
    }

    /// Whether rows are written with message lists whatever the input's text fields: string
    /// prompts become a user message (after a system message holding a `system` field), string
    /// responses an assistant message, so the goal is a system message.
    pub fn messages(self) -> bool {
        self != Target::Trl
    }

    /// The target called `name`.
    pub fn named(name: &str) -> Option<Target> {
        Target::ALL.iter().copied().find(|t| t.name() == name)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fields TRL refuses beside `prompt`, `chosen` and `rejected` (its `apply_chat_template`
/// takes each as another kind of example): dropped when writing `trl`.
pub const TRL_REFUSES: &[&str] = &["messages", "completion", "label"];

/// What separates an Alpaca-style instruction from its input when both become one prompt
/// (LLaMA-Factory joins them so).
pub const INPUT_SEPARATOR: &str = "\n";

/// How every row of a dataset becomes a row of the target layout, before it is relabeled. All
/// fields named here are top-level fields of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reshape {
    /// The layout written.
    pub target: Target,
    /// The input layout's name, for summaries.
    pub from: String,
    /// Full conversations split into an explicit prompt and the responses' own turns.
    pub split: Option<Split>,
    /// An input field appended to the prompt string (Alpaca's `input`), then dropped.
    pub join: Option<Join>,
    /// Fields left out of the output.
    pub drops: Vec<String>,
    /// Fields renamed, (input name, output name).
    pub renames: Vec<(String, String)>,
    /// String texts become message lists ([`Target::messages`]).
    pub to_messages: Option<ToMessages>,
    /// Rows of this layout (ShareGPT or OpenAI) are read as TRL's conversational layout first:
    /// ShareGPT's `system` field the prompt's system message, `conversations` the prompt,
    /// each one-message response a list; OpenAI's `input.messages` the prompt (the rest of
    /// `input` staying), `preferred_output` and `non_preferred_output` the responses.
    pub adapt: Option<Target>,
}

/// String texts as message lists: the prompt a user message, after a system message holding the
/// `system` field when the row has one; each response an assistant message. Field names are the
/// input's, before renames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToMessages {
    /// The prompt string; `None` when the prompt is a message list already (HelpSteer3's
    /// `context`) and only the responses become messages.
    pub prompt: Option<String>,
    /// The chosen response string.
    pub chosen: String,
    /// The rejected response string.
    pub rejected: String,
    /// A string field holding the system prompt (`system`), folded into the prompt list.
    pub system: Option<String>,
}

impl ToMessages {
    /// The string fields that become message lists, with the role of their message: the prompt
    /// (if a string) a user message, the responses assistant messages.
    pub fn texts(&self) -> Vec<(&str, &'static str)> {
        let prompt = self.prompt.as_deref().map(|p| (p, "user"));
        prompt
            .into_iter()
            .chain([
                (self.chosen.as_str(), "assistant"),
                (self.rejected.as_str(), "assistant"),
            ])
            .collect()
    }
}

/// How a role is called in ShareGPT's `from` (LLaMA-Factory's default tags); other roles keep
/// their names.
pub const SHAREGPT_ROLES: &[(&str, &str)] = &[
    ("user", "human"),
    ("assistant", "gpt"),
    ("system", "system"),
    ("tool", "observation"),
    ("function", "function_call"),
];

/// A role's ShareGPT tag.
pub fn sharegpt_role(role: &str) -> &str {
    SHAREGPT_ROLES
        .iter()
        .find(|(r, _)| *r == role)
        .map_or(role, |(_, tag)| tag)
}

/// Which way messages are renamed between TRL's `{"role", "content"}` and ShareGPT's
/// `{"from", "value"}`: the keys, and the role's name in the role key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retag {
    /// `{"role": "user", "content"}` becomes `{"from": "human", "value"}`.
    ToShareGpt,
    /// `{"from": "human", "value"}` becomes `{"role": "user", "content"}`.
    FromShareGpt,
}

impl Retag {
    /// The key holding the role in the messages renamed, and its new name.
    pub fn role_key(self) -> (&'static str, &'static str) {
        match self {
            Retag::ToShareGpt => ("role", "from"),
            Retag::FromShareGpt => ("from", "role"),
        }
    }

    /// The key holding the text in the messages renamed, and its new name.
    pub fn text_key(self) -> (&'static str, &'static str) {
        match self {
            Retag::ToShareGpt => ("content", "value"),
            Retag::FromShareGpt => ("value", "content"),
        }
    }

    /// A role's new name.
    pub fn role(self, role: &str) -> &str {
        match self {
            Retag::ToShareGpt => sharegpt_role(role),
            Retag::FromShareGpt => role_of_sharegpt(role),
        }
    }
}

/// The role of a ShareGPT tag.
pub fn role_of_sharegpt(tag: &str) -> &str {
    SHAREGPT_ROLES
        .iter()
        .find(|(_, t)| *t == tag)
        .map_or(tag, |(role, _)| role)
}

/// Conversations split at the messages both responses share: those become the prompt list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The input's prompt field, whose value the shared messages replace; `None` adds a `prompt`
    /// field in front of the others.
    pub prompt: Option<String>,
    /// The chosen conversation.
    pub chosen: String,
    /// The rejected conversation.
    pub rejected: String,
}

/// An input field joined onto the prompt string with [`INPUT_SEPARATOR`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// The prompt string (Alpaca's `instruction`).
    pub prompt: String,
    /// The field appended when it holds a non-empty string (Alpaca's `input`).
    pub input: String,
}

impl Reshape {
    /// Whether rows read as the rules read them (after [`Reshape::adapt`]) are rewritten before
    /// they are relabeled: fields split, joined, dropped, renamed or made message lists.
    pub fn changes_fields(&self) -> bool {
        self.split.is_some()
            || self.join.is_some()
            || !self.drops.is_empty()
            || !self.renames.is_empty()
            || self.to_messages.is_some()
    }

    /// The error of a reshaped row, naming the input's field where the output renamed it.
    pub fn blame_input(&self, mut error: RowError) -> RowError {
        if let Some(field) = &error.field {
            if let Some((from, _)) = self.renames.iter().find(|(_, to)| to == field) {
                error.field = Some(from.clone());
            } else if let Some(from) = self.adapt.and_then(|a| a.source_of(field)) {
                error.field = Some(from.to_string());
            }
        }
        error
    }

    /// The output name of an input field, `None` when it is dropped.
    pub fn output_name<'a>(&'a self, field: &'a str) -> Option<&'a str> {
        let system = self.to_messages.as_ref().and_then(|t| t.system.as_deref());
        if self.drops.iter().any(|d| d == field)
            || self.join.as_ref().is_some_and(|j| j.input == field)
            || system == Some(field)
        {
            return None;
        }
        Some(
            self.renames
                .iter()
                .find(|(from, _)| from == field)
                .map_or(field, |(_, to)| to.as_str()),
        )
    }
}

/// Two unordered responses and conditions saying which one wins (`--a`, `--b`, `--a-wins-when`,
/// `--b-wins-when`): each row becomes a `chosen`/`rejected` row before anything else, the winner
/// in the first response's place, the loser in the second's.
#[derive(Debug, Clone, PartialEq)]
pub struct Winner {
    /// The first response's field (top level).
    pub a: String,
    /// The second response's field (top level).
    pub b: String,
    /// When the first wins.
    pub a_wins: Cond,
    /// When the second wins.
    pub b_wins: Cond,
    /// Where the two responses' scores come from.
    pub scores: WinnerScores,
}

/// The scores of a winner-field row.
#[derive(Debug, Clone, PartialEq)]
pub enum WinnerScores {
    /// Read per response (`--a-score`, `--b-score`: top-level fields); they become
    /// `score_chosen`/`score_rejected` in their places, following their responses.
    Read(String, String),
    /// Given (`--fixed-scores HI,LO`): the winner HI, the loser LO, a tie their midpoint; added as
    /// `score_chosen`/`score_rejected` after the other fields.
    Fixed(f64, f64),
}

/// The output names of the fields a winner row rewrites.
pub const WINNER_FIELDS: [&str; 4] = ["chosen", "rejected", "score_chosen", "score_rejected"];

impl Winner {
    /// The input field each output field of [`WINNER_FIELDS`] comes from (`None`: made here).
    pub fn sources(&self) -> [Option<&str>; 4] {
        let (a_score, b_score) = match &self.scores {
            WinnerScores::Read(a, b) => (Some(a.as_str()), Some(b.as_str())),
            WinnerScores::Fixed(..) => (None, None),
        };
        [Some(&self.a), Some(&self.b), a_score, b_score]
    }

    /// The output name of an input field the winner step renames, if it does.
    pub fn renamed(&self, field: &str) -> Option<&'static str> {
        let sources = self.sources();
        (0..4)
            .find(|&i| sources[i] == Some(field))
            .map(|i| WINNER_FIELDS[i])
    }

    /// The error of a winner row, naming the input's field where the winner step renamed it:
    /// `chosen` is the second response's when they were swapped (it won).
    pub fn blame_input(&self, mut error: RowError, swapped: bool) -> RowError {
        let Some(field) = &error.field else {
            return error;
        };
        let Some(i) = WINNER_FIELDS.iter().position(|f| f == field) else {
            return error;
        };
        // chosen <-> rejected, score_chosen <-> score_rejected when the second won.
        let from = if swapped { i ^ 1 } else { i };
        if let Some(source) = self.sources()[from] {
            error.field = Some(source.to_string());
        }
        error
    }

    /// The (chosen, rejected) scores a row with given scores gets: the winner's first.
    pub fn fixed_scores(hi: f64, lo: f64, outcome: Outcome) -> (f64, f64) {
        match outcome {
            Outcome::Tie => {
                let mid = (hi + lo) / 2.0;
                (mid, mid)
            }
            _ => (hi, lo),
        }
    }
}

/// Which response of a winner row wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The first (`--a`): it becomes `chosen`.
    A,
    /// The second (`--b`): it becomes `chosen`, the first `rejected`.
    B,
    /// Neither condition holds.
    Tie,
}

/// A condition on one field: `PATH=V1,V2,...` (JSON values; a bare word is a string) or
/// `PATH<N`, `PATH>N`, `PATH<=N`, `PATH>=N`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    /// The field, a dotted path.
    pub path: String,
    /// What its value must be.
    pub test: Test,
    /// The condition as written.
    pub text: String,
}

/// What a condition's field must hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// One of these values (numbers compare as numbers).
    OneOf(Vec<serde_json::Value>),
    /// A number below N (`<`), or up to it (`<=`).
    Below(f64, bool),
    /// A number above N (`>`), or from it (`>=`).
    Above(f64, bool),
}

impl Cond {
    /// Parses `PATH=V1,...`, `PATH<N`, `PATH>N`, `PATH<=N` or `PATH>=N`; `Err` says what's wrong.
    pub fn parse(text: &str) -> Result<Cond, String> {
        let at = text
            .find(['=', '<', '>'])
            .ok_or_else(|| format!("{text:?}: write PATH=V1,V2,... or PATH<N (or >, <=, >=)"))?;
        let path = text[..at].trim();
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!(
                "{text:?}: the field path before {:?} is empty",
                &text[at..at + 1]
            ));
        }
        let rest = &text[at..];
        let number = |n: &str| {
            n.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{text:?}: {:?} is not a number", n.trim()))
        };
        let test = if let Some(n) = rest.strip_prefix("<=") {
            Test::Below(number(n)?, true)
        } else if let Some(n) = rest.strip_prefix(">=") {
            Test::Above(number(n)?, true)
        } else if let Some(n) = rest.strip_prefix('<') {
            Test::Below(number(n)?, false)
        } else if let Some(n) = rest.strip_prefix('>') {
            Test::Above(number(n)?, false)
        } else {
            let values = rest[1..]
                .split(',')
                .map(|v| {
                    let v = v.trim();
                    serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.into()))
                })
                .collect();
            Test::OneOf(values)
        };
        Ok(Cond {
            path: path.to_string(),
            test,
            text: text.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_values_and_comparisons() {
        let c = Cond::parse("label=0,2, tie").unwrap();
        assert_eq!(c.path, "label");
        assert_eq!(
            c.test,
            Test::OneOf(vec![
                0.into(),
                2.into(),
                serde_json::Value::String("tie".into())
            ])
        );
        assert_eq!(
            Cond::parse("m.p<=-0.5").unwrap().test,
            Test::Below(-0.5, true)
        );
        assert_eq!(Cond::parse("p>=1").unwrap().test, Test::Above(1.0, true));
        assert_eq!(Cond::parse("p>1").unwrap().test, Test::Above(1.0, false));
        assert_eq!(
            Cond::parse("=1").unwrap_err(),
            "\"=1\": the field path before \"=\" is empty"
        );
        assert_eq!(
            Cond::parse("p<inf").unwrap_err(),
            "\"p<inf\": \"inf\" is not a number"
        );
    }
}
