//! Rows one at a time from any input, as JSON text: what the commands that look at whole rows
//! (`pairs`, `condition`, `inspect`) read. Parquet rows are converted through Arrow's JSON writer.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};

use crate::error::{Error, Location, Position, Result};
use crate::io::{Compression, Format, Source};
use crate::json::split::{blocks_of, read_error, Block, BufferPool};

/// One input row: where it is and its bytes (a JSON object, unless the input is damaged).
#[derive(Debug, Clone)]
pub struct Row {
    /// The file and line (or row index).
    pub location: Location,
    /// The row's bytes.
    pub data: Vec<u8>,
}

/// Rows of one input read at once: a block of its text, the rows handed out as slices of it (a
/// copy of each row, as [`Row`] makes, is work that a caller passing rows on can skip).
#[derive(Debug)]
pub struct RowBlock {
    /// The input as the user named it.
    pub file: Arc<str>,
    block: Block,
    /// Rows numbered as Parquet rows (0-based) rather than lines.
    parquet: bool,
    /// Where the block's buffer goes when it is dropped, to be read into again.
    buffers: BufferPool,
}

impl Drop for RowBlock {
    fn drop(&mut self) {
        self.buffers.give(std::mem::take(&mut self.block.data));
    }
}

impl RowBlock {
    /// The block's non-blank rows, each with where it is and its byte range in the block's
    /// bytes, and those bytes (give them to [`Inputs::buffers`] when done with them).
    pub fn into_ranges(mut self) -> (Vec<(Location, std::ops::Range<usize>)>, Vec<u8>) {
        let start = self.block.data.as_ptr() as usize;
        let rows = self
            .rows()
            .map(|(location, data)| {
                let at = data.as_ptr() as usize - start;
                (location, at..at + data.len())
            })
            .collect();
        (rows, std::mem::take(&mut self.block.data))
    }

    /// The block's non-blank rows, each with where it is.
    pub fn rows(&self) -> impl Iterator<Item = (Location, &[u8])> + '_ {
        self.block
            .rows()
            .filter(|(_, data)| !data.iter().all(u8::is_ascii_whitespace))
            .map(|(n, data)| {
                let position = if self.parquet {
                    Position::Row(n)
                } else {
                    Position::Line(n)
                };
                let file = Arc::clone(&self.file);
                (Location { file, position }, data)
            })
    }
}

/// Inputs read as one dataset, row by row.
#[derive(Debug, Clone)]
pub struct Inputs {
    sources: Vec<(Source, Format)>,
    read: Arc<AtomicU64>,
    /// Block buffers of every reading of the inputs, reused.
    buffers: BufferPool,
}

impl Inputs {
    /// Inputs of these formats, read in this order.
    pub fn new(sources: Vec<(Source, Format)>) -> Inputs {
        Inputs {
            sources,
            read: Arc::new(AtomicU64::new(0)),
            buffers: BufferPool::default(),
        }
    }

    /// Where buffers of blocks taken apart ([`RowBlock::into_ranges`]) go back to be read into
    /// again: reusing them spares zeroing fresh memory for every block read.
    pub fn buffers(&self) -> &BufferPool {
        &self.buffers
    }

    /// The inputs' size in bytes, when every one's is known.
    pub fn size(&self) -> Option<u64> {
        self.sources.iter().map(|(source, _)| source.size()).sum()
    }

