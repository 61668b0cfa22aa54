//! The JSON side of `--to`: rewrites a row into the target layout by splicing, as the
//! [`Reshape`] and the plan's per-row rules say, before it is relabeled. Values it doesn't
//! rewrite keep their bytes.

use std::ops::Range;

use crate::error::{Reason, RowError};
use crate::fields::FieldPath;
use crate::json::object::{describe, items, lookup, same_value, spaced_colon, span, Object};
use crate::json::text::read_text;
use crate::plan::{check_text, join_input, outcome, split_at, CondValue, SplitFacts, TextFact};
use crate::relabel::format_score;
use crate::relabel::TextKind;
use crate::reshape::{
    Outcome, Reshape, Retag, Target, Winner, WinnerScores, INPUT_SEPARATOR, WINNER_FIELDS,
};

/// One change to the line.
enum Edit {
    /// The range's bytes become these.
    Put(Vec<u8>),
    /// The entry (`"key": value`) spanning the range goes, with one comma beside it.
    Remove,
}

/// The row rewritten into the target layout.
pub(crate) fn reshape(line: &str, reshape: &Reshape) -> Result<String, RowError> {
    let object = Object::parse(line)?;
    let field = |name: &str| FieldPath::parse(name).expect("reshape names plain fields");
    let key_sep = if spaced_colon(line) { ": " } else { ":" };
    let item_sep = if key_sep == ": " { ", " } else { "," };
    let mut edits: Vec<(Range<usize>, Edit)> = Vec::new();
    if let Some(split) = &reshape.split {
        let (chosen_fact, chosen) = conversation(line, &object, &field(&split.chosen))?;
        let (rejected_fact, rejected) = conversation(line, &object, &field(&split.rejected))?;
        let count = |c: &Option<Messages>| c.as_ref().map_or(0, |c| c.1.len());
        let shared = match (&chosen, &rejected) {
            (Some((_, c)), Some((_, r))) => c
                .iter()
                .zip(r)
                .take_while(|(a, b)| same_value(a, b))
                .count(),
            _ => 0,
        };
        let facts = SplitFacts {
            chosen: chosen_fact,
            rejected: rejected_fact,
            lens: (count(&chosen), count(&rejected)),
            shared,
        };
        let at = split_at(&facts, split, &reshape.from)?;
        let (Some((c_raw, c_items)), Some((r_raw, r_items))) = (chosen, rejected) else {
            unreachable!("split_at accepts message lists only")
        };
        let prompt = list_of(c_raw, &c_items[..at]);
        edits.push((span(line, c_raw), Edit::Put(list_of(c_raw, &c_items[at..]))));
        edits.push((span(line, r_raw), Edit::Put(list_of(r_raw, &r_items[at..]))));
        let existing = match &split.prompt {
            Some(name) => object.get_once(name)?,
            None => None,
        };
        match existing {
            Some(value) => edits.push((span(line, value), Edit::Put(prompt))),
            None => {
                let open = line.find('{').expect("an object") + 1;
                let mut entry = format!("\"prompt\"{key_sep}").into_bytes();
                entry.extend_from_slice(&prompt);
                entry.extend_from_slice(item_sep.as_bytes());
                edits.push((open..open, Edit::Put(entry)));
            }
        }
    }
    if let Some(join) = &reshape.join {
        let (prompt_fact, prompt) = read_text(line, &object, &field(&join.prompt))?;
        let (input_fact, input) = read_text(line, &object, &field(&join.input))?;
        let input_raw = input.as_ref().map(|t| t.raw);
        let empty = input_raw == Some("\"\"");
        if join_input(&prompt_fact, &input_fact, empty, join, &reshape.from)? {
            let (prompt, input) = (prompt.expect("a string"), input_raw.expect("a string"));
            let text = |raw: &str| {
                serde_json::from_str::<String>(raw)
                    .map_err(|e| RowError::row(Reason::InvalidJson, e.to_string()))
            };
            let joined = text(prompt.raw)? + INPUT_SEPARATOR + &text(input)?;
            let quoted = serde_json::to_string(&joined).expect("strings always serialize");
            edits.push((prompt.span.clone(), Edit::Put(quoted.into_bytes())));
        }
        if let Some(value) = object.get_once(&join.input)? {
            edits.push((entry_span(line, value), Edit::Remove));
        }
    }
    if let Some(to) = &reshape.to_messages {
        let message = |role: &str, content: &[u8]| {
            let mut m =
                format!("{{\"role\"{key_sep}\"{role}\"{item_sep}\"content\"{key_sep}").into_bytes();
            m.extend_from_slice(content);
            m.push(b'}');
            m
        };
        let list = |messages: Vec<Vec<u8>>| {
            let mut l = vec![b'['];
            l.extend(messages.join(item_sep.as_bytes()));
            l.push(b']');
            l
        };
        let texts = to.texts();
        let mut spans = Vec::new();
        for &(name, _) in &texts {
            let (fact, text) = read_text(line, &object, &field(name))?;
            check_text(&fact, name, TextKind::Text, &reshape.from)?;
            spans.push(text.expect("a string").span);
        }
        let mut prompt = Vec::new();
        if let Some(name) = &to.system {
            let (fact, text) = read_text(line, &object, &field(name))?;
            match (fact, text) {
                (TextFact::Missing, _) => {}
                (TextFact::Text, Some(text)) => {
                    if text.raw != "\"\"" {
                        prompt.push(message("system", text.raw.as_bytes()));
                    }
                    edits.push((entry_span(line, text.raw), Edit::Remove));
                }
                (fact, _) => check_text(&fact, name, TextKind::Text, &reshape.from)?,
            }
        }
        for ((_, role), span) in texts.iter().zip(spans) {
            // The prompt joined with its input, if it was.
            let at = edits.iter().position(|(r, _)| *r == span);
            let content = match at.map(|i| edits.remove(i).1) {
                Some(Edit::Put(bytes)) => bytes,
                _ => line.as_bytes()[span.clone()].to_vec(),
            };
            let value = match *role {
                "user" => {
                    prompt.push(message(role, &content));
                    list(std::mem::take(&mut prompt))
                }
                _ => list(vec![message(role, &content)]),
            };
            edits.push((span, Edit::Put(value)));
        }
    }
    for name in &reshape.drops {
        if let Some(value) = object.get_once(name)? {
            edits.push((entry_span(line, value), Edit::Remove));
        }
    }
    for (from, to) in &reshape.renames {
        if let Some(value) = object.get_once(from)? {
            let key = entry_span(line, value);
            let key = key.start..key_end(line, key.start);
            let quoted = serde_json::to_string(to).expect("strings always serialize");
            edits.push((key, Edit::Put(quoted.into_bytes())));
        }
    }
    Ok(apply(line, edits))
}

