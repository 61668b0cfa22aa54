//! What pairing shares, whatever the representation: the options ([`PairSpec`]), the counts
//! ([`PairSummary`]), which responses make pairs ([`choose`]), where JSON pairs go
//! ([`PairSink`]), and reading a response's text and score from a JSON row.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Location, Reason, Result, RowError, Skips};
use crate::fields::{FieldPath, RowShape};
use crate::io::Target;
use crate::json::object::{lookup, non_finite, Object};
use crate::plan::ScoreFact;

/// How pairs are picked among a prompt's responses (`--strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The best response against the worst.
    BestWorst,
    /// The best against a random other one, as UltraFeedback was binarized (seeded).
    BestRandom,
    /// Every pair whose score gap is at least the minimum gap.
    All,
}

/// Where the responses are and how to pair them.
#[derive(Debug, Clone)]
pub struct PairSpec {
    /// The prompt field. Nested mode defaults to `prompt`; flat mode to `prompt` where the rows
    /// have a field of that name (the first row read says, or the Parquet schema), else the
    /// group key.
    pub prompt: Option<FieldPath>,
    /// Nested mode: the list of responses in each row.
    pub responses: Option<FieldPath>,
    /// Flat mode: the field that groups rows (responses) into prompts.
    pub group_by: Option<FieldPath>,
    /// The response text field (inside each response, or of the row in flat mode).
    pub text: FieldPath,
    /// The score field ranked by.
    pub score: FieldPath,
    /// The pairing strategy.
    pub strategy: Strategy,
    /// Lower scores are better (ranks, 1 the best): the chosen response is the lower-scored.
    pub lower_is_better: bool,
    /// The seed of `best-random`.
    pub seed: u64,
    /// The smallest score gap of a pair under `all` (pairs always differ in score).
    pub min_gap: f64,
    /// Write chosen/rejected as `[user prompt, assistant response]` message lists.
    pub messages: bool,
    /// Skip bad rows (counted) instead of failing.
    pub skip_bad: bool,
    /// Flat mode: rows of one key with different prompts form one group per prompt, instead of
    /// being an error.
    pub split_by_prompt: bool,
    /// Where temporary files go (flat rows not grouped together, pairs held until the end):
    /// beside this output.
    pub temp: Target,
    /// Flat mode: the most bytes of input rows held to group them when the input doesn't keep
    /// each group's rows together (a partition; one group may hold more), and four times the
    /// pairs held until the end ([`MEMORY`](super::group::MEMORY) by default).
    pub memory: u64,
}

/// What `pairs` did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PairSummary {
    /// Input rows read.
    pub rows_in: u64,
    /// Prompts seen.
    pub prompts: u64,
    /// Pairs written.
    pub pairs: u64,
    /// Prompts with fewer than two responses, or all tied: no pair.
    pub no_pair: u64,
    /// Bad rows or responses skipped, and rows whose pairs the output can't hold.
    #[serde(flatten)]
    pub skips: Skips,
}

impl PairSummary {
    /// The one-line summary.
    pub fn line(&self) -> String {
        let reasons = match self.skips.skipped {
            0 => String::new(),
            _ => format!(" ({})", self.skips.reasons()),
        };
        format!(
            "{} rows in, {} prompts, {} pairs out, {} prompts without a pair (one response or all tied), {} skipped{reasons}",
            self.rows_in, self.prompts, self.pairs, self.no_pair, self.skips.skipped
        )
    }

    /// The error of a run that skipped rows and made no pair of the rest (no prompt went
    /// without a pair for want of responses either): its output would be empty, which is no
    /// success. `None` otherwise.
    pub fn nothing_kept(&self) -> Option<Error> {
        (self.pairs == 0 && self.no_pair == 0 && self.skips.skipped > 0)
            .then(|| self.skips.nothing_kept(self.rows_in))
    }
}

pub(super) fn bad(location: &Location, problem: RowError) -> Error {
    Error::Row {
        location: location.clone(),
        problem,
    }
}

/// A small, seeded, portable random number: splitmix64.
pub(super) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The (chosen, rejected) indices among one prompt's response scores: the one rule of both
/// representations. `group` seeds `best-random` so each prompt's draw depends only on the seed
/// and its position.
pub(super) fn choose(scores: &[f64], spec: &PairSpec, group: u64) -> Vec<(usize, usize)> {
    if spec.lower_is_better {
        let flipped: Vec<f64> = scores.iter().map(|s| -s).collect();
        return choose_higher(&flipped, spec, group);
    }
    choose_higher(scores, spec, group)
}

