//! Parquet row groups made away from the writer: where rows belong in the output's order
//! ([`Place`]), and row groups aligned with the input's, their rebuilt columns encoded on the
//! workers that relabel them.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};

/// Where rows belong in the output's order: which half (variant) of the relabeling, and which
/// unit of the input (a row group, in input order). Parquet output may be written out of this
/// order (later halves of `--order blocks` as soon as they are ready); the footer lists its row
/// groups in it, so readers see them in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    /// The half, 0 first.
    pub half: usize,
    /// The input unit, in input order.
    pub unit: usize,
}

/// A relabeled row group aligned with an input row group (every row kept): the leaf columns the
/// rules rebuilt, already encoded; the others are the input's column chunks, copied: each its
/// own, or, for a column the half fills whole with another's values (the responses and scores
/// of the goal-rejected half), the other's.
#[derive(Debug)]
pub struct AlignedRowGroup {
    /// The input file.
    pub path: std::path::PathBuf,
    /// The input row group's metadata (its column chunks are copied from there).
    pub metadata: parquet::file::metadata::RowGroupMetaData,
    /// Per leaf column: the rebuilt chunk, or `None` to copy the input's.
    pub chunks: Vec<Option<ArrowColumnChunk>>,
    /// Per leaf column: the input leaf whose chunk is copied where `chunks` has none (its own
    /// index, or another column's of the same Parquet type).
    pub sources: Vec<usize>,
    /// Where its rows belong.
    pub place: Place,
}

/// What workers need to encode columns exactly as a Parquet sink would: its writer settings and
/// schema. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ColumnEncoding {
    pub(super) factory: Arc<ArrowRowGroupWriterFactory>,
    pub(super) schema: SchemaRef,
    /// The top-level column of each leaf column.
    pub(super) roots: Arc<Vec<usize>>,
    /// The output's Parquet schema.
    pub(super) parquet: Arc<parquet::schema::types::SchemaDescriptor>,
}

impl ColumnEncoding {
    /// Whether the column chunks of a file with the Parquet schema `input` can be copied into
    /// the output as they are: each leaf column of the same Parquet type and levels as the
    /// output's. Not so where Arrow reads a column as another type than its file's (Spark's
    /// INT96 timestamps are read as, and written, INT64).
    pub fn copies_from(&self, input: &parquet::schema::types::SchemaDescriptor) -> bool {
        input.num_columns() == self.parquet.num_columns()
            && (0..input.num_columns()).all(|i| input.column(i) == self.parquet.column(i))
    }

    /// Starts encoding the top-level columns `changed` (schema order) of a row group.
    pub fn encoder(&self, changed: Vec<usize>) -> parquet::errors::Result<AlignedEncoder> {
        let writers = self
            .factory
            .create_column_writers(0)?
            .into_iter()
            .zip(self.roots.iter())
            .map(|(writer, root)| changed.contains(root).then_some(writer))
            .collect();
        Ok(AlignedEncoder {
            schema: Arc::clone(&self.schema),
            changed,
            writers,
        })
    }
}

/// Encodes the rebuilt columns of an aligned row group (on a worker thread).
pub struct AlignedEncoder {
    schema: SchemaRef,
    changed: Vec<usize>,
    /// Per leaf: its writer when its top-level column is rebuilt.
    writers: Vec<Option<ArrowColumnWriter>>,
}

impl AlignedEncoder {
    /// Encodes a batch holding only the changed columns, in schema order.
    pub fn write(&mut self, batch: &RecordBatch) -> parquet::errors::Result<()> {
        let mut writers = self.writers.iter_mut().flatten();
        for (k, &root) in self.changed.iter().enumerate() {
            for leaf in compute_leaves(self.schema.field(root), batch.column(k))? {
                let writer = writers.next().ok_or_else(|| {
                    parquet::errors::ParquetError::General("more leaves than writers".into())
                })?;
                writer.write(&leaf)?;
            }
        }
        Ok(())
    }

    /// The encoded chunks, per leaf (`None` for leaves to copy).
    pub fn finish(self) -> parquet::errors::Result<Vec<Option<ArrowColumnChunk>>> {
        self.writers
            .into_iter()
            .map(|w| w.map(ArrowColumnWriter::close).transpose())
            .collect()
    }
}
