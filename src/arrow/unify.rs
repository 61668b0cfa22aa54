//! One schema for Parquet files read as one dataset whose columns differ a little, as shards
//! written apart do (pandas gives a shard whose scores are all whole numbers int64 and another
//! float64; a column only some shards have), and each file's batches made to fit it.

use std::sync::Arc;

use arrow_array::{new_null_array, Array, ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef};

/// The schema that holds the rows of files with these schemas: the first file's columns in
/// order, then those only later files have (nullable, as are columns some file lacks). Where
/// the files' types of a column differ, the one that holds both: int64 for integers of any
/// width, float64 for numbers of which some are floats, the other type beside nulls, large
/// strings beside strings. Anything else (a string beside a number, nested types that differ)
/// can't meet: `Err` with the index of the file whose column can't, and why.
pub fn unify(schemas: &[&Schema]) -> Result<SchemaRef, (usize, String)> {
    let Some(first) = schemas.first() else {
        return Ok(Arc::new(Schema::empty()));
    };
    let mut fields: Vec<Field> = first.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (i, schema) in schemas.iter().enumerate().skip(1) {
        for field in &mut fields {
            if schema.field_with_name(field.name()).is_err() {
                *field = field.clone().with_nullable(true);
            }
        }
        for later in schema.fields() {
            match fields.iter_mut().find(|f| f.name() == later.name()) {
                None => fields.push(later.as_ref().clone().with_nullable(true)),
                Some(field) => {
                    let data_type =
                        wider(field.data_type(), later.data_type()).ok_or_else(|| {
                            (
                                i,
                                format!(
                                    "column {:?} is {}, {} in the files before it",
                                    later.name(),
                                    later.data_type(),
                                    field.data_type()
                                ),
                            )
                        })?;
                    let nullable = field.is_nullable() || later.is_nullable();
                    *field = field
                        .clone()
                        .with_data_type(data_type)
                        .with_nullable(nullable);
                }
            }
        }
    }
    let mut metadata = first.metadata().clone();
    let schema = Schema::new(Fields::from(fields));
    let types = |s: &Schema| -> Vec<(String, DataType)> {
        s.fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    };
    // The first file's `huggingface` features describe its own columns: where the columns
    // differ, they are made again from the unified ones, so `datasets` reads them as they are.
    if metadata.contains_key(super::hf::KEY) && types(&schema) != types(first) {
        match super::hf::metadata(&schema) {
            Some(features) => metadata.insert(super::hf::KEY.to_string(), features),
            None => metadata.remove(super::hf::KEY),
        };
    }
    Ok(Arc::new(schema.with_metadata(metadata)))
}

/// The type holding values of both, if there is one (see [`unify`]).
fn wider(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    let float = |t: &DataType| matches!(t, Float16 | Float32 | Float64);
    match (a, b) {
        (a, b) if a == b => Some(a.clone()),
        (Null, other) | (other, Null) => Some(other.clone()),
        (a, b) if a.is_integer() && b.is_integer() => Some(Int64),
        (a, b) if (a.is_integer() || float(a)) && (b.is_integer() || float(b)) => Some(Float64),
        (Utf8 | LargeUtf8, Utf8 | LargeUtf8) => Some(LargeUtf8),
        _ => None,
    }
}

/// `batch` with the columns of `schema` (one [`unify`] made of its file's): each cast to its
/// type there, nulls for those it lacks. float16 and float32 values become the float64 their
/// decimal text reads as (a float32 7.3 stays 7.3, not 7.300000190734863), so goals print them
/// as their own files do.
pub fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let rows = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            None => Ok(new_null_array(field.data_type(), rows)),
            Some(column) if column.data_type() == field.data_type() => Ok(Arc::clone(column)),
            Some(column) => widen(column, field.data_type()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
}

/// A column cast to `to`, short floats by their decimal text (see [`conform`]).
fn widen(column: &ArrayRef, to: &DataType) -> Result<ArrayRef, ArrowError> {
    let short = matches!(column.data_type(), DataType::Float16 | DataType::Float32);
    if !(short && to == &DataType::Float64) {
        return arrow_cast::cast(column, to);
    }
    // Each value's shortest text at its own width, read as float64.
    let text = arrow_cast::cast(column, &DataType::Utf8)?;
    let text = text
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .ok_or_else(|| ArrowError::CastError("float text".into()))?;
    let values: Float64Array = text
        .iter()
        .map(|v| v.and_then(|v| v.parse::<f64>().ok()))
        .collect();
    Ok(Arc::new(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float32Array, Int32Array, Int64Array, StringArray};

    fn schema(fields: &[(&str, DataType, bool)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t, null)| Field::new(*n, t.clone(), *null))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn columns_meet_in_the_type_that_holds_both_and_later_columns_come_last() {
        let a = schema(&[
            ("prompt", DataType::Utf8, false),
            ("score", DataType::Int64, false),
            ("w", DataType::Int32, true),
            ("gone", DataType::Utf8, false),
        ]);
        let b = schema(&[
            ("prompt", DataType::LargeUtf8, false),
            ("score", DataType::Float32, false),
            ("w", DataType::Int64, false),
            ("lang", DataType::Utf8, false),
        ]);
        let unified = unify(&[&a, &b]).unwrap();
        assert_eq!(
            unified.as_ref(),
            &schema(&[
                ("prompt", DataType::LargeUtf8, false),
                ("score", DataType::Float64, false),
                ("w", DataType::Int64, true),
                ("gone", DataType::Utf8, true),
                ("lang", DataType::Utf8, true),
            ])
        );
        let c = schema(&[("score", DataType::Utf8, false)]);
        assert_eq!(
            unify(&[&a, &b, &c]).unwrap_err(),
            (
                2,
                "column \"score\" is Utf8, Float64 in the files before it".to_string()
            )
        );
    }

    #[test]
    fn batches_conform_with_short_floats_read_as_their_text() {
        let b = schema(&[
            ("score", DataType::Float32, false),
            ("w", DataType::Int32, false),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(b.clone()),
            vec![
                Arc::new(Float32Array::from(vec![7.3, 8.0])),
                Arc::new(Int32Array::from(vec![1, 2])),
            ],
        )
        .unwrap();
        let a = schema(&[
            ("score", DataType::Float64, false),
            ("lang", DataType::Utf8, true),
            ("w", DataType::Int64, false),
        ]);
        let unified = unify(&[&a, &b]).unwrap();
        let out = conform(&batch, &unified).unwrap();
        assert_eq!(
            out.column(0).as_ref(),
            &Float64Array::from(vec![7.3, 8.0]) as &dyn Array
        );
        assert_eq!(
            out.column(1).as_ref(),
            &StringArray::from(vec![None::<&str>, None]) as &dyn Array
        );
        assert_eq!(
            out.column(2).as_ref(),
            &Int64Array::from(vec![1, 2]) as &dyn Array
        );
    }
}
