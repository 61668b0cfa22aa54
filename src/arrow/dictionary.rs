//! Dictionary columns (pandas' categoricals): read from Parquet as plain values and declared
//! as dictionaries again in Parquet output, and cut to the values their rows use wherever
//! arrays that are still dictionaries (from Python, or nested) are combined.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use arrow_select::take::take;

/// Field metadata on a column that a Parquet file declares as a dictionary of strings or bytes
/// and `raug` reads as plain values ([`read_as_values`]): the dictionary's key type
/// (`Int32`, say). A Parquet output declares the column as that dictionary again, without this
/// metadata ([`declared_dictionaries`]).
pub const DICTIONARY_KEYS: &str = "raug.dictionary_keys";

/// The integer types dictionary keys may have.
const KEY_TYPES: [DataType; 8] = [
    DataType::Int8,
    DataType::Int16,
    DataType::Int32,
    DataType::Int64,
    DataType::UInt8,
    DataType::UInt16,
    DataType::UInt32,
    DataType::UInt64,
];

/// The schema to read a Parquet file with so that its top-level dictionary columns of strings
/// or bytes come as plain values, each field marked with [`DICTIONARY_KEYS`]; `None` when it
/// has none. Read as dictionaries, a column chunk whose dictionary outgrew its writer's limit
/// (plain pages follow) is rebuilt into a dictionary of every value seen so far, held by every
/// batch, and each value rewritten is hashed into a dictionary again: relabeling pandas'
/// categorical prompts took up to 5x the time of the same strings, pairing them 2x the memory.
pub fn read_as_values(schema: &Schema) -> Option<Schema> {
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Dictionary(keys, values) if is_bytes(values) => {
                changed = true;
                let mut metadata = field.metadata().clone();
                metadata.insert(DICTIONARY_KEYS.to_string(), keys.to_string());
                field
                    .as_ref()
                    .clone()
                    .with_data_type(values.as_ref().clone())
                    .with_metadata(metadata)
            }
            _ => field.as_ref().clone(),
        })
        .collect();
    changed.then(|| Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The schema a Parquet output declares: the columns [`read_as_values`] marked declared as
/// their dictionaries again, without the mark (the writer encodes values the same either way,
/// and readers such as pyarrow give pandas its categoricals back). The same schema when none is
/// marked.
pub fn declared_dictionaries(schema: &SchemaRef) -> SchemaRef {
    if !schema
        .fields()
        .iter()
        .any(|f| f.metadata().contains_key(DICTIONARY_KEYS))
    {
        return Arc::clone(schema);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            let mut metadata = field.metadata().clone();
            let keys = metadata
                .remove(DICTIONARY_KEYS)
                .and_then(|name| KEY_TYPES.into_iter().find(|k| k.to_string() == name));
            let field = field.as_ref().clone().with_metadata(metadata);
            match keys {
                Some(keys) if is_bytes(field.data_type()) => {
                    let values = field.data_type().clone();
                    field.with_data_type(DataType::Dictionary(Box::new(keys), Box::new(values)))
                }
                _ => field,
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Whether two files' columns are the same: names, types and nullability, and field metadata
/// apart from the [`DICTIONARY_KEYS`] mark (a pandas categorical column in one shard reads as
/// the same strings as a plain column in another).
pub fn same_columns(a: &Schema, b: &Schema) -> bool {
    let unmarked = |field: &Field| {
        let mut metadata = field.metadata().clone();
        metadata.remove(DICTIONARY_KEYS);
        field.clone().with_metadata(metadata)
    };
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| unmarked(x) == unmarked(y))
}

/// Whether values of this type are strings or bytes.
fn is_bytes(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
    )
}

/// `arrow_select::interleave::interleave`, but dictionaries (pandas' categoricals) cut first
/// to the values their rows use: arrow-rs concatenates every input's whole dictionary into the
/// output's, and a Parquet batch's dictionary may hold every value of its column chunk (tens of
/// MB copied for each batch: relabeling a 226 MB file in the interleaved order ran for minutes).
pub fn interleave(parts: &[&dyn Array], order: &[(usize, usize)]) -> Result<ArrayRef, ArrowError> {
    if !matches!(
        parts.first().map(|p| p.data_type()),
        Some(DataType::Dictionary(..))
    ) {
        return arrow_select::interleave::interleave(parts, order);
    }
    let cut = parts
        .iter()
        .map(|p| compact_dictionary(*p))
        .collect::<Result<Vec<_>, _>>()?;
    let cut: Vec<&dyn Array> = cut.iter().map(|p| p.as_ref()).collect();
    arrow_select::interleave::interleave(&cut, order)
}

/// A dictionary array with only the values its rows use (the same array if it uses all), in
/// time that follows its rows, not its dictionary: the keys used are sorted, not marked in a map
/// as long as the dictionary (arrow-rs's `garbage_collect_dictionary` zeroes one, which for a
/// batch over a column chunk's dictionary cost more than the batch).
pub fn compact_dictionary(array: &dyn Array) -> Result<ArrayRef, ArrowError> {
    use arrow_array::types::{
        Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
    };
    let DataType::Dictionary(key_type, _) = array.data_type() else {
        return Err(ArrowError::InvalidArgumentError(format!(
            "expected a dictionary, got {}",
            array.data_type()
        )));
    };
    let dictionary = array.as_any_dictionary();
    let keys = dictionary.normalized_keys();
    let valid = |i: usize| dictionary.keys().is_valid(i);
    let mut used: Vec<usize> = (0..keys.len())
        .filter(|&i| valid(i))
        .map(|i| keys[i])
        .collect();
    used.sort_unstable();
    used.dedup();
    if used.len() == dictionary.values().len() {
        return Ok(arrow_array::make_array(array.to_data()));
    }
    let index = arrow_array::UInt64Array::from_iter_values(used.iter().map(|&k| k as u64));
    let values = take(dictionary.values(), &index, None)?;
    let new_keys: arrow_array::UInt64Array = (0..keys.len())
        .map(|i| valid(i).then(|| used.binary_search(&keys[i]).expect("a key in use") as u64))
        .collect();
    let new_keys = arrow_cast::cast(&new_keys, key_type)?;
    macro_rules! rebuild {
        ($t:ty) => {
            Arc::new(arrow_array::DictionaryArray::<$t>::try_new(
                new_keys.as_primitive::<$t>().clone(),
                values,
            )?) as ArrayRef
        };
    }
    Ok(match key_type.as_ref() {
        DataType::Int8 => rebuild!(Int8Type),
        DataType::Int16 => rebuild!(Int16Type),
        DataType::Int32 => rebuild!(Int32Type),
        DataType::Int64 => rebuild!(Int64Type),
        DataType::UInt8 => rebuild!(UInt8Type),
        DataType::UInt16 => rebuild!(UInt16Type),
        DataType::UInt32 => rebuild!(UInt32Type),
        DataType::UInt64 => rebuild!(UInt64Type),
        other => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "dictionary keys of type {other}"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_of_strings_are_read_as_values_and_declared_as_they_were() {
        let dictionary = |keys: DataType, values: DataType| {
            DataType::Dictionary(Box::new(keys), Box::new(values))
        };
        let own = arrow_schema::Metadata::from([("note", "kept")]);
        let file = Schema::new_with_metadata(
            vec![
                Field::new(
                    "prompt",
                    dictionary(DataType::Int8, DataType::LargeUtf8),
                    true,
                )
                .with_metadata(own.clone()),
                Field::new("id", dictionary(DataType::UInt16, DataType::Binary), false),
                Field::new("bucket", dictionary(DataType::Int32, DataType::Int64), true),
                Field::new("score", DataType::Float64, true),
            ],
            [("pandas", "{}")],
        );
        let read = read_as_values(&file).expect("two dictionaries of bytes");
        let marked = |keys: &str, other: Option<&arrow_schema::Metadata>| {
            let mut m = other.cloned().unwrap_or_default();
            m.insert(DICTIONARY_KEYS.to_string(), keys.to_string());
            m
        };
        assert_eq!(
            read,
            Schema::new_with_metadata(
                vec![
                    Field::new("prompt", DataType::LargeUtf8, true)
                        .with_metadata(marked("Int8", Some(&own))),
                    Field::new("id", DataType::Binary, false).with_metadata(marked("UInt16", None)),
                    file.field(2).clone(),
                    file.field(3).clone(),
                ],
                file.metadata().clone(),
            )
        );
        assert_eq!(
            declared_dictionaries(&Arc::new(read)).as_ref(),
            &file,
            "declared as the file did"
        );
        let plain = Arc::new(Schema::new(vec![file.field(3).clone()]));
        assert_eq!(read_as_values(&plain), None);
        assert!(Arc::ptr_eq(&declared_dictionaries(&plain), &plain));
    }

    #[test]
    fn interleaved_dictionaries_keep_only_the_values_their_rows_use() {
        use arrow_array::types::Int32Type;
        use arrow_array::{DictionaryArray, Int32Array, StringArray};
        // Two halves of three rows over one 10,000-value dictionary (a Parquet batch's may
        // hold every value of its column chunk), and over two dictionaries of their own.
        let values = Arc::new(StringArray::from_iter_values(
            (0..10_000).map(|i| format!("v{i}")),
        ));
        let half = |keys: Vec<Option<i32>>, values: Arc<StringArray>| -> ArrayRef {
            Arc::new(DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), values).unwrap())
        };
        let order = [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)];
        let other = Arc::new(StringArray::from_iter_values(
            (0..10_000).map(|i| format!("w{i}")),
        ));
        for (second, prefix) in [(Arc::clone(&values), "v"), (other, "w")] {
            let a = half(vec![Some(5), Some(9_999), None], Arc::clone(&values));
            let b = half(vec![Some(7), Some(5), Some(0)], second);
            let out = interleave(&[a.as_ref(), b.as_ref()], &order).unwrap();
            let out = out.as_any_dictionary();
            assert!(out.values().len() <= 6, "{} values", out.values().len());
            let strings = arrow_cast::cast(out.values(), &DataType::Utf8).unwrap();
            let strings = strings.as_string::<i32>();
            let text: Vec<Option<String>> = out
                .normalized_keys()
                .iter()
                .enumerate()
                .map(|(i, &k)| out.keys().is_valid(i).then(|| strings.value(k).to_string()))
                .collect();
            let b = |i: u32| Some(format!("{prefix}{i}"));
            assert_eq!(
                text,
                [
                    Some("v5".into()),
                    b(7),
                    Some("v9999".into()),
                    b(5),
                    None,
                    b(0)
                ]
            );
        }
    }
}
