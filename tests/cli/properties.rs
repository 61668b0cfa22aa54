//! Property tests of the relabel core against the model in the harness, and of the reader on
//! arbitrary bytes.

use proptest::prelude::*;
use raug::driver::{relabel_bytes, OnError};
use raug::fields::FieldNames;
use raug::relabel::{Spec, Style};
use serde_json::{json, Value};

use crate::harness::{Model, Site};

/// Any text: unicode, quotes, backslashes, control characters, newlines.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            any::<char>(),
            Just('"'),
            Just('\\'),
            Just('\n'),
            Just('\u{0}'),
            Just('é'),
            Just('🙂')
        ],
        0..24,
    )
    .prop_map(String::from_iter)
}

/// Any score on the paper's 1-10 scale, integral ones often (a score off the goal's scale is a
/// bad row).
fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        (1i32..=10).prop_map(f64::from),
        (1f64..=10f64),
        (4i32..=40).prop_map(|q| f64::from(q) / 4.0),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Layout {
    H4,
    ConversationalExplicit,
    ConversationalImplicit,
    Standard,
    StandardImplicit,
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::H4),
        Just(Layout::ConversationalExplicit),
        Just(Layout::ConversationalImplicit),
        Just(Layout::Standard),
        Just(Layout::StandardImplicit),
    ]
}

fn messages(system: Option<&str>, turns: &[(&str, &str)], content_first: bool) -> Value {
    let mut list = Vec::new();
    let mut push = |role: &str, content: &str| {
        list.push(if content_first {
            json!({"content": content, "role": role})
        } else {
            json!({"role": role, "content": content})
        })
    };
    if let Some(s) = system {
        push("system", s);
    }
    for (role, content) in turns {
        push(role, content);
    }
    Value::Array(list)
}

prop_compose! {
    fn case()(
        layout in layout(),
        prompt in text(),
        chosen in text(),
        rejected in text(),
        system in prop::option::of(text()),
        content_first in any::<bool>(),
        prefix in any::<bool>(),
        s_w in score(),
        s_l in score(),
        extra in text(),
        id in any::<i64>(),
    ) -> (Value, Site, bool) {
        let sys = system.as_deref();
        let (row, site) = match layout {
            Layout::H4 => (json!({
                "prompt": prompt,
                "chosen": messages(sys, &[("user", &prompt), ("assistant", &chosen)], content_first),
                "rejected": messages(sys, &[("user", &prompt), ("assistant", &rejected)], content_first),
                "messages": messages(None, &[("user", &prompt)], content_first),
            }), Site::ResponseLists),
            Layout::ConversationalExplicit => (json!({
                "prompt": messages(sys, &[("user", &prompt)], content_first),
                "chosen": messages(None, &[("assistant", &chosen)], content_first),
                "rejected": messages(None, &[("assistant", &rejected)], content_first),
            }), Site::PromptList),
            Layout::ConversationalImplicit => (json!({
                "chosen": messages(sys, &[("user", &prompt), ("assistant", &chosen)], content_first),
                "rejected": messages(sys, &[("user", &prompt), ("assistant", &rejected)], content_first),
            }), Site::ResponseLists),
            Layout::Standard => (json!({"prompt": prompt, "chosen": chosen, "rejected": rejected}), Site::PromptText),
            Layout::StandardImplicit => (json!({"chosen": chosen, "rejected": rejected}), Site::ResponseTexts),
        };
        let mut row = row;
        let object = row.as_object_mut().unwrap();
        object.insert("id".into(), json!(id));
        object.insert("score_chosen".into(), json!(s_w));
        object.insert("meta".into(), json!({"note": extra}));
        object.insert("score_rejected".into(), json!(s_l));
        let lists = matches!(site, Site::ResponseLists | Site::PromptList);
        (row, site, prefix || !lists)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Any valid row gives two rows: the goal-s_w row with the original roles and the goal-s_l row
    /// with responses and scores swapped, the goal where the layout puts it; nothing else changes.
    #[test]
    fn valid_rows_relabel_as_the_model_says((row, site, prefix) in case()) {
        let lists = matches!(site, Site::ResponseLists | Site::PromptList);
        let spec = Spec {
            style: lists.then_some(if prefix { Style::Prefix } else { Style::System }),
            ..Spec::default()
        };
        let line = format!("{row}\n");
        let (out, summary) =
            relabel_bytes(line.as_bytes(), &spec, &FieldNames::default(), OnError::Fail).unwrap();
        let got: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let model = Model {
            site,
            prefix,
            chosen_score: "score_chosen",
            rejected_score: "score_rejected",
        };
        let expected = model.relabel(&row);
        prop_assert_eq!(got.len(), 2);
        for (g, e) in got.iter().zip(&expected) {
            prop_assert_eq!(g.to_string(), e.to_string());
        }
        prop_assert_eq!(summary.rows_out, 2);
    }

    /// Any bytes: the reader and relabeler return rows or errors, never panic, and under skip
    /// every row is either relabeled or counted as skipped.
    #[test]
    fn any_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
        check_bytes(&data)?;
    }

    /// Valid rows cut short or with a byte changed: still rows or errors.
    #[test]
    fn damaged_rows_never_panic(
        (row, _, _) in case(),
        cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let good = format!("{row}\n").into_bytes();
        let mut data = good.clone();
        data.extend_from_slice(&good[..cut.index(good.len())]);
        data.push(b'\n');
        let mut changed = good.clone();
        let i = at.index(changed.len());
        changed[i] = byte;
        data.extend_from_slice(&changed);
        check_bytes(&data)?;
    }
}

fn check_bytes(data: &[u8]) -> Result<(), TestCaseError> {
    let spec = Spec::default();
    let names = FieldNames::default();
    let _ = relabel_bytes(data, &spec, &names, OnError::Fail);
    if let Ok((out, summary)) = relabel_bytes(data, &spec, &names, OnError::Skip) {
        let kept = summary.rows_in - summary.skipped - summary.ties_dropped;
        prop_assert_eq!(summary.rows_out, 2 * kept);
        prop_assert_eq!(
            out.iter().filter(|&&b| b == b'\n').count() as u64,
            summary.rows_out
        );
    }
    Ok(())
}
