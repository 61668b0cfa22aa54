//! Streams Parquet through the Arrow relabeler: row groups are read and relabeled in parallel
//! (each task opens its own `File`: readers on cloned handles share one cursor), and written in
//! input order with memory bounded by the row groups in flight.

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use arrow_array::{RecordBatch, UInt32Array};
use arrow_schema::{Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression as Codec;
use rayon::prelude::*;

use super::job::{output_format, Job, OnError, Permits, Summary};
use super::order::{ArrowSpill, Replay, Spills};
use crate::arrow::{detect, roots, slice_bytes, BatchRelabeler};
use crate::error::{Error, Location, Position, Result};
use crate::fields::Resolved;
use crate::io::{Format, Output, Source};
use crate::plan::Arrangement;
use crate::rows::RowGroups;
use crate::write::ParquetCompression;
use crate::write::{self, AlignedRowGroup, ColumnEncoding, ParquetOptions, Place, Spool};

/// Rows per Arrow batch read: enough for kernels to run at full speed on ordinary rows.
const BATCH_ROWS: usize = 1024;

/// About the most decoded input bytes relabeled as one batch: row groups of a few hundred MB
/// (rows of megabytes each) are read and relabeled a slice at a time, and the output batches
/// that wait in channels and spools stay small. The reader's estimate can be off (dictionary
/// pages are small), so batches are also cut to it after reading. Measured on the `datasets`
/// file (row groups of 94 MB): 16 MiB (1,024 rows) peaked at 430 MiB interleaved, 4 MiB at
/// 250 MiB, 2 MiB at 200 MiB, all in the same time.
pub(super) const READ_BYTES: usize = 2 << 20;

/// Splits a batch into row ranges of at most `limit` bytes each (a single row is never split).
pub(crate) fn pieces(batch: &RecordBatch, limit: usize) -> Vec<RecordBatch> {
    let rows = batch.num_rows();
    if rows <= 1 || slice_bytes(batch) <= limit {
        return vec![batch.clone()];
    }
    let half = rows / 2;
    let mut out = pieces(&batch.slice(0, half), limit);
    out.extend(pieces(&batch.slice(half, rows - half), limit));
    out
}

/// A Parquet input: its name, path, schema and row groups.
pub(super) struct Input {
    pub(super) name: String,
    pub(super) path: std::path::PathBuf,
    pub(super) schema: SchemaRef,
    /// The file, its footer parsed once: every task reopens the file but reuses it.
    file: RowGroups,
    /// The first row index of each row group.
    pub(super) row_group_starts: Vec<u64>,
    /// The compressed bytes of each row group (for progress).
    row_group_bytes: Vec<u64>,
    pub(super) codec: Codec,
    /// Where other inputs read as one dataset with it make its columns differ from its own
    /// ([`crate::arrow::unify`]): the schema its batches are made to fit as they are read (and
    /// then [`Input::schema`] too).
    pub(super) conform: Option<SchemaRef>,
}

pub(super) fn format_error(name: &str, e: impl std::fmt::Display) -> Error {
    Error::unreadable_parquet(name, e)
}

pub(super) fn open(source: &Source) -> Result<Input> {
    let file = RowGroups::open(source)?;
    let metadata = file.metadata().metadata();
    let mut starts = Vec::with_capacity(metadata.num_row_groups());
    let mut sizes = Vec::with_capacity(metadata.num_row_groups());
    let mut at = 0u64;
    for rg in metadata.row_groups() {
        starts.push(at);
        sizes.push(rg.compressed_size().max(0) as u64);
        at += rg.num_rows() as u64;
    }
    let codec = metadata
        .row_groups()
        .first()
        .and_then(|rg| rg.columns().first())
        .map_or(Codec::SNAPPY, |c| c.compression());
    Ok(Input {
        name: file.name().to_string(),
        path: file.path().to_path_buf(),
        schema: file.schema(),
        row_group_starts: starts,
        row_group_bytes: sizes,
        codec,
        file,
        conform: None,
    })
}

impl Input {
    /// Rows read at once from row group `rg`: about [`READ_BYTES`] of decoded data (at most
    /// `batch_bytes`), so that memory holds slices of a row group, not all of it, and huge rows
    /// don't overflow Arrow's 32-bit offsets while being read (a batch is split again after
    /// reading, by its real size: see [`pieces`]).
    pub(super) fn batch_rows(&self, rg: usize, batch_bytes: usize) -> usize {
        let row_group = self.file.metadata().metadata().row_group(rg);
        let rows = row_group.num_rows().max(1) as u128;
        let bytes = row_group.total_byte_size().max(1) as u128;
        let fit = rows * batch_bytes.min(READ_BYTES) as u128 / bytes;
        fit.clamp(1, BATCH_ROWS as u128) as usize
    }

    /// The byte offset of a row group's first column chunk in the file.
    pub(super) fn row_group_offset(&self, rg: usize) -> u64 {
        let row_group = self.file.metadata().metadata().row_group(rg);
        row_group
            .columns()
            .iter()
            .map(|c| c.byte_range().0)
            .min()
            .unwrap_or(0)
    }

    /// The rows of the file.
    pub(super) fn num_rows(&self) -> u64 {
        self.file
            .metadata()
            .metadata()
            .file_metadata()
            .num_rows()
            .max(0) as u64
    }

    /// The file's Parquet schema.
    pub(super) fn parquet_schema(&self) -> &parquet::schema::types::SchemaDescriptor {
        self.file
            .metadata()
            .metadata()
            .file_metadata()
            .schema_descr()
    }

    /// A reader on a file handle of its own (readers on cloned handles share one cursor),
    /// with the footer parsed once in `open`.
    pub(super) fn builder(&self) -> Result<ParquetRecordBatchReaderBuilder<File>> {
        self.file.builder()
    }
}

/// The codec to write: the job's, else the input's when `raug` can write it, else snappy.
fn compression(job: &Job, codec: Codec) -> ParquetCompression {
    job.parquet_compression.unwrap_or(writable(codec))
}

/// The input's codec when `raug` can write it, else snappy.
pub(super) fn writable(codec: Codec) -> ParquetCompression {
    match codec {
        Codec::ZSTD(_) => ParquetCompression::Zstd,
        Codec::GZIP(_) => ParquetCompression::Gzip,
        Codec::BROTLI(_) => ParquetCompression::Brotli,
        Codec::LZ4_RAW | Codec::LZ4 => ParquetCompression::Lz4,
        Codec::UNCOMPRESSED => ParquetCompression::None,
        _ => ParquetCompression::Snappy,
    }
}

/// What a worker tells the writing side about one unit (a row group), in the order it happens.
enum Msg {
    /// An output batch of stream `stream` (a half, in blocks order; else 0), as soon as it is
    /// made: the writing side writes it at once if the unit is the one being written, else
    /// keeps it aside ([`Spool`]), so a large row group never sits whole in memory.
    Part { stream: usize, batch: RecordBatch },
    /// The unit is done.
    Done(Unit),
}

/// The most output bytes a unit relabeled ahead of its turn keeps in memory; the rest waits on
/// disk. Two workers and row groups of 100 MB (what `datasets` writes) held 800 MB before.
const SPOOL_BYTES: usize = 8 << 20;

/// What the error messages call a unit's early output on disk.
const SPOOL: &str = "temporary file for row groups relabeled early";

/// What relabeling one row group found, or the error that stopped it; its output went out as
/// [`Msg::Part`]s.
#[derive(Default)]
struct Unit {
    /// Instead of parts: one row group per half, aligned with the input row group.
    aligned: Option<Vec<AlignedRowGroup>>,
    /// Bad rows as (row index in the file, problem), and the rows themselves.
    bad: Vec<(u64, crate::error::RowError)>,
    rejects: Vec<RecordBatch>,
    rows_in: u64,
    ties: u64,
    ties_dropped: u64,
    kept: u64,
    error: Option<Error>,
}

/// Relabels Parquet inputs into one output.
pub(super) fn relabel(job: &Job) -> Result<Summary> {
    let mut inputs: Vec<Input> = job.inputs.iter().map(open).collect::<Result<_>>()?;
    // Files read as one dataset whose columns differ a little (int64 scores in one shard,
    // float64 in another; a column some lack) are read with one schema that holds them all.
    let schemas: Vec<&Schema> = inputs.iter().map(|i| i.schema.as_ref()).collect();
    let unified = crate::arrow::unify(&schemas).map_err(|(i, why)| {
        Error::Usage(format!(
            "{}: {why}; relabel the files separately",
            inputs[i].name
        ))
    })?;
    for input in &mut inputs {
        if !crate::arrow::same_columns(&input.schema, &unified) {
            input.schema = Arc::clone(&unified);
            input.conform = Some(Arc::clone(&unified));
        }
    }
    let first = inputs.first().expect("at least one input");
    let resolved = Arc::new(detect(&first.schema, &job.fields, job.spec.style).map_err(
        |problem| Error::Spec {
            at: first.name.clone(),
            problem,
        },
    )?);
    let halves = job.spec.halves().len();
    let arrangement = Arrangement::of(&job.spec);
    let blocks = arrangement == Arrangement::Blocks;
    let format = output_format(job);
    let codec = compression(job, first.codec);
    let out_schema = crate::arrow::output_schema(&first.schema, &resolved)
        .map_err(|e| format_error(&first.name, e))?;
    // Row groups whose rows are all kept are written aligned with the input's, copying the
    // unchanged columns' compressed chunks instead of decoding and re-encoding them. Only when
    // halves are written apart, the output is Parquet, its fields are the input's (a winner
    // field or --to makes others) and the codec stays the input's.
    let align = arrangement.halves_apart()
        && format == Format::Parquet
        && out_schema.fields() == first.schema.fields();
    let align: Vec<bool> = inputs
        .iter()
        .map(|input| align && same_codec(codec, input.codec) && input.conform.is_none())
        .collect();
    let options = ParquetOptions {
        compression: codec,
        // Later halves' aligned row groups are written as soon as they are ready, before
        // earlier halves end, and the footer is rewritten to list them in order.
        page_index: !(blocks && align.contains(&true)),
        threads: job.threads.max(1),
        ..ParquetOptions::default()
    };
    let compression_out = job
        .output_compression
        .unwrap_or_else(|| job.output.compression());
    let mut sink = write::create(
        Output::create(&job.output, compression_out)?,
        format,
        options.clone(),
    );
    sink.set_schema(Arc::clone(&out_schema))?;
    let encoding = sink.column_encoding();
    // Chunks are copied only into columns of their own Parquet type.
    let align: Vec<bool> = align
        .into_iter()
        .zip(&inputs)
        .map(|(align, input)| {
            align
                && encoding
                    .as_ref()
                    .is_some_and(|e| e.copies_from(input.parquet_schema()))
        })
        .collect();
    // The output is encoded on its own thread (Parquet encoding and compression are the heaviest
    // step), so relabeled row groups keep flowing while a row group is compressed.
    let mut writer = WriterThread::start(sink);
    let mut rejects = match &job.rejects {
        Some(target) => {
            let format = target.format().unwrap_or(Format::Jsonl);
            let mut sink = write::create(
                Output::create(target, target.compression())?,
                format,
                options.clone(),
            );
            sink.set_schema(Arc::clone(&first.schema))?;
            Some(sink)
        }
        None => None,
    };
    let mut spills = Spills::new(arrangement, halves, &job.output, |file| {
        ArrowSpill::new(file, &out_schema)
    })?;

    // Where no row group is aligned and the output is Parquet, the writer encodes and
    // compresses every column, spread over the cores (most of the work): half the threads
    // relabel. With as many workers as cores, the two sides fought over them and more row
    // groups waited in memory (measured on 2 cores, a `datasets` file: 2.32 -> 2.04 s,
    // 207 -> 138 MiB).
    let threads = match format == Format::Parquet && !align.contains(&true) {
        true => job.threads.div_ceil(2).max(1),
        false => job.threads.max(1),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Internal(format!("can't start {threads} threads: {e}")))?;
    // Row groups in flight: one per worker and two finished, waiting to be written. More only
    // held memory (measured: 6 cost 60 MiB more than 4 in the interleaved order, no faster).
    let permits = Arc::new(Permits::new(threads + 2));
    let abort = Arc::new(AtomicBool::new(false));
    // Bounded: workers wait when the writing side is behind.
    let (tx, rx) = mpsc::sync_channel::<(usize, Msg)>(2);
    let mut units: Vec<(usize, usize)> = inputs
        .iter()
        .enumerate()
        .flat_map(|(f, input)| (0..input.row_group_starts.len()).map(move |rg| (f, rg)))
        .collect();
    if let Some(shard) = job.shard {
        // A row group belongs to the shard its first byte falls in.
        let (offsets, total) = job.input_offsets()?;
        units.retain(|&(f, rg)| shard.owns(total, offsets[f] + inputs[f].row_group_offset(rg)));
    }
    let inputs = Arc::new(inputs);
    let dispatcher = {
        let (permits, abort, inputs, resolved) = (
            Arc::clone(&permits),
            Arc::clone(&abort),
            Arc::clone(&inputs),
            Arc::clone(&resolved),
        );
        let spec = Arc::new(job.spec.clone());
        let units = units.clone();
        let batch_bytes = job.batch_bytes;
        let panic_in_worker = job.panic_in_worker;
        let align = align.clone();
        let encoding = encoding.clone();
        std::thread::spawn(move || {
            for (seq, (f, rg)) in units.into_iter().enumerate() {
                if abort.load(Ordering::SeqCst) || !permits.acquire() {
                    return;
                }
                let encoding = encoding.clone().filter(|_| align[f]);
                let (tx, inputs, resolved, spec) = (
                    tx.clone(),
                    Arc::clone(&inputs),
                    Arc::clone(&resolved),
                    Arc::clone(&spec),
                );
                pool.spawn(move || {
                    // A panic is a bug: it becomes an internal error in its place in the order.
                    let unit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        if panic_in_worker {
                            panic!("--test-panic-in-worker");
                        }
                        let aligned = encoding.and_then(|encoding| {
                            aligned_row_group(
                                &inputs[f],
                                rg,
                                &spec,
                                &resolved,
                                batch_bytes,
                                &encoding,
                            )
                        });
                        aligned.unwrap_or_else(|| {
                            let mut emit =
                                |stream, batch| tx.send((seq, Msg::Part { stream, batch })).is_ok();
                            relabel_row_group(
                                &inputs[f],
                                rg,
                                &spec,
                                &resolved,
                                batch_bytes,
                                &mut emit,
                            )
                        })
                    }))
                    .unwrap_or_else(|payload| {
                        failed(Error::panicked("a worker", payload.as_ref()))
                    });
                    let _ = tx.send((seq, Msg::Done(unit)));
                });
            }
        })
    };

    let result = (|| -> Result<(Summary, usize)> {
        let mut summary = Summary {
            layout: Some(resolved.to_string()),
            ..Summary::default()
        };
        let mut pending = BTreeMap::new();
        // Output of units ahead of the one being written.
        let mut spools: BTreeMap<usize, Spool> = BTreeMap::new();
        let mut next = 0usize;
        // Whether the unit being written has said where its rows go.
        let mut placed = false;
        let mut bytes_done = 0u64;
        // Writes an output batch of the unit being written.
        let forward = |writer: &mut WriterThread,
                       spills: &mut Spills<ArrowSpill>,
                       placed: &mut bool,
                       seq: usize,
                       stream: usize,
                       batch: RecordBatch|
         -> Result<()> {
            if stream == 0 {
                if !*placed {
                    writer.send_msg(WriteMsg::Place(Place { half: 0, unit: seq }))?;
                    *placed = true;
                }
                writer.send(batch)
            } else {
                spills.push_to(stream, seq, vec![batch])
            }
        };
        for (seq, msg) in rx.iter() {
            match msg {
                Msg::Part { stream, batch } if seq == next => {
                    forward(&mut writer, &mut spills, &mut placed, seq, stream, batch)?
                }
                Msg::Part { stream, batch } => spools
                    .entry(seq)
                    .or_insert_with(|| Spool::new(SPOOL))
                    .push(stream, batch, SPOOL_BYTES, &job.output)?,
                Msg::Done(unit) => {
                    pending.insert(seq, unit);
                }
            }
            while let Some(unit) = pending.remove(&next) {
                let (f, rg) = units[next];
                let seq = next;
                next += 1;
                bytes_done += inputs[f].row_group_bytes[rg];
                if let Some(e) = unit.error {
                    return Err(e);
                }
                let name = &inputs[f].name;
                if let (OnError::Fail, Some((row, problem))) = (job.on_error, unit.bad.first()) {
                    return Err(Error::Row {
                        location: Location {
                            file: name.as_str().into(),
                            position: Position::Row(*row),
                        },
                        problem: problem.clone(),
                    });
                }
                for (row, problem) in &unit.bad {
                    summary.skip(problem.reason, || format!("{name}: row {row}: {problem}"));
                }
                if let Some(rejects) = &mut rejects {
                    for batch in &unit.rejects {
                        rejects.write_batch(batch)?;
                    }
                }
                summary.rows_in += unit.rows_in;
                summary.ties += unit.ties;
                summary.ties_dropped += unit.ties_dropped;
                summary.rows_out += unit.kept * halves as u64;
                if let Some(aligned) = unit.aligned {
                    // Every half is written now; the footer puts them in order.
                    for (half, mut row_group) in aligned.into_iter().enumerate() {
                        row_group.place = Place { half, unit: seq };
                        writer.send_msg(WriteMsg::Aligned(row_group))?;
                    }
                }
                // The next unit's turn: what it made so far, then the rest as it comes.
                placed = false;
                if let Some(spool) = spools.remove(&next) {
                    spool.drain(|stream, batch| {
                        forward(&mut writer, &mut spills, &mut placed, next, stream, batch)
                    })?;
                }
                // Only now is the unit's output out of this thread's hands: a slow writer holds
                // back new row groups instead of letting finished ones pile up here.
                permits.release();
                if let Some(progress) = &job.progress {
                    (progress.0)(bytes_done);
                }
            }
        }
        Ok((summary, next))
    })();
    if result.is_err() {
        abort.store(true, Ordering::SeqCst);
        permits.close();
    }
    drop(rx);
    let _ = dispatcher.join();
    let (summary, done) = match result {
        Ok(ok) => ok,
        Err(e) => {
            // Stop the writer; its own error, if any, came first in time but not in order.
            drop(writer);
            return Err(e);
        }
    };
    if done < units.len() {
        // A worker died without reporting (a panic): never write a short file as if complete.
        return Err(Error::Internal(format!(
            "{}: row group {} was not relabeled (a worker stopped)",
            inputs[units[done].0].name, units[done].1
        )));
    }
    if let Some(e) = summary.nothing_kept() {
        return Err(e);
    }
    spills.replay(&mut writer)?;
    writer.finish()?;
    if let Some(rejects) = rejects {
        rejects.finish()?;
    }
    Ok(summary)
}

