//! The JSON representation: JSON Lines and JSON arrays, relabeled by splicing raw bytes.

pub mod object;
mod reshape;
pub mod row;
pub mod split;
pub(crate) mod text;

/// An Arrow batch as JSON Lines, one row each, nulls written out: how Arrow records are shown or
/// written as JSON.
pub fn rows_of_batch(
    batch: &arrow_array::RecordBatch,
) -> Result<Vec<u8>, arrow_schema::ArrowError> {
    let mut writer = arrow_json::writer::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow_json::writer::LineDelimited>(Vec::new());
    writer.write(batch)?;
    writer.finish()?;
    Ok(writer.into_inner())
}
