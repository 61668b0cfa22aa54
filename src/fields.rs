//! Which fields of a dataset hold the prompt, the two responses and their scores: user overrides,
//! detection from a dataset's first row, and the resolved shape every row is then read with.

use std::fmt;

use crate::error::SpecError;
use crate::relabel::{Half, Layout, Style, TextKind};
use crate::reshape::{
    Cond, Join, Reshape, Split, Target, Winner, WinnerScores, TRL_REFUSES, WINNER_FIELDS,
};

/// A dotted path to a field in nested objects (`metadata.score_chosen`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    text: String,
    parts: Vec<String>,
}

impl FieldPath {
    /// Splits a dotted path; fails on empty segments.
    pub fn parse(text: &str) -> Result<FieldPath, SpecError> {
        let parts: Vec<String> = text.split('.').map(str::to_string).collect();
        if parts.iter().any(String::is_empty) {
            return Err(SpecError::PathSyntax {
                text: text.to_string(),
            });
        }
        Ok(FieldPath {
            text: text.to_string(),
            parts,
        })
    }

    /// A field whose name holds dots, as one key rather than a path: pandas' `json_normalize`,
    /// `datasets`' `flatten()` and Spark name a flattened column `metadata.score_chosen`.
    pub fn literal(name: &str) -> FieldPath {
        FieldPath {
            text: name.to_string(),
            parts: vec![name.to_string()],
        }
    }

    /// The field this path means in `row`: itself where the row has it, else the top-level
    /// field of that very name (a flattened column), if there is one.
    pub fn in_row(self, row: &dyn RowShape) -> FieldPath {
        if self.parts.len() > 1 && !row.has(&self) {
            let literal = FieldPath::literal(&self.text);
            if row.has(&literal) {
                return literal;
            }
        }
        self
    }