/// A sink on its own thread, fed through a bounded channel.
enum WriteMsg {
    Batch(RecordBatch),
    Aligned(AlignedRowGroup),
    Place(Place),
}

struct WriterThread {
    tx: Option<mpsc::SyncSender<WriteMsg>>,
    handle: Option<std::thread::JoinHandle<Result<Box<dyn write::Writer>>>>,
}

impl WriterThread {
    fn start(mut sink: Box<dyn write::Writer>) -> WriterThread {
        let (tx, rx) = mpsc::sync_channel::<WriteMsg>(2);
        let handle = std::thread::spawn(move || {
            for msg in rx {
                match msg {
                    WriteMsg::Batch(batch) => sink.write_batch(&batch)?,
                    WriteMsg::Aligned(aligned) => sink.write_aligned(aligned)?,
                    WriteMsg::Place(place) => sink.set_place(place)?,
                }
            }
            Ok(sink)
        });
        WriterThread {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    /// Queues a batch; if the writer has stopped, returns its error.
    fn send(&mut self, batch: RecordBatch) -> Result<()> {
        self.send_msg(WriteMsg::Batch(batch))
    }

    fn send_msg(&mut self, msg: WriteMsg) -> Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(msg).is_ok());
        if sent {
            return Ok(());
        }
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(Err(e))) => Err(e),
            _ => Err(Error::Internal("the output writer stopped".to_string())),
        }
    }

    /// Waits for everything to be written, then commits the output.
    fn finish(mut self) -> Result<()> {
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(sink)) => sink?.finish(),
            _ => Err(Error::Internal("the output writer stopped".to_string())),
        }
    }
}

