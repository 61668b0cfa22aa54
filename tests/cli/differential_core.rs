//! The differential check of the two appliers: the same records, as JSON Lines through the JSON
//! applier and as an Arrow batch through the Arrow applier, must give the same output rows (the
//! Arrow output read back as JSON) and the same rejections at the same rows, for reasons and
//! messages alike. Shared by the property test and the cargo-fuzz target.

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use raug::arrow::BatchRelabeler;
use raug::fields::FieldNames;
use raug::json::row::{detect, Relabeler};
use raug::plan::Arrangement;
use raug::relabel::Spec;
use serde_json::{json, Map, Value};

/// The shapes of dataset the check covers: every layout, with an unchanged column beside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `prompt` string, message-list responses, and a `messages` column passed through.
    H4,
    /// Message-list prompt and responses.
    ConversationalExplicit,
    /// Full conversations, no prompt.
    ConversationalImplicit,
    /// Strings.
    Standard,
    /// Full texts, no prompt.
    StandardImplicit,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 5] = [
        Shape::H4,
        Shape::ConversationalExplicit,
        Shape::ConversationalImplicit,
        Shape::Standard,
        Shape::StandardImplicit,
    ];

    /// Whether responses are message lists.
    pub fn lists(self) -> bool {
        matches!(
            self,
            Shape::H4 | Shape::ConversationalExplicit | Shape::ConversationalImplicit
        )
    }

    /// The prompt's type, if the shape has a prompt.
    fn prompt(self) -> Option<DataType> {
        match self {
            Shape::H4 | Shape::Standard => Some(DataType::Utf8),
            Shape::ConversationalExplicit => Some(messages_type()),
            _ => None,
        }
    }

    /// The Arrow schema of the shape, scores as float64; `attributes` adds
    /// `helpfulness_chosen`/`_rejected`.
    pub fn schema(self, attributes: bool) -> SchemaRef {
        self.schema_with(attributes, DataType::Float64)
    }

    /// The Arrow schema of the shape with scores of type `score`.
    pub fn schema_with(self, attributes: bool, score: DataType) -> SchemaRef {
        let text = if self.lists() {
            messages_type()
        } else {
            DataType::Utf8
        };
        let mut fields = vec![Field::new("id", DataType::Int64, true)];
        if let Some(prompt) = self.prompt() {
            fields.push(Field::new("prompt", prompt, true));
        }
        fields.push(Field::new("chosen", text.clone(), true));
        fields.push(Field::new("rejected", text, true));
        if self == Shape::H4 {
            fields.push(Field::new("messages", messages_type(), true));
        }
        for name in ["score_chosen", "score_rejected"] {
            fields.push(Field::new(name, score.clone(), true));
        }
        if attributes {
            for name in ["helpfulness_chosen", "helpfulness_rejected"] {
                fields.push(Field::new(name, score.clone(), true));
            }
        }
        Arc::new(Schema::new(fields))
    }
}

/// `list<struct<content: string, role: string>>`, as Hugging Face datasets write messages.
pub fn messages_type() -> DataType {
    let message = Fields::from(vec![
        Field::new("content", DataType::Utf8, true),
        Field::new("role", DataType::Utf8, true),
    ]);
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(message),
        true,
    )))
}

/// A record of the shape that detection reads: every field present and well formed.
pub fn valid(shape: Shape, attributes: bool) -> Value {
    let list = |last: &str| json!([{"content": "q", "role": "user"}, {"content": last, "role": "assistant"}]);
    let mut m = Map::new();
    m.insert("id".into(), json!(0));
    match shape {
        Shape::H4 | Shape::Standard => {
            m.insert("prompt".into(), json!("q"));
        }
        Shape::ConversationalExplicit => {
            m.insert("prompt".into(), json!([{"content": "q", "role": "user"}]));
        }
        _ => {}
    }
    let (c, r) = if shape.lists() {
        (list("A"), list("B"))
    } else {
        (json!("A"), json!("B"))
    };
    m.insert("chosen".into(), c);
    m.insert("rejected".into(), r);
    if shape == Shape::H4 {
        m.insert("messages".into(), list("A"));
    }
    m.insert("score_chosen".into(), json!(8.0));
    m.insert("score_rejected".into(), json!(3.0));
    if attributes {
        m.insert("helpfulness_chosen".into(), json!(4.0));
        m.insert("helpfulness_rejected".into(), json!(1.0));
    }
    Value::Object(m)
}

/// What one applier made of the records.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// The output rows, numbers read as floats (JSON `8` and Arrow `8.0` are the same value).
    pub rows: Vec<Value>,
    /// Rejected records.
    pub rejected: Rejections,
}

