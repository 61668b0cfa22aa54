//! Integration tests of the `raug` binary: one test binary, one module per concern.

mod agreement;
mod differential;
mod differential_core;
mod docs;
mod errors;
mod flat_pairs;
mod harness;
mod integrity;
mod layers;
mod layouts;
mod method;
mod parquet;
mod properties;
mod relabel;
mod shard;
mod winner;