/// The line with the edits made.
fn apply(line: &str, mut edits: Vec<(Range<usize>, Edit)>) -> String {
    // From the end backwards, so earlier ranges stay where they are; at one start the longer
    // edit first, so an insertion lands in front of it.
    edits.sort_by_key(|(range, _)| std::cmp::Reverse((range.start, range.end)));
    let mut out = line.as_bytes().to_vec();
    for (range, edit) in edits {
        match edit {
            Edit::Put(bytes) => {
                out.splice(range, bytes);
            }
            Edit::Remove => {
                let cut = with_comma(&out, range);
                out.drain(cut);
            }
        }
    }
    String::from_utf8(out).expect("spliced from UTF-8 pieces")
}

/// A winner row as a `chosen`/`rejected` row: the winner in the first response's place, named
/// `chosen`, the loser in the second's, named `rejected`; scores read follow their responses,
/// scores given are added at the end. Also says whether the two traded places (the second won
/// and both hold a value).
pub(crate) fn winner(line: &str, winner: &Winner) -> Result<(String, bool), RowError> {
    let object = Object::parse(line)?;
    let value = |path: &str| -> Result<CondValue, RowError> {
        let path = FieldPath::parse(path).expect("a checked path");
        Ok(cond_value(lookup(&object, &path)?))
    };
    let outcome = outcome(
        &value(&winner.a_wins.path)?,
        &value(&winner.b_wins.path)?,
        winner,
    )?;
    let present = |name: &str| -> Result<Option<&str>, RowError> {
        Ok(object.get_once(name)?.filter(|v| *v != "null"))
    };
    let swap =
        outcome == Outcome::B && present(&winner.a)?.is_some() && present(&winner.b)?.is_some();
    let mut edits: Vec<(Range<usize>, Edit)> = Vec::new();
    let sources = winner.sources();
    for pair in [0, 2] {
        let (Some(a), Some(b)) = (sources[pair], sources[pair + 1]) else {
            continue;
        };
        let (a_raw, b_raw) = (object.get_once(a)?, object.get_once(b)?);
        let traded = swap && present(a)?.is_some() && present(b)?.is_some();
        for (raw, other, to) in [
            (a_raw, b_raw, WINNER_FIELDS[pair]),
            (b_raw, a_raw, WINNER_FIELDS[pair + 1]),
        ] {
            let Some(raw) = raw else { continue };
            let entry = entry_span(line, raw);
            let key = entry.start..key_end(line, entry.start);
            edits.push((key, Edit::Put(format!("\"{to}\"").into_bytes())));
            if let (true, Some(other)) = (traded, other) {
                edits.push((span(line, raw), Edit::Put(other.as_bytes().to_vec())));
            }
        }
    }
    if let WinnerScores::Fixed(hi, lo) = winner.scores {
        let (c, r) = Winner::fixed_scores(hi, lo, outcome);
        let key_sep = if spaced_colon(line) { ": " } else { ":" };
        let item_sep = if key_sep == ": " { ", " } else { "," };
        let close = line.rfind('}').expect("an object");
        let added = format!(
            "{item_sep}\"score_chosen\"{key_sep}{}{item_sep}\"score_rejected\"{key_sep}{}",
            format_score(c),
            format_score(r)
        );
        edits.push((close..close, Edit::Put(added.into_bytes())));
    }
    Ok((apply(line, edits), swap))
}

