//! The rules of flat pairs both representations follow: which group a row joins (groups are
//! numbered in order of their first row), whether the input keeps each group's rows together,
//! and, when it doesn't, how the groups are cut into partitions small enough to read back whole.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The default of [`super::PairSpec::memory`].
pub const MEMORY: u64 = 64 << 20;

/// The most bytes of pairs kept in memory until the end (the context fields some group
/// disagrees on are only known then), of a memory budget; the rest waits in a temporary file.
pub(crate) fn spool_bytes(memory: u64) -> usize {
    (memory / 4) as usize
}

/// The most partitions groups are cut into: each is a temporary file open until the end, and
/// a process may open only so many files (256 by default on macOS, 1,024 on Linux).
pub(crate) const MAX_PARTITIONS: u64 = 200;

/// 128 bits that stand for a key: a map of every key seen holds this instead of the key
/// (which may be a whole prompt).
pub(crate) fn fingerprint(parts: &[&[u8]]) -> u128 {
    let half = |seed: u8| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut hasher);
        for part in parts {
            part.hash(&mut hasher);
        }
        hasher.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// The group recorded for a row that can't be paired.
pub(crate) const LEFT_OUT: u32 = u32::MAX;

/// Where a row goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joined {
    /// The group of the row before it (or a new one).
    Here(u32),
    /// A group whose rows stopped before: the input doesn't keep groups together.
    Earlier(u32),
}

/// Hashes a [`fingerprint`] by its own bits: it is a hash already, so hashing it again (as a
/// map does by default) only costs time.
#[derive(Default)]
struct PrintHasher(u64);

impl Hasher for PrintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only fingerprints are hashed here (as `write_u128`); anything else still hashes.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = (n as u64) ^ ((n >> 64) as u64);
    }
}

/// The groups of flat rows, numbered in order of their first row.
#[derive(Default)]
pub(crate) struct Grouping {
    index: HashMap<u128, u32, BuildHasherDefault<PrintHasher>>,
    /// The input bytes of each group's rows.
    bytes: Vec<u64>,
    current: Option<u32>,
}

impl Grouping {
    /// The group of a row with this key, of `bytes` bytes.
    pub(crate) fn join(&mut self, key: u128, bytes: usize) -> Joined {
        let next = self.bytes.len() as u32;
        let g = *self.index.entry(key).or_insert(next);
        if g == next {
            self.bytes.push(0);
        }
        self.bytes[g as usize] += bytes as u64;
        let joined = if g == next || self.current == Some(g) {
            Joined::Here(g)
        } else {
            Joined::Earlier(g)
        };
        self.current = Some(g);
        joined
    }

    /// Consecutive runs of groups of at most `limit` bytes each (a group more on its own), or
    /// larger when that would make more than [`MAX_PARTITIONS`].
    pub(crate) fn partitions(&self, limit: u64) -> Partitions {
        let total: u64 = self.bytes.iter().sum();
        let limit = limit.max(total.div_ceil(MAX_PARTITIONS));
        let mut starts = vec![0u32];
        let mut bytes = 0u64;
        for (g, &b) in self.bytes.iter().enumerate() {
            if bytes > 0 && bytes + b > limit {
                starts.push(g as u32);
                bytes = 0;
            }
            bytes += b;
        }
        Partitions { starts }
    }
}

/// Groups cut into consecutive runs.
pub(crate) struct Partitions {
    /// The first group of each partition.
    starts: Vec<u32>,
}

impl Partitions {
    /// How many partitions there are.
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// The partition of group `g`.
    pub(crate) fn of(&self, g: u32) -> usize {
        self.starts.partition_point(|&s| s <= g) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_join_groups_in_order_of_first_appearance() {
        let mut grouping = Grouping::default();
        let key = |k: &str| fingerprint(&[k.as_bytes()]);
        let joined: Vec<Joined> = ["a", "a", "b", "c", "c", "b"]
            .iter()
            .map(|k| grouping.join(key(k), 10))
            .collect();
        use Joined::*;
        assert_eq!(
            joined,
            [Here(0), Here(0), Here(1), Here(2), Here(2), Earlier(1)]
        );
        // a: 20 bytes, b: 20, c: 20; at most 40 a partition.
        let partitions = grouping.partitions(40);
        assert_eq!(partitions.len(), 2);
        assert_eq!(
            (0..3).map(|g| partitions.of(g)).collect::<Vec<_>>(),
            [0, 0, 1]
        );
        // A group larger than the limit is a partition of its own.
        assert_eq!(grouping.partitions(5).len(), 3);
        // Never more than MAX_PARTITIONS: the limit grows instead.
        let mut many = Grouping::default();
        for k in 0..1000u32 {
            many.join(fingerprint(&[&k.to_le_bytes()]), 10);
        }
        assert_eq!(many.partitions(10).len(), 200);
        assert_eq!(many.partitions(100).len(), 100);
    }
}
