//! Fuzzes the two appliers against each other: JSON Lines that fit a layout's Arrow schema go
//! through the JSON applier and, decoded into a record batch, through the Arrow applier; the
//! output rows and the rejections (row, reason, message) must be the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use raug::fields::{Attribute, FieldNames};
use raug::relabel::{Goals, Order, Scale, Spec, Style, Template, Ties};
use serde_json::Value;

#[path = "../../tests/cli/differential_core.rs"]
mod differential_core;

use differential_core::{compare, decode, valid, Shape};

fuzz_target!(|data: &[u8]| {
    let Some((&options, data)) = data.split_first() else {
        return;
    };
    let shape = Shape::ALL[usize::from(options % 5)];
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
    let schema = shape.schema(attributes);
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    // Only records both representations can hold: those that decode into the schema.
    if decode(&lines, &schema).is_err() {
        return;
    }
    if let Err(e) = compare(&records, &schema, &spec, &names) {
        panic!("{e}");
    }
});
