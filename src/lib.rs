//! raug: reward-augmented relabeling of LLM preference datasets.
//!
//! Implements the data side of "Reward-Augmented Data Enhances Direct Preference Alignment of
//! LLMs" (Zhang et al., arXiv 2410.08067): every pair (prompt, chosen, rejected) with quality
//! scores becomes two pairs conditioned on a goal score written into the prompt, one with the
//! chosen score and the original roles, one with the rejected score and the roles swapped.
//!
//! The layers read top-down. [`relabel`], [`fields`], [`reshape`] and [`plan`] are the
//! format-free rules:
//! [`plan`] decides each record's outcome (its output records and their edits, or its one
//! rejection reason). [`json`] (splicing raw bytes) and [`arrow`] (building columns) carry plans
//! out and decide nothing; [`write`](mod@write) holds one writer per output format; [`condition`],
//! [`inspect`] and [`pairs`] are the other commands' work; [`driver`] streams files through it
//! all in parallel. [`io`] and [`error`] lie underneath.

pub mod arrow;
#[cfg(feature = "cli")]
pub mod cmd;
pub mod condition;
pub mod driver;
pub mod error;
pub mod fields;
pub mod inspect;
pub mod io;
pub mod json;
pub mod pairs;
pub mod plan;
pub mod relabel;
pub mod reshape;
pub mod rows;
pub mod shard;
pub mod table;
pub mod write;

pub use error::{Error, Result};