    /// The path as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The keys, outermost first.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// Whether one path lies inside the other (or both are the same), so their values overlap.
    pub fn overlaps(&self, other: &FieldPath) -> bool {
        let n = self.parts.len().min(other.parts.len());
        self.parts[..n] == other.parts[..n]
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Field names the user gave (`--prompt`, `--chosen-score`, ...); `None` means detect.
#[derive(Debug, Clone, Default)]
pub struct FieldNames {
    /// The prompt field.
    pub prompt: Option<FieldPath>,
    /// The chosen response.
    pub chosen: Option<FieldPath>,
    /// The rejected response.
    pub rejected: Option<FieldPath>,
    /// The chosen response's score.
    pub chosen_score: Option<FieldPath>,
    /// The rejected response's score.
    pub rejected_score: Option<FieldPath>,
    /// Attributes to condition on instead of one overall score (`--attribute`).
    pub attributes: Vec<Attribute>,
    /// Further (chosen, rejected) field pairs that trade places with the responses (`--swap`).
    pub swap: Vec<(FieldPath, FieldPath)>,
    /// Fields that stay where they are though they look like one response's (`--no-swap`).
    pub no_swap: Vec<FieldPath>,
    /// The named layout asked for (`--layout`); `None` means detect.
    pub layout: Option<&'static NamedLayout>,
    /// Scores given to every chosen and rejected response (`--fixed-scores HI,LO`), for data
    /// that has none: the goal is then preferred versus dispreferred.
    pub fixed_scores: Option<(f64, f64)>,
    /// The layout to write instead of the input's (`--to`).
    pub to: Option<Target>,
    /// Two unordered responses and which one wins (`--a-wins-when`, ...).
    pub winner: Option<WinnerNames>,
}

impl FieldNames {
    /// The names as `row` has them: a dotted name of a flattened column is that column (see
    /// [`FieldPath::in_row`]).
    fn in_row(&self, row: &dyn RowShape) -> FieldNames {
        let one = |p: &Option<FieldPath>| p.clone().map(|p| p.in_row(row));
        let two = |(c, r): &(FieldPath, FieldPath)| (c.clone().in_row(row), r.clone().in_row(row));
        FieldNames {
            prompt: one(&self.prompt),
            chosen: one(&self.chosen),
            rejected: one(&self.rejected),
            chosen_score: one(&self.chosen_score),
            rejected_score: one(&self.rejected_score),
            attributes: self
                .attributes
                .iter()
                .map(|a| Attribute {
                    name: a.name.clone(),
                    paths: a.paths.as_ref().map(two),
                })
                .collect(),
            swap: self.swap.iter().map(two).collect(),
            no_swap: self.no_swap.iter().map(|p| p.clone().in_row(row)).collect(),
            ..self.clone()
        }
    }
}

/// Two unordered responses and the conditions saying which wins, as the user gave them.
#[derive(Debug, Clone)]
pub struct WinnerNames {
    /// The first response (`--a`); `None` means detect.
    pub a: Option<FieldPath>,
    /// The second response (`--b`).
    pub b: Option<FieldPath>,
    /// When the first wins (`--a-wins-when`).
    pub a_wins: Cond,
    /// When the second wins (`--b-wins-when`).
    pub b_wins: Cond,
    /// The first response's score (`--a-score`).
    pub a_score: Option<FieldPath>,
    /// The second response's score (`--b-score`).
    pub b_score: Option<FieldPath>,
}

/// Pairs of unordered response fields public datasets use, tried when `--a`/`--b` aren't given.
pub const WINNER_PAIRS: &[(&str, &str)] = &[
    ("response_a", "response_b"),
    ("response_0", "response_1"),
    ("response1", "response2"),
    ("response_1", "response_2"),
    ("response 1", "response 2"),
    ("completion_a", "completion_b"),
];

/// A layout a framework or a public dataset writes, declared by its field names: detection,
/// `--layout` and `raug layouts` all read this one table. How the goal goes in follows from the
/// kinds of the fields (strings or message lists), as for every layout.
#[derive(Debug, PartialEq, Eq)]
pub struct NamedLayout {
    /// The name `--layout` takes and summaries print.
    pub name: &'static str,
    /// Who writes it.
    pub origin: &'static str,
    /// A row, sketched.
    pub sketch: &'static str,
    /// The prompt field, if the layout has one.
    pub prompt: Option<&'static str>,
    /// The chosen response.
    pub chosen: &'static str,
    /// The rejected response.
    pub rejected: &'static str,
    /// A further field whose presence tells this layout from another with the same responses.
    pub marker: Option<&'static str>,
    /// A field the prompt continues in (Alpaca's `input`): joined onto the prompt when another
    /// layout is written.
    pub input: Option<&'static str>,
    /// Read through TRL's conversational layout and written back as this target (ShareGPT and
    /// OpenAI rows hold their messages in shapes the rules don't read directly).
    pub via: Option<Target>,
    /// A string field the layout's trainer reads as the system prompt: where a row has it, the
    /// goal goes into it (in front of its text), as it goes into a leading system message.
    pub system: Option<&'static str>,
    /// How detection finds it.
    pub found: Found,
}

/// How detection finds a named layout.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// By its field names in the first row.
    ByNames,
    /// By the kinds (string or message list) of `prompt`, `chosen` and `rejected`: one of these.
    ByKinds(&'static [Layout]),
}

impl NamedLayout {
    /// The flags that read this layout without `--layout`.
    pub fn flags(&self) -> String {
        let mut flags = Vec::new();
        if self.via.is_some() {
            // Its messages have another shape: no field names read it.
            return String::new();
        }
        if let Some(p) = self.prompt.filter(|p| *p != "prompt") {
            flags.push(format!("--prompt {p}"));
        }
        if self.chosen != "chosen" {
            flags.push(format!("--chosen {}", self.chosen));
        }
        if self.rejected != "rejected" {
            flags.push(format!("--rejected {}", self.rejected));
        }
        flags.join(" ")
    }

    /// The layout named `name`.
    pub fn named(name: &str) -> Option<&'static NamedLayout> {
        LAYOUTS.iter().find(|l| l.name == name)
    }

    /// Whether a row has this layout's fields.
    fn fits(&self, row: &dyn RowShape) -> bool {
        let has = |name: &str| FieldPath::parse(name).is_ok_and(|p| row.has(&p));
        // A row with a `prompt` field is read by its prompt, not by a layout without one.
        let prompt_elsewhere = self.prompt != Some("prompt") && has("prompt");
        !prompt_elsewhere
            && self.prompt.is_none_or(has)
            && has(self.chosen)
            && has(self.rejected)
            && self.marker.is_none_or(has)
    }
}

/// Every named layout, in the order detection tries those it picks by field names.
pub const LAYOUTS: &[NamedLayout] = &[
    NamedLayout {
        name: "ultrafeedback_binarized",
        origin: "HuggingFaceH4/ultrafeedback_binarized",
        sketch: r#"{"prompt": "...", "chosen": [{"role", "content"}, ...], "rejected": [...], "score_chosen": 8, ...}"#,
        prompt: Some("prompt"),
        chosen: "chosen",
        rejected: "rejected",
        marker: None,
        input: None,
        via: None,
        system: None,
        found: Found::ByKinds(&[Layout::H4]),
    },
    NamedLayout {
        name: "trl",
        origin: "TRL DPOTrainer (standard or conversational, prompt explicit or implicit)",
        sketch: r#"{"prompt": "..." or [messages], "chosen": "..." or [messages], "rejected": ...}"#,
        prompt: Some("prompt"),
        chosen: "chosen",
        rejected: "rejected",
        marker: None,
        input: None,
        via: None,
        system: None,
        found: Found::ByKinds(&[
            Layout::ConversationalExplicit,
            Layout::ConversationalImplicit,
            Layout::Standard,
            Layout::StandardImplicit,
        ]),
    },
    NamedLayout {
        name: "nemo",
        origin: "NeMo-Aligner DPO",
        sketch: r#"{"prompt": "...", "chosen_response": "...", "rejected_response": "...", "chosen_reward": 8, "rejected_reward": 3}"#,
        prompt: Some("prompt"),
        chosen: "chosen_response",
        rejected: "rejected_response",
        marker: None,
        input: None,
        via: None,
        system: None,
        found: Found::ByNames,
    },
    NamedLayout {
        name: "axolotl-argilla",
        origin: "Axolotl DPO type argilla",
        sketch: r#"{"instruction": "...", "chosen_response": "...", "rejected_response": "...", ...}"#,
        prompt: Some("instruction"),
        chosen: "chosen_response",
        rejected: "rejected_response",
        marker: None,
        input: None,
        via: None,
        system: None,
        found: Found::ByNames,
    },
    NamedLayout {
        name: "alpaca",
        origin: "LLaMA-Factory preference data, Alpaca format",
        sketch: r#"{"instruction": "...", "input": "...", "chosen": "...", "rejected": "...", ...}"#,
        prompt: Some("instruction"),
        chosen: "chosen",
        rejected: "rejected",
        marker: Some("input"),
        input: Some("input"),
        via: None,
        system: Some("system"),
        found: Found::ByNames,
    },
    NamedLayout {
        name: "axolotl-intel",
        origin: "Axolotl DPO type intel",
        sketch: r#"{"question": "...", "chosen": "...", "rejected": "...", ...}"#,
        prompt: Some("question"),
        chosen: "chosen",
        rejected: "rejected",
        marker: None,
        input: None,
        via: None,
        system: Some("system"),
        found: Found::ByNames,
    },
    NamedLayout {
        name: "sharegpt",
        origin: "LLaMA-Factory preference data, ShareGPT format",
        sketch: r#"{"conversations": [{"from": "human", "value": "..."}], "chosen": {"from": "gpt", "value": "..."}, "rejected": {...}, "system": "..."}"#,
        prompt: Some("conversations"),
        chosen: "chosen",
        rejected: "rejected",
        marker: None,
        input: None,
        via: Some(Target::ShareGpt),
        system: None,
        found: Found::ByNames,
    },
    NamedLayout {
        name: "openai",
        origin: "OpenAI preference fine-tuning (Together and Fireworks too)",
        sketch: r#"{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}"#,
        prompt: Some("input.messages"),
        chosen: "preferred_output",
        rejected: "non_preferred_output",
        marker: None,
        input: None,
        via: Some(Target::OpenAi),
        system: None,
        found: Found::ByNames,
    },
];

/// One attribute a goal states (`--attribute NAME[=CHOSEN_PATH,REJECTED_PATH]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The name, as given (`helpfulness`); its fields are found from it unless `paths` are set.
    pub name: String,
    /// The chosen and rejected fields, when given.
    pub paths: Option<(FieldPath, FieldPath)>,
}

impl Attribute {
    /// Parses `NAME` or `NAME=CHOSEN_PATH,REJECTED_PATH`.
    pub fn parse(text: &str) -> Result<Attribute, SpecError> {
        let (name, paths) = match text.split_once('=') {
            None => (text, None),
            Some((name, paths)) => {
                let (c, r) = paths
                    .split_once(',')
                    .ok_or_else(|| SpecError::AttributeSyntax {
                        text: text.to_string(),
                    })?;
                (
                    name,
                    Some((FieldPath::parse(c.trim())?, FieldPath::parse(r.trim())?)),
                )
            }
        };
        if name.trim().is_empty() {
            return Err(SpecError::AttributeName {
                text: text.to_string(),
            });
        }
        Ok(Attribute {
            name: name.trim().to_string(),
            paths,
        })
    }
}

