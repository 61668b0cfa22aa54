//! Fuzzes the two appliers against each other: JSON Lines that fit a layout's Arrow schema (its
//! scores of any type Parquet files hold) go through the JSON applier and, decoded into a record
//! batch, through the Arrow applier; the output rows and the rejections (row, reason, message)
//! must be the same. Then, JSON only (Arrow can hold neither): a byte-order mark changes
//! nothing, and a key raug reads, repeated, makes the row bad with its own reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use raug::fields::{Attribute, FieldNames};
use raug::relabel::{Goals, Order, Scale, Spec, Style, Template, Ties};
use arrow_schema::DataType;
use raug::driver::{relabel_bytes, OnError};
use serde_json::Value;

// Shared with the property tests, which use more of it.
#[allow(dead_code)]
#[path = "../../tests/cli/differential_core.rs"]
mod differential_core;

use differential_core::{as_held, compare, valid, Shape};

/// The score types of real Parquet files: reward models give float32, pandas int64, and so on.
const SCORE_TYPES: [DataType; 5] = [
    DataType::Float64,
    DataType::Float32,
    DataType::Float16,
    DataType::Int64,
    DataType::Int32,
];

/// The keys detection reads in every shape, one of which the JSON-only check repeats.
const READ_KEYS: [&str; 4] = ["chosen", "rejected", "score_chosen", "score_rejected"];

fuzz_target!(|data: &[u8]| {
    let Some((&[options, more], data)) = data.split_first_chunk::<2>() else {
        return;
    };
    let shape = Shape::ALL[usize::from(options % 5)];
    let score_type = SCORE_TYPES[usize::from(more % 5)].clone();
    let attributes = options & 8 != 0;
    let spec = Spec {
        template: Template::default()
            .with_from_scale((options & 16 != 0).then(|| Scale::parse("0-10").unwrap())),
        style: match (options >> 5) % 3 {
            0 => None,
            1 if shape.lists() => Some(Style::System),
            _ => Some(Style::Prefix),
        },
        keep_original: options & 128 != 0,
        ties: if data.len() % 2 == 0 { Ties::Keep } else { Ties::Drop },
        order: if data.len() % 3 == 0 { Order::Blocks } else { Order::Interleaved },
        goals: match data.len() % 5 {
            0 => Goals::Chosen,
            1 => Goals::Rejected,
            _ => Goals::Both,
        },
        force: false,
    };
    let names = FieldNames {
        // --to rewrites rows before relabeling (and writes them after); both appliers must agree
        // on that too. Without a prompt there is none to write as ShareGPT's or OpenAI's.
        to: match data.len() % 11 {
            0 => Some(raug::reshape::Target::Trl),
            1 if shape != Shape::StandardImplicit => Some(raug::reshape::Target::ShareGpt),
            2 if shape != Shape::StandardImplicit => Some(raug::reshape::Target::OpenAi),
            _ => None,
        },
        attributes: if attributes {
            vec![Attribute::parse("helpfulness").unwrap()]
        } else {
            Vec::new()
        },
        ..FieldNames::default()
    };
    let mut records = vec![valid(shape, attributes)];
    for line in data.split(|&b| b == b'\n') {
        match serde_json::from_slice::<Value>(line) {
            Ok(value @ Value::Object(_)) => records.push(value),
            _ => return,
        }
    }
    if score_type.is_integer() {
        // Integer columns hold whole scores: write those as integers.
        for record in &mut records {
            for (key, value) in record.as_object_mut().expect("an object") {
                if key.contains("score") || key.starts_with("helpfulness") {
                    if let Some(v) = value.as_f64().filter(|v| v.fract() == 0.0 && v.abs() < 1e9) {
                        *value = serde_json::json!(v as i64);
                    }
                }
            }
        }
    }
    let schema = shape.schema_with(attributes, score_type);
    // Only records both representations can hold: those that decode into the schema, taken as
    // the schema holds them (a float32 column reads 7.3000001 as 7.3).
    let Some(records) = as_held(&records, &schema) else {
        return;
    };
    if let Err(e) = compare(&records, &schema, &spec, &names) {
        panic!("{e}");
    }

    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    let skip = OnError::Skip;
    let plain = relabel_bytes(text.as_bytes(), &spec, &names, skip);
    let marked = relabel_bytes(format!("\u{feff}{text}").as_bytes(), &spec, &names, skip);
    assert_eq!(
        plain.map(|(out, s)| (out, s.line())).map_err(|e| e.to_string()),
        marked.map(|(out, s)| (out, s.line())).map_err(|e| e.to_string()),
        "a byte-order mark changed the result"
    );
    let key = READ_KEYS[usize::from(more / 5) % READ_KEYS.len()];
    let first = records[0].to_string();
    let repeated = format!("{}, \"{key}\": {}}}\n", &first[..first.len() - 1], records[0][key]);
    let (_, summary) = relabel_bytes(repeated.as_bytes(), &spec, &names, skip)
        .unwrap_or_else(|e| panic!("the repeated-key row: {e}"));
    assert_eq!(
        summary.skipped_by_reason.get("duplicate_key"),
        Some(&1),
        "{key} repeated in {repeated}"
    );
});
