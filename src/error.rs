//! Typed errors of the library: what went wrong, in which file, on which line, in which field.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Why a row could not be relabeled; also the key its count is filed under in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The bytes are not valid UTF-8.
    InvalidUtf8,
    /// The line is not valid JSON (truncated, `NaN`, ...).
    InvalidJson,
    /// The JSON is valid but not an object.
    NotAnObject,
    /// A needed field is absent or null.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// A score is not a finite number.
    BadScore,
    /// A message list is empty or a message lacks `role`/`content`.
    BadMessage,
    /// The row's shape does not match the dataset's layout.
    LayoutMismatch,
    /// A key raug reads or writes appears more than once in one object.
    DuplicateKey,
    /// The record already begins with the goal text (relabeled before).
    AlreadyConditioned,
    /// A value the output format can't hold: a lone surrogate escape, or, in Parquet, a value
    /// that contradicts the schema taken from the output's first rows.
    Unwritable,
    /// Both `--a-wins-when` and `--b-wins-when` hold.
    TwoWinners,
}

impl Reason {
    /// The reason's name in summaries and `--stats`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::InvalidJson => "invalid_json",
            Reason::NotAnObject => "not_an_object",
            Reason::MissingField => "missing_field",
            Reason::WrongType => "wrong_type",
            Reason::BadScore => "bad_score",
            Reason::BadMessage => "bad_message",
            Reason::LayoutMismatch => "layout_mismatch",
            Reason::DuplicateKey => "duplicate_key",
            Reason::AlreadyConditioned => "already_conditioned",
            Reason::Unwritable => "unwritable",
            Reason::TwoWinners => "two_winners",
        }
    }
}

/// What is wrong with one row, before it is tied to a file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The kind of damage.
    pub reason: Reason,
    /// The field (a dotted path), when one field is to blame.
    pub field: Option<String>,
    /// What was wrong, for a person.
    pub detail: String,
}

impl RowError {
    /// An error about one field.
    pub fn field(reason: Reason, field: &str, detail: impl Into<String>) -> RowError {
        RowError {
            reason,
            field: Some(field.to_string()),
            detail: detail.into(),
        }
    }

