//! Inputs and outputs: files or standard streams, gzip/zstd, and atomic writes (a temporary file
//! renamed over the target on success) so a failed run never leaves a half-written file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use crate::error::{Error, Result};

/// A data format `raug` reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON Lines: one object per line.
    Jsonl,
    /// A JSON array of objects (JSON Lines are accepted on input too).
    Json,
    /// Apache Parquet, as Hugging Face datasets are stored.
    Parquet,
}

impl Format {
    /// The file extension that names it.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Parquet => "parquet",
        }
    }

    /// The format named by a file's extension, looking through `.gz`/`.zst`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name
            .strip_suffix(".gz")
            .or_else(|| name.strip_suffix(".zst"))
            .unwrap_or(&name);
        if name.ends_with(".parquet") {
            Some(Format::Parquet)
        } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            Some(Format::Jsonl)
        } else if name.ends_with(".json") {
            Some(Format::Json)
        } else {
            None
        }
    }
}

/// What raug says of Arrow IPC data (`datasets`' `save_to_disk` files, Feather), which it
/// doesn't read.
pub const ARROW_IPC: &str = "raug reads JSON and Parquet, not Arrow IPC (the .arrow files \
     `datasets`' save_to_disk writes, or Feather): write the dataset as Parquet first, e.g. in \
     Python `datasets.load_from_disk(FOLDER).to_parquet(\"train.parquet\")` (each split of a \
     DatasetDict apart), or relabel it in Python with `raug.Relabeler()`";

/// A compression applied to a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// None.
    None,
    /// gzip (`.gz`).
    Gzip,
    /// Zstandard (`.zst`).
    Zstd,
}

impl Compression {
    /// The compression named by a file's extension.
    pub fn from_path(path: &Path) -> Compression {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("gz") => Compression::Gzip,
            Some(e) if e.eq_ignore_ascii_case("zst") => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// The file extension that names it.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => "gz",
            Compression::Zstd => "zst",
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "un",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression whose magic number starts `head`.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// What a user is told of Parquet found inside this compression (`name` the source): raug
    /// reads Parquet as written, seeking to its footer and row groups, and Parquet compresses
    /// its own pages, so the file is to be decompressed first, with the command that does it.
    pub fn parquet_inside(self, name: &str, stdin: bool) -> String {
        let (file, pipe) = match self {
            Compression::Zstd => (format!("zstd -d {name}"), "zstd -dc FILE"),
            _ => (format!("gunzip -k {name}"), "gunzip -c FILE"),
        };
        let (what, it, how) = if stdin {
            ("these are", "them", format!("`{pipe} | raug COMMAND -`"))
        } else {
            ("the file holds", "it", format!("`{file}`"))
        };
        format!(
            "{what} {}-compressed Parquet bytes, and raug reads Parquet as it is written \
             (Parquet compresses its own pages): decompress {it} first ({how})",
            self.name()
        )
    }
}

/// The compression whose magic number starts the file at `path`; `None` where it can't be read.
pub fn compression_of(path: &Path) -> Compression {
    File::open(path)
        .and_then(|mut file| read_head(&mut file, 4))
        .map_or(Compression::None, |head| Compression::sniff(&head))
}

/// Where rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Source {
    /// The name used in messages (`<stdin>` for standard input, and for its copy: see
    /// [`copy_stdin`]).
    pub fn name(&self) -> String {
        match self {
            Source::File(path) if !self.is_stdin() => path.display().to_string(),
            _ => "<stdin>".to_string(),
        }
    }

    /// Whether the source is standard input, or its copy.
    pub fn is_stdin(&self) -> bool {
        match self {
            Source::Stdin => true,
            Source::File(path) => STDIN_COPY.get() == Some(path),
        }
    }

    /// Whether the source can be read again from its start: a regular file (not standard
    /// input or a pipe).
    pub fn rereadable(&self) -> bool {
        match self {
            Source::Stdin => false,
            Source::File(path) => fs::metadata(path).is_ok_and(|m| m.is_file()),
        }
    }

