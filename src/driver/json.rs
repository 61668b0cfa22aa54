//! Streams JSON through the relabeler: reads blocks of rows on one thread, relabels them in
//! parallel on a rayon pool, and writes results in input order, with memory bounded by a fixed
//! number of blocks in flight.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use super::order::{JsonSpill, Spills};
use super::{output_format, Counts, Job, OnError, Permits, Summary};
use crate::error::{Error, Location, Position, Reason, Result, RowError};
use crate::fields::{FieldNames, Resolved};
use crate::io::{Format, Output};
use crate::json::row::{detect, Relabeler};
use crate::json::split::{blocks_of, read_error, ArrayBlocks, Block, BufferPool, LineBlocks};
use crate::plan::Arrangement;
use crate::plan::Plan;
use crate::relabel::Spec;
use crate::write::{self, ParquetOptions, Rejected, Rejects};

/// The result of relabeling one block.
struct BlockOut {
    outs: Vec<Vec<u8>>,
    rejects: Vec<Rejected>,
    counts: Counts,
    first_skip: Option<String>,
    error: Option<Error>,
    bytes_read: u64,
}

/// A message from the reading side to the writing side, in input order.
enum Msg {
    Block(BlockOut),
    Resolved(Resolved),
    Error(Error),
}

/// Relabels JSON inputs into a JSON (or, through Arrow, Parquet) output.
pub(super) fn relabel(job: &Job) -> Result<Summary> {
    let format = output_format(job);
    let compression = job
        .output_compression
        .unwrap_or_else(|| job.output.compression());
    let threads = job.threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("raug-worker-{i}"))
        .build()
        .map_err(|e| Error::Internal(format!("can't start {threads} threads: {e}")))?;
    // One stream per half in blocks order: the first is written as it comes, the later ones
    // wait in anonymous temporary files until it is done.
    let streams = Arrangement::of(&job.spec).streams(job.spec.halves().len());
    let options = ParquetOptions {
        compression: job
            .parquet_compression
            .unwrap_or(super::ParquetCompression::Snappy),
        ..ParquetOptions::default()
    };
    let mut output = write::create(Output::create(&job.output, compression)?, format, options);
    let mut spills = Spills::new(
        Arrangement::of(&job.spec),
        job.spec.halves().len(),
        &job.output,
        JsonSpill::new,
    )?;
    // In the format its extension names: verbatim JSON Lines, else described rows.
    let mut rejects = match &job.rejects {
        Some(target) => Some(Rejects::new(
            Output::create(target, target.compression())?,
            target.format().unwrap_or(Format::Jsonl),
            ParquetOptions::default(),
        )?),
        None => None,
    };

    let permits = Arc::new(Permits::new(threads * 2 + 2));
    let abort = Arc::new(AtomicBool::new(false));
    let read_bytes = Arc::new(AtomicU64::new(0));
    let buffers = BufferPool::default();
    let (tx, rx) = mpsc::channel::<(u64, Msg)>();
    let reader = {
        let job = job.clone();
        let permits = Arc::clone(&permits);
        let abort = Arc::clone(&abort);
        let read_bytes = Arc::clone(&read_bytes);
        let buffers = buffers.clone();
        std::thread::Builder::new()
            .name("raug-reader".to_string())
            .spawn(move || {
                dispatch(
                    &job,
                    &pool,
                    streams,
                    &permits,
                    &abort,
                    &read_bytes,
                    &buffers,
                    tx,
                )
            })
            .map_err(|e| Error::io("the reader thread", e))?
    };

    let result = (|| -> Result<Summary> {
        let mut summary = Summary::default();
        let mut pending: BTreeMap<u64, Msg> = BTreeMap::new();
        let mut next = 0u64;
        for (seq, msg) in rx.iter() {
            pending.insert(seq, msg);
            while let Some(msg) = pending.remove(&next) {
                next += 1;
                match msg {
                    Msg::Resolved(resolved) => summary.layout = Some(resolved.to_string()),
                    Msg::Error(e) => return Err(e),
                    Msg::Block(block) => {
                        permits.release();
                        if let Some(e) = block.error {
                            return Err(e);
                        }
                        summary.add(&block.counts);
                        if summary.first_skip.is_none() {
                            summary.first_skip = block.first_skip;
                        }
                        if let Some(first) = block.outs.first() {
                            output.write_rows(first)?;
                        }
                        spills.push(next as usize - 1, block.outs.iter().skip(1))?;
                        block.outs.into_iter().for_each(|b| buffers.give(b));
                        if let Some(rejects) = &mut rejects {
                            rejects.write(&block.rejects)?;
                        }
                        if let Some(progress) = &job.progress {
                            (progress.0)(block.bytes_read);
                        }
                    }
                }
            }
        }
        Ok(summary)
    })();

    if result.is_err() {
        abort.store(true, Ordering::SeqCst);
        permits.close();
    }
    drop(rx);
    let reader_result = reader.join();
    let summary = result?;
    if reader_result.is_err() {
        return Err(Error::Internal("the reader thread panicked".to_string()));
    }
    if let Some(e) = summary.nothing_kept() {
        return Err(e);
    }
    spills.replay(&mut output)?;
    output.finish()?;
    if let Some(rejects) = rejects {
        rejects.finish()?;
    }
    Ok(summary)
}

