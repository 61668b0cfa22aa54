//! Streams files through the relabeler: reads blocks of rows on one thread, relabels them in
//! parallel on a rayon pool, and writes results in input order, with memory bounded by a fixed
//! number of blocks in flight.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Seek, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};

use serde::Serialize;

use crate::error::{Error, Location, Position, Reason, Result, RowError};
use crate::fields::{FieldNames, Resolved};
use crate::io::{read_head, same_file, Compression, Format, Output, Source, Target};
use crate::json::row::{detect, Outcome, Relabeler};
use crate::json::split::{ArrayBlocks, Block, LineBlocks};
use crate::relabel::{Order, Spec};

/// What to do with a bad row (`--on-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop at the first bad row with an error naming file, line and field.
    #[default]
    Fail,
    /// Skip bad rows, count them by reason and write them to the rejects file.
    Skip,
}

/// A relabeling run: inputs, output and every option, free of command-line types.
#[derive(Debug, Clone)]
pub struct Job {
    /// Input files, read one after another as one dataset.
    pub inputs: Vec<Source>,
    /// Where the relabeled rows go.
    pub output: Target,
    /// The output format; `None` takes it from the output's extension, else JSON Lines.
    pub output_format: Option<Format>,
    /// The output compression; `None` takes it from the output's extension.
    pub output_compression: Option<Compression>,
    /// The relabeling rules.
    pub spec: Spec,
    /// Field names given by the user.
    pub fields: FieldNames,
    /// Worker threads.
    pub threads: usize,
    /// What to do with bad rows.
    pub on_error: OnError,
    /// Where skipped rows are written, verbatim.
    pub rejects: Option<Target>,
    /// Block size in bytes: rows are relabeled in parallel a block at a time.
    pub block_size: usize,
    /// Called with the input bytes read so far, after each block is written.
    pub progress: Option<Progress>,
}

/// A callback told the input bytes read so far, after each block is written.
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(u64) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl Job {
    /// A job with default options.
    pub fn new(inputs: Vec<Source>, output: Target) -> Job {
        Job {
            inputs,
            output,
            output_format: None,
            output_compression: None,
            spec: Spec::default(),
            fields: FieldNames::default(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            on_error: OnError::Fail,
            rejects: None,
            block_size: 1 << 20,
            progress: None,
        }
    }
}

/// What a run did; printed as one line and written as JSON by `--stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Non-blank input rows.
    pub rows_in: u64,
    /// Output rows.
    pub rows_out: u64,
    /// Input rows whose scores tie (kept or dropped).
    pub ties: u64,
    /// Ties dropped by `--ties drop`.
    pub ties_dropped: u64,
    /// Rows skipped as bad under `--on-error skip`.
    pub skipped: u64,
    /// Skipped rows by reason.
    pub skipped_by_reason: BTreeMap<&'static str, u64>,
    /// Blank lines, ignored.
    pub blank_lines: u64,
    /// The detected layout, fields and style.
    pub layout: Option<String>,
    /// The first skipped row's error, as a hint.
    #[serde(skip)]
    pub first_skip: Option<String>,
}

impl Summary {
    fn add(&mut self, other: &Counts) {
        self.rows_in += other.rows_in;
        self.rows_out += other.rows_out;
        self.ties += other.ties;
        self.ties_dropped += other.ties_dropped;
        self.blank_lines += other.blank;
        for (reason, n) in &other.skipped {
            self.skipped += n;
            *self.skipped_by_reason.entry(reason.as_str()).or_default() += n;
        }
    }

    /// The one-line summary printed at the end of a run.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} rows in, {} rows out, {} ties{}, {} skipped",
            self.rows_in,
            self.rows_out,
            self.ties,
            if self.ties_dropped > 0 {
                format!(" ({} dropped)", self.ties_dropped)
            } else {
                String::new()
            },
            self.skipped
        );
        if !self.skipped_by_reason.is_empty() {
            let reasons: Vec<String> = self
                .skipped_by_reason
                .iter()
                .map(|(r, n)| format!("{r}: {n}"))
                .collect();
            line.push_str(&format!(" ({})", reasons.join(", ")));
        }
        line
    }
}

#[derive(Debug, Default)]
struct Counts {
    rows_in: u64,
    rows_out: u64,
    ties: u64,
    ties_dropped: u64,
    blank: u64,
    skipped: HashMap<Reason, u64>,
}