/// [`choose`] where higher scores are better.
fn choose_higher(scores: &[f64], spec: &PairSpec, group: u64) -> Vec<(usize, usize)> {
    if scores.len() < 2 {
        return Vec::new();
    }
    let first_max = (0..scores.len())
        .reduce(|a, b| if scores[b] > scores[a] { b } else { a })
        .expect("two or more");
    let first_min = (0..scores.len())
        .reduce(|a, b| if scores[b] < scores[a] { b } else { a })
        .expect("two or more");
    if scores[first_max] == scores[first_min] {
        return Vec::new(); // all tied
    }
    match spec.strategy {
        Strategy::BestWorst => vec![(first_max, first_min)],
        Strategy::BestRandom => {
            let draw = splitmix64(spec.seed ^ splitmix64(group)) % (scores.len() as u64 - 1);
            let mut other = draw as usize;
            if other >= first_max {
                other += 1;
            }
            vec![(first_max, other)]
        }
        Strategy::All => {
            let mut pairs = Vec::new();
            for (i, &a) in scores.iter().enumerate() {
                for (j, &b) in scores.iter().enumerate() {
                    if a > b && a - b >= spec.min_gap {
                        pairs.push((i, j));
                    }
                }
            }
            pairs
        }
    }
}

/// Parses a row into a JSON object, or says why it is none.
pub(super) fn parse_row(data: &[u8]) -> std::result::Result<Value, RowError> {
    match serde_json::from_slice(data) {
        Ok(v @ Value::Object(_)) => Ok(v),
        parsed => Err(
            match crate::json::object::Object::parse(&String::from_utf8_lossy(data)) {
                Err(problem) => problem,
                Ok(object) => match parsed {
                    // Valid JSON that doesn't decode: a lone surrogate escape.
                    Err(e) => object
                        .lone_surrogate_field("")
                        .unwrap_or_else(|| RowError::row(Reason::InvalidJson, e.to_string())),
                    Ok(_) => RowError::row(Reason::NotAnObject, "expected a JSON object"),
                },
            },
        ),
    }
}

/// A response as raw JSON text: what pair lines are spliced from.
pub(super) struct RawResponse<'a> {
    pub(super) text: &'a str,
    pub(super) score: f64,
    /// The score as the input writes it (`8`, `4.5`), which the pair's score fields keep.
    pub(super) score_text: &'a str,
    /// Numeric fields of the response, in order (the score field included).
    pub(super) numbers: Vec<(Cow<'a, str>, &'a str)>,
}

/// A row's bytes as text, or why they aren't (the problem the other commands report).
pub(super) fn text_of(data: &[u8]) -> std::result::Result<&str, RowError> {
    match crate::io::utf8(data) {
        Ok(text) => Ok(text.trim_end()),
        Err(e) => Err(parse_row(data).err().unwrap_or_else(|| {
            RowError::row(
                Reason::InvalidUtf8,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            )
        })),
    }
}

/// A row as a JSON object of raw fields, or why it can't be paired: not an object, or a field
/// holding a lone surrogate, which no output (and no Parquet string) can hold.
pub(super) fn object_of(text: &str) -> std::result::Result<Object<'_>, RowError> {
    let object = Object::parse(text).map_err(|_| {
        parse_row(text.as_bytes())
            .err()
            .unwrap_or_else(|| RowError::row(Reason::InvalidJson, "not a JSON object"))
    })?;
    match object.lone_surrogate_field("") {
        Some(problem) => Err(problem),
        None => Ok(object),
    }
}

/// The field flat rows' prompt is taken from by default when they have one.
pub(super) const PROMPT: &str = "prompt";

impl PairSpec {
    /// The spec with each path the user named read as `row` has it (see
    /// [`FieldPath::in_row`]): a dotted name the row lacks as a path is the top-level field of
    /// that name, as pandas' `json_normalize`, `datasets`' `flatten()` and Spark name flattened
    /// fields. Flat rows' text and score are fields of the row; nested responses' are not.
    pub(super) fn in_row(&self, row: &dyn RowShape) -> PairSpec {
        let at = |path: &Option<FieldPath>| path.clone().map(|p| p.in_row(row));
        let mut spec = self.clone();
        spec.prompt = at(&self.prompt);
        spec.responses = at(&self.responses);
        spec.group_by = at(&self.group_by);
        if self.responses.is_none() {
            spec.text = self.text.clone().in_row(row);
            spec.score = self.score.clone().in_row(row);
        }
        spec
    }

    /// The spec with flat rows' prompt field settled: `--prompt` when given, else [`PROMPT`]
    /// when `has_prompt` says the rows have such a field (and don't group by it), else the
    /// group key. A group key that merely numbers the prompts (`prompt_id`) must not stand in
    /// for a prompt the rows hold.
    pub(super) fn with_flat_prompt(&self, has_prompt: bool) -> PairSpec {
        let mut spec = self.clone();
        let default = FieldPath::parse(PROMPT).expect("a valid path");
        if spec.prompt.is_none() && has_prompt && spec.group_by.as_ref() != Some(&default) {
            spec.prompt = Some(default);
        }
        spec
    }
}