impl Replay for WriterThread {
    fn place(&mut self, place: Place) -> Result<()> {
        self.send_msg(WriteMsg::Place(place))
    }

    fn rows_from(&mut self, _file: &mut File) -> Result<()> {
        Err(Error::Internal(
            "JSON rows replayed into the Parquet driver's writer".to_string(),
        ))
    }

    fn batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.send(batch)
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(handle) = self.handle.take() {
            // The sink (and its temporary file) is dropped with the thread: nothing is committed.
            let _ = handle.join();
        }
    }
}

/// Whether the output codec is the input's, so compressed chunks can be copied as they are.
pub(super) fn same_codec(output: ParquetCompression, input: Codec) -> bool {
    matches!(
        (output, input),
        (ParquetCompression::Snappy, Codec::SNAPPY)
            | (ParquetCompression::Zstd, Codec::ZSTD(_))
            | (ParquetCompression::Gzip, Codec::GZIP(_))
            | (ParquetCompression::Brotli, Codec::BROTLI(_))
            | (ParquetCompression::Lz4, Codec::LZ4_RAW)
            | (ParquetCompression::None, Codec::UNCOMPRESSED)
    )
}

/// Relabels a row group reading only the columns the rules use, and makes one aligned row group
/// per half, its rebuilt columns encoded. `None` when a row is bad or dropped (then the row
/// group takes the full path).
fn aligned_row_group(
    input: &Input,
    rg: usize,
    spec: &crate::relabel::Spec,
    resolved: &Resolved,
    batch_bytes: usize,
    encoding: &ColumnEncoding,
) -> Option<Unit> {
    let schema = &input.schema;
    // Every field the rules read or rewrite.
    let read_roots = roots(schema, &resolved.edited());
    let projected = Arc::new(schema.project(&read_roots).ok()?);
    let builder = input.builder().ok()?;
    let metadata = builder.metadata().row_group(rg).clone();
    let descr = builder.metadata().file_metadata().schema_descr_ptr();
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), read_roots.clone());
    let reader = builder
        .with_projection(mask)
        .with_row_groups(vec![rg])
        .with_batch_size(input.batch_rows(rg, batch_bytes))
        .build()
        .ok()?;
    let halves = spec.halves();
    let relabeler = BatchRelabeler::new(spec, resolved, Arc::clone(&projected)).ok()?;
    // Per half: the columns it fills whole from another, copied from that column's chunks.
    let moved: Vec<Vec<(usize, usize)>> = halves
        .iter()
        .map(|&half| movable(schema, &descr, &relabeler.moved(half)))
        .collect();
    // Per half: the rebuilt top-level columns and their positions in the projected batches.
    let changed: Vec<Vec<usize>> = halves
        .iter()
        .zip(&moved)
        .map(|(&half, moved)| {
            let mut changed = roots(schema, &relabeler.rewritten(half));
            changed.retain(|r| !moved.iter().any(|(to, _)| to == r));
            changed
        })
        .collect();
    let positions: Vec<Vec<usize>> = changed
        .iter()
        .map(|roots| {
            roots
                .iter()
                .map(|&r| read_roots.iter().position(|&x| x == r).expect("read"))
                .collect()
        })
        .collect();
    let mut encoders = match changed
        .iter()
        .map(|changed| encoding.encoder(changed.clone()))
        .collect::<parquet::errors::Result<Vec<_>>>()
    {
        Ok(encoders) => encoders,
        Err(e) => return Some(failed(format_error(&input.name, e))),
    };
    let mut unit = Unit::default();
    // The halves are encoded at once, and the copied chunks checked beside, where a worker is
    // free: a file of one row group (pandas and polars write up to a million rows in one)
    // would otherwise be one worker's work.
    let relabeled = || -> Option<parquet::errors::Result<()>> {
        for batch in reader {
            for piece in pieces(&batch.ok()?, batch_bytes.min(READ_BYTES)) {
                let out = relabeler.relabel(&piece).ok()?;
                if !out.bad.is_empty() || out.ties_dropped > 0 {
                    return None;
                }
                unit.rows_in += piece.num_rows() as u64;
                unit.ties += out.ties;
                unit.kept += out.kept;
                let written = encoders
                    .par_iter_mut()
                    .zip(out.batches)
                    .zip(&positions)
                    .try_for_each(|((encoder, batches), positions)| {
                        batches
                            .iter()
                            .try_for_each(|batch| encoder.write(&batch.project(positions)?))
                    });
                if written.is_err() {
                    return Some(written);
                }
            }
        }
        Some(Ok(()))
    };
    let (checked, relabeled) = rayon::join(
        || check_copied(input, rg, &metadata, &read_roots),
        relabeled,
    );
    if let Err(e) = relabeled? {
        return Some(failed(format_error(&input.name, e)));
    }
    if let Err(e) = checked {
        return Some(failed(e));
    }
    let chunks = encoders
        .into_iter()
        .map(|e| e.finish())
        .collect::<parquet::errors::Result<Vec<_>>>();
    match chunks {
        Ok(chunks) => {
            unit.aligned = Some(
                chunks
                    .into_iter()
                    .zip(&moved)
                    .map(|(chunks, moved)| {
                        let mut sources: Vec<usize> = (0..chunks.len()).collect();
                        for &(to, from) in moved {
                            for (t, f) in leaves(&descr, to).into_iter().zip(leaves(&descr, from)) {
                                sources[t] = f;
                            }
                        }
                        AlignedRowGroup {
                            path: input.path.clone(),
                            metadata: metadata.clone(),
                            chunks,
                            sources,
                            place: Place::default(),
                        }
                    })
                    .collect(),
            );
            Some(unit)
        }
        Err(e) => Some(failed(format_error(&input.name, e))),
    }
}