    /// The size in bytes, when known up front.
    pub fn size(&self) -> Option<u64> {
        match self {
            Source::Stdin => None,
            Source::File(path) => fs::metadata(path).ok().map(|m| m.len()),
        }
    }

    /// Opens the source, decompressing by magic number; `counter` counts the raw bytes read.
    pub fn open(&self, counter: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>> {
        Ok(self.open_sniffed(counter)?.0)
    }

    /// [`Source::open`], and the compression its first bytes named.
    pub fn open_sniffed(
        &self,
        counter: Arc<AtomicU64>,
    ) -> Result<(Box<dyn Read + Send>, Compression)> {
        let raw: Box<dyn Read + Send> = match self {
            Source::Stdin => Box::new(io::stdin()),
            Source::File(path) => {
                let file = File::open(path).map_err(|e| Error::io(self.name(), e))?;
                if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                    return Err(Error::io(
                        self.name(),
                        io::Error::other("is a directory, not a data file"),
                    ));
                }
                Box::new(file)
            }
        };
        let mut counted = Counting {
            inner: raw,
            counter,
        };
        let head = read_head(&mut counted, 4).map_err(|e| Error::io(self.name(), e))?;
        let compression = Compression::sniff(&head);
        if let Source::File(path) = self {
            let named = Compression::from_path(path);
            if named != Compression::None && compression != named && !head.is_empty() {
                return Err(Error::Format {
                    path: self.name(),
                    detail: format!(
                        "named .{} but not {}-compressed (its first bytes are not the {} magic number)",
                        named.extension(),
                        named.name(),
                        named.name()
                    ),
                });
            }
        }
        let stream = io::Cursor::new(head).chain(counted);
        let reader: Box<dyn Read + Send> = match compression {
            Compression::None => Box::new(stream),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
                io::BufReader::with_capacity(256 * 1024, stream),
            )),
            Compression::Zstd => {
                Box::new(zstd::Decoder::new(stream).map_err(|e| Error::io(self.name(), e))?)
            }
        };
        Ok((reader, compression))
    }
}

/// `bytes` as text, checked with SIMD (several times std's speed on the long ASCII rows of this
/// data); when they aren't UTF-8, std's error, which says where.
pub fn utf8(bytes: &[u8]) -> std::result::Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(bytes),
    }
}

/// Expands a path whose file name has `*` or `?` (quoted, so the shell left it) into the
/// matching files, sorted; other paths are returned as they are.
pub fn expand_glob(path: &Path) -> Result<Vec<PathBuf>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if path.exists() || !(name.contains('*') || name.contains('?')) {
        return Ok(vec![path.to_path_buf()]);
    }
    let dir = folder_of(path).unwrap_or(Path::new("."));
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| glob_match(&name, &e.file_name().to_string_lossy()))
        .map(|e| match folder_of(path) {
            Some(p) => p.join(e.file_name()),
            None => PathBuf::from(e.file_name()),
        })
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(Error::Usage(format!("no file matches {}", path.display())));
    }
    Ok(found)
}

