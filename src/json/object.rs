//! A JSON object read as ordered `(key, raw value)` pairs, so fields can be found and their exact
//! bytes spliced without re-serializing anything.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;

use crate::error::{Reason, RowError};
use crate::fields::FieldPath;

/// An object's fields in input order, each value as its raw JSON text.
#[derive(Debug)]
pub struct Object<'a> {
    entries: Vec<(Cow<'a, str>, &'a str)>,
}

impl<'a> Object<'a> {
    /// Parses one JSON object; the text must be exactly one value (whitespace around is fine).
    pub fn parse(text: &'a str) -> Result<Object<'a>, RowError> {
        let first = text.trim_start().as_bytes().first().copied();
        if first != Some(b'{') {
            // Tell "not an object" apart from "not JSON" so users see the right problem.
            return match serde_json::from_str::<&RawValue>(text) {
                Ok(raw) => Err(RowError::row(
                    Reason::NotAnObject,
                    format!("expected a JSON object, got {}", describe(raw.get())),
                )),
                Err(e) => Err(json_error(&e)),
            };
        }
        serde_json::from_str::<Object>(text).or_else(|e| match stand_ins(text) {
            // NaN, Infinity and -Infinity, as Python's json.dumps writes float('nan') and
            // pyarrow, pandas and Python read them back: JSON has no such numbers, but a field
            // holding one passes through as written, and a score holding one is a bad score.
            Some(standing) => Object::from_stand_ins(text, &standing),
            None => Err(json_error(&e)),
        })
    }

    /// The object of `text` read from `standing`, the same text with each non-finite literal
    /// replaced by a number as long (see [`stand_ins`]): each value is the original's bytes.
    fn from_stand_ins(text: &'a str, standing: &str) -> Result<Object<'a>, RowError> {
        let object = serde_json::from_str::<Object>(standing).map_err(|e| json_error(&e))?;
        let entries = object
            .entries
            .iter()
            .map(|(key, value)| (Cow::Owned(key.to_string()), original(text, standing, value)))
            .collect();
        Ok(Object { entries })
    }

    /// The raw value of a key, if present (the first one when a key repeats).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| *value)
    }

    /// The raw value of a key that must appear once: a key raug reads or writes. Twice is an
    /// error: raug would read the first, and most JSON readers downstream the last.
    pub fn get_once(&self, key: &str) -> Result<Option<&'a str>, RowError> {
        let mut found = self.entries.iter().filter(|(k, _)| k == key);
        let first = found.next().map(|(_, value)| *value);
        let more = found.count();
        if more > 0 {
            return Err(RowError::field(
                Reason::DuplicateKey,
                key,
                format!(
                    "appears {} times in one object; JSON readers disagree on which one counts",
                    more + 1
                ),
            ));
        }
        Ok(first)
    }

    /// The keys in input order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    /// The fields in input order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &'a str)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    /// Position of a key among the fields.
    pub fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Reads an object's fields, each value as its raw text.
struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Object<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(Key(key)) = map.next_key()? {
            let value: &'de RawValue = map.next_value()?;
            entries.push((key, value.get()));
        }
        Ok(Object { entries })
    }
}

/// Visitor methods for every JSON value but arrays and objects, each giving `$value`.
macro_rules! scalars_give {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// An array item: its fields when it is an object, `None` when it is anything else.
struct MaybeObject<'a>(Option<Object<'a>>);

impl<'de> Deserialize<'de> for MaybeObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = MaybeObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                ObjectVisitor.visit_map(map).map(|o| MaybeObject(Some(o)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeObject(None))
            }
            scalars_give!(MaybeObject(None));
        }
        deserializer.deserialize_any(ItemVisitor)
    }
}

/// The items of a JSON array of objects, each with its raw text and its fields, read in one
/// pass (message lists are read this way: as [`items`] and then [`Object::parse`] each, they
/// were read twice). `None` when an item is not an object with a field, or the array can't be
/// read so: read those with [`items`].
pub fn objects(text: &str) -> Option<Vec<(&str, Object<'_>)>> {
    let AnyObjects(Some(objects)) = serde_json::from_str(text).ok()? else {
        return None;
    };
    with_spans(text, objects)
}