/// Score field pairs recognized without options, in order of preference. Each is looked for at the
/// top level first, then one level down (`metadata.score_chosen`).
pub const SCORE_NAMES: &[(&str, &str)] = &[
    ("score_chosen", "score_rejected"),
    ("chosen_score", "rejected_score"),
    ("overall_score_chosen", "overall_score_rejected"),
    ("chosen_rating", "rejected_rating"),
    ("rating_chosen", "rating_rejected"),
    ("chosen-rating", "rejected-rating"),
    ("chosen_avg_rating", "rejected_avg_rating"),
    ("avg_fine_score_chosen", "avg_fine_score_rejected"),
    ("chosen_reward", "rejected_reward"),
];

/// The shape of one row, as far as detection needs it.
pub trait RowShape {
    /// The kind of the value at a path: `Some(Ok(kind))` for a string or a list, `Some(Err(what))`
    /// for anything else, `None` when absent.
    fn kind(&self, path: &FieldPath) -> Option<Result<TextKind, String>>;
    /// Whether a path exists.
    fn has(&self, path: &FieldPath) -> bool;
    /// Top-level fields whose value is an object (where scores may be nested).
    fn object_fields(&self) -> Vec<String>;
    /// Every field at the top level and one level down (`metadata.chosen_model`), in order.
    fn fields(&self) -> Vec<String>;
    /// The top-level fields holding a number, in order (for hints; none by default).
    fn numbers(&self) -> Vec<String> {
        Vec::new()
    }
    /// The fields of a list's items (objects) that hold text, and those that hold a number, as
    /// the first item (or the schema) shows them (for hints; `None` by default).
    fn item_fields(&self, _list: &FieldPath) -> Option<ItemFields> {
        None
    }
}

/// The fields of a list's items, by what they hold: see [`RowShape::item_fields`].
#[derive(Debug, Default)]
pub struct ItemFields {
    /// Fields holding a string.
    pub texts: Vec<String>,
    /// Fields holding a number.
    pub numbers: Vec<String>,
}

/// A ShareGPT or OpenAI row seen as TRL's conversational layout, as the adapter makes it.
struct ViaView<'a> {
    row: &'a dyn RowShape,
    via: Target,
}

impl ViaView<'_> {
    /// The fields the adapter reads, which the view doesn't have.
    fn consumed(&self) -> &'static [&'static str] {
        match self.via {
            Target::ShareGpt => &["conversations", "system"],
            _ => &["preferred_output", "non_preferred_output", "input.messages"],
        }
    }

    /// The row's path a view path reads, `None` for a field consumed.
    fn source(&self, path: &FieldPath) -> Option<FieldPath> {
        if self.consumed().contains(&path.as_str()) {
            return None;
        }
        let from = self.via.source_of(path.as_str()).unwrap_or(path.as_str());
        Some(FieldPath::parse(from).expect("a valid path"))
    }
}

impl RowShape for ViaView<'_> {
    fn kind(&self, path: &FieldPath) -> Option<Result<TextKind, String>> {
        let source = self.source(path)?;
        // ShareGPT's responses are single message objects: one-message lists to the rules.
        let single = self.via == Target::ShareGpt
            && ["chosen", "rejected"].contains(&path.as_str())
            && self.row.object_fields().iter().any(|f| f == path.as_str());
        if single {
            return Some(Ok(TextKind::Messages));
        }
        self.row.kind(&source)
    }

    fn has(&self, path: &FieldPath) -> bool {
        self.source(path).is_some_and(|p| self.row.has(&p))
    }

    fn object_fields(&self) -> Vec<String> {
        let mut fields = self.row.object_fields();
        fields.retain(|f| !["chosen", "rejected"].contains(&f.as_str()));
        fields
    }

    fn fields(&self) -> Vec<String> {
        let consumed = self.consumed();
        let mut fields: Vec<String> = self
            .row
            .fields()
            .into_iter()
            .filter(|f| !consumed.contains(&f.as_str()))
            .collect();
        if self.via == Target::OpenAi {
            for (from, to) in [
                ("preferred_output", "chosen"),
                ("non_preferred_output", "rejected"),
            ] {
                if self.row.has(&FieldPath::parse(from).expect("a plain name")) {
                    fields.push(to.to_string());
                }
            }
        }
        fields.push("prompt".to_string());
        fields
    }
}

/// A row seen as the winner step makes it: the responses (and their scores) under `chosen`,
/// `rejected`, `score_chosen` and `score_rejected`; given scores as numbers.
struct WinnerView<'a> {
    row: &'a dyn RowShape,
    winner: &'a Winner,
}

/// Where a path of the winner view is in the input row.
enum Mapped {
    /// At this path.
    Input(FieldPath),
    /// Nowhere: the winner step makes it (a given score).
    Made,
    /// Nowhere: the winner step renamed it.
    Gone,
}

impl WinnerView<'_> {
    fn map(&self, path: &FieldPath) -> Mapped {
        let top = path.parts()[0].as_str();
        if let (1, Some(i)) = (
            path.parts().len(),
            WINNER_FIELDS.iter().position(|f| *f == top),
        ) {
            match (self.winner.sources()[i], &self.winner.scores) {
                (Some(source), _) => {
                    return Mapped::Input(FieldPath::parse(source).expect("a field name"))
                }
                (None, WinnerScores::Fixed(..)) => return Mapped::Made,
                (None, WinnerScores::Read(..)) => {}
            }
        }
        if self.winner.renamed(top).is_some() {
            return Mapped::Gone;
        }
        Mapped::Input(path.clone())
    }
}

impl RowShape for WinnerView<'_> {
    fn kind(&self, path: &FieldPath) -> Option<Result<TextKind, String>> {
        match self.map(path) {
            Mapped::Input(p) => self.row.kind(&p),
            Mapped::Made => Some(Err("a number".into())),
            Mapped::Gone => None,
        }
    }

    fn has(&self, path: &FieldPath) -> bool {
        match self.map(path) {
            Mapped::Input(p) => self.row.has(&p),
            Mapped::Made => true,
            Mapped::Gone => false,
        }
    }

    fn object_fields(&self) -> Vec<String> {
        let mut fields = self.row.object_fields();
        fields.retain(|f| self.winner.renamed(f).is_none());
        fields
    }

    fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self
            .row
            .fields()
            .into_iter()
            .map(|f| match self.winner.renamed(&f) {
                Some(to) => to.to_string(),
                None => f,
            })
            .collect();
        if let WinnerScores::Fixed(..) = self.winner.scores {
            fields.extend(["score_chosen".to_string(), "score_rejected".to_string()]);
        }
        fields
    }
}

