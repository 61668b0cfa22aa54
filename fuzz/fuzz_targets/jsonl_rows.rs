//! Fuzzes the JSONL row reader: any bytes through the block reader, layout detection and row
//! relabeling, in every style and option that changes the code path. Never a panic; under skip,
//! the counts reconcile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use raug::driver::{relabel_bytes, OnError};
use raug::fields::FieldNames;
use raug::relabel::{Goals, Order, Spec, Style, Ties};

fuzz_target!(|data: &[u8]| {
    let Some((&options, data)) = data.split_first() else {
        return;
    };
    let spec = Spec {
        style: match options & 3 {
            0 => None,
            1 => Some(Style::System),
            _ => Some(Style::Prefix),
        },
        keep_original: options & 4 != 0,
        ties: if options & 8 != 0 { Ties::Drop } else { Ties::Keep },
        order: if options & 16 != 0 { Order::Blocks } else { Order::Interleaved },
        goals: match (options >> 5) & 3 {
            0 => Goals::Chosen,
            1 => Goals::Rejected,
            _ => Goals::Both,
        },
        ..Spec::default()
    };
    let names = FieldNames::default();
    let _ = relabel_bytes(data, &spec, &names, OnError::Fail);
    if let Ok((out, summary)) = relabel_bytes(data, &spec, &names, OnError::Skip) {
        let kept = summary.rows_in - summary.skipped - summary.ties_dropped;
        assert_eq!(summary.rows_out, kept * spec.halves().len() as u64);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count() as u64, summary.rows_out);
    }
});