/// Reads until `n` bytes or the end of input.
pub fn read_head(reader: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    reader.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// A reader that adds the bytes it reads to `counter` (for the progress bar).
pub fn counted(inner: Box<dyn Read + Send>, counter: Arc<AtomicU64>) -> Box<dyn Read + Send> {
    Box::new(Counting { inner, counter })
}

/// A reader that adds the bytes it reads to a shared counter (for the progress bar).
struct Counting {
    inner: Box<dyn Read + Send>,
    counter: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Where rows go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output.
    Stdout,
    /// A file; regular files are replaced atomically.
    File(PathBuf),
}

impl Target {
    /// Whether output to the target goes to a temporary file renamed over it at the end (a
    /// regular file or a new path; not standard output, a device or a FIFO), so that what was
    /// written can still be thrown away.
    pub fn staged(&self) -> bool {
        match self {
            Target::Stdout => false,
            Target::File(path) => fs::metadata(path).map_or(true, |m| m.is_file()),
        }
    }

    /// The name used in messages.
    pub fn name(&self) -> String {
        match self {
            Target::Stdout => "<stdout>".to_string(),
            Target::File(path) => path.display().to_string(),
        }
    }

    /// The format the target's extension names, if any.
    pub fn format(&self) -> Option<Format> {
        match self {
            Target::File(path) => Format::from_path(path),
            Target::Stdout => None,
        }
    }

    /// The compression the target's extension names.
    pub fn compression(&self) -> Compression {
        match self {
            Target::File(path) => Compression::from_path(path),
            Target::Stdout => Compression::None,
        }
    }
}

/// The error of making a temporary file in `dir`, without tempfile's mention of the hidden
/// temporary path (the user named the output, and the message names that): the folder's own
/// error when it can't be used, else the error's kind.
fn without_temp_path(e: io::Error, dir: &Path) -> io::Error {
    match fs::metadata(dir) {
        Err(folder) if folder.kind() == io::ErrorKind::NotFound => io::Error::new(
            io::ErrorKind::NotFound,
            format!("the folder {} doesn't exist", dir.display()),
        ),
        Err(folder) => folder,
        Ok(_) => io::Error::from(e.kind()),
    }
}

/// Refuses outputs that would destroy an input (the rename happens after it is read) or each
/// other, before a byte is read: `outputs` are (what, target) pairs, `what` naming the option in
/// the message. Standard input may be read only once.
pub fn check_distinct(inputs: &[Source], outputs: &[(&str, &Target)]) -> Result<()> {
    for (i, (what, target)) in outputs.iter().enumerate() {
        let Target::File(out) = target else { continue };
        for input in inputs {
            if let Source::File(path) = input {
                if same_file(path, out) {
                    return Err(Error::Usage(format!(
                        "{what} {} is also an input; write to another file",
                        out.display()
                    )));
                }
            }
        }
        for (other, earlier) in &outputs[..i] {
            if let Target::File(b) = earlier {
                if out == b || same_file(out, b) {
                    return Err(Error::Usage(format!(
                        "{other} and {what} are both {}",
                        out.display()
                    )));
                }
            }
        }
    }
    if inputs.iter().filter(|s| **s == Source::Stdin).count() > 1 {
        return Err(Error::Usage(
            "standard input (-) can be read only once".to_string(),
        ));
    }
    Ok(())
}

/// Refuses a whole-file compression of Parquet (`out.parquet.gz`): no reader opens such a file,
/// raug included; Parquet compresses its own columns.
pub fn check_compression(target: &Target, format: Format, compression: Compression) -> Result<()> {
    if format == Format::Parquet && compression != Compression::None {
        return Err(Error::Usage(format!(
            "{}: Parquet can't be gzip- or zstd-compressed as a whole (no reader opens that); \
             name it .parquet, and pick the codec of its columns with --compression",
            target.name()
        )));
    }
    Ok(())
}

/// Temporary files to delete if the process is interrupted.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Deletes every temporary output not yet committed (files, and staging folders of folder
/// outputs); called on SIGINT, SIGTERM or SIGHUP before exiting.
pub fn remove_pending() {
    if let Ok(paths) = PENDING.lock() {
        for path in paths.iter() {
            if path.is_dir() {
                let _ = fs::remove_dir_all(path);
            } else {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// Where [`copy_stdin`] copied standard input.
static STDIN_COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Whether standard input was copied (see [`copy_stdin`]): asked again, it would look empty.
pub fn stdin_copied() -> bool {
    STDIN_COPY.get().is_some()
}

/// Whether standard input starts with Parquet's magic number (`PAR1`), looked at without taking
/// it from the input: what comes first stays to be read.
pub fn stdin_is_parquet() -> Result<bool> {
    use std::io::BufRead;
    let mut stdin = io::stdin().lock();
    let head = stdin.fill_buf().map_err(|e| Error::io("<stdin>", e))?;
    Ok(head.starts_with(b"PAR1"))
}

/// Copies standard input into a temporary file in `dir` (the output's folder; else the temp
/// folder) and returns it as a source named `<stdin>`: Parquet is read by seeking to its footer
/// and to each row group, which a pipe can't do. Once per process (a second call returns the
/// copy); the file is removed by [`remove_pending`], when the process ends or is stopped.
pub fn copy_stdin(dir: Option<&Path>) -> Result<Source> {
    if let Some(path) = STDIN_COPY.get() {
        return Ok(Source::File(path.clone()));
    }
    let folder = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
    remove_stale(&folder, "stdin");
    let mut temp = make_pending(
        || {
            tempfile::Builder::new()
                .prefix(&temp_prefix("stdin"))
                .suffix(".raug-tmp")
                .tempfile_in(&folder)
        },
        |temp| temp.path(),
    )
    .map_err(|e| Error::io("a copy of <stdin>", without_temp_path(e, &folder)))?;
    let copied =
        io::copy(&mut io::stdin().lock(), temp.as_file_mut()).map_err(|e| Error::io("<stdin>", e));
    // Removed by remove_pending from here on, whatever happens.
    let path = temp
        .into_temp_path()
        .keep()
        .map_err(|e| Error::io("a copy of <stdin>", e.error))?;
    copied?;
    Ok(Source::File(STDIN_COPY.get_or_init(|| path).clone()))
}

/// Makes a temporary file or staging folder with `make` and registers its path (`path_of`) for
/// removal if the process is stopped, in one step: a stop signal between the two would leave it
/// behind (the signal handler waits for the registry). [`forget_pending`] once it is committed
/// or removed.
pub fn make_pending<T>(
    make: impl FnOnce() -> io::Result<T>,
    path_of: impl FnOnce(&T) -> &Path,
) -> io::Result<T> {
    let mut paths = PENDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let made = make()?;
    paths.push(path_of(&made).to_path_buf());
    Ok(made)
}

/// The prefix of the temporary files and folders made for a target named `name` by this
/// process: `.NAME.PID.` (the process id lets a later run tell a dead run's leftovers apart).
pub fn temp_prefix(name: &str) -> String {
    format!(".{name}.{}.", std::process::id())
}

/// Removes the temporaries of a target named `name` in `dir` that a run stopped by SIGKILL left
/// behind: `.NAME.PID.*.raug-tmp` whose process is gone. Linux only (it asks `/proc`); a no-op
/// elsewhere.
pub fn remove_stale(dir: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".raug-tmp"))
        else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

/// Stops tracking a temporary path: it was committed or removed.
pub fn forget_pending(path: &Path) {
    if let Ok(mut paths) = PENDING.lock() {
        paths.retain(|p| p != path);
    }
}

enum Destination {
    Stdout(io::Stdout),
    File(File, Option<Syncer>),
}

/// How much written data a replacing output lets pile up before it starts writing it to disk.
const SYNC_EVERY: u64 = 64 << 20;

/// Pushes a replacing output's data to disk while it is being written: a thread syncs the file
/// every [`SYNC_EVERY`] bytes, so the sync that must come before the rename finds little left
/// (replacing a file cost 4x writing a new one when all of it was synced at the end).
struct Syncer {
    unsynced: u64,
    wake: Option<mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Syncer {
    fn start(file: &File) -> io::Result<Syncer> {
        let file = file.try_clone()?;
        // One request waiting at most: requests made while a sync runs fold into the next.
        let (wake, requests) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("raug-sync".into())
            .spawn(move || {
                for () in requests {
                    file.sync_data()?;
                }
                Ok(())
            })?;
        Ok(Syncer {
            unsynced: 0,
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Counts bytes written; past [`SYNC_EVERY`], asks for a sync.
    fn wrote(&mut self, bytes: u64) {
        self.unsynced += bytes;
        if self.unsynced >= SYNC_EVERY {
            self.unsynced = 0;
            if let Some(wake) = &self.wake {
                let _ = wake.try_send(());
            }
        }
    }

    /// Waits for the syncs asked for; an error of theirs is the output's.
    fn finish(mut self) -> io::Result<()> {
        self.wake = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the sync thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        // Dropped unfinished (a failed run): stop the thread without waiting for it.
        self.wake = None;
    }
}

impl Write for Destination {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Destination::Stdout(s) => s.write(buf),
            Destination::File(f, syncer) => {
                let n = f.write(buf)?;
                if let Some(syncer) = syncer {
                    syncer.wrote(n as u64);
                }
                Ok(n)
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Destination::Stdout(s) => s.flush(),
            Destination::File(f, _) => f.flush(),
        }
    }
}

enum Encoder {
    Plain(BufWriter<Destination>),
    Gzip(flate2::write::GzEncoder<BufWriter<Destination>>),
    Zstd(zstd::Encoder<'static, BufWriter<Destination>>),
}

/// An output being written: committed by [`Output::finish`], deleted if dropped before.
pub struct Output {
    encoder: Encoder,
    temp: Option<Pending>,
    /// Whether the rename replaces an existing file, whose data a crash must not lose.
    replaces: bool,
    dest: PathBuf,
    name: String,
}

impl Output {
    /// The folder for temporary files that belong to this output (beside it, on the same
    /// disk), or `None` for the system's temporary folder.
    pub fn spill_dir(&self) -> Option<PathBuf> {
        folder_of(&self.dest).map(Path::to_path_buf)
    }

    /// Opens a target for writing. A regular file (or a new path) is written to a temporary file
    /// beside it; devices, FIFOs and stdout are written directly.
    pub fn create(target: &Target, compression: Compression) -> Result<Output> {
        let name = target.name();
        let mut replaces = false;
        let (sink, temp, dest) = match target {
            Target::Stdout => (Destination::Stdout(io::stdout()), None, PathBuf::new()),
            Target::File(path) => {
                let existing = fs::metadata(path).ok();
                if existing.as_ref().is_some_and(|m| m.is_dir()) {
                    return Err(Error::io(
                        name,
                        io::Error::other("is a directory; name an output file"),
                    ));
                }
                if !target.staged() {
                    // /dev/null, /dev/full, a FIFO: can't be replaced by a rename.
                    let file = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(|e| Error::io(&name, e))?;
                    (Destination::File(file, None), None, path.clone())
                } else {
                    let dir = folder_of(path).unwrap_or(Path::new(".")).to_path_buf();
                    let file_name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    remove_stale(&dir, &file_name);
                    let temp = make_pending(
                        || {
                            tempfile::Builder::new()
                                .prefix(&temp_prefix(&file_name))
                                .suffix(".raug-tmp")
                                .tempfile_in(&dir)
                        },
                        |temp| temp.path(),
                    )
                    .map_err(|e| Error::io(&name, without_temp_path(e, &dir)))?;
                    let (file, temp_path) = temp.into_parts();
                    let temp_path = Pending(Some(temp_path));
                    replaces = existing.is_some();
                    let permissions = existing
                        .map(|m| m.permissions())
                        .unwrap_or_else(|| default_permissions(&file));
                    file.set_permissions(permissions)
                        .map_err(|e| Error::io(&name, e))?;
                    let syncer = match replaces {
                        true => Some(Syncer::start(&file).map_err(|e| Error::io(&name, e))?),
                        false => None,
                    };
                    (
                        Destination::File(file, syncer),
                        Some(temp_path),
                        path.clone(),
                    )
                }
            }
        };
        let buffered = BufWriter::with_capacity(1 << 20, sink);
        let encoder = match compression {
            Compression::None => Encoder::Plain(buffered),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                buffered,
                flate2::Compression::fast(),
            )),
            Compression::Zstd => {
                Encoder::Zstd(zstd::Encoder::new(buffered, 3).map_err(|e| Error::io(&name, e))?)
            }
        };
        Ok(Output {
            encoder,
            temp,
            replaces,
            dest,
            name,
        })
    }

    /// The name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes bytes, naming the output in any error.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.write_all(bytes).map_err(|e| Error::io(&self.name, e))
    }

    /// Appends the rest of `file`. Uncompressed output takes the kernel's file-to-file copy
    /// (`copy_file_range`, through `std::io::copy`), so nothing passes through this process; a
    /// replacing output copies 64 MiB at a time, so its syncs overlap the copy.
    pub fn append(&mut self, file: &mut File) -> Result<()> {
        self.append_in(file, SYNC_EVERY)
    }

    /// [`Output::append`], a replacing output's copy made `chunk` bytes at a time.
    fn append_in(&mut self, file: &mut File, chunk: u64) -> Result<()> {
        let name = self.name.clone();
        let copied = match &mut self.encoder {
            Encoder::Plain(w) => w.flush().and_then(|()| match w.get_mut() {
                Destination::File(f, Some(syncer)) => {
                    let mut total = 0;
                    loop {
                        let n = io::copy(&mut Read::by_ref(file).take(chunk), f)?;
                        if n == 0 {
                            break Ok(total);
                        }
                        total += n;
                        syncer.wrote(n);
                    }
                }
                Destination::File(f, None) => io::copy(file, f),
                Destination::Stdout(s) => io::copy(file, s),
            }),
            _ => io::copy(file, self),
        };
        copied.map(|_| ()).map_err(|e| Error::io(name, e))
    }

    /// Flushes everything and, for a temporary file, renames it over the target.
    pub fn finish(self) -> Result<()> {
        let name = self.name;
        let buffered = match self.encoder {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(w) => w.finish(),
            Encoder::Zstd(w) => w.finish(),
        }
        .map_err(|e| Error::io(&name, e))?;
        let sink = buffered
            .into_inner()
            .map_err(|e| Error::io(&name, e.into_error()))?;
        match sink {
            Destination::Stdout(mut s) => s.flush().map_err(|e| Error::io(&name, e))?,
            Destination::File(f, syncer) => {
                // Before replacing a file, make the new data durable: after a power cut the
                // rename must not be left pointing at empty blocks. A new file has nothing to
                // lose, and syncing a gigabyte costs seconds; most of a replacing file's data
                // was synced while it was written.
                if let Some(syncer) = syncer {
                    syncer.finish().map_err(|e| Error::io(&name, e))?;
                }
                if self.temp.is_some() && self.replaces {
                    f.sync_all().map_err(|e| Error::io(&name, e))?;
                }
            }
        }
        if let Some(temp) = self.temp {
            temp.persist(&self.dest).map_err(|e| Error::io(&name, e))?;
        }
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.encoder {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(w) => w.write(buf),
            Encoder::Zstd(w) => w.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.encoder {
            Encoder::Plain(w) => w.write_all(buf),
            Encoder::Gzip(w) => w.write_all(buf),
            Encoder::Zstd(w) => w.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.encoder {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            Encoder::Zstd(w) => w.flush(),
        }
    }
}

/// A temporary output file: deleted when dropped, unless persisted; registered for Ctrl-C cleanup
/// while it exists.
struct Pending(Option<tempfile::TempPath>);

impl Pending {
    /// Renames the file over `dest`.
    fn persist(mut self, dest: &Path) -> io::Result<()> {
        let temp = self.0.take().expect("persisted once");
        let path = temp.to_path_buf();
        let result = temp.persist(dest).map_err(|e| e.error);
        forget_pending(&path);
        result
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(temp) = self.0.take() {
            let path = temp.to_path_buf();
            drop(temp);
            forget_pending(&path);
        }
    }
}

/// Read/write for everyone the umask allows, as a freshly created file would get; the temporary
/// file starts private.
fn default_permissions(file: &File) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    let mut permissions = file
        .metadata()
        .map(|m| m.permissions())
        .unwrap_or_else(|_| fs::Permissions::from_mode(0o600));
    permissions.set_mode(0o644);
    permissions
}

/// Whether two paths name the same existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// An anonymous temporary file beside the output (same disk), or in the temp folder; `what`
/// names it in errors.
pub fn spill_file(output: &Target, what: &str) -> Result<File> {
    let dir = match output {
        Target::File(path) => folder_of(path),
        Target::Stdout => None,
    };
    anonymous_file(dir).map_err(|e| Error::io(what, e))
}

/// An anonymous temporary file in `dir`, or in the temp folder.
pub fn anonymous_file(dir: Option<&Path>) -> io::Result<File> {
    dir.map_or_else(tempfile::tempfile, tempfile::tempfile_in)
}

/// The folder a path names a file in, unless it is the current one (no folder written).
pub fn folder_of(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

/// Whether a file name matches a glob of `*` (any run) and `?` (any one character).
pub fn glob_match(glob: &str, name: &str) -> bool {
    fn matches(g: &[char], n: &[char]) -> bool {
        match g.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| matches(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && matches(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && matches(rest, &n[1..]),
        }
    }
    let g: Vec<char> = glob.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&g, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_the_text_or_where_it_stops_being_utf8() {
        let long = format!("{{\"prompt\": \"{}é\"}}", "a".repeat(100));
        assert_eq!(utf8(long.as_bytes()), Ok(long.as_str()));
        let mut bad = long.clone().into_bytes();
        bad[60] = 0xff;
        assert_eq!(utf8(&bad).map_err(|e| e.valid_up_to()), Err(60));
        // Cut inside the last character, é.
        let cut = &long.as_bytes()[..long.len() - 3];
        assert_eq!(utf8(cut), std::str::from_utf8(cut), "a cut character");
        assert!(utf8(cut).is_err());
    }

    #[test]
    fn formats_and_compression_from_names() {
        assert_eq!(
            Format::from_path(Path::new("a/train.jsonl.zst")),
            Some(Format::Jsonl)
        );
        assert_eq!(Format::from_path(Path::new("x.JSON")), Some(Format::Json));
        assert_eq!(Format::from_path(Path::new("x.csv")), None);
        assert_eq!(
            Compression::from_path(Path::new("a.jsonl.gz")),
            Compression::Gzip
        );
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
    }

    #[test]
    fn outputs_are_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        fs::write(&path, "old\n").unwrap();
        let mut out = Output::create(&Target::File(path.clone()), Compression::None).unwrap();
        out.write_bytes(b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "old\n");
        drop(out);
        assert_eq!(fs::read_to_string(&path).unwrap(), "old\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let mut out = Output::create(&Target::File(path.clone()), Compression::None).unwrap();
        out.write_bytes(b"new\n").unwrap();
        out.finish().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
    }

    #[test]
    fn a_replacing_output_appends_a_file_a_chunk_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        fs::write(&path, "old\n").unwrap();
        let tail: String = (0..50).map(|i| format!("{{\"row\": {i}}}\n")).collect();
        let mut spill = tempfile::tempfile().unwrap();
        spill.write_all(tail.as_bytes()).unwrap();
        io::Seek::seek(&mut spill, io::SeekFrom::Start(0)).unwrap();
        let mut out = Output::create(&Target::File(path.clone()), Compression::None).unwrap();
        out.write_bytes(b"head\n").unwrap();
        // 7 bytes at a time: many chunks, the last one short.
        out.append_in(&mut spill, 7).unwrap();
        out.finish().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("head\n{tail}"));
    }

    #[test]
    fn globs() {
        assert!(glob_match("test_*", "test_prefs-00000-of-00001.parquet"));
        assert!(!glob_match("test_*", "train_prefs-00000.parquet"));
        assert!(glob_match("*.json?", "a.jsonl"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
    }
}
