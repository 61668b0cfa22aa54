//! Where records are written: one writer per output format (JSON Lines, JSON array, Parquet),
//! each in its own file behind the [`Writer`] trait, fed JSON rows or Arrow batches and
//! converting between the two where the format needs it.

mod blocks;
mod json_array;
mod jsonl;
mod open;
mod pages;
mod parquet;
mod rejects;
mod row_groups;
mod sink;
mod spool;

pub use self::blocks::RowBlocks;
pub use self::open::create;
pub use self::parquet::{
    common_json_schema, schema_change, with_widening, ParquetCompression, ParquetOptions,
    RowDecoder, ROW_GROUP_BYTES,
};
pub use self::rejects::{Rejected, Rejects};
pub use self::row_groups::{AlignedEncoder, AlignedRowGroup, ColumnEncoding, Place};
pub use self::sink::Writer;
pub use self::spool::Spool;
