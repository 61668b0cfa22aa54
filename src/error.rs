//! Typed errors of the library: what went wrong, in which file, on which line, in which field.

use std::fmt;
use std::io;

/// Why a row could not be relabeled; also the key its count is filed under in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The bytes are not valid UTF-8.
    InvalidUtf8,
    /// The line is not valid JSON (truncated, `NaN`, ...).
    InvalidJson,
    /// The JSON is valid but not an object.
    NotAnObject,
    /// A needed field is absent.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// A score is not a finite number.
    BadScore,
    /// A message list is empty or a message lacks `role`/`content`.
    BadMessage,
    /// The row's shape does not match the dataset's layout.
    LayoutMismatch,
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

/// Where a row is: a file and a 1-based line number (or, for Parquet, a 0-based row index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it (`<stdin>` for standard input).
    pub file: String,
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
    /// A bug, not the data's or the user's fault: a worker thread panicked or stopped without a
    /// word. Nothing is written.
    #[error("internal error: {0}; this is a bug in raug, please report it")]
    Internal(String),
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

    /// The internal error for a panic caught in a thread doing `what`.
    pub fn panicked(what: &str, payload: &(dyn std::any::Any + Send)) -> Error {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        Error::Internal(format!("{what} panicked: {message}"))
    }

    /// Whether this is a closed pipe downstream, which ends a run quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { cause, .. } if cause.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
