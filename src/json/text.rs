//! Reads a JSON row's text fields: what the rules need to know of each ([`TextFact`]), and
//! where in the line a goal would go (the string, or a message list's first message).

use std::borrow::Cow;
use std::ops::Range;

use crate::error::{Reason, RowError};
use crate::fields::FieldPath;
use crate::json::object::{describe, items, lookup, objects, spaced_colon, span, Object};
use crate::plan::{ListFact, TextFact};
use crate::relabel::TextKind;

/// The kind of a raw JSON value: a string, a list, or (as an error) what it is instead.
pub(crate) fn kind_of(raw: &str) -> Result<TextKind, String> {
    match raw.as_bytes().first() {
        Some(b'"') => Ok(TextKind::Text),
        Some(b'[') => Ok(TextKind::Messages),
        _ => Err(describe(raw)),
    }
}

/// A text field of the row: its raw JSON, where it sits in the line, and what a message list
/// holds where the goal may go.
pub(crate) struct Text<'a> {
    pub(crate) raw: &'a str,
    pub(crate) span: Range<usize>,
    pub(crate) list: Option<List<'a>>,
}

/// Where a goal goes in a message list, as the data writes it.
pub(crate) struct List<'a> {
    /// Message 0's content, when it is a string, relative to the list's raw text.
    pub(crate) first_content: Option<Range<usize>>,
    /// The text of message 0's first text part, when its content is typed parts, relative to
    /// the list's raw text.
    pub(crate) first_text_part: Option<Range<usize>>,
    /// Where message 0 starts, relative to the list's raw text.
    pub(crate) first_start: usize,
    /// Whether messages write `content` before `role` (H4 does).
    pub(crate) content_first: bool,
    /// The separator between items, as the data writes it (`, ` or `,`).
    pub(crate) item_sep: Cow<'a, str>,
    /// The separator between a key and its value (`: ` or `:`).
    pub(crate) key_sep: &'static str,
}

/// Finds a text field: its fact for the rules, and, when it is a string or a well-formed message
/// list, where it is and where a goal would go.
pub(crate) fn read_text<'a>(
    line: &'a str,
    object: &Object<'a>,
    path: &FieldPath,
) -> Result<(TextFact, Option<Text<'a>>), RowError> {
    read_text_with(line, object, path, None)
}

/// A message list read with its row: each item's raw text and fields.
pub(crate) type ReadList<'a> = Vec<(&'a str, Object<'a>)>;

/// [`read_text`], given the field's message list when it was read with the row.
pub(crate) fn read_text_with<'a>(
    line: &'a str,
    object: &Object<'a>,
    path: &FieldPath,
    list: Option<ReadList<'a>>,
) -> Result<(TextFact, Option<Text<'a>>), RowError> {
    let raw = match lookup(object, path)? {
        Some(raw) if raw != "null" => raw,
        _ => return Ok((TextFact::Missing, None)),
    };
    let text = |list| Text {
        raw,
        span: span(line, raw),
        list,
    };
    Ok(match kind_of(raw) {
        Err(what) => (TextFact::Other(what), None),
        Ok(TextKind::Text) => (TextFact::Text, Some(text(None))),
        Ok(TextKind::Messages) => {
            let (fact, list) = read_list(raw, list).map_err(|e| RowError {
                field: Some(path.to_string()),
                ..e
            })?;
            (TextFact::Messages(fact), list.map(|l| text(Some(l))))
        }
    })
}

/// Reads a message list's facts and, when every message has a role, where a goal would go.
fn read_list<'a>(
    raw: &'a str,
    read: Option<ReadList<'a>>,
) -> Result<(ListFact, Option<List<'a>>), RowError> {
    // Messages read with the row or the list in one pass; else item by item.
    let (list, mut messages) = match read.or_else(|| objects(raw)) {
        Some(found) => {
            let (list, messages): (Vec<&str>, Vec<Object>) = found.into_iter().unzip();
            (list, Some(messages.into_iter()))
        }
        None => {
            let list = items(raw).map_err(|e| RowError::row(Reason::InvalidJson, e.to_string()))?;
            (list, None)
        }
    };
    if list.is_empty() {
        return Ok((ListFact::Empty, None));
    }
    let mut first = None;
    for (i, &text) in list.iter().enumerate() {
        let message = match &mut messages {
            Some(messages) => messages.next().expect("a message per item"),
            None if !text.starts_with('{') => {
                return Ok((ListFact::NotAnObject(i, describe(text)), None))
            }
            None => Object::parse(text)?,
        };
        let once = |key: &str| {
            message.get_once(key).map_err(|e| RowError {
                detail: format!("message {i}: \"{key}\" {}", e.detail),
                ..e
            })
        };
        let role = once("role")?;
        match role {
            None | Some("null") => return Ok((ListFact::BadRole(i, None), None)),
            Some(r) if !r.starts_with('"') => {
                return Ok((ListFact::BadRole(i, Some(describe(r))), None))
            }
            Some(_) => {}
        }
        if i == 0 {
            let content = once("content")?;
            let content_first = message.position("content") < message.position("role");
            first = Some((role == Some("\"system\""), content, content_first));
        }
    }
    let (first_is_system, content, content_first) = first.expect("list is not empty");
    let first_content = content.filter(|c| c.starts_with('"')).map(|c| span(raw, c));
    // Content as typed parts: the text of the first `{"type": "text", "text": "..."}`.
    let parts = content.is_some_and(|c| c.starts_with('['));
    let first_text_part = match content.filter(|_| parts) {
        Some(content) => first_text(content)?.map(|t| span(raw, t)),
        None => None,
    };
    let first_raw = list[0];
    let key_sep = if spaced_colon(first_raw) { ": " } else { ":" };
    let item_sep = match list.get(1) {
        Some(second) => Cow::Borrowed(&raw[span(raw, first_raw).end..span(raw, second).start]),
        None => Cow::Borrowed(if key_sep == ": " { ", " } else { "," }),
    };
    let fact = ListFact::Messages {
        first_is_system,
        first_content_is_text: first_content.is_some(),
        parts,
        first_text_part: first_text_part.is_some(),
        len: list.len(),
    };
    Ok((
        fact,
        Some(List {
            first_content,
            first_text_part,
            first_start: span(raw, first_raw).start,
            content_first,
            item_sep,
            key_sep,
        }),
    ))
}

/// The raw text (a JSON string) of the first text part of a content parts list.
fn first_text(content: &str) -> Result<Option<&str>, RowError> {
    let parts = items(content).map_err(|e| RowError::row(Reason::InvalidJson, e.to_string()))?;
    for part in parts {
        if !part.starts_with('{') {
            continue;
        }
        let part = Object::parse(part)?;
        let text = part.get("text");
        if part.get("type") == Some("\"text\"") {
            if let Some(text) = text.filter(|t| t.starts_with('"')) {
                return Ok(Some(text));
            }
        }
    }
    Ok(None)
}