    /// The input bytes read so far, counted as they are read (every reading of them, by this
    /// value and its clones): what a progress display shows. Parquet counts its share of the
    /// file's bytes as its rows come.
    pub fn bytes_read(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.read)
    }

    /// Every input's non-blank rows, one input after another.
    pub fn rows(&self) -> Result<Box<dyn Iterator<Item = Result<Row>>>> {
        Ok(rows_of(self.blocks()?))
    }

    /// Every input's rows a block at a time, one input after another (each opened now).
    fn blocks(&self) -> Result<Box<dyn Iterator<Item = Result<RowBlock>>>> {
        let mut all: Box<dyn Iterator<Item = Result<RowBlock>>> = Box::new(std::iter::empty());
        for (source, format) in &self.sources {
            let blocks = row_blocks(source, *format, Arc::clone(&self.read), &self.buffers)?;
            all = Box::new(all.chain(blocks));
        }
        Ok(all)
    }

    /// Every input's rows a block at a time, read on a thread of their own a little ahead of
    /// the caller.
    pub fn row_blocks_ahead(&self) -> Result<impl Iterator<Item = Result<RowBlock>>> {
        let inputs = self.clone();
        ahead("the row reader", 4, move || inputs.blocks(), Err)
    }

    /// [`Inputs::rows`], read on a thread of its own a little ahead of the caller (reading,
    /// splitting and checking the text overlap with the caller's work on the rows).
    pub fn rows_ahead(&self) -> Result<impl Iterator<Item = Result<Row>>> {
        Ok(self.row_chunks_ahead()?.flatten())
    }

    /// [`Inputs::rows_ahead`] in chunks of about 256 KiB of rows, for work on several rows at
    /// once (small enough to stay in a core's cache while it works on them).
    pub fn row_chunks_ahead(&self) -> Result<impl Iterator<Item = Vec<Result<Row>>>> {
        /// Bytes of rows handed over at once.
        const CHUNK: usize = 256 << 10;
        let inputs = self.clone();
        ahead(
            "the row reader",
            4,
            move || {
                let mut rows = inputs.rows()?.peekable();
                Ok(std::iter::from_fn(move || {
                    rows.peek()?;
                    let mut bytes = 0;
                    let mut chunk = Vec::new();
                    while bytes < CHUNK {
                        let Some(row) = rows.next() else { break };
                        bytes += row.as_ref().map_or(0, |r| r.data.len());
                        chunk.push(row);
                    }
                    Some(chunk)
                }))
            },
            |e| vec![Err(e)],
        )
    }

    /// Whether [`Inputs::rows`] can be called again and read the same rows: every input is a
    /// regular file (not standard input or a pipe).
    pub fn rereadable(&self) -> bool {
        self.sources.iter().all(|(source, _)| source.rereadable())
    }
}

/// The non-blank rows of a source, in order.
pub fn rows(source: &Source, format: Format) -> Result<Box<dyn Iterator<Item = Result<Row>>>> {
    let blocks = row_blocks(source, format, Default::default(), &Default::default())?;
    Ok(rows_of(blocks))
}

/// The rows of blocks, each a copy of its own.
fn rows_of(
    blocks: Box<dyn Iterator<Item = Result<RowBlock>>>,
) -> Box<dyn Iterator<Item = Result<Row>>> {
    Box::new(blocks.flat_map(|block| {
        let rows: Vec<Result<Row>> = match block {
            Err(e) => vec![Err(e)],
            Ok(block) => block
                .rows()
                .map(|(location, data)| {
                    Ok(Row {
                        location,
                        data: data.to_vec(),
                    })
                })
                .collect(),
        };
        rows
    }))
}

/// The rows of a source a block at a time: JSON text as read, Parquet through Arrow's JSON
/// writer a record batch at a time.
/// `read` counts the input bytes read.
fn row_blocks(
    source: &Source,
    format: Format,
    read: Arc<AtomicU64>,
    buffers: &BufferPool,
) -> Result<Box<dyn Iterator<Item = Result<RowBlock>>>> {
    let name: Arc<str> = source.name().into();
    if format == Format::Parquet {
        return parquet_blocks(source, name, read);
    }
    let blocks = blocks_of(source, 1 << 20, read, buffers)?;
    let buffers = buffers.clone();
    Ok(Box::new(blocks.map(move |block| {
        let block = block.map_err(|e| read_error(&name, e))?;
        Ok(RowBlock {
            file: Arc::clone(&name),
            block,
            parquet: false,
            buffers: buffers.clone(),
        })
    })))
}