/// A relabeled row of TRL's conversational layout written as `target` (ShareGPT or OpenAI),
/// appended to `out` with a newline. The row's responses are one message each for ShareGPT
/// (the plan checked it).
pub(crate) fn emit(line: &str, target: Target, out: &mut Vec<u8>) -> Result<(), RowError> {
    let object = Object::parse(line)?;
    let key_sep = if spaced_colon(line) { ": " } else { ":" };
    let item_sep = if key_sep == ": " { ", " } else { "," };
    let raw = |name: &str| -> Result<&str, RowError> {
        object
            .get_once(name)?
            .ok_or_else(|| RowError::field(Reason::MissingField, name, "missing or null"))
    };
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    match target {
        Target::Trl => unreachable!("TRL rows are written as they are"),
        Target::OpenAi => {
            // The rest of an OpenAI row's input (tools, ...) after its messages.
            let mut input = vec![("messages".to_string(), raw("prompt")?.as_bytes().to_vec())];
            if let Some(rest) = object.get("input") {
                if rest.starts_with('{') {
                    let rest = Object::parse(rest)?;
                    input.extend(
                        rest.entries()
                            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())),
                    );
                }
            }
            entries.push(("input".into(), object_of(&input, key_sep, item_sep)));
            entries.push((
                "preferred_output".into(),
                raw("chosen")?.as_bytes().to_vec(),
            ));
            entries.push((
                "non_preferred_output".into(),
                raw("rejected")?.as_bytes().to_vec(),
            ));
        }
        Target::ShareGpt => {
            // Messages the plan checked (objects with a string role): nothing can be wrong.
            let to_sharegpt = |raw: &str| {
                retag_message(raw, Retag::ToShareGpt, key_sep, item_sep)
                    .map_err(|why| RowError::row(Reason::BadMessage, why))
            };
            let has_system = object.get("system").is_some();
            for (key, value) in object.entries() {
                match key {
                    "prompt" => {
                        let mut messages = items(value).map_err(|e| {
                            RowError::field(Reason::InvalidJson, key, e.to_string())
                        })?;
                        // A leading system message goes to the `system` field LLaMA-Factory reads.
                        if let (false, Some(first)) = (has_system, messages.first()) {
                            let first = Object::parse(first)?;
                            if first.get("role") == Some("\"system\"") {
                                if let Some(content) = first.get("content") {
                                    let content = content.as_bytes().to_vec();
                                    entries.push(("system".into(), content));
                                    messages.remove(0);
                                }
                            }
                        }
                        let mapped: Vec<Vec<u8>> = messages
                            .iter()
                            .map(|m| to_sharegpt(m))
                            .collect::<Result<_, _>>()?;
                        entries.push(("conversations".into(), list_of_raw(&mapped, item_sep)));
                    }
                    "chosen" | "rejected" => {
                        let messages = items(value).map_err(|e| {
                            RowError::field(Reason::InvalidJson, key, e.to_string())
                        })?;
                        let only = messages.first().expect("one message, checked before");
                        entries.push((key.into(), to_sharegpt(only)?));
                    }
                    _ => entries.push((key.into(), value.as_bytes().to_vec())),
                }
            }
        }
    }
    out.extend_from_slice(&object_of(&entries, key_sep, item_sep));
    out.push(b'\n');
    Ok(())
}