/// Rejected records: index, reason, message.
pub type Rejections = Vec<(usize, &'static str, String)>;

/// Runs both appliers on the records (JSON objects matching `schema`); `Err` says how they
/// differ. The first record must be one detection can read.
pub fn compare(
    records: &[Value],
    schema: &SchemaRef,
    spec: &Spec,
    names: &FieldNames,
) -> Result<(), String> {
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    let json = through_json(&lines, spec, names)?;
    let arrow = through_arrow(&lines, schema, spec, names)?;
    if json != arrow {
        return Err(format!(
            "the appliers disagree\n--- JSON ---\n{json:#?}\n--- Arrow ---\n{arrow:#?}"
        ));
    }
    Ok(())
}

/// The JSON applier, row by row.
pub fn through_json(lines: &[String], spec: &Spec, names: &FieldNames) -> Result<Outcome, String> {
    let resolved = detect(&lines[0], names, spec.style)
        .map_err(|e| format!("JSON detection: {e}"))?
        .ok_or("the first record is not an object")?;
    let relabeler = Relabeler::new(spec, &resolved);
    let mut outs = vec![Vec::new(); relabeler.streams()];
    let mut rejected = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Err(e) = relabeler.relabel(line, &mut outs) {
            rejected.push((i, e.reason.as_str(), e.to_string()));
        }
    }
    let rows = json_rows(&outs.concat()).map_err(|e| format!("JSON output is not JSON: {e}"))?;
    Ok(Outcome { rows, rejected })
}

/// The Arrow applier, on one batch decoded from the same lines.
pub fn through_arrow(
    lines: &[String],
    schema: &SchemaRef,
    spec: &Spec,
    names: &FieldNames,
) -> Result<Outcome, String> {
    let batch = decode(lines, schema)?;
    let resolved = raug::arrow::detect(schema, names, spec.style)
        .map_err(|e| format!("Arrow detection: {e}"))?;
    let relabeler =
        BatchRelabeler::new(spec, &resolved, Arc::clone(schema)).map_err(|e| e.to_string())?;
    let out = relabeler.relabel(&batch).map_err(|e| e.to_string())?;
    let rejected = out
        .bad
        .iter()
        .map(|(i, e)| (*i, e.reason.as_str(), e.to_string()))
        .collect();
    let expected_batches = match Arrangement::of(spec) {
        Arrangement::Blocks => spec.halves().len(),
        _ => 1,
    };
    if out.batches.len() != expected_batches {
        return Err(format!(
            "Arrow gave {} batches, expected {expected_batches}",
            out.batches.len()
        ));
    }
    let batches: Vec<RecordBatch> = out.batches.into_iter().flatten().collect();
    let rows = held_rows(&batches)
        .map_err(|e| format!("Arrow output is not JSON: {e}"))?
        .into_iter()
        .map(|v| without_nulls(normalize(v)))
        .collect();
    Ok(Outcome { rows, rejected })
}

/// The lines as one record batch of the schema, or why they don't fit it.
pub fn decode(lines: &[String], schema: &SchemaRef) -> Result<RecordBatch, String> {
    let text = lines.join("\n");
    let batches: Vec<RecordBatch> = arrow_json::ReaderBuilder::new(Arc::clone(schema))
        .with_strict_mode(true)
        .build(Cursor::new(text))
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("records don't fit the schema: {e}"))?;
    arrow_select::concat::concat_batches(schema, &batches).map_err(|e| e.to_string())
}

/// JSON Lines as values, numbers normalized and null fields left out: an absent field is null
/// once in Arrow, and a passed-through field absent from a JSON row comes out null from Arrow.
fn json_rows(lines: &[u8]) -> Result<Vec<Value>, serde_json::Error> {
    lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).map(|v| without_nulls(normalize(v))))
        .collect()
}

/// The value with null fields left out, at every depth.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Every number as a float, so `8` and `8.0` compare equal.
pub fn normalize(value: Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, normalize(v))).collect())
        }
        other => other,
    }
}

/// The records as a batch of `schema` holds them (a float16 column holds 7.3 as 7.30078125, which
/// raug reads as 7.3), or none if they don't fit the schema: both appliers must be given the
/// same values.
pub fn as_held(records: &[Value], schema: &SchemaRef) -> Option<Vec<Value>> {
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    held_rows(&[decode(&lines, schema).ok()?]).ok()
}

/// The rows of batches as JSON values, float16 values as raug reads them (arrow-json writes a
/// float16 as the float32 it converts to: 7.3007813 for 7.3).
fn held_rows(batches: &[RecordBatch]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for batch in batches {
        let held = raug::json::rows_of_batch(batch).map_err(|e| e.to_string())?;
        let schema = batch.schema();
        let float16: Vec<&str> = schema
            .fields()
            .iter()
            .filter(|f| f.data_type() == &DataType::Float16)
            .map(|f| f.name().as_str())
            .collect();
        for line in held.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let mut row: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
            for name in &float16 {
                if let Some(v) = row[*name].as_f64() {
                    row[*name] = serde_json::json!(raug::arrow::shortest_f16(v as f32));
                }
            }
            out.push(row);
        }
    }
    Ok(out)
}