/// The (chosen, rejected) name forms of a field that belongs to one response, and its partner:
/// `X_chosen`/`X_rejected`, `chosen_X`/`rejected_X`, `chosen-X`/`rejected-X`.
fn partner(name: &str) -> Option<String> {
    if let Some(x) = name.strip_suffix("_chosen") {
        return Some(format!("{x}_rejected"));
    }
    for (c, r) in [("chosen_", "rejected_"), ("chosen-", "rejected-")] {
        if let Some(x) = name.strip_prefix(c) {
            return Some(format!("{r}{x}"));
        }
    }
    None
}

/// The system prompt field that takes the goal instead of the prompt (relabel's and condition's
/// rule): the one `layout`'s trainer reads, when the row has it as a string, the prompt is a
/// string (`string_prompt`) and --style doesn't ask for the prompt (`prefix`).
pub fn system_field(
    layout: Option<&NamedLayout>,
    row: &dyn RowShape,
    string_prompt: bool,
    style: Option<Style>,
) -> Option<FieldPath> {
    layout
        .and_then(|l| l.system)
        .map(|s| FieldPath::parse(s).expect("a plain name"))
        .filter(|s| matches!(row.kind(s), Some(Ok(TextKind::Text))))
        .filter(|_| string_prompt && style != Some(Style::Prefix))
}

/// How every row of a dataset is read: the layout, the goal style and the field of each role.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The detected layout.
    pub layout: Layout,
    /// The named layout whose field names were read, when one was (`alpaca`, `nemo`, ...).
    pub named: Option<&'static str>,
    /// The style goals are written in.
    pub style: Style,
    /// The prompt field, in layouts that have one.
    pub prompt: Option<FieldPath>,
    /// The chosen response.
    pub chosen: FieldPath,
    /// The rejected response.
    pub rejected: FieldPath,
    /// The (chosen, rejected) score fields of each attribute, in goal order; none when the
    /// scores are fixed.
    pub scores: Vec<(FieldPath, FieldPath)>,
    /// The (chosen, rejected) scores of every row, when given rather than read.
    pub fixed: Option<(f64, f64)>,
    /// Field pairs swapped with the responses but not stated in the goal: every field that
    /// belongs to one response (`chosen_model`/`rejected_model`, `correctness_chosen`/..., the
    /// overall score when goals name attributes), so every row stays self-consistent.
    pub also_swapped: Vec<(FieldPath, FieldPath)>,
    /// With `--to`: how each input row becomes a row of the target layout before it is
    /// relabeled. The fields above then name the target layout's fields.
    pub reshape: Option<Reshape>,
    /// With a winner field: how each input row becomes a `chosen`/`rejected` row, first of all.
    /// The fields above then name that row's fields.
    pub winner: Option<Winner>,
    /// The string field the goal goes into instead of the prompt (the system prompt of a layout
    /// that has one, [`NamedLayout::system`]), with the system style.
    pub system: Option<FieldPath>,
}

impl Resolved {
    /// The fields one half of the relabeling rewrites: where its goal goes, and what it swaps.
    /// Every other field passes through untouched (the Parquet writer copies those columns).
    pub fn rewritten(&self, half: Half) -> Vec<&FieldPath> {
        let mut paths: Vec<&FieldPath> = Vec::new();
        if half != Half::Original {
            if let Some(system) = &self.system {
                paths.push(system);
            } else if self.layout.site().in_responses() {
                paths.extend([&self.chosen, &self.rejected]);
            } else {
                paths.extend(self.prompt.iter());
            }
        }
        if half.swapped() {
            paths.extend([&self.chosen, &self.rejected]);
            for (c, r) in self.scores.iter().chain(&self.also_swapped) {
                paths.extend([c, r]);
            }
        }
        paths
    }

    /// The fields one half fills whole with another field's values, as (field, from): a swapped
    /// half's two responses where its goal goes elsewhere, and its goal scores. Every row of the
    /// half holds the other field's value there, so a Parquet writer can copy the other
    /// column's chunks. Fields swapped only where both sides hold a value
    /// ([`Resolved::also_swapped`]) are not among them.
    pub fn moved(&self, half: Half) -> Vec<(&FieldPath, &FieldPath)> {
        let mut moved = Vec::new();
        if !half.swapped() {
            return moved;
        }
        if self.system.is_some() || !self.layout.site().in_responses() {
            moved.extend([
                (&self.chosen, &self.rejected),
                (&self.rejected, &self.chosen),
            ]);
        }
        for (c, r) in &self.scores {
            moved.extend([(c, r), (r, c)]);
        }
        moved
    }