/// A JSON object of these entries (raw values), written with these separators.
fn object_of(entries: &[(String, Vec<u8>)], key_sep: &str, item_sep: &str) -> Vec<u8> {
    let mut out = vec![b'{'];
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(item_sep.as_bytes());
        }
        out.extend_from_slice(
            serde_json::to_string(key)
                .expect("strings serialize")
                .as_bytes(),
        );
        out.extend_from_slice(key_sep.as_bytes());
        out.extend_from_slice(value);
    }
    out.push(b'}');
    out
}

/// A list of raw JSON values, written with this separator.
fn list_of_raw(items: &[Vec<u8>], item_sep: &str) -> Vec<u8> {
    let mut list = vec![b'['];
    list.extend(items.join(item_sep.as_bytes()));
    list.push(b']');
    list
}

/// A ShareGPT or OpenAI row as a row of TRL's conversational layout ([`Reshape::adapt`]).
pub(crate) fn adapt(line: &str, via: Target) -> Result<String, RowError> {
    let object = Object::parse(line)?;
    let key_sep = if spaced_colon(line) { ": " } else { ":" };
    let item_sep = if key_sep == ": " { ", " } else { "," };
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    match via {
        Target::Trl => unreachable!("TRL rows are read as they are"),
        Target::ShareGpt => {
            let system = match object.get_once("system")? {
                None | Some("null") | Some("\"\"") => None,
                Some(raw) if raw.starts_with('"') => Some(raw),
                Some(raw) => {
                    return Err(RowError::field(
                        Reason::WrongType,
                        "system",
                        format!("expected a string, got {}", describe(raw)),
                    ))
                }
            };
            for (key, value) in object.entries() {
                match key {
                    "system" => {}
                    "conversations" if value == "null" => {
                        entries.push(("prompt".into(), b"null".to_vec()))
                    }
                    "conversations" if !value.starts_with('[') => {
                        return Err(RowError::field(
                            Reason::WrongType,
                            key,
                            format!(
                                "expected a message list (layout sharegpt), got {}",
                                describe(value)
                            ),
                        ))
                    }
                    "conversations" => {
                        let mut messages = Vec::new();
                        if let Some(system) = system {
                            let pair = [
                                ("role".to_string(), b"\"system\"".to_vec()),
                                ("content".to_string(), system.as_bytes().to_vec()),
                            ];
                            messages.push(object_of(&pair, key_sep, item_sep));
                        }
                        let list = items(value).map_err(|e| {
                            RowError::field(Reason::InvalidJson, key, e.to_string())
                        })?;
                        for (i, item) in list.iter().enumerate() {
                            let message =
                                retag_message(item, Retag::FromShareGpt, key_sep, item_sep)
                                    .map_err(|why| {
                                        RowError::field(
                                            Reason::BadMessage,
                                            key,
                                            format!("message {i} {why}"),
                                        )
                                    })?;
                            messages.push(message);
                        }
                        entries.push(("prompt".into(), list_of_raw(&messages, item_sep)));
                    }
                    "chosen" | "rejected" if value.starts_with('{') => {
                        let message = retag_message(value, Retag::FromShareGpt, key_sep, item_sep)
                            .map_err(|why| RowError::field(Reason::BadMessage, key, why))?;
                        entries.push((key.into(), list_of_raw(&[message], item_sep)));
                    }
                    "chosen" | "rejected" if value != "null" => {
                        return Err(RowError::field(
                            Reason::WrongType,
                            key,
                            format!(
                            "expected a message {{\"from\", \"value\"}} (layout sharegpt), got {}",
                            describe(value)
                        ),
                        ))
                    }
                    _ => entries.push((key.into(), value.as_bytes().to_vec())),
                }
            }
        }
        Target::OpenAi => {
            for (key, value) in object.entries() {
                match key {
                    "input" => {
                        let missing = || {
                            RowError::field(
                                Reason::MissingField,
                                "input.messages",
                                "missing or null",
                            )
                        };
                        if value == "null" {
                            return Err(missing());
                        }
                        if !value.starts_with('{') {
                            return Err(RowError::field(
                                Reason::WrongType,
                                key,
                                format!("expected an object, got {}", describe(value)),
                            ));
                        }
                        let input = Object::parse(value)?;
                        let messages = input.get_once("messages")?.ok_or_else(missing)?;
                        entries.push(("prompt".into(), messages.as_bytes().to_vec()));
                        let rest: Vec<(String, Vec<u8>)> = input
                            .entries()
                            .filter(|(k, _)| *k != "messages")
                            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                            .collect();
                        if !rest.is_empty() {
                            entries.push(("input".into(), object_of(&rest, key_sep, item_sep)));
                        }
                    }
                    "preferred_output" => {
                        entries.push(("chosen".into(), value.as_bytes().to_vec()))
                    }
                    "non_preferred_output" => {
                        entries.push(("rejected".into(), value.as_bytes().to_vec()))
                    }
                    _ => entries.push((key.into(), value.as_bytes().to_vec())),
                }
            }
        }
    }
    Ok(String::from_utf8(object_of(&entries, key_sep, item_sep)).expect("made of UTF-8 pieces"))
}