/// The columns of `moved` (as (column, from) paths) whose chunks can be copied as the other's:
/// top-level columns of one Arrow type whose Parquet leaves are alike (types, levels, the names
/// below the column), as top-level indices.
fn movable(
    schema: &Schema,
    descr: &parquet::schema::types::SchemaDescriptor,
    moved: &[(&crate::fields::FieldPath, &crate::fields::FieldPath)],
) -> Vec<(usize, usize)> {
    moved
        .iter()
        .filter_map(|(to, from)| {
            let to = schema.index_of(&to.parts()[0]).ok()?;
            let from = schema.index_of(&from.parts()[0]).ok()?;
            let (a, b) = (leaves(descr, to), leaves(descr, from));
            let alike = schema.field(to).data_type() == schema.field(from).data_type()
                && a.len() == b.len()
                && a.iter().zip(&b).all(|(&a, &b)| {
                    let (a, b) = (descr.column(a), descr.column(b));
                    a.physical_type() == b.physical_type()
                        && a.logical_type_ref() == b.logical_type_ref()
                        && a.converted_type() == b.converted_type()
                        && a.type_length() == b.type_length()
                        && a.type_precision() == b.type_precision()
                        && a.type_scale() == b.type_scale()
                        && a.max_def_level() == b.max_def_level()
                        && a.max_rep_level() == b.max_rep_level()
                        && a.path().parts()[1..] == b.path().parts()[1..]
                });
            alike.then_some((to, from))
        })
        .collect()
}