    /// An error about the row as a whole.
    pub fn row(reason: Reason, detail: impl Into<String>) -> RowError {
        RowError {
            reason,
            field: None,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field {field:?}: {}", self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

impl std::error::Error for RowError {}

/// Why the options can't work, alone or with a dataset's shape (read off its first row or its
/// schema): the user must change the command. Each message says which option fixes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The winner-field options don't fit the dataset or each other.
    #[error("{0}")]
    Winner(String),
    /// `--to` can't write this dataset's rows in the target layout.
    #[error("--to {target}: {why}")]
    To {
        /// The target layout.
        target: &'static str,
        /// Why not.
        why: String,
    },
    /// A scale is not `LO-HI`.
    #[error("invalid scale {text:?}: write LO-HI, like 1-10 or 0-1")]
    ScaleSyntax {
        /// What was given.
        text: String,
    },
    /// A scale's ends are the same, or (but for `--from-scale`) the wrong way round.
    #[error("invalid scale {text:?}: LO must be below HI")]
    ScaleOrder {
        /// What was given.
        text: String,
    },
    /// A goal template states no score.
    #[error(
        "the template must contain the placeholder {{score}} (or {{scores}}), got {template:?}"
    )]
    NoPlaceholder {
        /// The template.
        template: String,
    },
    /// A field path has an empty key.
    #[error("invalid field path {text:?}: write keys joined by dots, like metadata.score_chosen")]
    PathSyntax {
        /// What was given.
        text: String,
    },
    /// An attribute is not `NAME` or `NAME=CHOSEN_PATH,REJECTED_PATH`.
    #[error("invalid attribute {text:?}: write NAME or NAME=CHOSEN_PATH,REJECTED_PATH")]
    AttributeSyntax {
        /// What was given.
        text: String,
    },
    /// An attribute without a name.
    #[error("invalid attribute {text:?}: the name is empty")]
    AttributeName {
        /// What was given.
        text: String,
    },
    /// A field the layout or an option needs is not in the first row.
    #[error("no field {path:?} in the first row; name the field with {option} PATH")]
    NoField {
        /// The field.
        path: String,
        /// The option that names it.
        option: &'static str,
    },
    /// No `chosen` field, but two responses a winner field would order.
    #[error(
        "no field {path:?} in the first row; name the field with --chosen PATH, or, as the row \
         holds two responses {a:?} and {b:?}, say when each wins with --a-wins-when COND \
         --b-wins-when COND"
    )]
    NoChosenButTwoResponses {
        /// The chosen field looked for.
        path: String,
        /// The first response.
        a: &'static str,
        /// The second response.
        b: &'static str,
    },
    /// No `chosen` field, but a row of one response, or a list of responses: what `raug pairs`
    /// makes pairs of.
    #[error(
        "no field {path:?} in the first row; name the field with --chosen PATH, or, as {what}, \
         make pairs of them first: {command}"
    )]
    NoChosenButResponses {
        /// The chosen field looked for.
        path: String,
        /// What the row holds (`each row holds one response ("response")`).
        what: String,
        /// The `raug pairs` command that would pair them, placeholders in capitals.
        command: String,
    },
    /// No `chosen` field, and the first row holds one list and nothing else: maybe the rows,
    /// in a file that is one object (`{"data": [...]}`).
    #[error(
        "no field {path:?} in the first row, which holds only the list {list:?}: if those are \
         the rows, take them out first (`jq -c '.{list}[]' FILE | raug relabel -`), or name the \
         field with --chosen PATH"
    )]
    NoChosenButOneList {
        /// The chosen field looked for.
        path: String,
        /// The row's one field.
        list: String,
    },
    /// A field an option names is not in the first row (or the schema).
    #[error("{option} {path}: the first row has no such field")]
    NamedFieldMissing {
        /// The field.
        path: String,
        /// The option that names it.
        option: &'static str,
    },
    /// A text field holds neither a string nor a message list.
    #[error("field {path:?} is {what}; expected a string or a message list{hint}")]
    NotText {
        /// The field.
        path: String,
        /// What it holds.
        what: String,
        /// How to name another field, if any.
        hint: &'static str,
    },
    /// One response is a string, the other a message list.
    #[error("fields {chosen:?} and {rejected:?} differ in kind (one is a string, the other a message list)")]
    KindsDiffer {
        /// The chosen field.
        chosen: String,
        /// The rejected field.
        rejected: String,
    },
    /// `--style system` where the goal goes into strings.
    #[error(
        "--style system needs message lists, but {what} holds plain strings; use --style prefix"
    )]
    StyleNeedsLists {
        /// The field or layout.
        what: String,
    },
    /// No score fields found.
    #[error("no score fields found (looked for {looked_for} at the top level and one level down); name them with --chosen-score PATH --rejected-score PATH, or, for data without scores, give --fixed-scores HI,LO")]
    NoScores {
        /// The pairs looked for.
        looked_for: String,
    },
    /// One of `--chosen-score` and `--rejected-score` without the other.
    #[error("--chosen-score and --rejected-score go together: give both")]
    ScoresTogether,
    /// A field named by `--attribute NAME=PATHS` is not in the first row.
    #[error("no field {path:?} in the first row for --attribute {name}")]
    NoAttributeField {
        /// The field.
        path: String,
        /// The attribute.
        name: String,
    },
    /// No fields found for an attribute.
    #[error("no fields for --attribute {name} (looked for {name}_chosen/{name}_rejected and chosen_{name}/rejected_{name}); write --attribute {name}=CHOSEN_PATH,REJECTED_PATH")]
    NoAttributeFields {
        /// The attribute.
        name: String,
    },
    /// Two fields the relabeler edits lie inside one another.
    #[error("fields {a:?} and {b:?} overlap; each role needs its own field")]
    Overlap {
        /// One field.
        a: String,
        /// The other.
        b: String,
    },
    /// `--fixed-scores` that can't work.
    #[error("--fixed-scores: {0}")]
    FixedScores(String),
    /// `--layout` names a layout the first row doesn't have.
    #[error("the first row is not in the layout {asked}: {why}")]
    NotLayout {
        /// The layout asked for.
        asked: &'static str,
        /// What the row has instead.
        why: String,
    },
    /// An eval-time target the goal's scale doesn't have.
    #[error("the target {target} is outside the goal's scale {scale}; pick a target on it, or change --scale")]
    TargetOutsideScale {
        /// The target.
        target: String,
        /// The scale.
        scale: String,
    },
}