/// The reading side: opens each input, cuts it into blocks, detects the layout, and hands
/// blocks to the pool; every message carries its sequence number so the writer can order them.
#[allow(clippy::too_many_arguments)]
fn dispatch(
    job: &Job,
    pool: &rayon::ThreadPool,
    streams: usize,
    permits: &Permits,
    abort: &AtomicBool,
    read_bytes: &Arc<AtomicU64>,
    buffers: &BufferPool,
    tx: mpsc::Sender<(u64, Msg)>,
) {
    let mut seq = 0u64;
    // Sends a message with the next sequence number; false once the writer has gone.
    let send = |seq: &mut u64, msg: Msg| {
        let ok = tx.send((*seq, msg)).is_ok();
        *seq += 1;
        ok
    };
    let spec = Arc::new(job.spec.clone());
    let mut resolved: Option<Arc<Resolved>> = None;
    for source in &job.inputs {
        let name: Arc<str> = source.name().into();
        let blocks = match blocks_of(source, job.block_size, Arc::clone(read_bytes), buffers) {
            Ok(blocks) => blocks,
            Err(e) => {
                send(&mut seq, Msg::Error(e));
                return;
            }
        };
        for block in blocks {
            if abort.load(Ordering::SeqCst) {
                return;
            }
            let block = match block {
                Ok(block) => block,
                Err(e) => {
                    send(&mut seq, Msg::Error(read_error(&name, e)));
                    return;
                }
            };
            if resolved.is_none() {
                match detect_in(&block, &name, &job.fields, job.spec.style) {
                    Ok(Some(r)) => {
                        if !send(&mut seq, Msg::Resolved(r.clone())) {
                            return;
                        }
                        resolved = Some(Arc::new(r));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        send(&mut seq, Msg::Error(e));
                        return;
                    }
                }
            }
            if !permits.acquire() {
                return;
            }
            let bytes_read = read_bytes.load(Ordering::Relaxed);
            let (tx, spec, resolved, name) = (
                tx.clone(),
                Arc::clone(&spec),
                resolved.clone(),
                Arc::clone(&name),
            );
            let my_seq = seq;
            seq += 1;
            let on_error = job.on_error;
            let panic_in_worker = job.panic_in_worker;
            let buffers = buffers.clone();
            pool.spawn(move || {
                let outs = (0..streams).map(|_| buffers.take()).collect();
                // A panic is a bug: it becomes an internal error in its place in the order, not
                // a hole in the output or an abort.
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if panic_in_worker {
                        panic!("--test-panic-in-worker");
                    }
                    relabel_block(&block, &name, &spec, resolved.as_deref(), outs, on_error)
                }));
                let msg = match out {
                    Ok(mut out) => {
                        out.bytes_read = bytes_read;
                        Msg::Block(out)
                    }
                    Err(payload) => Msg::Error(Error::panicked("a worker", payload.as_ref())),
                };
                buffers.give(block.data);
                let _ = tx.send((my_seq, msg));
            });
        }
    }
}