/// Each object read from the array `text` with its raw text; `None` if one has no field.
fn with_spans<'a>(text: &'a str, objects: Vec<Object<'a>>) -> Option<Vec<(&'a str, Object<'a>)>> {
    let mut found = Vec::with_capacity(objects.len());
    // Between items there is only whitespace and a comma; inside one, from its last value on,
    // only whitespace and its closing brace.
    let mut at = 0;
    for object in objects {
        let &(_, last) = object.entries.last()?;
        let start = at + text[at..].find('{')?;
        let after = span(text, last).end;
        let end = after + text[after..].find('}')? + 1;
        found.push((&text[start..end], object));
        at = end;
    }
    Some(found)
}

/// A row read in one pass: its fields, and the message lists of some of them read as
/// [`objects`] reads them (a row's message lists were otherwise read twice: once as raw text
/// with the row, once more for their messages).
#[derive(Debug)]
pub struct Row<'a> {
    /// The fields, each value as its raw text.
    pub object: Object<'a>,
    /// Per key asked for: its list's items with their raw text, when the row has it.
    pub lists: Vec<Option<Vec<(&'a str, Object<'a>)>>>,
}

impl<'a> Row<'a> {
    /// Reads `text` with the values of `keys` read as lists of objects. `None` when the row is
    /// anything but plain (not valid JSON, a key asked for that repeats, is escaped or holds
    /// anything but a list of objects with fields): read it with [`Object::parse`] then, which
    /// says what is wrong, if anything.
    pub fn parse(text: &'a str, keys: &[&str]) -> Option<Row<'a>> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let (mut object, found) = RowSeed { keys }.deserialize(&mut deserializer).ok()??;
        deserializer.end().ok()?;
        let mut lists = Vec::with_capacity(keys.len());
        for list in found {
            lists.push(match list {
                Some((entry, key, objects)) => {
                    // The array opens after the key; its items are found as `objects` finds
                    // them, and it closes after the last.
                    let start = list_start(text, key)?;
                    let found = with_spans(&text[start..], objects)?;
                    let last = found
                        .last()
                        .map_or(start + 1, |(raw, _)| span(text, raw).end);
                    let end = skip_space(text, last);
                    (text.as_bytes().get(end) == Some(&b']')).then_some(())?;
                    object.entries[entry].1 = &text[start..=end];
                    Some(found)
                }
                // A key the row doesn't have.
                None => None,
            });
        }
        Some(Row { object, lists })
    }
}

/// JSON's whitespace.
fn skip_space(text: &str, at: usize) -> usize {
    at + text.as_bytes()[at..]
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .count()
}

/// Where the array that follows `key` (a key's text, borrowed from `text`) opens.
fn list_start(text: &str, key: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let at = span(text, key).end;
    (bytes.get(at) == Some(&b'"')).then_some(())?;
    let at = skip_space(text, at + 1);
    (bytes.get(at) == Some(&b':')).then_some(())?;
    let start = skip_space(text, at + 1);
    (bytes.get(start) == Some(&b'[')).then_some(start)
}

/// The entry, key and objects of a list read with its row.
type ListRead<'a> = (usize, &'a str, Vec<Object<'a>>);

/// Reads a row's fields, the values of `keys` as lists of objects.
struct RowSeed<'k> {
    keys: &'k [&'k str],
}

impl<'de> serde::de::DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Option<(Object<'de>, Vec<Option<ListRead<'de>>>)>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Option<(Object<'de>, Vec<Option<ListRead<'de>>>)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        let mut lists: Vec<Option<ListRead>> = Vec::new();
        lists.resize_with(self.keys.len(), || None);
        let mut plain = true;
        while let Some(Key(key)) = map.next_key()? {
            let asked = self.keys.iter().position(|k| *k == key);
            match (asked, &key) {
                (Some(k), Cow::Borrowed(name)) if plain && lists[k].is_none() => {
                    let AnyObjects(objects) = map.next_value()?;
                    match objects {
                        // The raw text is found once the row is read.
                        Some(objects) => lists[k] = Some((entries.len(), *name, objects)),
                        None => plain = false,
                    }
                    entries.push((key, ""));
                }
                (Some(_), _) => {
                    plain = false;
                    map.next_value::<IgnoredAny>()?;
                }
                (None, _) => {
                    let value: &'de RawValue = map.next_value()?;
                    entries.push((key, value.get()));
                }
            }
        }
        Ok(plain.then_some((Object { entries }, lists)))
    }
}