/// Where a row is: a file and a 1-based line number (or, for Parquet, a 0-based row index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it (`<stdin>` for standard input): shared, since every row of
    /// a file carries it.
    pub file: Arc<str>,
    /// The line (JSONL, JSON) or row index (Parquet).
    pub position: Position,
}

/// A row's position inside its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A 1-based line number.
    Line(u64),
    /// A 0-based row index.
    Row(u64),
}

impl Location {
    /// Whether this row comes before `other` in the same file.
    pub fn before(&self, other: &Location) -> bool {
        let at = |p: Position| match p {
            Position::Line(n) | Position::Row(n) => n,
        };
        self.file == other.file && at(self.position) < at(other.position)
    }
}

/// The rows a command skipped as bad (`--on-error skip`): how many, by reason, and the first
/// (printed, not in `--stats`). Shared by the summaries of `condition` and `pairs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Skips {
    /// Rows skipped.
    pub skipped: u64,
    /// Skipped rows by reason (`missing_field`, `bad_score`, `unwritable`, ...).
    pub skipped_by_reason: std::collections::BTreeMap<&'static str, u64>,
    /// The first skipped row: where it is and its problem.
    #[serde(skip)]
    pub first_skip: Option<String>,
    /// Where the first skipped row is.
    #[serde(skip)]
    first_at: Option<Location>,
}

impl Skips {
    /// Counts a skipped row (an [`Error::Row`]). Its error is kept as the first when none is
    /// kept yet, or when it lies before the kept one in the same file: a row the writer can't
    /// hold is found when its block is written, after later rows the reading skipped.
    pub(crate) fn skip(&mut self, error: &Error) {
        self.skipped += 1;
        let location = match error {
            Error::Row { location, problem } => {
                *self
                    .skipped_by_reason
                    .entry(problem.reason.as_str())
                    .or_default() += 1;
                Some(location)
            }
            _ => None,
        };
        let earlier = match (location, &self.first_at) {
            (Some(location), Some(kept)) => location.before(kept),
            _ => false,
        };
        if self.first_skip.is_none() || earlier {
            self.first_skip = Some(error.to_string());
            self.first_at = location.cloned();
        }
    }

    /// Counts rows left out because the writer can't hold them (as the writer's row blocks
    /// hand them back: each push with its error and its row count), each push as one skipped
    /// row; returns how many output rows they held.
    pub(crate) fn left_out(&mut self, pushes: Vec<(Error, u64)>) -> u64 {
        pushes
            .into_iter()
            .map(|(error, rows)| {
                self.skip(&error);
                rows
            })
            .sum()
    }

    /// Adds skips counted apart (another file, another reading); the first stays the first.
    pub(crate) fn add(&mut self, other: Skips) {
        self.skipped += other.skipped;
        for (reason, n) in other.skipped_by_reason {
            *self.skipped_by_reason.entry(reason).or_default() += n;
        }
        if self.first_skip.is_none() {
            self.first_skip = other.first_skip;
            self.first_at = other.first_at;
        }
    }

    /// The counts by reason, as every summary states them ([`reason_counts`]).
    pub fn reasons(&self) -> String {
        reason_counts(&self.skipped_by_reason)
    }

    /// The error of a run of `rows` rows that skipped rows and kept nothing: an empty output is
    /// no success.
    pub fn nothing_kept(&self, rows: u64) -> Error {
        Error::NothingKept {
            rows,
            reasons: self.reasons(),
            first: self.first_skip.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Position::Line(line) => write!(f, "{}:{line}", self.file),
            Position::Row(row) => write!(f, "{}: row {row}", self.file),
        }
    }
}

