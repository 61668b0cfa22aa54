//! Streams JSON through the relabeler: reads blocks of rows on one thread, relabels them in
//! parallel on a rayon pool, and writes results in input order, with memory bounded by a fixed
//! number of blocks in flight.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;

use super::job::{output_format, Counts, Job, OnError, Permits, Summary};
use super::order::{ArrowSpill, JsonSpill, Spills};
use crate::error::{Error, Location, Position, Reason, Result, RowError};
use crate::fields::{FieldNames, Resolved};
use crate::io::{Format, Output, Source, Target};
use crate::json::row::{detect, Relabeler};
use crate::json::split::{
    blocks_of, read_error, shard_blocks, ArrayBlocks, Block, BufferPool, LineBlocks,
};
use crate::plan::Arrangement;
use crate::plan::Plan;
use crate::relabel::Spec;
use crate::write::{self, ParquetOptions, Rejected, Rejects, RowDecoder};

/// The result of relabeling one block.
struct BlockOut {
    outs: Vec<Vec<u8>>,
    /// For Parquet output: each stream's rows decoded to Arrow on the worker (empty otherwise).
    batches: Vec<Vec<RecordBatch>>,
    /// Per row that emitted records: its input line, whether it was a tie, and where its
    /// records end in each stream (`outs.len()` entries per row, flattened).
    marks: Vec<(u64, bool)>,
    ends: Vec<usize>,
    rejects: Vec<Rejected>,
    counts: Counts,
    first_skip: Option<String>,
    error: Option<Error>,
    bytes_read: u64,
}

impl BlockOut {
    /// Where the records of the `i`th row that emitted lie in stream `s`.
    fn span(&self, i: usize, s: usize) -> std::ops::Range<usize> {
        let streams = self.outs.len();
        let start = match i {
            0 => 0,
            _ => self.ends[(i - 1) * streams + s],
        };
        start..self.ends[i * streams + s]
    }
}

/// A message from the reading side to the writing side, in input order.
enum Msg {
    Block(Box<BlockOut>),
    /// The dataset's layout was detected: how summaries describe it.
    Layout(String),
    /// Parquet output: the schema the dataset's first rows make (a sharded run knows it before
    /// its own rows come, and writes it even without rows).
    Schema(arrow_schema::SchemaRef),
    Error(Error),
}

/// Relabels JSON inputs into a JSON (or, through Arrow, Parquet) output.
///
/// Parquet output takes its schema from the first rows; a later row that needs a wider one
/// starts the run again with it (see [`write::with_widening`]) when the run can start again:
/// an output file, input files, no `--shard` (whose parts must agree). The summary's notes say
/// so.
pub(super) fn relabel(job: &Job) -> Result<Summary> {
    let again = output_format(job) == Format::Parquet
        && job.output.staged()
        && job.rejects.as_ref().is_none_or(Target::staged)
        && job.shard.is_none()
        && job.inputs.iter().all(Source::rereadable);
    let (mut summary, notes) = write::with_widening(again, |schema| {
        let schema = schema.or_else(|| job.json_schema.clone());
        run(job, schema.map(RowDecoder::with_schema), again)
    })?;
    summary.notes = notes;
    Ok(summary)
}

