//! The JSON and Arrow appliers against each other: generated records, valid and invalid for
//! every rejection reason both representations can hold, under every option combination, must
//! give the same rows and the same rejections. Plus the disagreements this check was written
//! for, as regression tests.

use arrow_schema::DataType;
use proptest::prelude::*;
use raug::fields::{Attribute, FieldNames};
use raug::relabel::{Goals, Order, Scale, Spec, Style, Template, Ties};
use raug::reshape::Target;
use serde_json::{json, Map, Value};

use crate::differential_core::{
    as_held, compare, through_arrow, through_json, valid, Rejections, Shape,
};

/// Short texts with the characters that stress escaping, and now and then one that begins
/// with a goal (a record relabeled before) of each template the specs use.
fn text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        Just('a'),
        Just('"'),
        Just('\\'),
        Just('\n'),
        Just('é'),
        Just('🙂')
    ];
    prop_oneof![
        12 => prop::collection::vec(chars, 0..6).prop_map(String::from_iter),
        1 => Just("Aim for 5!\n\nq".to_string()),
        1 => Just("Targets (0 to 10):\nOverall score: 3.\n\nq".to_string()),
        1 => Just(format!("{}\n\nq", raug::relabel::DEFAULT_HEADER)),
    ]
}

fn maybe<T: std::fmt::Debug + Clone>(
    value: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![8 => value.prop_map(Some), 1 => Just(None)]
}

/// A message: role and content, either possibly null.
fn message() -> impl Strategy<Value = Value> {
    let role = prop_oneof![
        3 => Just(Some("user")),
        3 => Just(Some("assistant")),
        2 => Just(Some("system")),
        1 => Just(None),
    ];
    (role, maybe(text())).prop_map(|(role, content)| json!({"content": content, "role": role}))
}

/// A message list: empty, null, or up to four messages (a system message first, often).
fn list() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => prop::collection::vec(message(), 1..4).prop_map(Value::Array),
        1 => Just(json!([])),
        1 => Just(Value::Null),
    ]
}

/// A score: integral, fractional, outside 0-10, or null.
fn score() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => (0i32..=10).prop_map(|v| json!(f64::from(v))),
        2 => (0i32..=40).prop_map(|q| json!(f64::from(q) / 4.0)),
        1 => Just(json!(-3.0)),
        1 => Just(json!(12.5)),
        // Not exact in binary: float32 columns must still print it as 7.3.
        1 => Just(json!(7.3)),
        1 => Just(Value::Null),
    ]
}

/// One record of a shape, with fields in schema order.
fn record(shape: Shape, attributes: bool) -> impl Strategy<Value = Value> {
    let response = move || -> BoxedStrategy<Value> {
        if shape.lists() {
            list().boxed()
        } else {
            maybe(text()).prop_map(|t| json!(t)).boxed()
        }
    };
    (
        any::<i32>(),
        maybe(text()),
        list(),
        response(),
        response(),
        list(),
        (score(), score(), score(), score()),
        // A field to leave out: absent is null to Arrow, and so to the rules.
        prop_oneof![6 => Just(None), 1 => (0usize..8).prop_map(Some)],
    )
        .prop_map(
            move |(id, ptext, plist, chosen, rejected, messages, scores, absent)| {
                let mut m = Map::new();
                m.insert("id".into(), json!(id));
                match shape {
                    Shape::H4 | Shape::Standard => {
                        m.insert("prompt".into(), json!(ptext));
                    }
                    Shape::ConversationalExplicit => {
                        m.insert("prompt".into(), plist);
                    }
                    _ => {}
                }
                m.insert("chosen".into(), chosen);
                m.insert("rejected".into(), rejected);
                if shape == Shape::H4 {
                    m.insert("messages".into(), messages);
                }
                m.insert("score_chosen".into(), scores.0);
                m.insert("score_rejected".into(), scores.1);
                if attributes {
                    m.insert("helpfulness_chosen".into(), scores.2);
                    m.insert("helpfulness_rejected".into(), scores.3);
                }
                if let Some(k) = absent {
                    let key = m.keys().nth(k % m.len()).cloned().expect("not empty");
                    m.remove(&key);
                }
                Value::Object(m)
            },
        )
}

