//! The JSON representation: JSON Lines and JSON arrays, relabeled by splicing raw bytes.

pub mod object;
pub mod row;
pub mod split;
