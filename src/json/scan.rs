//! A fast validating scanner for JSON objects and arrays: the fast path of [`Object::parse`] and
//! [`items`]. It accepts only what serde_json accepts and gives the same fields; anything it
//! does not plainly accept (an error, an escaped key, a control byte, deep nesting) it leaves to
//! serde_json, which then gives the fields or the error. Each text is scanned once for control
//! bytes, then string by string with `memchr` (serde_json stops at every escape eight bytes at a
//! time, and the nested values raug reads again were scanned again).
//!
//! [`Object::parse`]: super::object::Object::parse
//! [`items`]: super::object::items

/// Nesting the fast path follows before leaving a value to serde_json (whose limit is 128).
const MAX_DEPTH: usize = 100;

/// An object's fields as `(key, raw value)` in order, keys without their quotes. `None` when
/// `text` is not one plainly valid JSON object (whitespace around is fine), has a key with an
/// escape or has a control byte.
pub(crate) fn object(text: &str) -> Option<Vec<(&str, &str)>> {
    let b = text.as_bytes();
    if has_control(b) {
        return None;
    }
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(b, i + 1);
    let mut fields = Vec::with_capacity(8);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let end = string_end(b, i + 1)?;
            let key = &text[i + 1..end];
            if key.contains('\\') {
                return None;
            }
            i = ws(b, end + 1);
            if b.get(i) != Some(&b':') {
                return None;
            }
            let start = ws(b, i + 1);
            i = value_end(b, start, 1)?;
            fields.push((key, &text[start..i]));
            i = ws(b, i);
            match b.get(i) {
                Some(b',') => i = ws(b, i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (ws(b, i) == b.len()).then_some(fields)
}

/// An array's items as raw values in order. `None` when `text` is not one plainly valid JSON
/// array (whitespace around is fine) or has a control byte.
pub(crate) fn array(text: &str) -> Option<Vec<&str>> {
    let b = text.as_bytes();
    if has_control(b) {
        return None;
    }
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i = ws(b, i + 1);
    let mut items = Vec::with_capacity(4);
    if b.get(i) == Some(&b']') {
        i += 1;
    } else {
        loop {
            let start = i;
            i = value_end(b, start, 1)?;
            items.push(&text[start..i]);
            i = ws(b, i);
            match b.get(i) {
                Some(b',') => i = ws(b, i + 1),
                Some(b']') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (ws(b, i) == b.len()).then_some(items)
}

/// The index after JSON whitespace from `i`.
#[inline]
fn ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The index just past the value starting at `i`, nested `depth` deep.
fn value_end(b: &[u8], i: usize, depth: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i + 1).map(|end| end + 1),
        b'{' => {
            if depth >= MAX_DEPTH {
                return None;
            }
            let mut i = ws(b, i + 1);
            if b.get(i) == Some(&b'}') {
                return Some(i + 1);
            }
            loop {
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                i = ws(b, string_end(b, i + 1)? + 1);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                i = ws(b, value_end(b, ws(b, i + 1), depth + 1)?);
                match b.get(i) {
                    Some(b',') => i = ws(b, i + 1),
                    Some(b'}') => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        b'[' => {
            if depth >= MAX_DEPTH {
                return None;
            }
            let mut i = ws(b, i + 1);
            if b.get(i) == Some(&b']') {
                return Some(i + 1);
            }
            loop {
                i = ws(b, value_end(b, i, depth + 1)?);
                match b.get(i) {
                    Some(b',') => i = ws(b, i + 1),
                    Some(b']') => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'n' => literal(b, i, b"null"),
        b'-' | b'0'..=b'9' => number_end(b, i),
        _ => None,
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    (b.get(i..i + word.len())? == word).then_some(i + word.len())
}

/// The end of a number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn number_end(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        while let Some(b'0'..=b'9') = b.get(i) {
            i += 1;
        }
        i
    };
    if b[i] == b'-' {
        i += 1;
    }
    match b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return None;
        }
        i = end;
    }
    // A digit right after a lone leading zero ("01") is not a number.
    (!matches!(b.get(i), Some(b'0'..=b'9'))).then_some(i)
}

/// The index of the closing quote of a string whose text starts at `i`; `None` on a bad
/// escape or no closing quote. The caller has checked for control bytes ([`has_control`]).
#[inline]
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[j] == b'"' {
            return Some(j);
        }
        i = match *b.get(j + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j + 2,
            b'u' if b.get(j + 2..j + 6)?.iter().all(u8::is_ascii_hexdigit) => j + 6,
            _ => return None,
        };
    }
}

/// Whether any byte is a control byte (below 0x20). JSON strings may not hold them raw, and
/// between values only whitespace may be one: text with any is left to serde_json, which tells
/// the two apart (rows with tabs or line breaks as whitespace are rare in JSON Lines).
fn has_control(bytes: &[u8]) -> bool {
    // Whole chunks without an early exit, so the loop vectorizes.
    bytes
        .chunks(256)
        .any(|chunk| chunk.iter().fold(false, |any, &c| any | (c < 0x20)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json makes of `text` as an object of raw values.
    fn serde_object(text: &str) -> Option<Vec<(String, String)>> {
        let fields = serde_json::from_str::<ordered::Fields>(text).ok()?.0;
        Some(
            fields
                .into_iter()
                .map(|(k, v)| (k, v.get().to_string()))
                .collect(),
        )
    }

    mod ordered {
        use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
        use serde_json::value::RawValue;
        use std::fmt;

        /// An object's fields in order, duplicates kept.
        pub struct Fields(pub Vec<(String, Box<RawValue>)>);

        impl<'de> Deserialize<'de> for Fields {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Fields;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Fields, A::Error> {
                        let mut out = Vec::new();
                        while let Some(k) = m.next_key::<String>()? {
                            out.push((k, m.next_value::<Box<RawValue>>()?));
                        }
                        Ok(Fields(out))
                    }
                }
                d.deserialize_map(V)
            }
        }
    }

    fn fast(text: &str) -> Option<Vec<(String, String)>> {
        object(text).map(|fields| {
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
    }

    #[test]
    fn objects_split_into_raw_fields() {
        let text = r#" {"a": 1.5e-3, "b" :[true, false, null, {"c": "d\"\\\u00e9\n"}], "e": {}} "#;
        assert_eq!(
            fast(text).unwrap(),
            [
                ("a", "1.5e-3"),
                ("b", r#"[true, false, null, {"c": "d\"\\\u00e9\n"}]"#),
                ("e", "{}")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(fast("{}").unwrap(), []);
        assert_eq!(
            array(r#"[ {"a": 1} , "x", [] ]"#).unwrap(),
            [r#"{"a": 1}"#, r#""x""#, "[]"]
        );
        assert_eq!(array("[]").unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn what_the_fast_path_leaves_to_serde_json() {
        for text in [
            r#"{"a": 1,}"#,
            r#"{"a": [1,]}"#,
            r#"{"a": 01}"#,
            r#"{"a": -}"#,
            r#"{"a": 1.}"#,
            r#"{"a": 1e}"#,
            r#"{"a": .5}"#,
            r#"{"a": +1}"#,
            r#"{"a": NaN}"#,
            r#"{"a": tru}"#,
            r#"{"a": "x\q"}"#,
            r#"{"a": "\u12"}"#,
            "{\"a\": \"tab\tinside\"}",
            r#"{"a": "open}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1}{"#,
            r#"{"a" 1}"#,
            r#"{a: 1}"#,
            r#"{"k\"ey": 1}"#,
            r#"[1]"#,
            "",
        ] {
            assert_eq!(fast(text), None, "{text}");
        }
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(120), "]".repeat(120));
        assert_eq!(fast(&deep), None);
        assert!(serde_object(&deep).is_some());
    }

    /// Every variant of a few rows with one byte changed, cut or doubled: where the fast path
    /// accepts, serde_json accepts with the same fields.
    #[test]
    fn the_fast_path_never_accepts_what_serde_json_refuses() {
        let rows = [
            r#"{"prompt": "Say \"hi\"\n", "chosen": [{"role": "user", "content": "x\u00e9"}], "s": -1.25E+2, "n": null, "t": [true, false, 0, {}]}"#,
            r#"{"a":{"b":[1,2,{"c":"\\"}]},"d":"é 😀","e":0.5e7}"#,
            r#"[{"role": "user", "content": "a\tb"}, "x", [0.1, -0], 12e3]"#,
        ];
        let alphabet = b" \t{}[]\":,\\-+.0123456789eEtrufalsnxu/\x01";
        let mut checked = 0;
        for row in rows {
            assert!(fast(row).is_some() || array(row).is_some(), "{row}");
            let bytes = row.as_bytes();
            for at in 0..bytes.len() {
                let mut variants: Vec<Vec<u8>> = alphabet
                    .iter()
                    .map(|&c| {
                        let mut v = bytes.to_vec();
                        v[at] = c;
                        v
                    })
                    .collect();
                variants.push([&bytes[..at], &bytes[at + 1..]].concat());
                variants.push(bytes[..at].to_vec());
                variants.push([&bytes[..=at], &bytes[at..]].concat());
                for v in variants {
                    let Ok(text) = std::str::from_utf8(&v) else {
                        continue;
                    };
                    if let Some(fields) = fast(text) {
                        assert_eq!(Some(fields), serde_object(text), "{text}");
                    }
                    if let Some(items) = array(text) {
                        let raw: Vec<Box<serde_json::value::RawValue>> =
                            serde_json::from_str(text).expect(text);
                        let raw: Vec<&str> = raw.iter().map(|r| r.get()).collect();
                        assert_eq!(items, raw, "{text}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 5000);
    }
}
