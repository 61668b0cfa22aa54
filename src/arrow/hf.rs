//! Hugging Face `datasets` features metadata (the `huggingface` key of a Parquet schema): made
//! from an Arrow schema when writing Parquet that came from JSON.

use arrow_schema::{DataType, Schema};
use serde_json::{json, Map, Value};

/// The metadata key `datasets` reads its features from.
pub const KEY: &str = "huggingface";

/// The `datasets` feature of an Arrow type, or `None` when it has no plain equivalent.
pub fn feature(data_type: &DataType) -> Option<Value> {
    let value = |dtype: &str| Some(json!({"dtype": dtype, "_type": "Value"}));
    match data_type {
        DataType::Utf8 | DataType::Utf8View => value("string"),
        DataType::LargeUtf8 => value("large_string"),
        DataType::Boolean => value("bool"),
        DataType::Int8 => value("int8"),
        DataType::Int16 => value("int16"),
        DataType::Int32 => value("int32"),
        DataType::Int64 => value("int64"),
        DataType::UInt8 => value("uint8"),
        DataType::UInt16 => value("uint16"),
        DataType::UInt32 => value("uint32"),
        DataType::UInt64 => value("uint64"),
        DataType::Float16 => value("float16"),
        DataType::Float32 => value("float32"),
        DataType::Float64 => value("float64"),
        DataType::Null => value("null"),
        DataType::Struct(fields) => {
            let mut map = Map::new();
            for f in fields {
                map.insert(f.name().clone(), feature(f.data_type())?);
            }
            Some(Value::Object(map))
        }
        DataType::List(item) | DataType::LargeList(item) => {
            Some(json!({"feature": feature(item.data_type())?, "_type": "List"}))
        }
        _ => None,
    }
}

/// The `huggingface` metadata value for a schema, as `datasets` writes it.
pub fn metadata(schema: &Schema) -> Option<String> {
    let mut features = Map::new();
    for f in schema.fields() {
        features.insert(f.name().clone(), feature(f.data_type())?);
    }
    Some(json!({"info": {"features": features}}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{Field, Fields};
    use std::sync::Arc;

    #[test]
    fn messages_become_a_list_of_dicts() {
        let message = Fields::from(vec![
            Field::new("content", DataType::Utf8, true),
            Field::new("role", DataType::Utf8, true),
        ]);
        let schema = Schema::new(vec![
            Field::new("prompt", DataType::Utf8, true),
            Field::new(
                "chosen",
                DataType::List(Arc::new(Field::new(
                    "item",
                    DataType::Struct(message),
                    true,
                ))),
                true,
            ),
            Field::new("score_chosen", DataType::Float64, true),
        ]);
        assert_eq!(
            metadata(&schema).unwrap(),
            r#"{"info":{"features":{"prompt":{"dtype":"string","_type":"Value"},"chosen":{"feature":{"content":{"dtype":"string","_type":"Value"},"role":{"dtype":"string","_type":"Value"}},"_type":"List"},"score_chosen":{"dtype":"float64","_type":"Value"}}}}"#
        );
    }
}
