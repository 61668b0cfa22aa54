//! The reward-augmented relabeling rules of Zhang et al. (arXiv 2410.08067), free of any file format.
//!
//! A pair (x, y_w, y_l, s_w, s_l) becomes up to three rows: the goal-s_w row (original roles),
//! the goal-s_l row (roles and score fields swapped) and, on request, the unconditioned original.
//! Everything here is pure: the JSONL and Parquet representations ask these functions what to
//! emit and where the goal goes, so every option behaves the same on both.

use std::fmt;

use crate::error::SpecError;

/// The header of the paper's goal text; `{lo}` and `{hi}` are the scale's ends.
pub const DEFAULT_HEADER: &str = "You are an assistant that generates responses for the instruction while implicitly achieving the following target scores (on a scale of {lo}-{hi}, where {lo} is lowest and {hi} is highest):";

/// The paper's goal text for one overall score.
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

/// A closed score range, written `LO-HI` (`1-10`, `0-4`, `-1-1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// The lowest score.
    pub lo: f64,
    /// The highest score.
    pub hi: f64,
}

impl Default for Scale {
    fn default() -> Scale {
        Scale { lo: 1.0, hi: 10.0 }
    }
}

impl Scale {
    /// Parses `LO-HI`; the `-` between the two is the first one after a digit.
    pub fn parse(text: &str) -> Result<Scale, SpecError> {
        let scale = Scale::parse_raw(text)?;
        if scale.lo > scale.hi {
            return Err(SpecError::ScaleOrder {
                text: text.to_string(),
            });
        }
        Ok(scale)
    }

    /// Parses the scale raw scores are on (`--from-scale`): `HI-LO` too, for lower-is-better
    /// scores (a severity from 3 down to 0 is `3-0`: 3 maps to the goal's lowest).
    pub fn parse_raw(text: &str) -> Result<Scale, SpecError> {
        let bad = || SpecError::ScaleSyntax {
            text: text.to_string(),
        };
        let bytes = text.as_bytes();
        let cut = (1..bytes.len())
            .find(|&i| bytes[i] == b'-' && bytes[i - 1].is_ascii_digit())
            .ok_or_else(bad)?;
        let lo: f64 = text[..cut].trim().parse().map_err(|_| bad())?;
        let hi: f64 = text[cut + 1..].trim().parse().map_err(|_| bad())?;
        if !(lo.is_finite() && hi.is_finite() && lo != hi) {
            return Err(SpecError::ScaleOrder {
                text: text.to_string(),
            });
        }
        Ok(Scale { lo, hi })
    }

    /// Whether a value lies in the range (either way round).
    pub fn contains(&self, value: f64) -> bool {
        self.lo.min(self.hi) <= value && value <= self.lo.max(self.hi)
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", format_score(self.lo), format_score(self.hi))
    }
}

/// How goals are written: the template, the attribute names, the scale and the number format.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Custom text with `{score}`, `{scores}`, `{lo}`, `{hi}`; `None` is the paper's text.
    text: Option<String>,
    /// The display name of each attribute, in goal order (`Overall score` by default).
    names: Vec<String>,
    /// The scale the goal states.
    scale: Scale,
    /// The scale raw scores are on, mapped linearly onto `scale` (`--from-scale`).
    from: Option<Scale>,
    /// Decimals printed scores are rounded to (`--precision`).
    precision: Option<u32>,
    /// Scores outside the goal's scale are moved to its nearest end (`--clamp`), instead of
    /// making the row bad.
    clamp: bool,
}

impl Default for Template {
    fn default() -> Template {
        Template {
            text: None,
            names: vec!["Overall score".to_string()],
            scale: Scale::default(),
            from: None,
            precision: None,
            clamp: false,
        }
    }
}