/// The leaf columns of top-level column `root`, in order.
fn leaves(descr: &parquet::schema::types::SchemaDescriptor, root: usize) -> Vec<usize> {
    (0..descr.num_columns())
        .filter(|&leaf| descr.get_column_root_idx(leaf) == root)
        .collect()
}

/// Reads every page of the column chunks an aligned row group copies without decoding (those of
/// columns the rules don't read), decompressing it and checking its checksum when it has one,
/// so that damage is reported as it is on the decoding path instead of being copied.
pub(super) fn check_copied(
    input: &Input,
    rg: usize,
    metadata: &parquet::file::metadata::RowGroupMetaData,
    read_roots: &[usize],
) -> Result<()> {
    use parquet::column::page::PageReader;
    let descr = metadata.schema_descr();
    let rows = usize::try_from(metadata.num_rows()).unwrap_or(usize::MAX);
    // A column at a time on the free workers (a file of one row group is otherwise checked on
    // one thread), each with a file of its own: handles cloned from one share its cursor.
    let copied: Vec<usize> = (0..metadata.num_columns())
        .filter(|&leaf| !read_roots.contains(&descr.get_column_root_idx(leaf)))
        .collect();
    // Every column is checked, and the first damaged one in column order named, whichever
    // thread finds it first.
    let checked: Vec<Result<()>> = copied
        .into_par_iter()
        .map(|leaf| {
            let column = metadata.column(leaf);
            let file = Arc::new(File::open(&input.path).map_err(|e| Error::io(&input.name, e))?);
            let damaged = |e: parquet::errors::ParquetError| {
                format_error(
                    &input.name,
                    format!(
                        "row group {rg}, column {}: {e}",
                        column.column_path().string()
                    ),
                )
            };
            let mut pages = parquet::file::serialized_reader::SerializedPageReader::new(
                file, column, rows, None,
            )
            .map_err(damaged)?;
            while pages.get_next_page().map_err(damaged)?.is_some() {}
            Ok(())
        })
        .collect();
    checked.into_iter().collect()
}