/// Runs the iterator `make` returns on a thread of its own, at most `bound` items ahead of the
/// caller. An error making it, or a panic (`what` panicked), arrives as the item `fail` makes
/// of it, after the items before it: never as an end the caller could take for the input's.
fn ahead<T, I>(
    what: &'static str,
    bound: usize,
    make: impl FnOnce() -> Result<I> + Send + 'static,
    fail: fn(Error) -> T,
) -> Result<impl Iterator<Item = T>>
where
    T: Send + 'static,
    I: Iterator<Item = T>,
{
    let (tx, rx) = std::sync::mpsc::sync_channel::<T>(bound);
    std::thread::Builder::new()
        .name("raug-read".into())
        .spawn(move || {
            let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for item in make()? {
                    // The caller stopped reading: so does this thread.
                    if tx.send(item).is_err() {
                        break;
                    }
                }
                Ok(())
            }));
            let failed = match read {
                Ok(result) => result.err(),
                Err(payload) => Some(Error::panicked(what, payload.as_ref())),
            };
            if let Some(e) = failed {
                let _ = tx.send(fail(e));
            }
        })
        .map_err(|e| Error::Internal(format!("can't start a thread: {e}")))?;
    Ok(rx.into_iter())
}

/// The key of a writer setting pyarrow stores in a file's metadata, not the data's.
const WRITER_SETTING: &str = "content_defined_chunking";

/// A Parquet file read a row group at a time, each on a file handle of its own (readers on
/// cloned handles share one cursor), so row groups can be read in parallel.
pub struct RowGroups {
    name: String,
    path: std::path::PathBuf,
    metadata: ArrowReaderMetadata,
    /// The file's bytes read, in proportion to the rows decoded (see [`RowGroups::bytes_read`]).
    read: Arc<AtomicU64>,
    size: u64,
}

impl RowGroups {
    /// Opens a Parquet file and reads its footer.
    pub fn open(source: &Source) -> Result<RowGroups> {
        let Source::File(path) = source else {
            return Err(Error::Usage(
                "Parquet can't be read from standard input (it needs to seek); pass a file"
                    .to_string(),
            ));
        };
        let name = source.name();
        let file = File::open(path).map_err(|e| Error::io(&name, e))?;
        let mut metadata = ArrowReaderMetadata::load(&file, Default::default()).map_err(|e| {
            match crate::io::compression_of(path) {
                Compression::None => Error::unreadable_parquet(&name, e),
                inside => Error::format(&name, inside.parquet_inside(&name, source.is_stdin())),
            }
        })?;
        // pyarrow records how it cut the file's pages (`content_defined_chunking`, written by
        // `datasets`) among the file's key-value metadata, and parquet-rs reads it into the
        // schema's; raug writes no such pages, so the setting is not carried over (pyarrow
        // doesn't show it as the schema's either). Dictionary columns (pandas' categoricals)
        // are read as plain values, marked to be declared dictionaries again on output.
        let schema = metadata.schema();
        let values = crate::arrow::read_as_values(schema);
        if values.is_some() || schema.metadata().contains_key(WRITER_SETTING) {
            let mut schema = values.unwrap_or_else(|| schema.as_ref().clone());
            schema.metadata.remove(WRITER_SETTING);
            let options = parquet::arrow::arrow_reader::ArrowReaderOptions::new()
                .with_schema(Arc::new(schema));
            metadata = ArrowReaderMetadata::try_new(Arc::clone(metadata.metadata()), options)
                .map_err(|e| Error::unreadable_parquet(&name, e))?;
        }
        let size = file.metadata().map_err(|e| Error::io(&name, e))?.len();
        Ok(RowGroups {
            name,
            path: path.clone(),
            metadata,
            read: Arc::new(AtomicU64::new(0)),
            size,
        })
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The file, its bytes read counted into `read` (shared with other files', say) instead
    /// of a counter of its own.
    pub fn counting_into(self, read: Arc<AtomicU64>) -> RowGroups {
        RowGroups { read, ..self }
    }

    /// The file's bytes read so far, counted in proportion to the rows decoded (of any columns):
    /// [`RowGroups::size`] once every row is read, more if some are read twice. What progress
    /// bars follow.
    pub fn bytes_read(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.read)
    }

    /// The file's Arrow schema as it is read: top-level dictionary columns of strings or bytes
    /// as their values, marked so ([`crate::arrow::read_as_values`]).
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(self.metadata.schema())
    }

    /// How many row groups there are.
    pub fn len(&self) -> usize {
        self.metadata.metadata().num_row_groups()
    }

    /// Whether the file has no row groups.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file as the user named it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rows of row group `rg`.
    pub fn rows(&self, rg: usize) -> u64 {
        self.metadata.metadata().row_group(rg).num_rows() as u64
    }