/// The result of relabeling one block.
struct BlockOut {
    outs: Vec<Vec<u8>>,
    rejects: Vec<u8>,
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

/// Relabels a job's inputs into its output.
pub fn relabel(job: &Job) -> Result<Summary> {
    check_paths(job)?;
    let format = job
        .output_format
        .or_else(|| job.output.format())
        .unwrap_or(Format::Jsonl);
    let compression = job
        .output_compression
        .unwrap_or_else(|| job.output.compression());
    let threads = job.threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("raug-worker-{i}"))
        .build()
        .map_err(|e| Error::Usage(format!("can't start {threads} threads: {e}")))?;
    let halves = job.spec.halves().len();
    let blocks_order = job.spec.order == Order::Blocks && halves > 1;
    let mut output = Framed::new(Output::create(&job.output, compression)?, format)?;
    // The second and third variants wait in anonymous temporary files until the first is written.
    let mut spills = Vec::new();
    if blocks_order {
        for _ in 1..halves {
            let spill = match &job.output {
                Target::File(path) => path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map_or_else(tempfile::tempfile, tempfile::tempfile_in),
                Target::Stdout => tempfile::tempfile(),
            }
            .map_err(|e| Error::io("temporary file for --order blocks", e))?;
            spills.push(io::BufWriter::with_capacity(1 << 20, spill));
        }
    }
    let mut rejects = match &job.rejects {
        Some(target) => Some(Output::create(target, target.compression())?),
        None => None,
    };

    let permits = Arc::new(Permits::new(threads * 2 + 2));
    let abort = Arc::new(AtomicBool::new(false));
    let read_bytes = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel::<(u64, Msg)>();
    let reader = {
        let job = job.clone();
        let permits = Arc::clone(&permits);
        let abort = Arc::clone(&abort);
        let read_bytes = Arc::clone(&read_bytes);
        std::thread::Builder::new()
            .name("raug-reader".to_string())
            .spawn(move || {
                dispatch(
                    &job,
                    &pool,
                    halves,
                    blocks_order,
                    &permits,
                    &abort,
                    &read_bytes,
                    tx,
                )
            })
            .map_err(|e| Error::Usage(format!("can't start the reader thread: {e}")))?
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
                        let mut outs = block.outs.into_iter();
                        if let Some(first) = outs.next() {
                            output.write_rows(&first)?;
                        }
                        for (spill, rows) in spills.iter_mut().zip(outs) {
                            spill
                                .write_all(&rows)
                                .map_err(|e| Error::io("temporary file for --order blocks", e))?;
                        }
                        if let Some(rejects) = &mut rejects {
                            rejects.write_bytes(&block.rejects)?;
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
        return Err(Error::Usage("the reader thread panicked".to_string()));
    }
    for spill in spills {
        let mut file = spill
            .into_inner()
            .map_err(|e| Error::io("temporary file for --order blocks", e.into_error()))?;
        file.rewind()
            .map_err(|e| Error::io("temporary file for --order blocks", e))?;
        for block in LineBlocks::new(file, Vec::new(), 1 << 20) {
            let block = block.map_err(|e| Error::io("temporary file for --order blocks", e))?;
            output.write_rows(&block.data)?;
        }
    }
    output.finish()?;
    if let Some(rejects) = rejects {
        rejects.finish()?;
    }
    Ok(summary)
}

/// Refuses to overwrite an input: the rename would destroy it before it is read.
fn check_paths(job: &Job) -> Result<()> {
    let outputs = [Some(&job.output), job.rejects.as_ref()];
    for target in outputs.into_iter().flatten() {
        let Target::File(out) = target else { continue };
        for input in &job.inputs {
            if let Source::File(path) = input {
                if same_file(path, out) {
                    return Err(Error::Usage(format!(
                        "the output {} is also an input; write to another file",
                        out.display()
                    )));
                }
            }
        }
    }
    if let (Target::File(a), Some(Target::File(b))) = (&job.output, &job.rejects) {
        if a == b || same_file(a, b) {
            return Err(Error::Usage(format!(
                "the output and the rejects file are both {}",
                a.display()
            )));
        }
    }
    if job.inputs.iter().filter(|s| **s == Source::Stdin).count() > 1 {
        return Err(Error::Usage(
            "standard input (-) can be read only once".to_string(),
        ));
    }
    Ok(())
}

/// The reading side: opens each input, cuts it into blocks, detects the layout, and hands
/// blocks to the pool; every message carries its sequence number so the writer can order them.
#[allow(clippy::too_many_arguments)]
fn dispatch(
    job: &Job,
    pool: &rayon::ThreadPool,
    halves: usize,
    blocks_order: bool,
    permits: &Permits,
    abort: &AtomicBool,
    read_bytes: &Arc<AtomicU64>,
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
        let blocks = match blocks_of(source, job.block_size, Arc::clone(read_bytes)) {
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
            pool.spawn(move || {
                let outs = if blocks_order { halves } else { 1 };
                let mut out =
                    relabel_block(&block, &name, &spec, resolved.as_deref(), outs, on_error);
                out.bytes_read = bytes_read;
                let _ = tx.send((my_seq, Msg::Block(out)));
            });
        }
    }
}

