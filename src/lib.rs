//! raug: reward-augmented relabeling of LLM preference datasets.
//!
//! Implements the data side of "Reward-Augmented Data Enhances Direct Preference Alignment of
//! LLMs" (Zhang et al., arXiv 2410.08067): every pair (prompt, chosen, rejected) with quality
//! scores becomes two pairs conditioned on a goal score written into the prompt, one with the
//! chosen score and the original roles, one with the rejected score and the roles swapped.
//!
//! The library has three layers: [`relabel`] holds the format-free rules, [`json`] applies them
//! to JSON rows by splicing raw bytes, and [`driver`] streams files through them in parallel.

pub mod arrow;
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
pub mod rows;
pub mod write;

pub use error::{Error, Result};