    /// Detects the layout and fields from one row, with the user's overrides taking precedence.
    /// An error here is about the dataset or the options, not one row: the message says which
    /// option fixes it.
    pub fn detect(
        row: &dyn RowShape,
        names: &FieldNames,
        style: Option<Style>,
    ) -> Result<Resolved, SpecError> {
        let names = &names.in_row(row);
        if let Some(given) = &names.winner {
            return Resolved::detect_winner(row, names, given, style);
        }
        let path = |given: &Option<FieldPath>, default: &str| {
            given
                .clone()
                .unwrap_or_else(|| FieldPath::parse(default).expect("valid default"))
        };
        let not_text = |path: &FieldPath, what: String, hint| SpecError::NotText {
            path: path.to_string(),
            what,
            hint,
        };
        // The named layout asked for, else the first whose field names the row has; the user's
        // field names win over either.
        let named = names.layout.or_else(|| {
            LAYOUTS
                .iter()
                .find(|l| l.found == Found::ByNames && l.fits(row) && names.chosen.is_none())
        });
        if let Some(l) = names.layout {
            let own = [
                (l.prompt, &names.prompt),
                (Some(l.chosen), &names.chosen),
                (Some(l.rejected), &names.rejected),
                (l.marker, &None),
            ];
            for (field, given) in own {
                let Some(field) = field.filter(|_| given.is_none()) else {
                    continue;
                };
                if !FieldPath::parse(field).is_ok_and(|p| row.has(&p)) {
                    return Err(SpecError::NotLayout {
                        asked: l.name,
                        why: format!("it has no field {field:?}"),
                    });
                }
            }
        }
        if let Some(l @ NamedLayout { via: Some(via), .. }) = named {
            return Resolved::detect_via(row, names, l, *via, style);
        }
        let chosen = path(&names.chosen, named.map_or("chosen", |l| l.chosen));
        let rejected = path(&names.rejected, named.map_or("rejected", |l| l.rejected));
        let responses = match (row.kind(&chosen), row.kind(&rejected)) {
            (None, _) => {
                return Err(match (winner_pair(row), responses_to_pair(row)) {
                    (Some((a, b)), _) if names.chosen.is_none() => {
                        SpecError::NoChosenButTwoResponses {
                            path: chosen.to_string(),
                            a,
                            b,
                        }
                    }
                    (_, Some((what, command))) if names.chosen.is_none() => {
                        SpecError::NoChosenButResponses {
                            path: chosen.to_string(),
                            what,
                            command,
                        }
                    }
                    _ => match one_list(row) {
                        Some(list) if names.chosen.is_none() => SpecError::NoChosenButOneList {
                            path: chosen.to_string(),
                            list,
                        },
                        _ => missing(&chosen, "--chosen"),
                    },
                });
            }
            (_, None) => return Err(missing(&rejected, "--rejected")),
            (Some(Err(what)), _) => return Err(not_text(&chosen, what, "")),
            (_, Some(Err(what))) => return Err(not_text(&rejected, what, "")),
            (Some(Ok(a)), Some(Ok(b))) if a != b => {
                return Err(SpecError::KindsDiffer {
                    chosen: chosen.to_string(),
                    rejected: rejected.to_string(),
                })
            }
            (Some(Ok(kind)), Some(Ok(_))) => kind,
        };
        let prompt_path = match (&names.prompt, named.and_then(|l| l.prompt)) {
            (Some(given), _) => given.clone(),
            (None, Some(named)) => path(&None, named),
            (None, None) => {
                let prompt = path(&None, "prompt");
                match row.kind(&prompt) {
                    Some(_) => prompt,
                    None => context_prompt(row).unwrap_or(prompt),
                }
            }
        };
        let prompt_kind = match row.kind(&prompt_path) {
            None if names.prompt.is_some() => return Err(missing(&prompt_path, "--prompt")),
            None => None,
            Some(Err(what)) => {
                return Err(not_text(
                    &prompt_path,
                    what,
                    " (use --prompt to name another field)",
                ))
            }
            Some(Ok(kind)) => Some(kind),
        };
        let layout = Layout::detect(prompt_kind, responses);
        let system = system_field(
            names.layout.or(named),
            row,
            layout == Layout::Standard,
            style,
        );
        let named = match names.layout.or(named) {
            Some(l) => match l.found {
                Found::ByNames => Some(l.name),
                Found::ByKinds(kinds) if kinds.contains(&layout) => None,
                Found::ByKinds(_) => {
                    return Err(SpecError::NotLayout {
                        asked: l.name,
                        why: format!("its fields read as {}", layout.name()),
                    })
                }
            },
            None => None,
        };
        let asked = style;
        let style = match system {
            Some(_) => Style::System,
            None => layout.resolve_style(asked)?,
        };
        let (scores, also_swapped) = if names.fixed_scores.is_some() {
            if !names.attributes.is_empty()
                || names.chosen_score.is_some()
                || names.rejected_score.is_some()
            {
                return Err(SpecError::FixedScores(
                    "the scores are then given, not read: drop --attribute, --chosen-score and --rejected-score".into(),
                ));
            }
            (Vec::new(), Vec::new())
        } else if names.attributes.is_empty() {
            (vec![overall_scores(row, names)?], Vec::new())
        } else {
            let scores: Vec<(FieldPath, FieldPath)> = names
                .attributes
                .iter()
                .map(|a| attribute_scores(row, a))
                .collect::<Result<_, _>>()?;
            let overall = overall_scores(row, names)
                .ok()
                .filter(|(c, r)| !scores.iter().any(|(a, b)| a.overlaps(c) || b.overlaps(r)));
            (scores, overall.into_iter().collect())
        };
        let mut resolved = Resolved {
            layout,
            named,
            style,
            prompt: layout.has_prompt().then_some(prompt_path),
            chosen,
            rejected,
            scores,
            fixed: names.fixed_scores,
            also_swapped,
            reshape: None,
            winner: None,
            system,
        };
        resolved.also_swapped = resolved.response_fields(row, names)?;
        resolved.check_disjoint()?;
        match names.to {
            Some(target) => resolved.reshaped(row, target, asked),
            None => Ok(resolved),
        }
    }

    /// Detects a dataset of two unordered responses and a winner field: the rows its [`Winner`]
    /// makes are detected as any other.
    fn detect_winner(
        row: &dyn RowShape,
        names: &FieldNames,
        given: &WinnerNames,
        style: Option<Style>,
    ) -> Result<Resolved, SpecError> {
        let err = |why: String| SpecError::Winner(why);
        if names.chosen.is_some()
            || names.rejected.is_some()
            || names.chosen_score.is_some()
            || names.rejected_score.is_some()
            || !names.attributes.is_empty()
        {
            return Err(err(
                "the responses and their scores are named by --a, --b, --a-score and --b-score: drop --chosen, --rejected, --chosen-score, --rejected-score and --attribute".into(),
            ));
        }
        let top = |path: &FieldPath, option: &str| {
            if path.parts().len() == 1 {
                Ok(path.as_str().to_string())
            } else {
                Err(err(format!("{option} {path}: name a top-level field")))
            }
        };
        let has = |name: &str| FieldPath::parse(name).is_ok_and(|p| row.has(&p));
        let (a, b) = match (&given.a, &given.b) {
            (Some(a), Some(b)) => (top(a, "--a")?, top(b, "--b")?),
            (None, None) => {
                let (a, b) = winner_pair(row).ok_or_else(|| {
                    let looked: Vec<String> =
                        WINNER_PAIRS.iter().map(|(a, b)| format!("{a:?}/{b:?}")).collect();
                    err(format!(
                        "no pair of responses in the first row (looked for {}); name them with --a PATH --b PATH",
                        looked.join(", ")
                    ))
                })?;
                (a.to_string(), b.to_string())
            }
            _ => return Err(err("--a and --b go together: give both".into())),
        };
        for (field, option) in [(&a, "--a"), (&b, "--b")] {
            if !has(field) {
                return Err(missing(&FieldPath::parse(field)?, option));
            }
        }
        for (cond, option) in [
            (&given.a_wins, "--a-wins-when"),
            (&given.b_wins, "--b-wins-when"),
        ] {
            if !has(&cond.path) {
                return Err(SpecError::NoField {
                    path: cond.path.clone(),
                    option,
                });
            }
        }
        let scores = match (&given.a_score, &given.b_score, names.fixed_scores) {
            (Some(a), Some(b), None) => {
                let (a, b) = (top(a, "--a-score")?, top(b, "--b-score")?);
                for (field, option) in [(&a, "--a-score"), (&b, "--b-score")] {
                    if !has(field) {
                        return Err(missing(&FieldPath::parse(field)?, option));
                    }
                }
                WinnerScores::Read(a, b)
            }
            (None, None, Some((hi, lo))) => WinnerScores::Fixed(hi, lo),
            (None, None, None) => {
                return Err(err(
                    "the responses need scores: --a-score PATH --b-score PATH read them, --fixed-scores HI,LO gives the winner HI and the loser LO".into(),
                ))
            }
            (Some(_), Some(_), Some(_)) => {
                return Err(err(
                    "--fixed-scores gives the scores --a-score and --b-score read: use one or the other".into(),
                ))
            }
            _ => return Err(err("--a-score and --b-score go together: give both".into())),
        };
        let winner = Winner {
            a,
            b,
            a_wins: given.a_wins.clone(),
            b_wins: given.b_wins.clone(),
            scores,
        };
        for (name, source) in WINNER_FIELDS.iter().zip(winner.sources()) {
            if source != Some(*name) && has(name) && winner.renamed(name).is_none() {
                return Err(err(format!(
                    "the output would have two fields named {name:?}; rename the input's {name:?} first"
                )));
            }
        }
        let inner = FieldNames {
            winner: None,
            fixed_scores: None,
            ..names.clone()
        };
        let mut resolved = Resolved::detect(
            &WinnerView {
                row,
                winner: &winner,
            },
            &inner,
            style,
        )?;
        resolved.winner = Some(winner);
        Ok(resolved)
    }