/// Whether a field is the index pandas writes for a DataFrame whose index has no name
/// (`__index_level_0__`, ...): bookkeeping of the rows read, not data of a pair, so pairs leave
/// it out.
pub(crate) fn pandas_index(name: &str) -> bool {
    name.strip_prefix("__index_level_")
        .and_then(|rest| rest.strip_suffix("__"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a raw JSON value is a number (NaN and the infinities some writers emit included).
pub(super) fn is_number(raw: &str) -> bool {
    matches!(raw.as_bytes().first(), Some(b'-' | b'0'..=b'9')) || non_finite(raw).is_some()
}

/// The JSON line of a pair: prompt, chosen, rejected, their scores, each numeric field of the
/// responses as `NAME_chosen`/`NAME_rejected` (a later field of a name already there replaces
/// its value in place, as in a JSON map), then the context fields not already there; every value
/// spliced as the input writes it. Appended to `line`, so that a group's pairs make one string.
/// Returns how many of the fields are the pair's own (before the context fields): a context field
/// found later to differ may be taken out of the line, never one of these, whatever its name.
pub(super) fn pair_line<'a>(
    line: &mut String,
    prompt: &'a str,
    chosen: &RawResponse<'a>,
    rejected: &RawResponse<'a>,
    context: &[(&'a str, &'a str)],
    spec: &PairSpec,
) -> usize {
    let side = |response: &RawResponse<'a>| -> Cow<'a, str> {
        if spec.messages {
            Cow::Owned(format!(
                r#"[{{"content":{prompt},"role":"user"}},{{"content":{},"role":"assistant"}}]"#,
                response.text
            ))
        } else {
            Cow::Borrowed(response.text)
        }
    };
    let mut fields: Vec<(Cow<str>, Cow<str>)> = vec![
        ("prompt".into(), prompt.into()),
        ("chosen".into(), side(chosen)),
        ("rejected".into(), side(rejected)),
        ("score_chosen".into(), chosen.score_text.into()),
        ("score_rejected".into(), rejected.score_text.into()),
    ];
    let mut put = |name: String, value: &'a str| match fields.iter_mut().find(|(n, _)| *n == name) {
        Some(field) => field.1 = value.into(),
        None => fields.push((name.into(), value.into())),
    };
    for (name, value) in &chosen.numbers {
        let other = rejected
            .numbers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("null", |(_, v)| v);
        put(format!("{name}_chosen"), value);
        put(format!("{name}_rejected"), other);
    }
    let own = fields.len();
    for &(name, value) in context {
        if !fields.iter().any(|(n, _)| n == name) {
            fields.push((name.into(), value.into()));
        }
    }
    line.reserve(
        fields
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>()
            + 3,
    );
    line.push('{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if name.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            line.push_str(&serde_json::to_string(name.as_ref()).expect("a string"));
        } else {
            line.push('"');
            line.push_str(name);
            line.push('"');
        }
        line.push(':');
        line.push_str(value);
    }
    line.push_str("}\n");
    own
}

/// The response text and score at the spec's paths in `object` (the score also as written), or
/// why they can't be used (`what` names the response in messages).
pub(super) fn text_and_score<'a>(
    object: &Object<'a>,
    spec: &PairSpec,
    what: &str,
) -> std::result::Result<(&'a str, f64, &'a str), RowError> {
    let missing = |path: &FieldPath| {
        RowError::field(
            Reason::MissingField,
            path.as_str(),
            format!("missing in {what}"),
        )
    };
    let text = lookup(object, &spec.text)?.ok_or_else(|| missing(&spec.text))?;
    let score = lookup(object, &spec.score)?.ok_or_else(|| missing(&spec.score))?;
    let bad = |message: String| RowError::field(Reason::BadScore, spec.score.as_str(), message);
    // A JSON score read as relabel reads it (JSON has no NaN or infinity literal).
    match crate::json::row::score_fact(Some(score)) {
        ScoreFact::Number(value) if value.is_finite() => Ok((text, value, score)),
        ScoreFact::Number(value) => Err(bad(format!("{value} is not a finite number"))),
        ScoreFact::OutOfRange(_) => Err(bad(format!("{score} is beyond a 64-bit float's range"))),
        _ => Err(bad(format!("expected a number in {what}, got {score}"))),
    }
}

