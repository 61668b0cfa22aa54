//! Pairs from nested rows: a list of scored responses in each row, paired row by row.

use super::rules::{
    bad, choose, object_of, pair_line, pandas_index, raw_response, text_of, PairSink, PairSpec,
    PairSummary,
};
use crate::error::{Reason, Result, RowError};
use crate::fields::FieldPath;
use crate::json::object::{items, lookup, Object};
use crate::json::row::Shape;
use crate::rows::Inputs;

/// Pairs each row's list of responses (`--responses`), writing the pairs to `sink`.
pub(super) fn nested(
    source: &Inputs,
    spec: &PairSpec,
    summary: &mut PairSummary,
    sink: &mut dyn PairSink,
) -> Result<()> {
    let mut rows = source.rows_ahead()?.peekable();
    // The named fields as the first row has them.
    let first = match rows.peek() {
        Some(Ok(row)) => text_of(&row.data)
            .ok()
            .and_then(|text| Object::parse(text).ok())
            .map(|object| spec.in_row(&Shape(&object))),
        _ => None,
    };
    let spec = &first.unwrap_or_else(|| spec.clone());
    let list_path = spec
        .responses
        .as_ref()
        .expect("nested pairs name their list");
    let prompt_path = spec
        .prompt
        .clone()
        .unwrap_or_else(|| FieldPath::parse("prompt").expect("valid"));
    for row in rows {
        let row = row?;
        summary.rows_in += 1;
        let read = text_of(&row.data).and_then(|text| {
            let object = object_of(text)?;
            let prompt = lookup(&object, &prompt_path)?.ok_or_else(|| {
                RowError::field(Reason::MissingField, prompt_path.as_str(), "missing")
            })?;
            let not_a_list = || {
                RowError::field(
                    Reason::WrongType,
                    list_path.as_str(),
                    "expected a list of responses",
                )
            };
            let list = lookup(&object, list_path)?.ok_or_else(not_a_list)?;
            let list = items(list).map_err(|_| not_a_list())?;
            let responses = list
                .iter()
                .enumerate()
                .map(|(i, r)| raw_response(r, spec, &format!("response {i}")))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let used = [&prompt_path, list_path];
            let context: Vec<(String, &str)> = object
                .entries()
                .filter(|(name, _)| !used.iter().any(|p| p.parts()[0] == *name))
                .filter(|(name, _)| !pandas_index(name))
                .map(|(name, v)| (name.to_string(), v))
                .collect();
            Ok((prompt, responses, context))
        });
        let (prompt, responses, context) = match read {
            Ok(read) => read,
            Err(problem) if spec.skip_bad => {
                summary.skips.skip(&bad(&row.location, problem));
                continue;
            }
            Err(problem) => return Err(bad(&row.location, problem)),
        };
        let context: Vec<(&str, &str)> = context.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        summary.prompts += 1;
        let scores: Vec<f64> = responses.iter().map(|r| r.score).collect();
        let chosen = choose(&scores, spec, summary.rows_in - 1);
        if chosen.is_empty() {
            summary.no_pair += 1;
        }
        for (c, r) in chosen {
            let mut line = String::new();
            pair_line(
                &mut line,
                prompt,
                &responses[c],
                &responses[r],
                &context,
                spec,
            );
            // A pair the output can't hold is the bad row it came from.
            sink.emit(line.as_bytes(), &row.location)?;
            summary.pairs += 1;
        }
    }
    Ok(())
}