/// The display name of an attribute: `helpfulness` -> `Helpfulness`, `overall_score` ->
/// `Overall score`.
pub fn display_name(name: &str) -> String {
    let spaced = name.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Template {
    /// A custom goal text; it must contain `{score}` or `{scores}`.
    pub fn new(text: impl Into<String>) -> Result<Template, SpecError> {
        let text = text.into();
        if !text.contains("{score}") && !text.contains("{scores}") {
            return Err(SpecError::NoPlaceholder { template: text });
        }
        Ok(Template {
            text: Some(text),
            ..Template::default()
        })
    }

    /// Conditions on these attributes (display names, in goal order) instead of one overall score.
    pub fn with_attributes(mut self, names: Vec<String>) -> Template {
        if !names.is_empty() {
            self.names = names;
        }
        self
    }

    /// States this scale in the goal.
    pub fn with_scale(mut self, scale: Scale) -> Template {
        self.scale = scale;
        self
    }

    /// Maps raw scores from this scale onto the goal's scale.
    pub fn with_from_scale(mut self, from: Option<Scale>) -> Template {
        self.from = from;
        self
    }

    /// Moves scores outside the goal's scale to its nearest end instead of refusing them.
    pub fn with_clamp(mut self, clamp: bool) -> Template {
        self.clamp = clamp;
        self
    }

    /// Rounds printed scores to this many decimals.
    pub fn with_precision(mut self, precision: Option<u32>) -> Template {
        self.precision = precision;
        self
    }

    /// The number of attributes a goal has.
    pub fn attributes(&self) -> usize {
        self.names.len()
    }

    /// The scale the goal states.
    pub fn scale(&self) -> Scale {
        self.scale
    }

    /// The `--from-scale` a raw score lies outside of, if any (such a score is a bad row).
    pub fn outside(&self, raw: f64) -> Option<Scale> {
        self.from.filter(|from| !from.contains(raw))
    }

    /// A raw score on the goal's scale: mapped from `--from-scale` when given, moved to the
    /// nearest end with `--clamp`.
    fn mapped(&self, raw: f64) -> f64 {
        let v = match self.from {
            Some(from) => {
                self.scale.lo
                    + (raw - from.lo) * (self.scale.hi - self.scale.lo) / (from.hi - from.lo)
            }
            None => raw,
        };
        if self.clamp {
            v.clamp(self.scale.lo, self.scale.hi)
        } else {
            v
        }
    }

    /// The value on the goal's scale of a raw score that lies outside it (and is not clamped):
    /// such a goal would state a score the scale doesn't have.
    pub fn outside_scale(&self, raw: f64) -> Option<f64> {
        let v = self.mapped(raw);
        (!self.scale.contains(v)).then_some(v)
    }

    /// Checks an eval-time target, given on the goal's scale.
    pub fn check_target(&self, target: f64) -> Result<(), SpecError> {
        if self.scale.contains(target) {
            Ok(())
        } else {
            Err(SpecError::TargetOutsideScale {
                target: format_score(target),
                scale: self.scale.to_string(),
            })
        }
    }

    /// Checks fixed scores (`--fixed-scores HI,LO`): on the goal's scale, as eval-time targets
    /// are (`--from-scale` maps read scores, not these), and HI above LO.
    pub fn check_fixed(&self, (hi, lo): (f64, f64)) -> Result<(), SpecError> {
        if self.from.is_some() {
            return Err(SpecError::FixedScores(
                "give them on the goal's scale: --from-scale maps scores read from fields".into(),
            ));
        }
        if hi <= lo {
            return Err(SpecError::FixedScores(format!(
                "HI must be above LO, got {},{}",
                format_score(hi),
                format_score(lo)
            )));
        }
        match [hi, lo].into_iter().find(|v| !self.scale.contains(*v)) {
            Some(v) => Err(SpecError::FixedScores(format!(
                "{} is outside the goal's scale {}; give scores on it, or change --scale",
                format_score(v),
                self.scale
            ))),
            None => Ok(()),
        }
    }

    /// The printed form of a raw score: mapped onto the goal's scale, rounded, formatted.
    pub fn value(&self, raw: f64) -> String {
        let mut v = self.mapped(raw);
        if let Some(digits) = self.precision {
            let factor = 10f64.powi(digits as i32);
            v = (v * factor).round() / factor;
        }
        format_score(v)
    }

    /// The text every goal begins with: the template up to its first placeholder (the paper's
    /// header up to its scale). `None` when the template begins with a placeholder.
    pub fn marker(&self) -> Option<String> {
        let text = self.text.as_deref().unwrap_or(DEFAULT_HEADER);
        let cut = ["{score}", "{scores}", "{lo}", "{hi}"]
            .iter()
            .filter_map(|p| text.find(p))
            .min()
            .unwrap_or(text.len());
        Some(text[..cut].to_string()).filter(|m| !m.is_empty())
    }

    /// Renders the goal text for one value per attribute.
    pub fn render(&self, values: &[f64]) -> String {
        let lines: Vec<String> = self
            .names
            .iter()
            .zip(values)
            .map(|(name, &v)| format!("{name}: {}.", self.value(v)))
            .collect();
        let (lo, hi) = (format_score(self.scale.lo), format_score(self.scale.hi));
        match &self.text {
            None => format!(
                "{}\n{}",
                DEFAULT_HEADER.replace("{lo}", &lo).replace("{hi}", &hi),
                lines.join("\n")
            ),
            Some(text) => text
                .replace("{scores}", &lines.join("\n"))
                .replace(
                    "{score}",
                    &values.first().map_or(String::new(), |&v| self.value(v)),
                )
                .replace("{lo}", &lo)
                .replace("{hi}", &hi),
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
    /// Relabel records that already begin with the goal text (`--force`); by default they are
    /// bad rows, since relabeling twice doubles the goal.
    pub force: bool,
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

    /// Whether a pair is a tie: every attribute scores the same on both sides.
    pub fn is_tie(chosen: &[f64], rejected: &[f64]) -> bool {
        chosen == rejected
    }

    /// Whether a pair with these scores is emitted at all.
    pub fn keeps(&self, chosen: &[f64], rejected: &[f64]) -> bool {
        !(self.ties == Ties::Drop && Spec::is_tie(chosen, rejected))
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
    /// A message-list prompt (the conversation so far) with string responses, the next
    /// assistant turn: nvidia/HelpSteer3's `context` with `response1`/`response2`.
    ConversationText,
}

impl Layout {
    /// Finds the layout from the JSON kinds of the three text fields.
    pub fn detect(prompt: Option<TextKind>, responses: TextKind) -> Layout {
        match (prompt, responses) {
            (Some(TextKind::Text), TextKind::Messages) => Layout::H4,
            (Some(TextKind::Messages), TextKind::Messages) => Layout::ConversationalExplicit,
            (None, TextKind::Messages) => Layout::ConversationalImplicit,
            (Some(TextKind::Text), TextKind::Text) => Layout::Standard,
            (None, TextKind::Text) => Layout::StandardImplicit,
            (Some(TextKind::Messages), TextKind::Text) => Layout::ConversationText,
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
            Layout::ConversationText => "conversation prompt with string responses",
        }
    }

    /// Whether this layout has a prompt field.
    pub fn has_prompt(self) -> bool {
        matches!(
            self,
            Layout::H4
                | Layout::ConversationalExplicit
                | Layout::Standard
                | Layout::ConversationText
        )
    }

    /// The kind of the response fields.
    pub fn responses(self) -> TextKind {
        match self {
            Layout::Standard | Layout::StandardImplicit | Layout::ConversationText => {
                TextKind::Text
            }
            _ => TextKind::Messages,
        }
    }

    /// The kind of the prompt field, if any.
    pub fn prompt(self) -> Option<TextKind> {
        match self {
            Layout::H4 | Layout::Standard => Some(TextKind::Text),
            Layout::ConversationalExplicit | Layout::ConversationText => Some(TextKind::Messages),
            _ => None,
        }
    }

    /// Where the goal goes in this layout.
    pub fn site(self) -> Site {
        match self {
            Layout::H4 | Layout::ConversationalImplicit => Site::ResponseLists,
            Layout::ConversationalExplicit | Layout::ConversationText => Site::PromptList,
            Layout::Standard => Site::PromptText,
            Layout::StandardImplicit => Site::ResponseTexts,
        }
    }

    /// The style used when none is asked for, or an error when the asked one can't apply.
    pub fn resolve_style(self, asked: Option<Style>) -> Result<Style, SpecError> {
        let kind = match self.site() {
            Site::PromptText | Site::ResponseTexts => TextKind::Text,
            Site::PromptList | Site::ResponseLists => TextKind::Messages,
        };
        resolve_style(kind, asked, &format!("the layout {}", self.name()))
    }
}

/// The style goals take in a field of this kind: strings always take a prefix; message lists take
/// the asked style, a system message by default. `what` names the field or layout for the error.
pub fn resolve_style(kind: TextKind, asked: Option<Style>, what: &str) -> Result<Style, SpecError> {
    match (kind, asked) {
        (TextKind::Text, Some(Style::System)) => Err(SpecError::StyleNeedsLists {
            what: what.to_string(),
        }),
        (TextKind::Text, _) => Ok(Style::Prefix),
        (TextKind::Messages, asked) => Ok(asked.unwrap_or(Style::System)),
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The shape of a text field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
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
            Template::default().render(&[8.0]),
            DEFAULT_TEMPLATE.replace("{score}", "8")
        );
        assert_eq!(
            Template::default().render(&[8.0]),
            "You are an assistant that generates responses for the instruction while implicitly achieving the following target scores (on a scale of 1-10, where 1 is lowest and 10 is highest):\nOverall score: 8."
        );
    }

    #[test]
    fn attributes_scales_and_precision() {
        let t = Template::default()
            .with_attributes(vec![
                display_name("helpfulness"),
                display_name("overall_score"),
            ])
            .with_scale(Scale::parse("0-4").unwrap());
        assert_eq!(
            t.render(&[4.0, 2.5]),
            "You are an assistant that generates responses for the instruction while implicitly achieving the following target scores (on a scale of 0-4, where 0 is lowest and 4 is highest):\nHelpfulness: 4.\nOverall score: 2.5."
        );
        let t = Template::default()
            .with_from_scale(Some(Scale::parse("0-1").unwrap()))
            .with_precision(Some(1));
        assert_eq!(t.value(0.8901), "9");
        assert_eq!(t.value(0.5), "5.5");
        assert_eq!(t.outside(1.5), Some(Scale { lo: 0.0, hi: 1.0 }));
        assert_eq!(t.outside(0.5), None);
        assert_eq!(Scale::parse("-1-1").unwrap(), Scale { lo: -1.0, hi: 1.0 });
        assert!(Scale::parse("10-1").is_err());
        assert!(Scale::parse("abc").is_err());
        let custom = Template::new("Aim: {scores} ({lo} to {hi}); first {score}")
            .unwrap()
            .with_attributes(vec!["A".into(), "B".into()]);
        assert_eq!(
            custom.render(&[1.0, 2.0]),
            "Aim: A: 1.\nB: 2. (1 to 10); first 1"
        );
    }

    #[test]
    fn template_needs_placeholder() {
        assert!(Template::new("Score: {score}").is_ok());
        assert_eq!(
            Template::new("no placeholder").unwrap_err().to_string(),
            "the template must contain the placeholder {score} (or {scores}), got \"no placeholder\""
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
        assert!(spec.keeps(&[8.0], &[8.0]));
        spec.ties = Ties::Drop;
        assert!(!spec.keeps(&[8.0], &[8.0]));
        assert!(spec.keeps(&[8.0], &[7.0]));
        assert!(spec.keeps(&[8.0, 1.0], &[8.0, 2.0]));
    }

    #[test]
    fn layouts_detect_and_place_goals() {
        use TextKind::*;
        assert_eq!(Layout::detect(Some(Text), Messages), Layout::H4);
        assert_eq!(
            Layout::detect(Some(Messages), Messages),
            Layout::ConversationalExplicit
        );
        assert_eq!(Layout::detect(None, Text), Layout::StandardImplicit);
        assert_eq!(
            Layout::detect(Some(Messages), Text),
            Layout::ConversationText
        );
        assert_eq!(Layout::ConversationText.site(), Site::PromptList);
        assert_eq!(
            Layout::ConversationText.resolve_style(None),
            Ok(Style::System)
        );
        assert_eq!(Layout::Standard.resolve_style(None), Ok(Style::Prefix));
        assert!(Layout::Standard.resolve_style(Some(Style::System)).is_err());
        assert_eq!(Layout::H4.resolve_style(None), Ok(Style::System));
    }
}