/// An error of the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad row, stopping the run under `--on-error fail`.
    #[error("{location}: {problem}")]
    Row {
        /// Where the row is.
        location: Location,
        /// What is wrong with it.
        problem: RowError,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file as the user named it.
        path: String,
        /// The operating system's error (in the message, so not chained as a source).
        cause: io::Error,
    },
    /// The options can't work together or with this data; the user must change the command.
    #[error("{0}")]
    Usage(String),
    /// The options can't work with this dataset's shape, as its first row (or schema) shows.
    #[error("{at}: {problem}")]
    Spec {
        /// The file, and the line detection read.
        at: String,
        /// What can't work.
        problem: SpecError,
    },
    /// Every row was rejected (under `--on-error skip`): an empty output is no success. Nothing
    /// is written.
    #[error("every one of the {rows} rows was rejected ({reasons}); the first: {first}; nothing was written")]
    NothingKept {
        /// The rows read.
        rows: u64,
        /// The count of each reason, as `reason: n, ...`.
        reasons: String,
        /// The first rejected row's location and problem.
        first: String,
    },
    /// `inspect` found a row `relabel` would stop at.
    #[error("relabel would stop at {0}")]
    WouldStop(String),
    /// A bug, not the data's or the user's fault: a worker thread panicked or stopped without a
    /// word. Nothing is written.
    #[error("internal error: {0}; this is a bug in raug, please report it")]
    Internal(String),
    /// A row the output format can't hold, met while writing, before the caller has said
    /// where it came from (see [`Error::at_row`]).
    #[error("{output}: a row can't be written: {problem}")]
    Unwritable {
        /// The output.
        output: String,
        /// What in the row can't be written.
        problem: RowError,
    },
    /// JSON written as Parquet met a row that the schema its first rows made can't hold and a
    /// wider one can: the run can start again with `schema`. Where it can't, it is `original`.
    #[error("{original}")]
    SchemaWidens {
        /// The error the row is without a wider schema.
        original: Box<Error>,
        /// The wider schema.
        schema: arrow_schema::SchemaRef,
        /// How it is wider, for a note.
        change: String,
    },
    /// A file is not in the format it claims (a bad Parquet footer, say).
    #[error("{path}: {detail}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }

    /// A file that is not in the format it claims, or whose records can't be built: `detail`
    /// says what.
    pub fn format(path: impl Into<String>, detail: impl fmt::Display) -> Error {
        Error::Format {
            path: path.into(),
            detail: detail.to_string(),
        }
    }

    /// A Parquet file that can't be read.
    pub fn unreadable_parquet(path: impl Into<String>, e: impl fmt::Display) -> Error {
        Error::format(path, format!("not a readable Parquet file: {e}"))
    }

    /// The internal error for a panic caught in a thread doing `what`.
    pub fn panicked(what: &str, payload: &(dyn std::any::Any + Send)) -> Error {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        Error::Internal(format!("{what} panicked: {message}"))
    }

    /// Ties an [`Error::Unwritable`] to the input row it was written from; other errors pass.
    pub fn at_row(self, location: &Location) -> Error {
        match self {
            Error::Unwritable { problem, .. } => Error::Row {
                location: location.clone(),
                problem,
            },
            Error::SchemaWidens {
                original,
                schema,
                change,
            } => Error::SchemaWidens {
                original: Box::new(original.at_row(location)),
                schema,
                change,
            },
            other => other,
        }
    }

    /// Whether the user must change the command (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_) | Error::Spec { .. })
    }

    /// Whether this is a closed pipe downstream, which ends a run quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { cause, .. } if cause.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Counts of rows by reason, as `missing_field: 2, invalid_json: 1` (in the reasons' order):
/// how every summary and error states them.
pub fn reason_counts(counts: &std::collections::BTreeMap<&'static str, u64>) -> String {
    let counts: Vec<String> = counts.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    counts.join(", ")
}
