//! The reward-augmented relabeling rules of Zhang et al. (arXiv 2410.08067), free of any file format.
//!
//! A pair (x, y_w, y_l, s_w, s_l) becomes up to three rows: the goal-s_w row (original roles),
//! the goal-s_l row (roles and score fields swapped) and, on request, the unconditioned original.
//! Everything here is pure: the JSONL and Parquet representations ask these functions what to
//! emit and where the goal goes, so every option behaves the same on both.

use std::fmt;

/// The paper's goal text; `{score}` is replaced by the formatted score.
pub const DEFAULT_TEMPLATE: &str = "You are an assistant that generates responses for the instruction while implicitly achieving the following target scores (on a scale of 1-10, where 1 is lowest and 10 is highest):\nOverall score: {score}.";

/// What separates a goal from the text it is put in front of.
pub const GOAL_SEPARATOR: &str = "\n\n";

/// Formats a score for the goal text: integral values as integers (`8.0` -> `8`), others in
/// shortest round-trip form (`7.5` -> `7.5`).
pub fn format_score(score: f64) -> String {
    if score == 0.0 {
        // Also covers -0.0, which would print as "-0".
        return "0".to_string();
    }
    // Rust's float Display is shortest round-trip and never uses an exponent; integral values
    // print without a fractional part.
    score.to_string()
}

/// A goal-text template with a `{score}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
}

impl Template {
    /// Makes a template; fails when the text has no `{score}` placeholder.
    pub fn new(text: impl Into<String>) -> Result<Template, String> {
        let text = text.into();
        if !text.contains("{score}") {
            return Err(format!(
                "the template must contain the placeholder {{score}}, got {text:?}"
            ));
        }
        Ok(Template { text })
    }

    /// Renders the goal text for one score.
    pub fn render(&self, score: f64) -> String {
        self.text.replace("{score}", &format_score(score))
    }
}

impl Default for Template {
    fn default() -> Template {
        Template {
            text: DEFAULT_TEMPLATE.to_string(),
        }
    }
}

/// Which output rows each input pair yields (`--goals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Goals {
    /// The goal-s_w and the goal-s_l rows (the paper).
    #[default]
    Both,
    /// Only the goal-s_w row, original roles.
    Chosen,
    /// Only the goal-s_l row, roles swapped.
    Rejected,
}

/// What to do with a pair whose two scores are equal (`--ties`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ties {
    /// Keep it: two contradictory rows with the same goal (the paper).
    #[default]
    Keep,
    /// Drop the pair.
    Drop,
}

/// The order of the output rows (`--order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Row by row: the variants of pair 0, then those of pair 1, ...
    #[default]
    Interleaved,
    /// Variant by variant: every pair's first variant, then every pair's second (the authors' order).
    Blocks,
}

/// How the goal is put into a prompt (`--style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// As a system message at the head of a message list.
    System,
    /// In front of the first message's content, or of the prompt text, followed by a blank line.
    Prefix,
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Style::System => "system",
            Style::Prefix => "prefix",
        })
    }
}

/// One kind of output row made from an input pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// The input pair as it was, without a goal (`--keep-original`).
    Original,
    /// Goal s_w, chosen stays chosen.
    Chosen,
    /// Goal s_l, chosen and rejected (and their scores) swapped.
    Rejected,
}

impl Half {
    /// Whether this row swaps the two responses and their scores.
    pub fn swapped(self) -> bool {
        self == Half::Rejected
    }
}

/// The options of a relabeling run, free of any command-line types.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// The goal text.
    pub template: Template,
    /// Which goal rows to emit.
    pub goals: Goals,
    /// Also emit the unconditioned pair.
    pub keep_original: bool,
    /// What to do with ties.
    pub ties: Ties,
    /// The order of the output rows.
    pub order: Order,
    /// Where the goal goes; `None` picks by layout (system for message lists, prefix for strings).
    pub style: Option<Style>,
}

impl Spec {
    /// The kinds of row each kept pair yields, in output order.
    pub fn halves(&self) -> Vec<Half> {
        let mut halves = Vec::with_capacity(3);
        if self.keep_original {
            halves.push(Half::Original);
        }
        if self.goals != Goals::Rejected {
            halves.push(Half::Chosen);
        }
        if self.goals != Goals::Chosen {
            halves.push(Half::Rejected);
        }
        halves
    }