/// Relabels JSON Lines (or a JSON array) held in memory, on the calling thread, through the same
/// block reader, detection and row relabeling as [`super::relabel`]. Returns the output rows as
/// JSON Lines and the summary; under [`OnError::Fail`] the first bad row is an error.
pub fn relabel_bytes(
    data: &[u8],
    spec: &Spec,
    fields: &FieldNames,
    on_error: OnError,
) -> Result<(Vec<u8>, Summary)> {
    let name = "<memory>";
    // A byte-order mark is read as files' are.
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let first = data.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let blocks: Box<dyn Iterator<Item = io::Result<Block>>> = if first == Some(b'[') {
        Box::new(ArrayBlocks::new(data, Vec::new(), 1 << 20, name))
    } else {
        Box::new(LineBlocks::new(data, Vec::new(), 1 << 20))
    };
    let streams = Arrangement::of(spec).streams(spec.halves().len());
    let mut outs = vec![Vec::new(); streams];
    let mut summary = Summary::default();
    let mut resolved: Option<Resolved> = None;
    for block in blocks {
        let block = block.map_err(|e| read_error(name, e))?;
        if resolved.is_none() {
            resolved = detect_in(&block, name, fields, spec.style)?;
            if let Some(r) = &resolved {
                summary.layout = Some(r.to_string());
            }
        }
        let fresh = (0..outs.len()).map(|_| Vec::new()).collect();
        let out = relabel_block(&block, name, spec, resolved.as_ref(), fresh, on_error);
        if let Some(e) = out.error {
            return Err(e);
        }
        summary.add(&out.counts);
        if summary.first_skip.is_none() {
            summary.first_skip = out.first_skip;
        }
        for (all, part) in outs.iter_mut().zip(out.outs) {
            all.extend_from_slice(&part);
        }
    }
    Ok((outs.concat(), summary))
}

/// Finds the dataset's shape in the first row of a block that is a JSON object.
fn detect_in(
    block: &Block,
    name: &str,
    fields: &FieldNames,
    style: Option<crate::relabel::Style>,
) -> Result<Option<Resolved>> {
    for (number, line) in block.rows() {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        match detect(text, fields, style) {
            Ok(Some(resolved)) => return Ok(Some(resolved)),
            Ok(None) => {}
            Err(problem) => {
                return Err(Error::Spec {
                    at: format!("{name}:{number}"),
                    problem,
                })
            }
        }
    }
    Ok(None)
}

/// Relabels every row of a block; pure apart from the allocation of its outputs.
fn relabel_block(
    block: &Block,
    name: &str,
    spec: &Spec,
    resolved: Option<&Resolved>,
    outs: Vec<Vec<u8>>,
    on_error: OnError,
) -> BlockOut {
    let relabeler = resolved.map(|r| Relabeler::new(spec, r));
    let mut result = BlockOut {
        outs,
        rejects: Vec::new(),
        counts: Counts::default(),
        first_skip: None,
        error: None,
        bytes_read: 0,
    };
    for (number, line) in block.rows() {
        if line.iter().all(u8::is_ascii_whitespace) {
            result.counts.blank += 1;
            continue;
        }
        result.counts.rows_in += 1;
        let outcome = match std::str::from_utf8(line) {
            Err(e) => Err(RowError::row(
                Reason::InvalidUtf8,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            )),
            Ok(text) => match &relabeler {
                Some(relabeler) => relabeler.relabel(text, &mut result.outs),
                // No row so far was an object: this one can't be either, and parsing says why.
                None => crate::json::object::Object::parse(text).and(Err(RowError::row(
                    Reason::LayoutMismatch,
                    "no preference row found before this one",
                ))),
            },
        };
        match outcome {
            Ok(Plan::Emit { tie, records, .. }) => {
                result.counts.rows_out += records.len() as u64;
                result.counts.ties += u64::from(tie);
            }
            Ok(Plan::DropTie { .. }) => {
                result.counts.ties += 1;
                result.counts.ties_dropped += 1;
            }
            Err(problem) => {
                let location = Location {
                    file: name.to_string(),
                    position: Position::Line(number),
                };
                match on_error {
                    OnError::Fail => {
                        result.error = Some(Error::Row { location, problem });
                        return result;
                    }
                    OnError::Skip => {
                        *result.counts.skipped.entry(problem.reason).or_default() += 1;
                        if result.first_skip.is_none() {
                            result.first_skip = Some(format!("{location}: {problem}"));
                        }
                        result.rejects.push(Rejected {
                            location,
                            problem,
                            row: line.to_vec(),
                        });
                    }
                }
            }
        }
    }
    result
}