    /// Detects a layout read through TRL's conversational one (ShareGPT, OpenAI): the rows its
    /// adapter makes are detected as any other, and written back in it unless `--to` says else.
    fn detect_via(
        row: &dyn RowShape,
        names: &FieldNames,
        layout: &'static NamedLayout,
        via: Target,
        style: Option<Style>,
    ) -> Result<Resolved, SpecError> {
        if names.prompt.is_some() || names.chosen.is_some() || names.rejected.is_some() {
            return Err(SpecError::To {
                target: via.name(),
                why: format!(
                    "the layout {} names its own fields: drop --prompt, --chosen and --rejected",
                    layout.name
                ),
            });
        }
        let inner = FieldNames {
            layout: None,
            to: Some(names.to.unwrap_or(via)),
            ..names.clone()
        };
        let view = ViaView { row, via };
        let mut resolved = Resolved::detect(&view, &inner, style)?;
        if resolved.layout != Layout::ConversationalExplicit {
            return Err(SpecError::NotLayout {
                asked: layout.name,
                why: format!(
                    "its messages read as {} (the prompt and the responses must be messages)",
                    resolved.layout.name()
                ),
            });
        }
        let reshape = resolved.reshape.as_mut().expect("--to is set");
        reshape.adapt = Some(via);
        reshape.from = layout.name.to_string();
        resolved.named = Some(layout.name);
        Ok(resolved)
    }

    /// The fields of rows written as `target`, with the [`Reshape`] that makes them.
    fn reshaped(
        self,
        row: &dyn RowShape,
        target: Target,
        style: Option<Style>,
    ) -> Result<Resolved, SpecError> {
        let err = |why: String| SpecError::To {
            target: target.name(),
            why,
        };
        let top = |path: &FieldPath| {
            if path.parts().len() == 1 {
                Ok(path.as_str().to_string())
            } else {
                Err(err(format!(
                    "it writes top-level fields, and {path} is nested; relabel without --to"
                )))
            }
        };
        let (chosen, rejected) = (top(&self.chosen)?, top(&self.rejected)?);
        let prompt = self.prompt.as_ref().map(top).transpose()?;
        let from = self.named.unwrap_or(self.layout.name()).to_string();
        let (layout, split) = match self.layout {
            Layout::H4 | Layout::ConversationalImplicit => (
                Layout::ConversationalExplicit,
                Some(Split {
                    prompt: prompt.clone(),
                    chosen: chosen.clone(),
                    rejected: rejected.clone(),
                }),
            ),
            Layout::StandardImplicit if target.messages() => {
                return Err(err(format!(
                    "it writes a prompt, and the layout {} has none (its responses are full texts)",
                    self.layout.name()
                )))
            }
            other => (other, None),
        };
        // String texts as message lists, with a `system` field as the prompt's system message.
        let to_messages = match (&prompt, layout) {
            (Some(p), Layout::Standard) if target.messages() => {
                let system = FieldPath::parse("system").expect("a plain name");
                let system = matches!(row.kind(&system), Some(Ok(TextKind::Text)))
                    .then(|| "system".to_string())
                    .filter(|s| s != p && *s != chosen && *s != rejected);
                Some(crate::reshape::ToMessages {
                    prompt: Some(p.clone()),
                    chosen: chosen.clone(),
                    rejected: rejected.clone(),
                    system,
                })
            }
            // Every target's responses are messages when the prompt is: TRL's too.
            (Some(_), Layout::ConversationText) => Some(crate::reshape::ToMessages {
                prompt: None,
                chosen: chosen.clone(),
                rejected: rejected.clone(),
                system: None,
            }),
            _ => None,
        };
        let layout = if to_messages.is_some() {
            Layout::ConversationalExplicit
        } else {
            layout
        };
        let join = match (self.named.and_then(NamedLayout::named), &prompt) {
            (
                Some(NamedLayout {
                    input: Some(input), ..
                }),
                Some(prompt),
            ) if split.is_none() => Some(Join {
                prompt: prompt.clone(),
                input: input.to_string(),
            }),
            _ => None,
        };
        let mut renames = Vec::new();
        let named = [
            (prompt.as_ref(), "prompt"),
            (Some(&chosen), "chosen"),
            (Some(&rejected), "rejected"),
        ];
        for (field, to) in named {
            if let Some(field) = field.filter(|f| *f != to) {
                renames.push((field.clone(), to.to_string()));
            }
        }
        let used: Vec<&str> = [&chosen, &rejected]
            .into_iter()
            .chain(prompt.as_ref())
            .map(String::as_str)
            .collect();
        let drops: Vec<String> = TRL_REFUSES
            .iter()
            .filter(|f| !used.contains(f) && FieldPath::parse(f).is_ok_and(|p| row.has(&p)))
            .map(|f| f.to_string())
            .collect();
        let reshape = Reshape {
            target,
            from,
            split,
            join,
            drops,
            renames,
            to_messages,
            adapt: None,
        };
        // A field the output names would take must be free in the input.
        let added = reshape.split.as_ref().is_some_and(|s| s.prompt.is_none());
        let targets = reshape
            .renames
            .iter()
            .map(|(_, to)| to.as_str())
            .chain(added.then_some("prompt"));
        for name in targets {
            let taken = FieldPath::parse(name).is_ok_and(|p| row.has(&p))
                && reshape.output_name(name) == Some(name)
                && !reshape.renames.iter().any(|(from, _)| from == name);
            if taken {
                return Err(err(format!(
                    "the output would have two fields named {name:?}; rename the input's {name:?} first"
                )));
            }
        }
        let path = |name: &str| FieldPath::parse(name).expect("a plain name");
        let dropped = |p: &FieldPath| reshape.output_name(&p.parts()[0]).is_none();
        // The system field stays where it is: trl has none, and the message layouts fold it into
        // the prompt's system message.
        let style = if layout == self.layout && self.system.is_none() {
            self.style
        } else {
            layout.resolve_style(style)?
        };
        Ok(Resolved {
            layout,
            style,
            prompt: layout.has_prompt().then(|| path("prompt")),
            chosen: path("chosen"),
            rejected: path("rejected"),
            also_swapped: self
                .also_swapped
                .into_iter()
                .filter(|(c, r)| !dropped(c) && !dropped(r))
                .collect(),
            reshape: Some(reshape),
            system: None,
            ..self
        })
    }