/// [`relabel`] once, Parquet output's rows decoded with `preset` if given; `widen`: a row a
/// wider schema holds ends the run with [`Error::SchemaWidens`].
fn run(job: &Job, preset: Option<RowDecoder>, widen: bool) -> Result<Summary> {
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
            .unwrap_or(crate::write::ParquetCompression::Snappy),
        threads,
        ..ParquetOptions::default()
    };
    let mut output = write::create(Output::create(&job.output, compression)?, format, options);
    // JSON output's later halves wait as JSON; Parquet output's as Arrow, once the first rows
    // have set the schema (no block before that has rows).
    let mut spills = match format {
        Format::Parquet => None,
        _ => Some(Spills::new(
            Arrangement::of(&job.spec),
            job.spec.halves().len(),
            &job.output,
            JsonSpill::new,
        )?),
    };
    let mut arrow_spills: Option<Spills<ArrowSpill>> = None;
    // In the format its extension names: verbatim JSON Lines, else described rows.
    let mut rejects = match &job.rejects {
        Some(target) => Some(Rejects::new(
            Output::create(target, target.compression())?,
            target.format().unwrap_or(Format::Jsonl),
            ParquetOptions {
                threads,
                ..ParquetOptions::default()
            },
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
                let decoding = Decoding { preset, widen };
                dispatch(
                    &job,
                    &pool,
                    streams,
                    decoding,
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
        // Blocks in input order, for the spills of later halves.
        let mut unit = 0usize;
        // Parquet output: the schema, set once, and the later halves' spills in it.
        let set_schema = |output: &mut Box<dyn write::Writer>,
                          spills: &mut Option<Spills<ArrowSpill>>,
                          schema: &arrow_schema::SchemaRef|
         -> Result<()> {
            if spills.is_none() {
                output.set_schema(Arc::clone(schema))?;
                *spills = Some(Spills::new(
                    Arrangement::of(&job.spec),
                    job.spec.halves().len(),
                    &job.output,
                    |file| ArrowSpill::new(file, schema),
                )?);
            }
            Ok(())
        };
        for (seq, msg) in rx.iter() {
            pending.insert(seq, msg);
            while let Some(msg) = pending.remove(&next) {
                next += 1;
                match msg {
                    Msg::Layout(layout) => summary.layout = Some(layout),
                    Msg::Schema(schema) => set_schema(&mut output, &mut arrow_spills, &schema)?,
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
                        if block.batches.is_empty() {
                            if let Some(first) = block.outs.first() {
                                output.write_rows(first)?;
                            }
                            if let Some(spills) = &mut spills {
                                spills.push(unit, block.outs.iter().skip(1))?;
                            }
                        } else {
                            // Parquet: decoded on the worker, all with the first rows' schema.
                            if let Some(batch) = block.batches.iter().flatten().next() {
                                set_schema(&mut output, &mut arrow_spills, &batch.schema())?;
                            }
                            for batch in &block.batches[0] {
                                output.write_batch(batch)?;
                            }
                            if let Some(spills) = &mut arrow_spills {
                                spills.push(unit, block.batches.iter().skip(1))?;
                            }
                        }
                        unit += 1;
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
    if let Some(spills) = spills {
        spills.replay(&mut output)?;
    }
    if let Some(spills) = arrow_spills {
        spills.replay(&mut output)?;
    }
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
    decoding: Decoding,
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
    let decoder = (output_format(job) == Format::Parquet).then(|| {
        let cell = OnceLock::new();
        if let Some(preset) = decoding.preset {
            let _ = cell.set(preset);
        }
        Arc::new(cell)
    });
    // A schema given beforehand is the output's even without rows.
    if let Some(preset) = decoder.as_ref().and_then(|cell| cell.get()) {
        if !send(&mut seq, Msg::Schema(Arc::clone(preset.schema()))) {
            return;
        }
    }
    let offsets = match job.shard.map(|_| job.input_offsets()).transpose() {
        Ok(offsets) => offsets,
        Err(e) => {
            send(&mut seq, Msg::Error(e));
            return;
        }
    };
    if job.shard.is_some() {
        // Every shard takes the layout, and for Parquet output the schema, from the dataset's
        // first rows, as the whole run does: the parts agree with each other and with it, and
        // a shard without rows still writes the schema.
        match first_rows(job, &spec, streams, buffers) {
            Ok(Some((r, first_decoder))) => {
                if !send(&mut seq, Msg::Layout(r.to_string())) {
                    return;
                }
                resolved = Some(Arc::new(r));
                if let (Some(cell), Some(d)) = (&decoder, first_decoder) {
                    if !send(&mut seq, Msg::Schema(Arc::clone(d.schema()))) {
                        return;
                    }
                    let _ = cell.set(d);
                }
            }
            Ok(None) => {}
            Err(e) => {
                send(&mut seq, Msg::Error(e));
                return;
            }
        }
    }
    for (i, source) in job.inputs.iter().enumerate() {
        let name: Arc<str> = source.name().into();
        let blocks = match (&job.shard, &offsets) {
            (Some(shard), Some((offsets, total))) => shard_blocks(
                source,
                offsets[i],
                *total,
                shard,
                job.block_size,
                Arc::clone(read_bytes),
                buffers,
            ),
            _ => blocks_of(source, job.block_size, Arc::clone(read_bytes), buffers).map(Some),
        };
        let blocks = match blocks {
            Ok(Some(blocks)) => blocks,
            Ok(None) => continue,
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
                        if !send(&mut seq, Msg::Layout(r.to_string())) {
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
            let work = Work {
                spec: Arc::clone(&spec),
                resolved: resolved.clone(),
                name: Arc::clone(&name),
                streams,
                on_error: job.on_error,
                panic_in_worker: job.panic_in_worker,
                bytes_read: read_bytes.load(Ordering::Relaxed),
                decoder: decoder.clone(),
                widen: decoding.widen,
            };
            let my_seq = seq;
            seq += 1;
            let buffers = buffers.clone();
            let tx = tx.clone();
            match &decoder {
                // Parquet output takes its schema from the first rows: until it has one, blocks
                // are relabeled here, in order, so the schema is the same on every run.
                Some(d) if d.get().is_none() => {
                    let _ = tx.send((my_seq, work.run(block, &buffers)));
                }
                _ => pool.spawn(move || {
                    let _ = tx.send((my_seq, work.run(block, &buffers)));
                }),
            }
        }
    }
}

/// The layout detected in the first block of the first input, and for Parquet output the
/// decoder its relabeled rows make: what a sharded run takes from the dataset's start. `None`
/// when that block holds no row to detect from; a layout that can't work is the error the whole
/// run would stop with.
fn first_rows(
    job: &Job,
    spec: &Spec,
    streams: usize,
    buffers: &BufferPool,
) -> Result<Option<(Resolved, Option<RowDecoder>)>> {
    let Some(source) = job.inputs.first() else {
        return Ok(None);
    };
    let name = source.name();
    let mut blocks = blocks_of(source, job.block_size, Arc::new(AtomicU64::new(0)), buffers)?;
    let Some(block) = blocks.next() else {
        return Ok(None);
    };
    let block = block.map_err(|e| read_error(&name, e))?;
    let Some(resolved) = detect_in(&block, &name, &job.fields, job.spec.style)? else {
        return Ok(None);
    };
    let decoder = if output_format(job) == Format::Parquet {
        let outs = (0..streams).map(|_| Vec::new()).collect();
        let out = relabel_block(&block, &name, spec, Some(&resolved), outs, OnError::Skip);
        // Every stream's rows: in blocks order the goal-rejected half's scores are the other
        // field's (integers in one, fractions in the other).
        let rows = out.outs.concat();
        (!rows.is_empty())
            .then(|| RowDecoder::infer(&rows).ok())
            .flatten()
    } else {
        None
    };
    Ok(Some((resolved, decoder)))
}

/// One block's work, moved to a worker.
struct Work {
    spec: Arc<Spec>,
    resolved: Option<Arc<Resolved>>,
    name: Arc<str>,
    streams: usize,
    on_error: OnError,
    panic_in_worker: bool,
    bytes_read: u64,
    /// For Parquet output: the decoder of the output's rows, once the first rows have set it.
    decoder: Option<Arc<OnceLock<RowDecoder>>>,
    /// A row a wider schema would hold ends the run to start again (see [`relabel`]).
    widen: bool,
}

/// How Parquet output's rows are decoded: with a schema given up front (a run started again),
/// and whether a row that needs a wider one starts the run again.
struct Decoding {
    preset: Option<RowDecoder>,
    widen: bool,
}

impl Work {
    /// Relabels the block (and for Parquet output decodes the result to Arrow) and returns the
    /// buffer to the pool. A panic is a bug: it becomes an internal error in its place in the
    /// order, not a hole in the output or an abort.
    fn run(self, block: Block, buffers: &BufferPool) -> Msg {
        let outs = (0..self.streams).map(|_| buffers.take()).collect();
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if self.panic_in_worker {
                panic!("--test-panic-in-worker");
            }
            let mut out = relabel_block(
                &block,
                &self.name,
                &self.spec,
                self.resolved.as_deref(),
                outs,
                self.on_error,
            );
            if let Some(cell) = &self.decoder {
                if cell.get().is_none() {
                    // Every stream's rows: in blocks order the goal-rejected half's scores are
                    // the other field's (integers in one, fractions in the other). Under fail,
                    // those before a bad row too: one of them may be the first bad row.
                    let rows = out.outs.concat();
                    if !rows.is_empty() {
                        match RowDecoder::infer(&rows) {
                            Ok(d) => {
                                let _ = cell.set(d);
                            }
                            Err(_) => uninferable(&mut out, &block, &self.name, self.on_error),
                        }
                    }
                }
                if let Some(decoder) = cell.get() {
                    decode_block(
                        &mut out,
                        &block,
                        &self.name,
                        decoder,
                        self.on_error,
                        self.widen,
                    );
                }
            }
            out
        }));
        buffers.give(block.data);
        match out {
            Ok(mut out) => {
                out.bytes_read = self.bytes_read;
                Msg::Block(Box::new(out))
            }
            Err(payload) => Msg::Error(Error::panicked("a worker", payload.as_ref())),
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
        let Ok(text) = crate::io::utf8(line) else {
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
        batches: Vec::new(),
        marks: Vec::new(),
        ends: Vec::new(),
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
        let outcome = match crate::io::utf8(line) {
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
                result.marks.push((number, tie));
                result.ends.extend(result.outs.iter().map(Vec::len));
            }
            Ok(Plan::DropTie { .. }) => {
                result.counts.ties += 1;
                result.counts.ties_dropped += 1;
            }
            Err(problem) => {
                let location = Location {
                    file: name.into(),
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

/// For Parquet output: decodes each stream's rows to Arrow with the output's schema, on the
/// worker, where each row's input line is known. A row that can't be decoded (a lone surrogate
/// escape, a value the schema can't hold) is a bad row at its line: it stops the run, or under
/// `--on-error skip` every record it made is dropped, from every stream.
fn decode_block(
    out: &mut BlockOut,
    block: &Block,
    name: &str,
    decoder: &RowDecoder,
    on_error: OnError,
    widen: bool,
) {
    let location = |line| Location {
        file: name.into(),
        position: Position::Line(line),
    };
    if let Some(Error::Row { .. }) = out.error {
        // The run stops at a bad row (under fail); a row before it that the output can't hold,
        // however wide its schema grew, is the first bad row.
        let bad = bad_rows(out, decoder, OnError::Fail);
        if let Some((i, problem)) = bad.first() {
            if fixable(out, decoder, &bad, OnError::Fail).0.is_none() {
                out.error = Some(Error::Row {
                    location: location(out.marks[*i].0),
                    problem: problem.clone(),
                });
            }
        }
    }
    if out.error.is_some() {
        return;
    }
    for attempt in 0..2 {
        let whole = out
            .outs
            .iter()
            .map(|rows| decoder.decode(rows).map(|b| b.into_iter().collect()))
            .collect::<std::result::Result<Vec<Vec<RecordBatch>>, RowError>>();
        let whole = match whole {
            Ok(batches) => {
                out.batches = batches;
                return;
            }
            Err(e) => e,
        };
        let bad = match attempt {
            // Every bad row when a wider schema may hold some.
            0 if widen => bad_rows(out, decoder, OnError::Skip),
            0 => bad_rows(out, decoder, on_error),
            _ => Vec::new(),
        };
        let first_error = |bad: &[(usize, RowError)]| match bad.first() {
            Some((i, problem)) => Error::Row {
                location: location(out.marks[*i].0),
                problem: problem.clone(),
            },
            // Not one row's fault, or still failing without the bad rows.
            None => Error::format(name, format!("writing Parquet: {whole}")),
        };
        if (widen || on_error == OnError::Fail) && attempt == 0 {
            // The bad rows a wider schema would hold (under fail, those before the first it
            // wouldn't) start the run again with it, before any of them is skipped; where the
            // run can't start again, the first stops it (saying what would widen it).
            let (first, rows) = fixable(out, decoder, &bad, on_error);
            if let (Some(first), Some((schema, change))) = (first, decoder.widened(&rows)) {
                out.error = Some(Error::SchemaWidens {
                    original: Box::new(first_error(&bad[first..])),
                    schema,
                    change,
                });
                return;
            }
        }
        if bad.is_empty() || on_error == OnError::Fail {
            out.error = Some(first_error(&bad));
            return;
        }
        drop_rows(out, block, &bad, location);
    }
}

/// When no row of the first block to make a Parquet schema makes one, each is a bad row for its
/// own reason ([`RowDecoder::uninferable`]): the first stops the run, or under skip all are
/// dropped and the next block makes the schema.
fn uninferable(out: &mut BlockOut, block: &Block, name: &str, on_error: OnError) {
    let location = |line| Location {
        file: name.into(),
        position: Position::Line(line),
    };
    let mut bad = Vec::new();
    for i in 0..out.marks.len() {
        let Some(records) = (0..out.outs.len())
            .map(|s| &out.outs[s][out.span(i, s)])
            .find(|records| !records.is_empty())
        else {
            continue;
        };
        let record = records.split(|&b| b == b'\n').next().unwrap_or_default();
        bad.push((i, RowDecoder::uninferable(record)));
        if on_error == OnError::Fail {
            let (i, problem) = bad.swap_remove(0);
            out.error = Some(Error::Row {
                location: location(out.marks[i].0),
                problem,
            });
            return;
        }
    }
    drop_rows(out, block, &bad, location);
}

/// Of the `bad` rows, those a wider schema would hold (see [`RowDecoder::widened`]; under
/// [`OnError::Fail`] up to the first it wouldn't): the position in `bad` of the first, and
/// their records, one after another.
fn fixable(
    out: &BlockOut,
    decoder: &RowDecoder,
    bad: &[(usize, RowError)],
    on_error: OnError,
) -> (Option<usize>, Vec<u8>) {
    let mut first = None;
    let mut rows = Vec::new();
    for (at, (i, _)) in bad.iter().enumerate() {
        let records: Vec<u8> = (0..out.outs.len())
            .flat_map(|s| &out.outs[s][out.span(*i, s)])
            .copied()
            .collect();
        let holds = decoder.widened(&records).is_some_and(|(schema, _)| {
            RowDecoder::with_schema(schema).check_rows(&records).is_ok()
        });
        if holds {
            first.get_or_insert(at);
            rows.extend_from_slice(&records);
        } else if on_error == OnError::Fail {
            break;
        }
    }
    (first, rows)
}

/// The rows (indices into `marks`) whose records can't be decoded alone, with why; only the
/// first under [`OnError::Fail`].
fn bad_rows(out: &BlockOut, decoder: &RowDecoder, on_error: OnError) -> Vec<(usize, RowError)> {
    let streams = out.outs.len();
    let mut bad = Vec::new();
    for i in 0..out.marks.len() {
        for s in 0..streams {
            let span = out.span(i, s);
            if span.is_empty() {
                continue;
            }
            if let Err(problem) = decoder.check_rows(&out.outs[s][span]) {
                bad.push((i, problem));
                if on_error == OnError::Fail {
                    return bad;
                }
                break;
            }
        }
    }
    bad
}

/// Drops every record of the `bad` rows from every stream, and counts and keeps them as
/// rejected rows, in line order with the block's other rejects.
fn drop_rows(
    out: &mut BlockOut,
    block: &Block,
    bad: &[(usize, RowError)],
    location: impl Fn(u64) -> Location,
) {
    let streams = out.outs.len();
    let is_bad: std::collections::HashSet<usize> = bad.iter().map(|(i, _)| *i).collect();
    let mut kept: Vec<Vec<u8>> = vec![Vec::new(); streams];
    let (mut marks, mut ends) = (Vec::new(), Vec::new());
    for (i, &(line, tie)) in out.marks.iter().enumerate() {
        for (s, kept) in kept.iter_mut().enumerate() {
            let rows = &out.outs[s][out.span(i, s)];
            if is_bad.contains(&i) {
                out.counts.rows_out -= memchr::memchr_iter(b'\n', rows).count() as u64;
            } else {
                kept.extend_from_slice(rows);
            }
        }
        if is_bad.contains(&i) {
            out.counts.ties -= u64::from(tie);
        } else {
            marks.push((line, tie));
            ends.extend(kept.iter().map(Vec::len));
        }
    }
    let lines: std::collections::HashMap<u64, &RowError> = bad
        .iter()
        .map(|(i, problem)| (out.marks[*i].0, problem))
        .collect();
    for (number, row) in block.rows() {
        if let Some(problem) = lines.get(&number) {
            *out.counts.skipped.entry(problem.reason).or_default() += 1;
            out.rejects.push(Rejected {
                location: location(number),
                problem: (*problem).clone(),
                row: row.to_vec(),
            });
        }
    }
    out.rejects.sort_by_key(|r| match r.location.position {
        Position::Line(n) | Position::Row(n) => n,
    });
    if let Some(first) = out.rejects.first() {
        out.first_skip = Some(format!("{}: {}", first.location, first.problem));
    }
    out.outs = kept;
    out.marks = marks;
    out.ends = ends;
}