    /// Whether a pair with these scores is emitted at all.
    pub fn keeps(&self, chosen: f64, rejected: f64) -> bool {
        !(self.ties == Ties::Drop && chosen == rejected)
    }

    /// The goal text of one output row, or `None` for the original row.
    pub fn goal(&self, half: Half, chosen: f64, rejected: f64) -> Option<String> {
        match half {
            Half::Original => None,
            Half::Chosen => Some(self.template.render(chosen)),
            Half::Rejected => Some(self.template.render(rejected)),
        }
    }
}

/// How a dataset stores its pairs; detected once per dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// HuggingFaceH4/ultrafeedback_binarized: a `prompt` string and full conversations in
    /// `chosen`/`rejected`.
    H4,
    /// TRL conversational with an explicit prompt: `prompt` is a message list, completions too.
    ConversationalExplicit,
    /// TRL conversational with an implicit prompt: no `prompt`, full conversations.
    ConversationalImplicit,
    /// TRL standard: `prompt`, `chosen` and `rejected` strings.
    Standard,
    /// TRL standard with an implicit prompt: `chosen`/`rejected` full texts.
    StandardImplicit,
}

impl Layout {
    /// Finds the layout from the JSON kinds of the three text fields.
    pub fn detect(prompt: Option<Kind>, responses: Kind) -> Result<Layout, String> {
        match (prompt, responses) {
            (Some(Kind::Text), Kind::Messages) => Ok(Layout::H4),
            (Some(Kind::Messages), Kind::Messages) => Ok(Layout::ConversationalExplicit),
            (None, Kind::Messages) => Ok(Layout::ConversationalImplicit),
            (Some(Kind::Text), Kind::Text) => Ok(Layout::Standard),
            (None, Kind::Text) => Ok(Layout::StandardImplicit),
            (Some(Kind::Messages), Kind::Text) => Err(
                "the prompt is a message list but the responses are strings; no known layout pairs them"
                    .to_string(),
            ),
        }
    }

    /// A short name, as printed in summaries and `--stats`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::H4 => "ultrafeedback_binarized",
            Layout::ConversationalExplicit => "conversational (explicit prompt)",
            Layout::ConversationalImplicit => "conversational (implicit prompt)",
            Layout::Standard => "standard (explicit prompt)",
            Layout::StandardImplicit => "standard (implicit prompt)",
        }
    }

    /// Whether this layout has a prompt field.
    pub fn has_prompt(self) -> bool {
        matches!(
            self,
            Layout::H4 | Layout::ConversationalExplicit | Layout::Standard
        )
    }

    /// The kind of the response fields.
    pub fn responses(self) -> Kind {
        match self {
            Layout::Standard | Layout::StandardImplicit => Kind::Text,
            _ => Kind::Messages,
        }
    }

    /// The kind of the prompt field, if any.
    pub fn prompt(self) -> Option<Kind> {
        match self {
            Layout::H4 | Layout::Standard => Some(Kind::Text),
            Layout::ConversationalExplicit => Some(Kind::Messages),
            _ => None,
        }
    }

    /// Where the goal goes in this layout.
    pub fn site(self) -> Site {
        match self {
            Layout::H4 | Layout::ConversationalImplicit => Site::ResponseLists,
            Layout::ConversationalExplicit => Site::PromptList,
            Layout::Standard => Site::PromptText,
            Layout::StandardImplicit => Site::ResponseTexts,
        }
    }

    /// The style used when none is asked for, or an error when the asked one can't apply.
    pub fn resolve_style(self, asked: Option<Style>) -> Result<Style, String> {
        match (self.site(), asked) {
            (Site::PromptText | Site::ResponseTexts, Some(Style::System)) => Err(format!(
                "--style system needs message lists, but this dataset's layout is {} (plain strings); use --style prefix",
                self.name()
            )),
            (Site::PromptText | Site::ResponseTexts, _) => Ok(Style::Prefix),
            (_, Some(style)) => Ok(style),
            (_, None) => Ok(Style::System),
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The shape of a text field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Text,
    /// A list of `{role, content}` messages.
    Messages,
}

/// Which fields receive the goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// The prompt message list (responses untouched).
    PromptList,
    /// The prompt string.
    PromptText,
    /// Both response message lists.
    ResponseLists,
    /// Both response strings.
    ResponseTexts,
}