/// A value that is an array of objects (`Some`: every item an object), or anything else.
struct AnyObjects<'a>(Option<Vec<Object<'a>>>);

impl<'de> Deserialize<'de> for AnyObjects<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnyVisitor;
        impl<'de> Visitor<'de> for AnyVisitor {
            type Value = AnyObjects<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut objects = Some(Vec::with_capacity(seq.size_hint().unwrap_or(4)));
                while let Some(MaybeObject(item)) = seq.next_element()? {
                    match (item, &mut objects) {
                        (Some(object), Some(objects)) => objects.push(object),
                        _ => objects = None,
                    }
                }
                Ok(AnyObjects(objects))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyObjects(None))
            }
            scalars_give!(AnyObjects(None));
        }
        deserializer.deserialize_any(AnyVisitor)
    }
}

/// A key that borrows from the input unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The items of a JSON array, each as its raw text.
pub fn items(text: &str) -> Result<Vec<&str>, serde_json::Error> {
    match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(items) => Ok(items.into_iter().map(RawValue::get).collect()),
        // NaN and the infinities, as in an object (see [`Object::parse`]): each item is the
        // original's bytes.
        Err(e) => {
            let Some(standing) = stand_ins(text) else {
                return Err(e);
            };
            let items: Vec<&RawValue> = serde_json::from_str(&standing)?;
            Ok(items
                .into_iter()
                .map(|raw| original(text, &standing, raw.get()))
                .collect())
        }
    }
}

/// Finds the raw value at `path`; `Ok(None)` when a key is absent, an error when a parent is
/// not an object or a key on the path appears twice.
pub fn lookup<'a>(root: &Object<'a>, path: &FieldPath) -> Result<Option<&'a str>, RowError> {
    find(root, path, true)
}

/// Like [`lookup`], but takes the first of repeated keys: detection reads the dataset's shape,
/// and the row itself is judged when relabeled.
pub fn lookup_first<'a>(root: &Object<'a>, path: &FieldPath) -> Result<Option<&'a str>, RowError> {
    find(root, path, false)
}

fn find<'a>(root: &Object<'a>, path: &FieldPath, once: bool) -> Result<Option<&'a str>, RowError> {
    let get = |object: &Object<'a>, key: &str| {
        if once {
            object.get_once(key)
        } else {
            Ok(object.get(key))
        }
    };
    let parts = path.parts();
    let duplicate = |e: RowError, depth: usize| RowError {
        field: Some(parts[..=depth].join(".")),
        ..e
    };
    let mut value = match get(root, &parts[0]).map_err(|e| duplicate(e, 0))? {
        Some(v) => v,
        None => return Ok(None),
    };
    for (depth, part) in parts.iter().enumerate().skip(1) {
        let parent = parts[..depth].join(".");
        if value == "null" {
            // A null parent holds nothing, as a null struct does in Arrow.
            return Ok(None);
        }
        if !value.starts_with('{') {
            return Err(RowError::field(
                Reason::WrongType,
                &parent,
                format!("expected an object, got {}", describe(value)),
            ));
        }
        let object =
            Object::parse(value).map_err(|e| RowError::field(e.reason, &parent, e.detail))?;
        value = match get(&object, part).map_err(|e| duplicate(e, depth))? {
            Some(v) => v,
            None => return Ok(None),
        };
    }
    Ok(Some(value))
}

/// Whether two raw JSON values are equal: the same bytes, or the same value written otherwise.
pub fn same_value(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (
                serde_json::from_str::<serde_json::Value>(a),
                serde_json::from_str::<serde_json::Value>(b),
            ),
            (Ok(x), Ok(y)) if x == y
        )
}

/// The byte range of `inner` inside `outer`; `inner` must be a subslice of `outer`.
pub fn span(outer: &str, inner: &str) -> Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    debug_assert!(start + inner.len() <= outer.len());
    start..start + inner.len()
}

