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
}

impl Target {
    /// Every target, in the order `--help` lists them.
    pub const ALL: &'static [Target] = &[Target::Trl];

    /// The name `--to` takes.
    pub fn name(self) -> &'static str {
        match self {
            Target::Trl => "trl",
        }
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
    /// Whether the output has another schema than the input: fields dropped, renamed or of
    /// another kind.
    pub fn changes_fields(&self) -> bool {
        self.split.is_some()
            || self.join.is_some()
            || !self.drops.is_empty()
            || !self.renames.is_empty()
    }

    /// The error of a reshaped row, naming the input's field where the output renamed it.
    pub fn blame_input(&self, mut error: RowError) -> RowError {
        if let Some(field) = &error.field {
            if let Some((from, _)) = self.renames.iter().find(|(_, to)| to == field) {
                error.field = Some(from.clone());
            }
        }
        error
    }

    /// The output name of an input field, `None` when it is dropped.
    pub fn output_name<'a>(&'a self, field: &'a str) -> Option<&'a str> {
        if self.drops.iter().any(|d| d == field)
            || self.join.as_ref().is_some_and(|j| j.input == field)
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