    /// The pairs swapped besides the goal's scores: those already found, every pair of fields
    /// that belong to one response each (by name), and the ones `--swap` names, but those
    /// `--no-swap` keeps and any that overlap a field the rules already use.
    fn response_fields(
        &self,
        row: &dyn RowShape,
        names: &FieldNames,
    ) -> Result<Vec<(FieldPath, FieldPath)>, SpecError> {
        let mut pairs = self.also_swapped.clone();
        let fields = row.fields();
        for field in &fields {
            let (parent, name) = match field.rsplit_once('.') {
                Some((parent, name)) => (format!("{parent}."), name),
                None => (String::new(), field.as_str()),
            };
            let Some(other) = partner(name).map(|p| format!("{parent}{p}")) else {
                continue;
            };
            if !fields.contains(&other) {
                continue;
            }
            let (Ok(c), Ok(r)) = (FieldPath::parse(field), FieldPath::parse(&other)) else {
                continue;
            };
            pairs.push((c.in_row(row), r.in_row(row)));
        }
        for (c, r) in &names.swap {
            for path in [c, r] {
                if !row.has(path) {
                    return Err(SpecError::NoField {
                        path: path.to_string(),
                        option: "--swap",
                    });
                }
            }
            pairs.push((c.clone(), r.clone()));
        }
        let mut used: Vec<&FieldPath> = vec![&self.chosen, &self.rejected];
        used.extend(self.prompt.iter());
        used.extend(self.system.iter());
        used.extend(self.scores.iter().flat_map(|(c, r)| [c, r]));
        let mut kept: Vec<(FieldPath, FieldPath)> = Vec::new();
        for (c, r) in pairs {
            let clashes = used.iter().any(|u| u.overlaps(&c) || u.overlaps(&r))
                || kept.iter().any(|(a, b)| a.overlaps(&c) || b.overlaps(&r))
                || names
                    .no_swap
                    .iter()
                    .any(|n| n.overlaps(&c) || n.overlaps(&r));
            if !clashes {
                kept.push((c, r));
            }
        }
        Ok(kept)
    }