/// Reads one response object of a nested row: its text, score and numeric fields (`what` names
/// it in messages).
pub(super) fn raw_response<'a>(
    raw: &'a str,
    spec: &PairSpec,
    what: &str,
) -> std::result::Result<RawResponse<'a>, RowError> {
    // A response that isn't an object has no text.
    let Ok(object) = Object::parse(raw) else {
        return Err(RowError::field(
            Reason::MissingField,
            spec.text.as_str(),
            format!("missing in {what}"),
        ));
    };
    let (text, value, score_text) = text_and_score(&object, spec, what)?;
    let numbers = object
        .entries()
        .filter(|(_, v)| is_number(v))
        .map(|(name, v)| (Cow::Owned(name.to_string()), v))
        .collect();
    Ok(RawResponse {
        text,
        score: value,
        score_text,
        numbers,
    })
}

/// Where [`pairs`](super::pairs) writes its pairs, as JSON lines. A closure `|lines, location|` is a sink
/// that can't rewind.
pub trait PairSink: Send {
    /// Writes pair lines (one or more: the pairs of one prompt) made from the input row at
    /// `location`.
    fn emit(&mut self, lines: &[u8], location: &Location) -> Result<()>;

    /// Whether [`PairSink::rewind`] can throw away what was written: an output file not yet
    /// committed can, standard output can't. With such a sink, flat rows grouped together are
    /// paired and written as they are read; otherwise their pairs wait (in memory, then in a
    /// temporary file) until the input ends, since a context field found to differ in a later
    /// group is left out of every pair.
    fn can_rewind(&self) -> bool {
        false
    }

    /// Throws away everything written so far (called only when [`PairSink::can_rewind`]).
    fn rewind(&mut self) -> Result<()> {
        Err(Error::Internal("this output can't start again".to_string()))
    }
}

impl<F: FnMut(&[u8], &Location) -> Result<()> + Send> PairSink for F {
    fn emit(&mut self, lines: &[u8], location: &Location) -> Result<()> {
        self(lines, location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairs::group::MEMORY;

    #[test]
    fn only_pandas_names_for_an_unnamed_index_are_its_index() {
        for (name, index) in [
            ("__index_level_0__", true),
            ("__index_level_12__", true),
            ("__index_level__", false),
            ("__index_level_x__", false),
            ("__index_level_0", false),
            ("index", false),
            ("level_0", false),
        ] {
            assert_eq!(pandas_index(name), index, "{name}");
        }
    }

    fn resp(score: f64) -> f64 {
        score
    }

    fn spec(strategy: Strategy) -> PairSpec {
        PairSpec {
            prompt: None,
            responses: None,
            group_by: None,
            text: FieldPath::parse("text").unwrap(),
            score: FieldPath::parse("score").unwrap(),
            strategy,
            lower_is_better: false,
            seed: 7,
            min_gap: 0.0,
            messages: false,
            skip_bad: false,
            split_by_prompt: false,
            temp: Target::Stdout,
            memory: MEMORY,
        }
    }

    #[test]
    fn strategies_pick_as_documented() {
        let r = [resp(2.0), resp(5.0), resp(1.0), resp(5.0)];
        assert_eq!(choose(&r, &spec(Strategy::BestWorst), 0), [(1, 2)]);
        let mut all = spec(Strategy::All);
        all.min_gap = 3.5;
        assert_eq!(choose(&r, &all, 0), [(1, 2), (3, 2)]);
        all.min_gap = 0.0;
        assert_eq!(
            choose(&r, &all, 0),
            [(0, 2), (1, 0), (1, 2), (3, 0), (3, 2)]
        );
        let random = spec(Strategy::BestRandom);
        for group in 0..50 {
            let picked = choose(&r, &random, group);
            assert_eq!(picked.len(), 1);
            assert_eq!(picked[0].0, 1);
            assert_ne!(picked[0].1, 1);
            assert_eq!(choose(&r, &random, group), picked, "reproducible");
        }
        assert!(choose(&[resp(3.0), resp(3.0)], &spec(Strategy::BestWorst), 0).is_empty());
        assert!(choose(&[resp(3.0)], &spec(Strategy::All), 0).is_empty());
    }

    #[test]
    fn a_score_is_a_finite_json_number_or_the_reason_says_what_it_is() {
        let spec = spec(Strategy::BestWorst);
        let read = |score: &str| {
            let row = format!(r#"{{"text": "t", "score": {score}}}"#);
            let object = Object::parse(&row).unwrap();
            text_and_score(&object, &spec, "the row")
                .map(|(text, value, written)| (text.to_string(), value, written.to_string()))
                .map_err(|e| e.to_string())
        };
        assert_eq!(read("-2.5e0"), Ok((r#""t""#.into(), -2.5, "-2.5e0".into())));
        for (score, message) in [
            ("1e400", "1e400 is beyond a 64-bit float's range"),
            ("-1e400", "-1e400 is beyond a 64-bit float's range"),
            ("\"7\"", "expected a number in the row, got \"7\""),
            ("null", "expected a number in the row, got null"),
        ] {
            assert_eq!(read(score), Err(format!("field \"score\": {message}")));
        }
    }
}