    /// The index of row group `rg`'s first row in the file.
    pub fn first_row(&self, rg: usize) -> u64 {
        self.metadata.metadata().row_groups()[..rg]
            .iter()
            .map(|g| g.num_rows() as u64)
            .sum()
    }

    /// The footer, parsed once in [`RowGroups::open`].
    pub fn metadata(&self) -> &ArrowReaderMetadata {
        &self.metadata
    }

    /// The file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// A reader on a file handle of its own (readers on cloned handles share one cursor), with
    /// the footer parsed once in [`RowGroups::open`].
    pub fn builder(&self) -> Result<ParquetRecordBatchReaderBuilder<File>> {
        let file = File::open(&self.path).map_err(|e| Error::io(&self.name, e))?;
        Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
            file,
            self.metadata.clone(),
        ))
    }

    /// A reader of row group `rg` (`None`: all of them), of every column or only the top-level
    /// columns `roots`, 1,024 rows a batch.
    fn reader(
        &self,
        rg: Option<usize>,
        roots: Option<&[usize]>,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send + 'static> {
        let name = self.name.clone();
        let mut builder = self.builder()?.with_batch_size(1024);
        if let Some(rg) = rg {
            builder = builder.with_row_groups(vec![rg]);
        }
        if let Some(roots) = roots {
            let mask = parquet::arrow::ProjectionMask::roots(
                builder.parquet_schema(),
                roots.iter().copied(),
            );
            builder = builder.with_projection(mask);
        }
        let reader = builder
            .build()
            .map_err(|e| Error::unreadable_parquet(&name, e))?;
        let (read, size) = (Arc::clone(&self.read), self.size);
        let rows = self.metadata.metadata().file_metadata().num_rows().max(1) as u64;
        // The file's bytes in proportion to its rows, counted without drift: rows done so far.
        let share =
            move |done: u64| (u128::from(size) * u128::from(done) / u128::from(rows)) as u64;
        let mut done = 0u64;
        Ok(reader.map(move |batch| {
            let batch = batch.map_err(|e| Error::unreadable_parquet(&name, e))?;
            let next = done + batch.num_rows() as u64;
            read.fetch_add(share(next) - share(done), Ordering::Relaxed);
            done = next;
            Ok(batch)
        }))
    }

    /// The batches of row group `rg`: every column, or only the top-level columns `roots`.
    pub fn batches(&self, rg: usize, roots: Option<&[usize]>) -> Result<Batches> {
        Ok(Box::new(self.reader(Some(rg), roots)?))
    }

    /// Every row group's batches (every column, or only the top-level columns `roots`),
    /// decoded on a thread of their own two batches ahead while the caller works on the last.
    pub fn read_ahead(&self, roots: Option<&[usize]>) -> Result<Batches> {
        let reader = self.reader(None, roots)?;
        Ok(Box::new(ahead(
            "the Parquet reader",
            2,
            move || Ok(reader),
            Err,
        )?))
    }

    /// Each row group's rows and uncompressed bytes, in order.
    pub fn sizes(&self) -> Vec<(u64, u64)> {
        self.metadata
            .metadata()
            .row_groups()
            .iter()
            .map(|rg| (rg.num_rows() as u64, rg.total_byte_size() as u64))
            .collect()
    }
}

/// Record batches, read one after another.
pub type Batches = Box<dyn Iterator<Item = Result<RecordBatch>>>;

/// Parquet files read one after another as one dataset, with one schema that holds them all
/// ([`crate::arrow::unify`]): the batches of a file whose columns differ are made to fit it
/// ([`crate::arrow::conform`]).
#[derive(Clone)]
pub struct ParquetDataset {
    files: Arc<Vec<RowGroups>>,
    schema: SchemaRef,
}

