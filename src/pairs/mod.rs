//! Preference pairs from several scored responses per prompt, for `relabel` to condition on:
//! nested (a list of responses in each row) or flat (one row per response, grouped by a key).

mod arrow;
mod flat;
mod group;
mod nested;
mod rules;

pub use self::arrow::{pairs_batches, BatchSink, Files, FlatInput};
pub use self::group::MEMORY;
pub use self::rules::{PairSink, PairSpec, PairSummary, Strategy};

use crate::error::Result;
use crate::rows::Inputs;

/// Builds pairs from rows, writing them as JSON lines to `sink` (a call may carry several
/// lines: the pairs of one prompt, which share its location): nested rows one by one; flat rows
/// group by group (see `--group-by`: streamed when each group's rows come
/// together, else sorted on disk first), read on the workers of the current rayon pool (run
/// it in `ThreadPool::install` to bound them), `sink` called from one of them.
pub fn pairs(source: &Inputs, spec: &PairSpec, sink: &mut dyn PairSink) -> Result<PairSummary> {
    let mut summary = PairSummary::default();
    if spec.responses.is_none() {
        flat::flat(source, spec, &mut summary, sink)?;
        return Ok(summary);
    }
    nested::nested(source, spec, &mut summary, sink)?;
    Ok(summary)
}