impl Site {
    /// Whether the goal goes into the responses rather than the prompt.
    pub fn in_responses(self) -> bool {
        matches!(self, Site::ResponseLists | Site::ResponseTexts)
    }
}

/// What to do to a message list to put a goal in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListEdit {
    /// Insert a new system message at index 0.
    InsertSystem,
    /// Put goal + separator in front of the content of message 0.
    PrefixFirst,
}

/// Decides how a message list takes the goal: an existing system message absorbs it, never a
/// second one; otherwise the style decides.
pub fn list_edit(style: Style, first_is_system: bool) -> ListEdit {
    if first_is_system || style == Style::Prefix {
        ListEdit::PrefixFirst
    } else {
        ListEdit::InsertSystem
    }
}

/// Puts a goal in front of a text, as the prefix style does.
pub fn prefix(goal: &str, text: &str) -> String {
    let mut out = String::with_capacity(goal.len() + GOAL_SEPARATOR.len() + text.len());
    out.push_str(goal);
    out.push_str(GOAL_SEPARATOR);
    out.push_str(text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_print_as_integers_when_integral() {
        assert_eq!(format_score(8.0), "8");
        assert_eq!(format_score(7.5), "7.5");
        assert_eq!(format_score(-0.0), "0");
        assert_eq!(format_score(4.75), "4.75");
        assert_eq!(format_score(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_score(-3.0), "-3");
        assert_eq!(format_score(1e16), "10000000000000000");
    }

    #[test]
    fn default_template_renders_the_papers_text() {
        assert_eq!(
            Template::default().render(8.0),
            "You are an assistant that generates responses for the instruction while implicitly achieving the following target scores (on a scale of 1-10, where 1 is lowest and 10 is highest):\nOverall score: 8."
        );
    }

    #[test]
    fn template_needs_placeholder() {
        assert!(Template::new("Score: {score}").is_ok());
        assert_eq!(
            Template::new("no placeholder").unwrap_err(),
            "the template must contain the placeholder {score}, got \"no placeholder\""
        );
    }

    #[test]
    fn halves_follow_goals_and_keep_original() {
        let mut spec = Spec::default();
        assert_eq!(spec.halves(), [Half::Chosen, Half::Rejected]);
        spec.keep_original = true;
        spec.goals = Goals::Rejected;
        assert_eq!(spec.halves(), [Half::Original, Half::Rejected]);
        spec.goals = Goals::Chosen;
        assert_eq!(spec.halves(), [Half::Original, Half::Chosen]);
    }

    #[test]
    fn ties_are_kept_unless_dropped() {
        let mut spec = Spec::default();
        assert!(spec.keeps(8.0, 8.0));
        spec.ties = Ties::Drop;
        assert!(!spec.keeps(8.0, 8.0));
        assert!(spec.keeps(8.0, 7.0));
    }

    #[test]
    fn layouts_detect_and_place_goals() {
        use Kind::*;
        assert_eq!(Layout::detect(Some(Text), Messages), Ok(Layout::H4));
        assert_eq!(
            Layout::detect(Some(Messages), Messages),
            Ok(Layout::ConversationalExplicit)
        );
        assert_eq!(Layout::detect(None, Text), Ok(Layout::StandardImplicit));
        assert!(Layout::detect(Some(Messages), Text).is_err());
        assert_eq!(Layout::Standard.resolve_style(None), Ok(Style::Prefix));
        assert!(Layout::Standard.resolve_style(Some(Style::System)).is_err());
        assert_eq!(Layout::H4.resolve_style(None), Ok(Style::System));
        assert_eq!(list_edit(Style::System, true), ListEdit::PrefixFirst);
        assert_eq!(list_edit(Style::System, false), ListEdit::InsertSystem);
        assert_eq!(list_edit(Style::Prefix, false), ListEdit::PrefixFirst);
    }
}