/// A short description of a raw JSON value for error messages: its type, and short values in full.
pub fn describe(raw: &str) -> String {
    let raw = raw.trim();
    if raw.starts_with('"') {
        if let Ok(text) = serde_json::from_str::<String>(raw) {
            return crate::plan::describe_string(&text);
        }
    }
    let kind = match raw.as_bytes().first() {
        Some(b'"') => "string",
        Some(b'{') => return "an object".to_string(),
        Some(b'[') => return "an array".to_string(),
        Some(b't' | b'f') => "boolean",
        Some(b'n') => return "null".to_string(),
        _ => "number",
    };
    if raw.chars().count() <= 40 {
        format!("{kind} {raw}")
    } else {
        let head: String = raw.chars().take(37).collect();
        format!("{kind} {head}...")
    }
}

/// Turns a serde_json error on one row into a row error, with its column.
fn json_error(err: &serde_json::Error) -> RowError {
    let column = err.column();
    let message = err.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => &message,
    };
    if err.is_eof() {
        return RowError::row(
            Reason::InvalidJson,
            format!("invalid JSON: the row ends early (truncated?) at column {column}"),
        );
    }
    RowError::row(
        Reason::InvalidJson,
        format!("invalid JSON: {message} at column {column}"),
    )
}

/// The non-finite literals some JSON writers emit, each with a number of its length that
/// stands in for it while the text is parsed.
const NON_FINITE: [(&[u8], &[u8]); 2] = [(b"NaN", b"0.0"), (b"Infinity", b"1.000000")];

