//! `--shard I/N`: which part of the input one of N processes relabels, so that a job array
//! (Slurm, a Kubernetes Indexed Job) covers the input exactly once without an engine.
//!
//! The inputs, in the order given, are laid end to end as one run of bytes, cut into N equal
//! ranges. Shard I takes every unit that *starts* in its range: a whole file when it can't be
//! split (compressed, a JSON array, or a Parquet file's single row group), a Parquet row group
//! (by its first byte), a JSON Lines line (by its first byte). So many files are shared out a
//! file at a time, a few big files a row group or a line at a time, and every unit has exactly
//! one owner whatever N is. It depends only on the inputs' sizes, never on timing.

use std::ops::Range;

/// One part of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, from 0.
    pub index: u64,
    /// How many parts.
    pub count: u64,
}

impl Shard {
    /// Parses `I/N` (I from 0 to N-1, as `SLURM_ARRAY_TASK_ID` of `--array=0-{N-1}` or
    /// Kubernetes' `JOB_COMPLETION_INDEX` count).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {text:?}: write I/N, like 0/4 (shard I of N, I from 0)");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(format!("--shard {text}: N must be at least 1"));
        }
        if index >= count {
            return Err(format!(
                "--shard {text}: I counts from 0, so it must be below {count} (0/{count} .. {}/{count})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// The error for an input without a size (standard input): shards are cut by size.
    pub fn unsized_input(name: &str) -> crate::Error {
        crate::Error::Usage(format!(
            "--shard splits files by their sizes, and {name} has none: pass files"
        ))
    }

    /// The shard that owns a unit starting at byte `offset` of `total` input bytes.
    pub fn owner(count: u64, total: u64, offset: u64) -> u64 {
        if total == 0 {
            return count - 1;
        }
        let owner = u128::from(offset) * u128::from(count) / u128::from(total);
        (owner as u64).min(count - 1)
    }

    /// Whether this shard owns a unit starting at byte `offset` of `total`.
    pub fn owns(&self, total: u64, offset: u64) -> bool {
        Shard::owner(self.count, total, offset) == self.index
    }

    /// The bytes of `total` whose units this shard owns: the offsets `p` with
    /// [`owns`](Shard::owns)`(total, p)`. The last shard's range also holds `total` itself (an
    /// empty file at the end).
    pub fn range(&self, total: u64) -> Range<u64> {
        // The first offset owned by shard k: the least p with p * count / total >= k.
        let first = |k: u64| -> u64 {
            if total == 0 {
                return 0;
            }
            let k = u128::from(k) * u128::from(total);
            k.div_ceil(u128::from(self.count)) as u64
        };
        let end = if self.index + 1 == self.count {
            total + 1
        } else {
            first(self.index + 1)
        };
        first(self.index).min(end)..end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_tile_the_input_and_agree_with_owners() {
        for total in [0u64, 1, 2, 7, 100, 101, 12_345] {
            for count in 1..=9u64 {
                let mut next = 0;
                for index in 0..count {
                    let shard = Shard { index, count };
                    let range = shard.range(total);
                    assert_eq!(range.start, next, "total {total}, {index}/{count}");
                    next = range.end;
                    for p in range.clone() {
                        assert!(shard.owns(total, p), "{p} of {total}, {index}/{count}");
                    }
                }
                assert_eq!(next, total + 1, "total {total}, count {count}");
            }
        }
    }

    #[test]
    fn parse_names_the_mistake() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(
            Shard::parse("4/4"),
            Err("--shard 4/4: I counts from 0, so it must be below 4 (0/4 .. 3/4)".to_string())
        );
        assert_eq!(
            Shard::parse("1/0"),
            Err("--shard 1/0: N must be at least 1".to_string())
        );
        assert_eq!(
            Shard::parse("x"),
            Err("--shard \"x\": write I/N, like 0/4 (shard I of N, I from 0)".to_string())
        );
    }
}