/// Every option that changes what a record becomes.
fn spec(shape: Shape) -> impl Strategy<Value = Spec> {
    let style = if shape.lists() {
        prop_oneof![
            Just(None),
            Just(Some(Style::System)),
            Just(Some(Style::Prefix))
        ]
        .boxed()
    } else {
        prop_oneof![Just(None), Just(Some(Style::Prefix))].boxed()
    };
    (
        prop_oneof![
            Just(Goals::Both),
            Just(Goals::Chosen),
            Just(Goals::Rejected)
        ],
        any::<bool>(),
        prop_oneof![Just(Ties::Keep), Just(Ties::Drop)],
        prop_oneof![Just(Order::Interleaved), Just(Order::Blocks)],
        style,
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some("Aim for {score}!")),
            Just(Some("Targets ({lo} to {hi}):\n{scores}"))
        ],
        prop_oneof![Just(None), Just(Some(0u32)), Just(Some(1u32))],
        any::<bool>(),
    )
        .prop_map(
            |(goals, keep_original, ties, order, style, from, text, precision, force)| Spec {
                template: text
                    .map_or_else(Template::default, |t| Template::new(t).expect("valid"))
                    .with_scale(Scale::parse("0-10").expect("valid"))
                    .with_from_scale(from.then(|| Scale::parse("0-5").expect("valid")))
                    .with_precision(precision),
                goals,
                keep_original,
                ties,
                order,
                style,
                force,
            },
        )
}

fn case() -> impl Strategy<Value = (Shape, bool, Spec, Vec<Value>)> {
    (prop::sample::select(Shape::ALL.to_vec()), any::<bool>()).prop_flat_map(
        |(shape, attributes)| {
            (
                Just(shape),
                Just(attributes),
                spec(shape),
                prop::collection::vec(record(shape, attributes), 0..12),
            )
        },
    )
}