/// `text` with every `NaN`, `Infinity` and `-Infinity` outside strings replaced by a number of
/// the same length, so a parse of it finds every value where the original has it; `None` when
/// there is none.
fn stand_ins(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    // Rows without either letter (most of them) are done at memory speed.
    memchr::memchr2(b'N', b'I', bytes)?;
    let mut out = bytes.to_vec();
    let (mut i, mut in_string, mut found) = (0, false, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'N' | b'I' if !in_string => {
                if let Some((word, number)) = NON_FINITE
                    .iter()
                    .find(|(word, _)| bytes[i..].starts_with(word))
                {
                    out[i..i + word.len()].copy_from_slice(number);
                    i += word.len();
                    found = true;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    // Only ASCII bytes outside strings were replaced by ASCII bytes.
    found.then(|| String::from_utf8(out).expect("still UTF-8"))
}

/// The bytes of `text` where `part` lies in `standing`, its [`stand_ins`] copy.
fn original<'a>(text: &'a str, standing: &str, part: &str) -> &'a str {
    &text[span(standing, part)]
}

/// The value of a non-finite literal (`NaN`, `Infinity`, `-Infinity`), which some JSON writers
/// emit; `None` for anything else.
pub fn non_finite(raw: &str) -> Option<f64> {
    match raw {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

impl Object<'_> {
    /// The first field holding `NaN`, `Infinity` or `-Infinity` (at any depth), as a bad row
    /// ([`Reason::Unwritable`]): Arrow's JSON reader takes none, so no Parquet output of JSON
    /// rows can hold it.
    pub fn non_finite_field(&self) -> Option<RowError> {
        self.entries().find_map(|(key, value)| {
            stand_ins(value).map(|_| {
                RowError::field(
                    Reason::Unwritable,
                    key,
                    "holds NaN or an infinity, which JSON has no number for and Arrow's JSON \
                     reader doesn't take, so Parquet can't hold it",
                )
            })
        })
    }

    /// The first field holding a lone surrogate escape, as a bad row ([`Reason::Unwritable`]);
    /// `then` ends the detail with what can't hold it.
    pub fn lone_surrogate_field(&self, then: &str) -> Option<RowError> {
        self.entries().find_map(|(key, value)| {
            lone_surrogate(value).map(|escape| {
                RowError::field(
                    Reason::Unwritable,
                    key,
                    format!(
                        "holds {escape}, half of a UTF-16 surrogate pair without its other half: \
                         valid JSON, but no Unicode character{then}"
                    ),
                )
            })
        })
    }
}

/// The first escape in raw JSON text that encodes half of a UTF-16 surrogate pair without its
/// other half (`"\ud800"`): valid JSON, but no Unicode character, so no Arrow or Parquet string
/// can hold it.
pub fn lone_surrogate(raw: &str) -> Option<&str> {
    // Surrogates are \uD800-\uDFFF: text without `\ud` or `\uD` has none (the usual case,
    // found at memory speed instead of escape by escape). The searchers are built once: building
    // one costs more than searching a short value.
    static LOWER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\\ud"));
    static UPPER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\\uD"));
    let bytes = raw.as_bytes();
    if LOWER.find(bytes).is_none() && UPPER.find(bytes).is_none() {
        return None;
    }
    let unit = |at: usize| -> Option<u16> {
        let hex = raw.get(at + 2..at + 6)?;
        (bytes[at + 1] == b'u').then(|| u16::from_str_radix(hex, 16).ok())?
    };
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'\\', &bytes[at..]) {
        let i = at + i;
        match unit(i) {
            Some(0xD800..=0xDBFF) => {
                let low = (bytes.get(i + 6) == Some(&b'\\'))
                    .then(|| unit(i + 6))
                    .flatten();
                if !matches!(low, Some(0xDC00..=0xDFFF)) {
                    return Some(&raw[i..i + 6]);
                }
                at = i + 12;
            }
            Some(0xDC00..=0xDFFF) => return Some(&raw[i..i + 6]),
            Some(_) => at = i + 6,
            // `\\`, `\"`, `\n`, ...: the escaped character is skipped with its backslash.
            None => at = i + 2,
        }
        if at >= bytes.len() {
            break;
        }
    }
    None
}

/// Whether an object writes its first key as `"key": value` (with a space).
pub(crate) fn spaced_colon(object: &str) -> bool {
    let bytes = object.as_bytes();
    let Some(open) = bytes.iter().position(|&b| b == b'"') else {
        return true;
    };
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => break,
            _ => i += 1,
        }
    }
    bytes.get(i + 1) == Some(&b':') && bytes.get(i + 2) == Some(&b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_order_and_raw_bytes() {
        let line = r#"{"b": 1.50, "a": {"x": "\u00e9"}, "c\"q": [1, 2]}"#;
        let obj = Object::parse(line).unwrap();
        assert_eq!(obj.keys().collect::<Vec<_>>(), ["b", "a", "c\"q"]);
        assert_eq!(obj.get("b").unwrap(), "1.50");
        let path = FieldPath::parse("a.x").unwrap();
        let raw = lookup(&obj, &path).unwrap().unwrap();
        assert_eq!(raw, r#""\u00e9""#);
        assert_eq!(&line[span(line, raw)], r#""\u00e9""#);
        assert!(lookup(&obj, &FieldPath::parse("b.y").unwrap()).is_err());
        assert!(lookup(&obj, &FieldPath::parse("zz.y").unwrap())
            .unwrap()
            .is_none());
    }

    #[test]
    fn objects_of_a_list_come_with_their_raw_text() {
        let list = r#" [ {"role": "user", "content": {"a": [1, "}"]} } ,{"x":"y\"}"}] "#;
        let found = objects(list).unwrap();
        let texts: Vec<&str> = found.iter().map(|(text, _)| *text).collect();
        assert_eq!(
            texts,
            [
                r#"{"role": "user", "content": {"a": [1, "}"]} }"#,
                r#"{"x":"y\"}"}"#
            ]
        );
        assert_eq!(found[0].1.get("role"), Some(r#""user""#));
        assert_eq!(found[1].1.get("x"), Some(r#""y\"}""#));
        assert_eq!(objects("[]").unwrap().len(), 0);
        // Anything but objects with a field is left to `items`.
        for list in [
            r#"[{"a": 1}, 2]"#,
            r#"[{"a": 1}, {}]"#,
            r#"["x"]"#,
            "[1e400]",
            "{}",
        ] {
            assert!(objects(list).is_none(), "{list}");
        }
    }

    #[test]
    fn a_row_read_in_one_pass_has_its_lists_raw_text_and_messages() {
        let line = concat!(
            r#"{"prompt": "p", "chosen" :[ {"content": "a]}", "role": "user"} ,"#,
            r#"{"role":"assistant","content":"b"}  ] , "rejected":[],"s":1}"#
        );
        let row = Row::parse(line, &["chosen", "rejected", "absent"]).unwrap();
        let keys: Vec<&str> = row.object.keys().collect();
        assert_eq!(keys, ["prompt", "chosen", "rejected", "s"]);
        let chosen = row.object.get("chosen").unwrap();
        assert_eq!(
            chosen,
            concat!(
                r#"[ {"content": "a]}", "role": "user"} ,"#,
                r#"{"role":"assistant","content":"b"}  ]"#
            )
        );
        assert_eq!(row.object.get("rejected"), Some("[]"));
        assert_eq!(row.object.get("s"), Some("1"));
        let lists = &row.lists;
        assert_eq!(lists.len(), 3);
        let messages = lists[0].as_ref().unwrap();
        let texts: Vec<&str> = messages.iter().map(|(text, _)| *text).collect();
        assert_eq!(
            texts,
            [
                r#"{"content": "a]}", "role": "user"}"#,
                r#"{"role":"assistant","content":"b"}"#
            ]
        );
        assert_eq!(messages[1].1.get("role"), Some(r#""assistant""#));
        assert_eq!(lists[1].as_ref().unwrap().len(), 0);
        assert!(lists[2].is_none());
        // The same fields as a row read with raw values, then its lists.
        let plain = Object::parse(line).unwrap();
        assert_eq!(plain.entries, row.object.entries);
        assert_eq!(objects(chosen).unwrap().len(), 2);
        // Anything unusual is left to Object::parse.
        for line in [
            r#"{"chosen": "text"}"#,
            r#"{"chosen": [{"a": 1}], "chosen": []}"#,
            r#"{"ch\u006fsen": []}"#,
            r#"{"chosen": [1]}"#,
            r#"{"chosen": [{}]}"#,
            r#"{"chosen": null}"#,
            r#"{"chosen": []"#,
            r#"{"chosen": []} x"#,
            "[1]",
        ] {
            assert!(Row::parse(line, &["chosen"]).is_none(), "{line}");
        }
    }

    /// JSON text of a string drawn from characters that matter to the scan.
    fn json_string(chars: &[u8]) -> String {
        let text: String = chars
            .iter()
            .map(|&c| ['a', ']', '}', '"', '\\', ' ', 'é', '[', '{', ','][c as usize % 10])
            .collect();
        serde_json::to_string(&text).unwrap()
    }

    proptest::proptest! {
        /// Rows of message lists written with any spacing read the same in one pass as field by
        /// field, then list by list.
        #[test]
        fn one_pass_rows_read_as_two_passes(
            messages in proptest::collection::vec(
                (proptest::collection::vec(0u8..10, 0..6), proptest::collection::vec(0u8..10, 0..6)),
                0..4,
            ),
            spaces in proptest::collection::vec(0usize..4, 12),
            other_first in proptest::bool::ANY,
        ) {
            let ws = |k: usize| [" ", "", "\n ", "\t"][spaces[k % spaces.len()]];
            let items: Vec<String> = messages
                .iter()
                .enumerate()
                .map(|(i, (role, content))| {
                    format!(
                        "{{{}\"role\"{}:{}{},{}\"content\":{}{}{}}}",
                        ws(i), ws(i + 1), ws(i + 2), json_string(role),
                        ws(i + 3), ws(i + 4), json_string(content), ws(i + 5)
                    )
                })
                .collect();
            let list = format!("[{}{}{}]", ws(6), items.join(&format!("{},{}", ws(7), ws(8))), ws(9));
            let other = format!("\"other\":{}\"x\"", ws(10));
            let chosen = format!("\"chosen\"{}:{}{}", ws(11), ws(0), list);
            let line = match other_first {
                true => format!("{{{other},{}{chosen}{}}}", ws(1), ws(2)),
                false => format!("{{{chosen},{}{other}{}}}", ws(1), ws(2)),
            };
            let row = Row::parse(&line, &["chosen"]);
            let plain = Object::parse(&line).unwrap();
            // Lists holding an object without fields are left to the two passes.
            let row = row.unwrap();
            proptest::prop_assert_eq!(&row.object.entries, &plain.entries);
            let raw = plain.get("chosen").unwrap();
            let two_pass: Vec<(&str, Vec<(String, &str)>)> = objects(raw)
                .unwrap()
                .into_iter()
                .map(|(t, o)| (t, o.entries().map(|(k, v)| (k.to_string(), v)).collect()))
                .collect();
            let one_pass: Vec<(&str, Vec<(String, &str)>)> = row.lists[0]
                .as_ref()
                .unwrap()
                .iter()
                .map(|(t, o)| (*t, o.entries().map(|(k, v)| (k.to_string(), v)).collect()))
                .collect();
            proptest::prop_assert_eq!(one_pass, two_pass);
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = Object::parse("[1, 2]").unwrap_err();
        assert_eq!(e.to_string(), "expected a JSON object, got an array");
        assert_eq!(e.reason, Reason::NotAnObject);
        let e = Object::parse(r#"{"prompt": "hi", "chosen": "#).unwrap_err();
        assert_eq!(e.reason, Reason::InvalidJson);
        assert_eq!(
            e.to_string(),
            "invalid JSON: the row ends early (truncated?) at column 27"
        );
        // A stand-in for a non-finite literal doesn't hide damage elsewhere in the row.
        let e = Object::parse(r#"{"s": NaN, "x": tru}"#).unwrap_err();
        assert_eq!(e.reason, Reason::InvalidJson);
        assert_eq!(e.to_string(), "invalid JSON: expected ident at column 20");
        let e = Object::parse(r#"{"s": NaNa}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid JSON: expected `,` or `}` at column 10"
        );
    }

    #[test]
    fn non_finite_literals_are_values_as_written() {
        // As Python's json.dumps writes float('nan') and the infinities, and pyarrow and pandas
        // read them: each value is the original's bytes; strings are left alone.
        let line = r#"{"a": NaN, "b\"NaN": "Infinity \" NaN", "m": {"r": -Infinity, "l": [Infinity, 1]}, "z": 2}"#;
        let obj = Object::parse(line).unwrap();
        let entries: Vec<(&str, &str)> = obj.entries().collect();
        assert_eq!(
            entries,
            [
                ("a", "NaN"),
                ("b\"NaN", r#""Infinity \" NaN""#),
                ("m", r#"{"r": -Infinity, "l": [Infinity, 1]}"#),
                ("z", "2"),
            ]
        );
        for (_, raw) in &entries {
            assert_eq!(&line[span(line, raw)], *raw);
        }
        let path = FieldPath::parse("m.r").unwrap();
        assert_eq!(lookup(&obj, &path).unwrap(), Some("-Infinity"));
        let list = obj
            .get("m")
            .map(|m| Object::parse(m).unwrap().get("l").unwrap());
        assert_eq!(items(list.unwrap()).unwrap(), ["Infinity", "1"]);
        assert!(items("[NaN, tru]").is_err());
        assert_eq!(non_finite("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(non_finite("NaN").unwrap().is_nan());
        assert_eq!(non_finite("1e999"), None);
        // Which field holds one, for outputs that can't.
        let problem = obj.non_finite_field().unwrap();
        assert_eq!(
            (problem.reason, problem.field.as_deref()),
            (Reason::Unwritable, Some("a"))
        );
        assert!(Object::parse(r#"{"s": "NaN"}"#)
            .unwrap()
            .non_finite_field()
            .is_none());
    }

    #[test]
    fn describe_is_short() {
        assert_eq!(describe("\"eight\""), "string \"eight\"");
        assert_eq!(describe("null"), "null");
        assert_eq!(describe("5"), "number 5");
        assert_eq!(describe("[1]"), "an array");
    }

    #[test]
    fn lone_surrogates_are_found_and_pairs_and_escaped_backslashes_are_not() {
        assert_eq!(lone_surrogate(r#""a \ud800 b""#), Some(r"\ud800"));
        assert_eq!(lone_surrogate(r#""\uDC00""#), Some(r"\uDC00"));
        assert_eq!(
            lone_surrogate(r#""\ud83d\ude00 \ud800\n""#),
            Some(r"\ud800")
        );
        assert_eq!(lone_surrogate(r#""\ud83d\ude00""#), None);
        assert_eq!(lone_surrogate(r#""\\ud800 \u00e9 \"""#), None);
        assert_eq!(lone_surrogate(r#""ends \ud8"#), None);
        assert_eq!(lone_surrogate(r#""é\ud800""#), Some(r"\ud800"));
    }
}
