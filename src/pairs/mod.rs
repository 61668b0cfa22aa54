//! Preference pairs from several scored responses per prompt, for `relabel` to condition on:
//! nested (a list of responses in each row) or flat (one row per response, grouped by a key).

mod arrow;
mod flat;
mod group;

pub use self::group::MEMORY;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::{Error, Location, Reason, Result, RowError};
use crate::fields::FieldPath;
use crate::io::Target;
use crate::rows::Inputs;

pub use self::arrow::pairs_batches;

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
    /// The prompt field; in flat mode it defaults to the group key.
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
    /// pairs held until the end ([`MEMORY`] by default).
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
    /// Bad rows or responses skipped.
    pub skipped: u64,
}

impl PairSummary {
    /// The one-line summary.
    pub fn line(&self) -> String {
        format!(
            "{} rows in, {} prompts, {} pairs out, {} prompts without a pair (one response or all tied), {} skipped",
            self.rows_in, self.prompts, self.pairs, self.no_pair, self.skipped
        )
    }
}

/// One scored response.
struct Response {
    text: Value,
    score: f64,
    /// Numeric fields of the response, in order (the score field included).
    numbers: Vec<(String, Value)>,
}

fn get<'a>(value: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    path.parts().iter().try_fold(value, |v, k| v.get(k))
}

fn bad(location: &Location, problem: RowError) -> Error {
    Error::Row {
        location: location.clone(),
        problem,
    }
}

/// Reads one response object: its text, its score and its numeric fields.
fn response(
    object: &Value,
    spec: &PairSpec,
    skip: &[&FieldPath],
    what: &str,
) -> std::result::Result<Response, RowError> {
    let text = get(object, &spec.text)
        .ok_or_else(|| {
            RowError::field(
                Reason::MissingField,
                spec.text.as_str(),
                format!("missing in {what}"),
            )
        })?
        .clone();
    let score = get(object, &spec.score).ok_or_else(|| {
        RowError::field(
            Reason::MissingField,
            spec.score.as_str(),
            format!("missing in {what}"),
        )
    })?;
    let score = score.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
        RowError::field(
            Reason::BadScore,
            spec.score.as_str(),
            format!("expected a number in {what}, got {score}"),
        )
    })?;
    let numbers = object
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, v)| v.is_number() && !skip.iter().any(|p| p.parts() == [k.as_str()]))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Response {
        text,
        score,
        numbers,
    })
}

/// A small, seeded, portable random number: splitmix64.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The (chosen, rejected) indices among one prompt's response scores: the one rule of both
/// representations. `group` seeds `best-random` so each prompt's draw depends only on the seed
/// and its position.
fn choose(scores: &[f64], spec: &PairSpec, group: u64) -> Vec<(usize, usize)> {
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

/// The output row of one pair.
fn pair_row(
    prompt: &Value,
    chosen: &Response,
    rejected: &Response,
    context: &Map<String, Value>,
    spec: &PairSpec,
) -> Value {
    let side = |r: &Response| {
        if spec.messages {
            json!([{"content": prompt, "role": "user"}, {"content": r.text, "role": "assistant"}])
        } else {
            r.text.clone()
        }
    };
    let mut row = Map::new();
    row.insert("prompt".into(), prompt.clone());
    row.insert("chosen".into(), side(chosen));
    row.insert("rejected".into(), side(rejected));
    row.insert("score_chosen".into(), json!(chosen.score));
    row.insert("score_rejected".into(), json!(rejected.score));
    for (name, value) in &chosen.numbers {
        let other = rejected
            .numbers
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Value::Null, |(_, v)| v.clone());
        row.insert(format!("{name}_chosen"), value.clone());
        row.insert(format!("{name}_rejected"), other);
    }
    for (name, value) in context {
        if !row.contains_key(name) {
            row.insert(name.clone(), value.clone());
        }
    }
    Value::Object(row)
}

/// The fields of the prompt's context a pair keeps: the row's (or, flat, every row of the
/// group's equal) fields other than those the pair is made of. `used` are the fields read as
/// prompt, responses, key, text and score; numbers become `NAME_chosen`/`NAME_rejected` instead.
fn context_of(row: &Value, used: &[&FieldPath], numbers_apart: bool) -> Map<String, Value> {
    row.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !used.iter().any(|p| p.parts()[0] == **k))
                .filter(|(_, v)| !(numbers_apart && v.is_number()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses a row into a JSON object, or says why it is none.
fn parse_row(data: &[u8]) -> std::result::Result<Value, RowError> {
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

/// Builds pairs from rows, writing each as a JSON line through `emit`: nested rows one by
/// one; flat rows group by group (see `--group-by`: streamed when each group's rows come
/// together, else sorted on disk first).
pub fn pairs(
    source: &Inputs,
    spec: &PairSpec,
    mut emit: impl FnMut(&[u8], &Location) -> Result<()>,
) -> Result<PairSummary> {
    let mut summary = PairSummary::default();
    let Some(list_path) = &spec.responses else {
        flat::flat(source, spec, &mut summary, &mut emit)?;
        return Ok(summary);
    };
    let prompt_path = spec
        .prompt
        .clone()
        .unwrap_or_else(|| FieldPath::parse("prompt").expect("valid"));
    let read = |data: &[u8]| -> std::result::Result<(Value, Value, Vec<Response>), RowError> {
        let value = parse_row(data)?;
        let prompt = get(&value, &prompt_path)
            .ok_or_else(|| RowError::field(Reason::MissingField, prompt_path.as_str(), "missing"))?
            .clone();
        let list = get(&value, list_path)
            .and_then(Value::as_array)
            .ok_or_else(|| {
                RowError::field(
                    Reason::WrongType,
                    list_path.as_str(),
                    "expected a list of responses",
                )
            })?;
        let responses = list
            .iter()
            .enumerate()
            .map(|(i, r)| response(r, spec, &[], &format!("response {i}")))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((value, prompt, responses))
    };
    for row in source.rows()? {
        let row = row?;
        summary.rows_in += 1;
        let (value, prompt, responses) = match read(&row.data) {
            Ok(read) => read,
            Err(_) if spec.skip_bad => {
                summary.skipped += 1;
                continue;
            }
            Err(problem) => return Err(bad(&row.location, problem)),
        };
        let context = context_of(&value, &[&prompt_path, list_path], false);
        summary.prompts += 1;
        let scores: Vec<f64> = responses.iter().map(|r| r.score).collect();
        let chosen = choose(&scores, spec, summary.rows_in - 1);
        if chosen.is_empty() {
            summary.no_pair += 1;
        }
        for (c, r) in chosen {
            let mut line =
                pair_row(&prompt, &responses[c], &responses[r], &context, spec).to_string();
            line.push('\n');
            // A pair the output can't hold is the bad row it came from.
            emit(line.as_bytes(), &row.location)?;
            summary.pairs += 1;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