/// A unit that stopped on an error.
fn failed(error: Error) -> Unit {
    Unit {
        error: Some(error),
        ..Unit::default()
    }
}

/// Reads one row group in batches and relabels each.
fn relabel_row_group(
    input: &Input,
    rg: usize,
    spec: &crate::relabel::Spec,
    resolved: &Resolved,
    batch_bytes: usize,
    emit: &mut dyn FnMut(usize, RecordBatch) -> bool,
) -> Unit {
    let mut unit = Unit::default();
    let fail = |e: &dyn std::fmt::Display| format_error(&input.name, e);
    let reader = input.builder().and_then(|b| {
        b.with_row_groups(vec![rg])
            .with_batch_size(input.batch_rows(rg, batch_bytes))
            .build()
            .map_err(|e| fail(&e))
    });
    let reader = match reader {
        Ok(reader) => reader,
        Err(e) => {
            unit.error = Some(e);
            return unit;
        }
    };
    let relabeler = match BatchRelabeler::new(spec, resolved, Arc::clone(&input.schema)) {
        Ok(relabeler) => relabeler,
        Err(e) => {
            unit.error = Some(fail(&e));
            return unit;
        }
    };
    let mut row = input.row_group_starts[rg];
    let batches = reader.flat_map(|batch| match batch {
        Ok(batch) => pieces(&batch, batch_bytes.min(READ_BYTES))
            .into_iter()
            .map(Ok)
            .collect(),
        Err(e) => vec![Err(e)],
    });
    for batch in batches {
        let batch = match batch.and_then(|batch| match &input.conform {
            Some(schema) => crate::arrow::conform(&batch, schema),
            None => Ok(batch),
        }) {
            Ok(batch) => batch,
            Err(e) => {
                unit.error = Some(fail(&e));
                return unit;
            }
        };
        let out = match relabeler.relabel(&batch) {
            Ok(out) => out,
            Err(e) => {
                // The file was read; building the relabeled columns failed.
                unit.error = Some(Error::format(&input.name, format!("row group {rg}: {e}")));
                return unit;
            }
        };
        unit.rows_in += batch.num_rows() as u64;
        unit.ties += out.ties;
        unit.ties_dropped += out.ties_dropped;
        unit.kept += out.kept;
        if !out.bad.is_empty() {
            let indices = UInt32Array::from_iter_values(out.bad.iter().map(|(i, _)| *i as u32));
            match arrow_select::take::take_record_batch(&batch, &indices) {
                Ok(rejected) => unit.rejects.push(rejected),
                Err(e) => {
                    unit.error = Some(fail(&e));
                    return unit;
                }
            }
        }
        for (i, problem) in out.bad {
            unit.bad.push((row + i as u64, problem));
        }
        for (stream, batches) in out.batches.into_iter().enumerate() {
            for batch in batches {
                if batch.num_rows() > 0 && !emit(stream, batch) {
                    // The writing side stopped: its error is the run's.
                    return unit;
                }
            }
        }
        row += batch.num_rows() as u64;
    }
    unit
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, StringArray};

    /// Big batches are cut by rows until each piece fits; no row is lost or reordered.
    #[test]
    fn batches_split_under_the_offset_limit() {
        let texts: Vec<String> = (0..100)
            .map(|i| format!("{i}:{}", "x".repeat(1000)))
            .collect();
        let column: ArrayRef = Arc::new(StringArray::from(texts.clone()));
        let batch = RecordBatch::try_from_iter([("t", column)]).unwrap();
        let parts = pieces(&batch, 10_000);
        // About 100 KB in 10 KB pieces: 16 pieces of 6-7 rows, not 100 single rows.
        assert_eq!(parts.len(), 16);
        assert!(parts.iter().all(|p| slice_bytes(p) <= 10_000));
        let joined = arrow_select::concat::concat_batches(&batch.schema(), &parts).unwrap();
        assert_eq!(joined, batch);
        assert_eq!(pieces(&batch, usize::MAX).len(), 1);
    }
}