fn names(attributes: bool, to: Option<Target>) -> FieldNames {
    FieldNames {
        to,
        attributes: if attributes {
            vec![Attribute::parse("helpfulness").expect("valid")]
        } else {
            Vec::new()
        },
        ..FieldNames::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_and_arrow_appliers_agree(
        (shape, attributes, spec, rest) in case(),
        score_type in prop::sample::select(vec![
            DataType::Float64, DataType::Float32, DataType::Float16, DataType::Int64, DataType::Int32,
        ]),
        to in prop::sample::select(vec![None, Some(Target::Trl), Some(Target::ShareGpt), Some(Target::OpenAi)]),
    ) {
        // Without a prompt there is none to write as ShareGPT's or OpenAI's.
        let to = to.filter(|t| *t == Target::Trl || shape != Shape::StandardImplicit);
        let mut records = vec![valid(shape, attributes)];
        records.extend(rest);
        if score_type.is_integer() {
            // Integer columns hold whole scores: round the generated ones.
            for record in &mut records {
                for (key, value) in record.as_object_mut().expect("an object") {
                    if key.contains("score") || key.starts_with("helpfulness") {
                        if let Some(v) = value.as_f64() {
                            *value = json!(v.round() as i64);
                        }
                    }
                }
            }
        }
        let schema = shape.schema_with(attributes, score_type);
        // Both appliers get the values the columns hold (float16 holds 7.3 as 7.30078125).
        let records = as_held(&records, &schema).expect("generated records fit the schema");
        if let Err(e) = compare(&records, &schema, &spec, &names(attributes, to)) {
            return Err(TestCaseError::fail(format!("{shape:?} {spec:?}\n{e}")));
        }
    }
}

/// Runs both appliers on standard-layout records, returning what each rejected.
fn rejections(shape: Shape, records: &[Value], spec: &Spec) -> (Rejections, Rejections) {
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    let names = FieldNames::default();
    let json = through_json(&lines, spec, &names).expect("JSON applier");
    let arrow = through_arrow(&lines, &shape.schema(false), spec, &names).expect("Arrow applier");
    (json.rejected, arrow.rejected)
}

/// Regression: a message whose content is null was accepted from JSON Lines and rejected from
/// Parquet ("message 2 has no content"). Tool-call messages have no content: both accept it.
#[test]
fn null_message_content_is_accepted_in_both_representations() {
    let mut row = valid(Shape::H4, false);
    row["chosen"] = json!([
        {"content": "q", "role": "user"},
        {"content": "A", "role": "assistant"},
        {"content": null, "role": "assistant"}
    ]);
    let records = [valid(Shape::H4, false), row];
    let (json, arrow) = rejections(Shape::H4, &records, &Spec::default());
    assert_eq!(json, vec![]);
    assert_eq!(arrow, vec![]);
    compare(
        &records,
        &Shape::H4.schema(false),
        &Spec::default(),
        &FieldNames::default(),
    )
    .unwrap();
}

/// Regression: a row whose chosen text and chosen score are both null was rejected for
/// `wrong_type` on `chosen` from JSON Lines and for `bad_score` on `score_chosen` from Parquet.
/// Texts are checked first, in both; null is missing, in both.
#[test]
fn null_text_and_null_score_give_one_reason_in_both_representations() {
    let mut row = valid(Shape::Standard, false);
    row["chosen"] = Value::Null;
    row["score_chosen"] = Value::Null;
    let (json, arrow) = rejections(
        Shape::Standard,
        &[valid(Shape::Standard, false), row],
        &Spec::default(),
    );
    let expected = vec![(
        1,
        "missing_field",
        "field \"chosen\": missing or null".to_string(),
    )];
    assert_eq!(json, expected);
    assert_eq!(arrow, expected);
}

/// Every rejection reason both representations can hold, in one file, the same in both.
#[test]
fn every_shared_rejection_reason_is_the_same_in_both_representations() {
    let base = valid(Shape::H4, false);
    let with = |field: &str, value: Value| {
        let mut row = base.clone();
        row[field] = value;
        row
    };
    let records = vec![
        base.clone(),
        with("chosen", json!([])),
        with("chosen", json!([{"content": "q", "role": null}])),
        with("rejected", Value::Null),
        with("prompt", Value::Null),
        with("score_rejected", Value::Null),
        with(
            "chosen",
            json!([{"content": null, "role": "system"}, {"content": "q", "role": "user"}]),
        ),
    ];
    let (json, arrow) = rejections(Shape::H4, &records, &Spec::default());
    let expected = vec![
        (1, "bad_message", "field \"chosen\": empty message list".to_string()),
        (2, "bad_message", "field \"chosen\": message 0 has no \"role\"".to_string()),
        (3, "missing_field", "field \"rejected\": missing or null".to_string()),
        (4, "missing_field", "field \"prompt\": missing or null".to_string()),
        (5, "missing_field", "field \"score_rejected\": missing or null".to_string()),
        (6, "bad_message", "field \"chosen\": message 0 has neither string \"content\" nor a text part; the goal can only be put in front of text".to_string()),
    ];
    assert_eq!(json, expected);
    assert_eq!(arrow, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// JSON only (Arrow can hold neither): a byte-order mark changes nothing, and a key raug
    /// reads, repeated, makes the row bad with its own reason whatever the rest of the row.
    #[test]
    fn byte_order_marks_and_duplicate_keys(
        (shape, attributes, spec, rest) in case(),
        key in prop::sample::select(vec!["chosen", "rejected", "score_chosen", "score_rejected"]),
    ) {
        let mut records = vec![valid(shape, attributes)];
        records.extend(rest);
        let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
        let names = names(attributes, None);
        let plain = raug::driver::relabel_bytes(lines.as_bytes(), &spec, &names, raug::driver::OnError::Skip);
        let marked = format!("\u{feff}{lines}");
        let with_bom = raug::driver::relabel_bytes(marked.as_bytes(), &spec, &names, raug::driver::OnError::Skip);
        prop_assert_eq!(
            plain.as_ref().map(|(out, s)| (out.clone(), s.line())).map_err(|e| e.to_string()),
            with_bom.as_ref().map(|(out, s)| (out.clone(), s.line())).map_err(|e| e.to_string())
        );
        // The first row, its key repeated at the end (its value a valid one of that key).
        let first = records[0].to_string();
        let repeated = format!("{}, \"{key}\": {}}}\n", &first[..first.len() - 1], records[0][key]);
        let (_, summary) = raug::driver::relabel_bytes(repeated.as_bytes(), &spec, &names, raug::driver::OnError::Skip)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(summary.skipped_by_reason.get("duplicate_key"), Some(&1));
    }
}