/// A message renamed as `retag` says (`{"from", "value", ...}` and `{"role", "content", ...}`,
/// either way), its role by its new name; or what's wrong with it.
fn retag_message(
    raw: &str,
    retag: Retag,
    key_sep: &str,
    item_sep: &str,
) -> Result<Vec<u8>, String> {
    let ((role, to_role), (text, to_text)) = (retag.role_key(), retag.text_key());
    if !raw.starts_with('{') {
        return Err(format!(
            "is {}, expected an object with {role:?} and {text:?}",
            describe(raw)
        ));
    }
    let message = Object::parse(raw).map_err(|e| e.detail)?;
    let mut entries = Vec::new();
    let mut has_role = false;
    for (key, value) in message.entries() {
        if key == role {
            let name: String = serde_json::from_str(value)
                .map_err(|_| format!("has a {role:?} that is {}", describe(value)))?;
            let renamed = serde_json::to_string(retag.role(&name)).expect("strings serialize");
            entries.push((to_role.to_string(), renamed.into_bytes()));
            has_role = true;
        } else {
            let key = if key == text { to_text } else { key };
            entries.push((key.to_string(), value.as_bytes().to_vec()));
        }
    }
    if !has_role {
        return Err(format!("has no {role:?}"));
    }
    Ok(object_of(&entries, key_sep, item_sep))
}

/// The fact of a value a winner condition reads.
fn cond_value(raw: Option<&str>) -> CondValue {
    match raw {
        None | Some("null") => CondValue::Missing,
        Some("true") => CondValue::Bool(true),
        Some("false") => CondValue::Bool(false),
        Some(raw) if raw.starts_with('"') => match serde_json::from_str::<String>(raw) {
            Ok(text) => CondValue::String(text),
            Err(_) => CondValue::Other(describe(raw)),
        },
        Some(raw) if matches!(raw.as_bytes()[0], b'-' | b'0'..=b'9') => match raw.parse() {
            Ok(v) => CondValue::Number(v),
            Err(_) => CondValue::Other(describe(raw)),
        },
        Some(raw) => CondValue::Other(describe(raw)),
    }
}

/// A message list's raw text and its messages' raw values.
type Messages<'a> = (&'a str, Vec<&'a str>);

/// A conversation's fact and, when it is a message list, its raw text and messages.
fn conversation<'a>(
    line: &'a str,
    object: &Object<'a>,
    path: &FieldPath,
) -> Result<(TextFact, Option<Messages<'a>>), RowError> {
    let (fact, text) = read_text(line, object, path)?;
    let list = match (&fact, text) {
        (TextFact::Messages(_), Some(text)) => {
            let list = items(text.raw)
                .map_err(|e| RowError::field(Reason::InvalidJson, path.as_str(), e.to_string()))?;
            Some((text.raw, list))
        }
        _ => None,
    };
    Ok((fact, list))
}

/// A JSON list of some items of the list `raw`, written as `raw` writes them.
fn list_of(raw: &str, items: &[&str]) -> Vec<u8> {
    let mut out = vec![b'['];
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        let (start, end) = (span(raw, first).start, span(raw, last).end);
        out.extend_from_slice(&raw.as_bytes()[start..end]);
    }
    out.push(b']');
    out
}

/// The span of the entry `"key": value` whose value is `value` (a slice of `line`).
fn entry_span(line: &str, value: &str) -> Range<usize> {
    let at = span(line, value);
    let bytes = line.as_bytes();
    // Back over the colon and the whitespace around it to the key's closing quote.
    let mut i = at.start;
    while i > 0 && bytes[i - 1] != b'"' {
        i -= 1;
    }
    // The key's opening quote: the first quote before it that no backslash escapes.
    let mut j = i - 1;
    loop {
        j -= 1;
        if bytes[j] == b'"' {
            let slashes = bytes[..j].iter().rev().take_while(|&&b| b == b'\\').count();
            if slashes % 2 == 0 {
                break;
            }
        }
    }
    j..at.end
}