impl ParquetDataset {
    /// Opens the files and reads their footers. Columns that can't meet (text in one file,
    /// numbers in another) are a usage error naming the file; `verb` says what the user does
    /// instead ("pair").
    pub fn open(sources: &[Source], verb: &str) -> Result<ParquetDataset> {
        let files = sources
            .iter()
            .map(RowGroups::open)
            .collect::<Result<Vec<_>>>()?;
        let schemas: Vec<SchemaRef> = files.iter().map(RowGroups::schema).collect();
        let refs: Vec<&arrow_schema::Schema> = schemas.iter().map(|s| s.as_ref()).collect();
        let schema = crate::arrow::unify(&refs).map_err(|(i, why)| {
            Error::Usage(format!(
                "{}: {why}; {verb} the files separately",
                files[i].name()
            ))
        })?;
        Ok(ParquetDataset {
            files: Arc::new(files),
            schema,
        })
    }

    /// The schema every batch read has (of the columns read).
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The files, in order.
    pub fn files(&self) -> &[RowGroups] {
        &self.files
    }

    /// The files' bytes read so far (see [`RowGroups::bytes_read`]).
    pub fn bytes_read(&self) -> u64 {
        self.files
            .iter()
            .map(|f| f.read.load(Ordering::Relaxed))
            .sum()
    }

    /// The files' sizes in bytes, together.
    pub fn size(&self) -> u64 {
        self.files.iter().map(RowGroups::size).sum()
    }

    /// Every file's batches, one file after another (each opened when the one before is done),
    /// of every column or only the top-level columns `roots` of [`ParquetDataset::schema`].
    pub fn read_ahead(&self, roots: Option<&[usize]>) -> Result<Batches> {
        let dataset = self.clone();
        let roots = roots.map(<[usize]>::to_vec);
        let mut next = 0usize;
        let mut current: Option<Batches> = None;
        Ok(Box::new(std::iter::from_fn(move || loop {
            if let Some(batch) = current.as_mut().and_then(Iterator::next) {
                return Some(batch);
            }
            if next == dataset.files.len() {
                return None;
            }
            next += 1;
            match dataset.read_file(next - 1, roots.as_deref()) {
                Ok(batches) => current = Some(batches),
                Err(e) => return Some(Err(e)),
            }
        })))
    }

    /// File `i`'s batches, of every column or only the top-level columns `roots` of
    /// [`ParquetDataset::schema`], fitted to it: a file whose columns differ has its own of
    /// those asked for read and conformed.
    pub fn read_file(&self, i: usize, roots: Option<&[usize]>) -> Result<Batches> {
        let file = &self.files[i];
        let own = file.schema();
        let mut roots: Option<Vec<usize>> = roots.map(<[usize]>::to_vec);
        if let Some(r) = &mut roots {
            r.sort_unstable();
            r.dedup();
        }
        if crate::arrow::same_columns(&own, &self.schema) {
            return file.read_ahead(roots.as_deref());
        }
        let target = match &roots {
            Some(r) => Arc::new(
                self.schema
                    .project(r)
                    .map_err(|e| Error::Internal(format!("projecting the schema: {e}")))?,
            ),
            None => Arc::clone(&self.schema),
        };
        let own_roots: Option<Vec<usize>> = roots.as_ref().map(|r| {
            r.iter()
                .filter_map(|&i| own.index_of(self.schema.field(i).name()).ok())
                .collect()
        });
        let name = file.name().to_string();
        let batches = file.read_ahead(own_roots.as_deref())?;
        Ok(Box::new(batches.map(move |batch| {
            crate::arrow::conform(&batch?, &target).map_err(|e| Error::format(&name, e))
        })))
    }
}

/// A Parquet file's rows as JSON lines, a record batch a block.
fn parquet_blocks(
    source: &Source,
    name: Arc<str>,
    read: Arc<AtomicU64>,
) -> Result<Box<dyn Iterator<Item = Result<RowBlock>>>> {
    let batches = RowGroups::open(source)?
        .counting_into(read)
        .read_ahead(None)?;
    let mut index = 0u64;
    Ok(Box::new(batches.map(move |batch| {
        let batch = batch?;
        let data =
            crate::json::rows_of_batch(&batch).map_err(|e| Error::unreadable_parquet(&*name, e))?;
        let first_line = index;
        index += batch.num_rows() as u64;
        Ok(RowBlock {
            file: Arc::clone(&name),
            block: Block {
                data,
                first_line,
                elements: None,
            },
            parquet: true,
            // Parquet's rows are made afresh for every batch.
            buffers: BufferPool::default(),
        })
    })))
}