/// Turns a reading error into the library error, keeping our own "file:line: ..." messages.
fn read_error(name: &str, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::InvalidData {
        Error::Format {
            path: name.to_string(),
            detail: e.to_string(),
        }
    } else {
        Error::io(name, e)
    }
}

/// Opens a source and picks the block reader by its first byte: `[` is a JSON array, anything
/// else JSON Lines.
fn blocks_of(
    source: &Source,
    block_size: usize,
    counter: Arc<AtomicU64>,
) -> Result<Box<dyn Iterator<Item = io::Result<Block>> + Send>> {
    let mut reader = source.open(counter)?;
    let mut head = Vec::new();
    // Read until the first non-whitespace byte (or the end).
    loop {
        let chunk = read_head(&mut reader, 64 * 1024).map_err(|e| read_error(&source.name(), e))?;
        let done = chunk.is_empty();
        head.extend_from_slice(&chunk);
        if done || head.iter().any(|b| !b.is_ascii_whitespace()) {
            break;
        }
    }
    let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
    Ok(if first == Some(b'[') {
        Box::new(ArrayBlocks::new(reader, head, block_size, &source.name()))
    } else {
        Box::new(LineBlocks::new(reader, head, block_size))
    })
}

/// Splits a block into its lines, with the line number of each.
fn lines(block: &Block) -> impl Iterator<Item = (u64, &[u8])> {
    let data = &block.data;
    let mut start = 0;
    let mut index = 0usize;
    std::iter::from_fn(move || {
        if start >= data.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let line = &data[start..end];
        let number = block.line_of(index, index as u64);
        index += 1;
        start = end + 1;
        Some((number, line))
    })
}

/// Finds the dataset's shape in the first row of a block that is a JSON object.
fn detect_in(
    block: &Block,
    name: &str,
    fields: &FieldNames,
    style: Option<crate::relabel::Style>,
) -> Result<Option<Resolved>> {
    for (number, line) in lines(block) {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        match detect(text, fields, style) {
            Ok(Some(resolved)) => return Ok(Some(resolved)),
            Ok(None) => {}
            Err(e) => return Err(Error::Usage(format!("{name}:{number}: {e}"))),
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
    outs: usize,
    on_error: OnError,
) -> BlockOut {
    let relabeler = resolved.map(|r| Relabeler::new(spec, r));
    let mut result = BlockOut {
        outs: vec![Vec::with_capacity(block.data.len() * 2 / outs + 1024); outs],
        rejects: Vec::new(),
        counts: Counts::default(),
        first_skip: None,
        error: None,
        bytes_read: 0,
    };
    let per_pair = spec.halves().len() as u64;
    for (number, line) in lines(block) {
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
            Ok(Outcome::Emitted { tie }) => {
                result.counts.rows_out += per_pair;
                result.counts.ties += u64::from(tie);
            }
            Ok(Outcome::DroppedTie) => {
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
                        result.rejects.extend_from_slice(line);
                        result.rejects.push(b'\n');
                    }
                }
            }
        }
    }
    result
}

/// An output with its framing: JSON Lines as they are, or the rows of a JSON array.
struct Framed {
    output: Output,
    format: Format,
    rows: u64,
}

impl Framed {
    fn new(output: Output, format: Format) -> Result<Framed> {
        Ok(Framed {
            output,
            format,
            rows: 0,
        })
    }

    /// Writes newline-terminated rows.
    fn write_rows(&mut self, rows: &[u8]) -> Result<()> {
        match self.format {
            Format::Jsonl => self.output.write_bytes(rows),
            Format::Json => {
                for row in rows.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
                    let sep: &[u8] = if self.rows == 0 { b"[\n" } else { b",\n" };
                    self.output.write_bytes(sep)?;
                    self.output.write_bytes(row)?;
                    self.rows += 1;
                }
                Ok(())
            }
        }
    }

    fn finish(mut self) -> Result<()> {
        if self.format == Format::Json {
            let end: &[u8] = if self.rows == 0 { b"[]\n" } else { b"\n]\n" };
            self.output.write_bytes(end)?;
        }
        self.output.finish()
    }
}

/// A counting semaphore bounding the blocks in flight, so memory stays flat.
struct Permits {
    state: Mutex<(usize, bool)>,
    freed: Condvar,
}

impl Permits {
    fn new(n: usize) -> Permits {
        Permits {
            state: Mutex::new((n, false)),
            freed: Condvar::new(),
        }
    }

    /// Takes a permit, waiting for one; `false` once closed.
    fn acquire(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if state.1 {
                return false;
            }
            if state.0 > 0 {
                state.0 -= 1;
                return true;
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn release(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 += 1;
        self.freed.notify_one();
    }

    fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 = true;
        self.freed.notify_all();
    }
}