/// Where the key that begins at `start` (its opening quote) ends, after its closing quote.
fn key_end(line: &str, start: usize) -> usize {
    let bytes = line.as_bytes();
    let mut i = start + 1;
    loop {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
}

/// The bytes to cut to remove the entry at `entry`: with the comma before it, or, for a first
/// entry, the comma and spacing after it.
fn with_comma(out: &[u8], entry: Range<usize>) -> Range<usize> {
    let mut before = entry.start;
    while before > 0 && out[before - 1].is_ascii_whitespace() {
        before -= 1;
    }
    if before > 0 && out[before - 1] == b',' {
        return before - 1..entry.end;
    }
    let mut after = entry.end;
    while after < out.len() && out[after].is_ascii_whitespace() {
        after += 1;
    }
    if out.get(after) == Some(&b',') {
        after += 1;
        while after < out.len() && out[after].is_ascii_whitespace() {
            after += 1;
        }
        return entry.start..after;
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reshape::{Join, Split, Target};

    fn trl(
        split: Option<Split>,
        join: Option<Join>,
        drops: &[&str],
        renames: &[(&str, &str)],
    ) -> Reshape {
        Reshape {
            target: Target::Trl,
            from: "test".into(),
            split,
            join,
            drops: drops.iter().map(|d| d.to_string()).collect(),
            renames: renames
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            to_messages: None,
            adapt: None,
        }
    }

    #[test]
    fn conversations_split_into_an_explicit_prompt() {
        let split = Split {
            prompt: Some("prompt".into()),
            chosen: "chosen".into(),
            rejected: "rejected".into(),
        };
        let line = r#"{"prompt": "q", "chosen": [{"content": "q", "role": "user"}, {"content": "A", "role": "assistant"}], "rejected": [{"role": "user", "content": "q"}, {"content": "B", "role": "assistant"}], "messages": [{"content": "q", "role": "user"}], "score_chosen": 8}"#;
        assert_eq!(
            reshape(line, &trl(Some(split), None, &["messages"], &[])).unwrap(),
            r#"{"prompt": [{"content": "q", "role": "user"}], "chosen": [{"content": "A", "role": "assistant"}], "rejected": [{"content": "B", "role": "assistant"}], "score_chosen": 8}"#
        );
    }

    #[test]
    fn an_implicit_prompt_is_added_in_front() {
        let split = Split {
            prompt: None,
            chosen: "good".into(),
            rejected: "bad".into(),
        };
        let line = r#"{"good":[{"role":"user","content":"q"},{"role":"assistant","content":"A"}],"bad":[{"role":"user","content":"q"},{"role":"assistant","content":"B"}]}"#;
        let to = trl(
            Some(split),
            None,
            &[],
            &[("good", "chosen"), ("bad", "rejected")],
        );
        assert_eq!(
            reshape(line, &to).unwrap(),
            r#"{"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"A"}],"rejected":[{"role":"assistant","content":"B"}]}"#
        );
        let unshared =
            r#"{"good":[{"role":"user","content":"q"}],"bad":[{"role":"user","content":"r"}]}"#;
        assert_eq!(
            reshape(unshared, &to).unwrap_err().to_string(),
            "field \"good\": shares no leading message with \"bad\", so no prompt can be split off them (--to)"
        );
    }

    #[test]
    fn alpaca_input_joins_the_instruction() {
        let join = Join {
            prompt: "instruction".into(),
            input: "input".into(),
        };
        let to = trl(None, Some(join), &[], &[("instruction", "prompt")]);
        let line =
            r#"{"input": "x = 1", "instruction": "Explain:", "chosen": "A", "rejected": "B"}"#;
        assert_eq!(
            reshape(line, &to).unwrap(),
            r#"{"prompt": "Explain:\nx = 1", "chosen": "A", "rejected": "B"}"#
        );
        let empty = r#"{"instruction": "Do \u00e9", "input": "", "chosen": "A", "rejected": "B"}"#;
        assert_eq!(
            reshape(empty, &to).unwrap(),
            r#"{"prompt": "Do \u00e9", "chosen": "A", "rejected": "B"}"#
        );
        let bad = r#"{"instruction": "Do", "input": 3, "chosen": "A", "rejected": "B"}"#;
        assert_eq!(
            reshape(bad, &to).unwrap_err().to_string(),
            "field \"input\": expected a string, got number 3"
        );
    }
}