    /// The paths the relabeler rewrites; they must not lie inside one another.
    fn check_disjoint(&self) -> Result<(), SpecError> {
        let paths = self.edited();
        for (i, a) in paths.iter().enumerate() {
            for b in &paths[i + 1..] {
                if a.overlaps(b) {
                    return Err(SpecError::Overlap {
                        a: a.to_string(),
                        b: b.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Every path the relabeler reads or rewrites.
    pub fn edited(&self) -> Vec<&FieldPath> {
        let mut paths = vec![&self.chosen, &self.rejected];
        for (c, r) in self.scores.iter().chain(&self.also_swapped) {
            paths.push(c);
            paths.push(r);
        }
        paths.extend(self.prompt.as_ref());
        paths.extend(self.system.as_ref());
        paths
    }
}

impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut scores: Vec<String> = self
            .scores
            .iter()
            .map(|(c, r)| format!("{c}/{r}"))
            .collect();
        if let Some((hi, lo)) = self.fixed {
            scores.push(format!("fixed {hi}/{lo}"));
        }
        write!(
            f,
            "layout {}, scores {}, style {}",
            self.reshape
                .as_ref()
                .map_or(self.named.unwrap_or(self.layout.name()), |r| r
                    .from
                    .as_str()),
            scores.join(", "),
            self.style
        )?;
        if let Some(system) = &self.system {
            write!(f, " (goal in {system})")?;
        }
        if let Some(w) = &self.winner {
            write!(
                f,
                ", winner {} ({}) or {} ({})",
                w.a, w.a_wins.text, w.b, w.b_wins.text
            )?;
            if let WinnerScores::Fixed(hi, lo) = w.scores {
                write!(
                    f,
                    ", scores fixed {}/{}",
                    crate::relabel::format_score(hi),
                    crate::relabel::format_score(lo)
                )?;
            }
        }
        if let Some(reshape) = self.reshape.as_ref().filter(|r| r.adapt != Some(r.target)) {
            write!(f, ", written as {}", reshape.target)?;
        }
        if !self.also_swapped.is_empty() {
            let swaps: Vec<String> = self
                .also_swapped
                .iter()
                .map(|(c, r)| format!("{c}/{r}"))
                .collect();
            write!(f, ", also swaps {}", swaps.join(", "))?;
        }
        Ok(())
    }
}

/// Text fields of data with one response a row (nvidia/HelpSteer's `response`).
const RESPONSE_FIELDS: [&str; 4] = ["response", "completion", "output", "answer"];

/// Fields holding a list of a prompt's responses (the Stack Exchange preferences' `answers`).
const RESPONSE_LISTS: [&str; 4] = ["responses", "answers", "completions", "outputs"];

/// For a row without a pair: what it holds instead that `raug pairs` makes pairs of (one
/// response, or a list of them), and the command, with what the row doesn't say in capitals.
fn responses_to_pair(row: &dyn RowShape) -> Option<(String, String)> {
    let kind = |name: &str| FieldPath::parse(name).ok().and_then(|p| row.kind(&p));
    let prompt = ["prompt", "question", "instruction"]
        .into_iter()
        .find(|name| kind(name) == Some(Ok(TextKind::Text)));
    if let Some(list) = RESPONSE_LISTS
        .into_iter()
        .find(|name| kind(name) == Some(Ok(TextKind::Messages)))
    {
        let prompt = match prompt {
            Some("prompt") => String::new(),
            Some(other) => format!(" --prompt {other}"),
            None => " --prompt PROMPT".to_string(),
        };
        let path = FieldPath::parse(list).expect("a plain name");
        let items = row.item_fields(&path).unwrap_or_default();
        let is_text =
            |name: &str| RESPONSE_FIELDS.contains(&name) || ["text", "content"].contains(&name);
        let text = match items.texts.iter().find(|t| is_text(t)) {
            Some(text) => text.clone(),
            None => one_of("TEXT", &items.texts, "text"),
        };
        return Some((
            format!("the row holds a list of responses ({list:?})"),
            format!(
                "raug pairs INPUT --responses {list}{prompt} --text {text} --score {}",
                score_field(&items.numbers)
            ),
        ));
    }
    let text = RESPONSE_FIELDS
        .into_iter()
        .find(|name| kind(name) == Some(Ok(TextKind::Text)))?;
    Some((
        format!("each row holds one response ({text:?})"),
        format!(
            "raug pairs INPUT --group-by {} --text {text} --score {}",
            prompt.unwrap_or("PROMPT"),
            score_field(&row.numbers())
        ),
    ))
}

/// The `--score` of a hint among the fields holding a number: the one whose name says score,
/// rating or reward, else the one number that isn't an id (a rank with `--lower-is-better`),
/// else a placeholder naming them.
fn score_field(numbers: &[String]) -> String {
    let says = |words: &[&str], name: &str| {
        let name = name.to_ascii_lowercase();
        words.iter().any(|w| name.contains(w))
    };
    let scores: Vec<String> = numbers
        .iter()
        .filter(|n| says(&["score", "rating", "reward"], n))
        .cloned()
        .collect();
    if let [score] = scores.as_slice() {
        return score.clone();
    }
    let candidates: Vec<String> = match scores.is_empty() {
        true => numbers
            .iter()
            .filter(|n| *n != "id" && !n.ends_with("_id"))
            .cloned()
            .collect(),
        false => scores,
    };
    match candidates.as_slice() {
        [rank] if says(&["rank"], rank) => format!("{rank} --lower-is-better"),
        _ => one_of("SCORE", &candidates, "number"),
    }
}

/// A hint's placeholder: the one candidate, else the placeholder and the candidates to pick
/// from (`SCORE (a number field: a, b or c)`).
fn one_of(placeholder: &str, candidates: &[String], kind: &str) -> String {
    match candidates {
        [] => placeholder.to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!(
            "{placeholder} (a {kind} field: {} or {last})",
            init.join(", ")
        ),
    }
}

/// The row's one field, where it has one and it holds a list.
fn one_list(row: &dyn RowShape) -> Option<String> {
    let fields = row.fields();
    let [field] = fields.as_slice() else {
        return None;
    };
    let path = FieldPath::parse(field).ok()?;
    matches!(row.kind(&path), Some(Ok(TextKind::Messages))).then(|| field.clone())
}

/// The first of [`WINNER_PAIRS`] whose two responses the row has.
fn winner_pair(row: &dyn RowShape) -> Option<(&'static str, &'static str)> {
    let has = |name: &str| FieldPath::parse(name).is_ok_and(|p| row.has(&p));
    WINNER_PAIRS.iter().copied().find(|(a, b)| has(a) && has(b))
}

/// `context` where it is a message list: the prompt of a row without one (nvidia/HelpSteer3's
/// conversation so far), for relabel and condition alike.
pub fn context_prompt(row: &dyn RowShape) -> Option<FieldPath> {
    let context = FieldPath::parse("context").expect("a plain name");
    matches!(row.kind(&context), Some(Ok(TextKind::Messages))).then_some(context)
}

fn missing(path: &FieldPath, option: &'static str) -> SpecError {
    SpecError::NoField {
        path: path.to_string(),
        option,
    }
}

/// The overall score fields: given with `--chosen-score`/`--rejected-score`, or detected.
fn overall_scores(
    row: &dyn RowShape,
    names: &FieldNames,
) -> Result<(FieldPath, FieldPath), SpecError> {
    match (&names.chosen_score, &names.rejected_score) {
        (Some(c), Some(r)) => {
            for (path, option) in [(c, "--chosen-score"), (r, "--rejected-score")] {
                if !row.has(path) {
                    return Err(SpecError::NamedFieldMissing {
                        path: path.to_string(),
                        option,
                    });
                }
            }
            Ok((c.clone(), r.clone()))
        }
        (Some(_), None) | (None, Some(_)) => Err(SpecError::ScoresTogether),
        (None, None) => find_pair(
            row,
            SCORE_NAMES
                .iter()
                .map(|(c, r)| (c.to_string(), r.to_string())),
        )
        .ok_or_else(|| {
            let names: Vec<String> = SCORE_NAMES
                .iter()
                .map(|(c, r)| format!("{c}/{r}"))
                .collect();
            SpecError::NoScores {
                looked_for: names.join(", "),
            }
        }),
    }
}

/// An attribute's fields: given, or `NAME_chosen`/`NAME_rejected`, or `chosen_NAME`/`rejected_NAME`.
fn attribute_scores(
    row: &dyn RowShape,
    attribute: &Attribute,
) -> Result<(FieldPath, FieldPath), SpecError> {
    if let Some(paths) = &attribute.paths {
        for path in [&paths.0, &paths.1] {
            if !row.has(path) {
                return Err(SpecError::NoAttributeField {
                    path: path.to_string(),
                    name: attribute.name.clone(),
                });
            }
        }
        return Ok(paths.clone());
    }
    let n = &attribute.name;
    let candidates = [
        (format!("{n}_chosen"), format!("{n}_rejected")),
        (format!("chosen_{n}"), format!("rejected_{n}")),
    ];
    find_pair(row, candidates.into_iter())
        .ok_or_else(|| SpecError::NoAttributeFields { name: n.clone() })
}

/// Finds the first candidate pair present at the top level, then inside object-valued fields.
fn find_pair(
    row: &dyn RowShape,
    candidates: impl Iterator<Item = (String, String)> + Clone,
) -> Option<(FieldPath, FieldPath)> {
    let mut parents = vec![String::new()];
    parents.extend(row.object_fields().into_iter().map(|p| p + "."));
    // Flattened columns (`metadata.score_chosen` at the top level) stand for an object.
    for field in row.fields() {
        if let Some((parent, _)) = field.rsplit_once('.') {
            let parent = format!("{parent}.");
            if !parents.contains(&parent) && row.has(&FieldPath::literal(&field)) {
                parents.push(parent);
            }
        }
    }
    for parent in &parents {
        for (c, r) in candidates.clone() {
            let c = FieldPath::parse(&format!("{parent}{c}")).ok()?.in_row(row);
            let r = FieldPath::parse(&format!("{parent}{r}")).ok()?.in_row(row);
            if row.has(&c) && row.has(&r) {
                return Some((c, r));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_and_overlap() {
        assert!(FieldPath::parse("a..b").is_err());
        let a = FieldPath::parse("meta").unwrap();
        let b = FieldPath::parse("meta.score").unwrap();
        let c = FieldPath::parse("metadata").unwrap();
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&c));
        assert_eq!(b.parts(), ["meta", "score"]);
    }
}
