//! Cuts a JSON Lines stream, or a JSON array, into blocks of whole rows that can be relabeled in
//! parallel, remembering the line number each row starts on.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::{read_head, Compression, Source};
use crate::shard::Shard;

/// Buffers handed back after use and reused, so a long run's memory stays flat: blocks are
/// allocated on one thread and freed on another, which fragments the system allocator's heap.
#[derive(Debug, Clone, Default)]
pub struct BufferPool(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl BufferPool {
    /// The most buffers kept for reuse.
    const KEEP: usize = 64;

    /// An empty buffer, reused when one is available.
    pub fn take(&self) -> Vec<u8> {
        let mut buffer = self.take_filled();
        buffer.clear();
        buffer
    }

    /// A buffer as it was given back: its bytes are initialized, so reading into them needs no
    /// zeroing first.
    fn take_filled(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default()
    }

    /// The largest buffer kept for reuse: one that grew for a huge row is freed instead of
    /// holding its memory for the rest of the run.
    const KEEP_BYTES: usize = 16 << 20;

    /// Returns a buffer for reuse.
    pub fn give(&self, buffer: Vec<u8>) {
        if buffer.capacity() == 0 || buffer.capacity() > Self::KEEP_BYTES {
            return;
        }
        if let Ok(mut buffers) = self.0.lock() {
            if buffers.len() < Self::KEEP {
                buffers.push(buffer);
            }
        }
    }
}

/// Whole rows, one per line, and where they came from.
#[derive(Debug, Default)]
pub struct Block {
    /// Rows, each ended by `\n` (the last one may lack it).
    pub data: Vec<u8>,
    /// The 1-based line number of the block's first line (JSON Lines).
    pub first_line: u64,
    /// For JSON arrays: each element's starting line in the file and its byte range in `data`.
    /// Rows are these ranges, not lines: a broken element may hold a raw newline in a string.
    pub elements: Option<Vec<(u64, std::ops::Range<usize>)>>,
}

impl Block {
    /// The rows of the block with their line numbers: lines (JSON Lines) or elements (arrays).
    pub fn rows(&self) -> Box<dyn Iterator<Item = (u64, &[u8])> + '_> {
        match &self.elements {
            Some(elements) => Box::new(
                elements
                    .iter()
                    .map(|(line, range)| (*line, &self.data[range.clone()])),
            ),
            None => {
                let data = &self.data;
                let mut start = 0;
                let mut number = self.first_line;
                Box::new(std::iter::from_fn(move || {
                    if start >= data.len() {
                        return None;
                    }
                    let end =
                        memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
                    let row = (number, &data[start..end]);
                    number += 1;
                    start = end + 1;
                    Some(row)
                }))
            }
        }
    }
}

/// Reads JSON Lines in blocks of about `block_size` bytes, cut after a newline.
pub struct LineBlocks<R> {
    reader: R,
    carry: Vec<u8>,
    next_line: u64,
    block_size: usize,
    done: bool,
    pool: BufferPool,
}

impl<R: Read> LineBlocks<R> {
    /// Starts reading; `first` are bytes already taken from the reader (by format sniffing).
    pub fn new(reader: R, first: Vec<u8>, block_size: usize) -> LineBlocks<R> {
        LineBlocks {
            reader,
            carry: first,
            next_line: 1,
            block_size: block_size.max(1),
            done: false,
            pool: BufferPool::default(),
        }
    }

    /// Numbers lines from `line` (a reader that starts inside a file).
    pub fn starting_at_line(mut self, line: u64) -> LineBlocks<R> {
        self.next_line = line;
        self
    }

    /// Takes block buffers from `pool` (give them back when done with a block).
    pub fn with_pool(mut self, pool: BufferPool) -> LineBlocks<R> {
        self.pool = pool;
        self
    }

    fn next_block(&mut self) -> io::Result<Option<Block>> {
        if self.done {
            return Ok(None);
        }
        // Bytes of a reused buffer are read into as they are (zeroing them first cost 2-6% of
        // a relabel); it grows only when a block needs more.
        let mut buf = self.pool.take_filled();
        let mut filled = self.carry.len();
        if buf.len() < filled {
            buf.resize(filled, 0);
        }
        buf[..filled].copy_from_slice(&self.carry);
        self.carry.clear();
        // Only search for the last newline in bytes not searched before: one huge line is read in
        // many chunks.
        let mut searched = 0;
        loop {
            if filled >= self.block_size && filled > searched {
                if let Some(i) = memchr::memrchr(b'\n', &buf[searched..filled]) {
                    let cut = searched + i + 1;
                    self.carry.extend_from_slice(&buf[cut..filled]);
                    buf.truncate(cut);
                    return Ok(Some(self.emit(buf)));
                }
                searched = filled;
            }
            // Up to the block size (reads of 64 KiB at least); past it (a line longer than a
            // block), by half again.
            let first = self.block_size.max(64 * 1024);
            let end = match filled < first {
                true => first,
                false => filled + self.block_size.max(filled / 2).max(64 * 1024),
            };
            if buf.len() < end {
                buf.resize(end, 0);
            }
            let n = read_some(&mut self.reader, &mut buf[filled..end])?;
            filled += n;
            if n == 0 {
                self.done = true;
                buf.truncate(filled);
                return Ok((!buf.is_empty()).then(|| self.emit(buf)));
            }
        }
    }

    fn emit(&mut self, data: Vec<u8>) -> Block {
        let first_line = self.next_line;
        self.next_line += memchr::memchr_iter(b'\n', &data).count() as u64;
        Block {
            data,
            first_line,
            elements: None,
        }
    }
}

impl<R: Read> Iterator for LineBlocks<R> {
    type Item = io::Result<Block>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

/// Reads into `buf`, retrying on interruption.
fn read_some<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads a top-level JSON array element by element, as blocks of single-line rows.
///
/// Whitespace outside strings is dropped from each element (JSON Lines can't hold a pretty-printed
/// row); everything inside strings is kept byte for byte.
pub struct ArrayBlocks<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    line: u64,
    state: ArrayState,
    block_size: usize,
    name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    /// Before the opening bracket.
    Start,
    /// Between elements, expecting a value (or `]` right after `[`).
    Before { first: bool },
    /// After an element, expecting `,` or `]`.
    After,
    /// After the closing bracket.
    End,
}

impl<R: Read> ArrayBlocks<R> {
    /// Starts reading; `first` are bytes already taken from the reader; `name` goes in errors.
    pub fn new(reader: R, first: Vec<u8>, block_size: usize, name: &str) -> ArrayBlocks<R> {
        ArrayBlocks {
            reader,
            buf: first,
            pos: 0,
            line: 1,
            state: ArrayState::Start,
            block_size: block_size.max(1),
            name: name.to_string(),
        }
    }

    /// The next byte, refilling the buffer as needed; `None` at the end of input.
    fn byte(&mut self) -> io::Result<Option<u8>> {
        if self.pos == self.buf.len() {
            self.buf.resize(256 * 1024, 0);
            let n = read_some(&mut self.reader, &mut self.buf)?;
            self.buf.truncate(n);
            self.pos = 0;
            if n == 0 {
                return Ok(None);
            }
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
        }
        Ok(Some(b))
    }

    fn bad(&self, what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            ArrayError {
                name: self.name.clone(),
                line: self.line,
                what: what.to_string(),
            },
        )
    }

    /// Skips whitespace and returns the next other byte.
    fn token(&mut self) -> io::Result<Option<u8>> {
        while let Some(b) = self.byte()? {
            if !b.is_ascii_whitespace() {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    /// Copies one element (its first byte already read) into `out`, dropping whitespace outside
    /// strings; stops after the element, leaving the following `,`/`]` unread.
    fn element(&mut self, first: u8, out: &mut Vec<u8>) -> io::Result<()> {
        let mut depth = 0usize;
        let mut b = first;
        loop {
            match b {
                b'"' => {
                    out.push(b);
                    loop {
                        let c = self
                            .byte()?
                            .ok_or_else(|| self.bad("the array ends inside a string"))?;
                        out.push(c);
                        if c == b'\\' {
                            let e = self
                                .byte()?
                                .ok_or_else(|| self.bad("the array ends inside a string"))?;
                            out.push(e);
                        } else if c == b'"' {
                            break;
                        }
                    }
                }
                b'{' | b'[' => {
                    depth += 1;
                    out.push(b);
                }
                b'}' | b']' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| self.bad("unbalanced brackets in the array"))?;
                    out.push(b);
                }
                b' ' | b'\t' | b'\n' | b'\r' => {}
                _ => out.push(b),
            }
            if depth == 0 {
                // A scalar element runs until a delimiter; containers end at their bracket.
                if matches!(b, b'}' | b']' | b'"') {
                    return Ok(());
                }
                match self.peek()? {
                    Some(b',' | b']') | None => return Ok(()),
                    Some(c) if c.is_ascii_whitespace() => return Ok(()),
                    _ => {}
                }
            }
            b = self
                .byte()?
                .ok_or_else(|| self.bad("the array ends early (truncated?)"))?;
        }
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        let b = self.byte()?;
        if b.is_some() {
            self.pos -= 1;
            if b == Some(b'\n') {
                self.line -= 1;
            }
        }
        Ok(b)
    }

    fn next_block(&mut self) -> io::Result<Option<Block>> {
        let mut block = Block {
            elements: Some(Vec::new()),
            ..Block::default()
        };
        while block.data.len() < self.block_size {
            match self.state {
                ArrayState::End => break,
                ArrayState::Start => match self.token()? {
                    Some(b'[') => self.state = ArrayState::Before { first: true },
                    _ => return Err(self.bad("expected a JSON array starting with [")),
                },
                ArrayState::Before { first } => match self.token()? {
                    Some(b']') if first => self.state = ArrayState::End,
                    Some(b']') => return Err(self.bad(TRAILING_COMMA)),
                    Some(b',') => return Err(self.bad("expected an array element, found ,")),
                    Some(b) => {
                        let line = self.line;
                        let start = block.data.len();
                        self.element(b, &mut block.data)?;
                        let end = block.data.len();
                        block.data.push(b'\n');
                        block
                            .elements
                            .as_mut()
                            .expect("set above")
                            .push((line, start..end));
                        self.state = ArrayState::After;
                    }
                    None => return Err(self.bad("the array ends early (truncated?)")),
                },
                ArrayState::After => match self.token()? {
                    Some(b',') => self.state = ArrayState::Before { first: false },
                    Some(b']') => self.state = ArrayState::End,
                    Some(_) => return Err(self.bad("expected , or ] between array elements")),
                    None => return Err(self.bad("the array ends early (truncated?)")),
                },
            }
        }
        if self.state == ArrayState::End && block.data.is_empty() {
            if self.token()?.is_some() {
                return Err(self.bad("unexpected data after the array"));
            }
            return Ok(None);
        }
        Ok(Some(block))
    }
}

impl<R: Read> Iterator for ArrayBlocks<R> {
    type Item = io::Result<Block>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

/// A `]` where an array element belongs.
const TRAILING_COMMA: &str = "a comma before the array's closing ] (JSON allows no trailing comma)";

/// What is wrong in a JSON array, and on which line.
#[derive(Debug)]
struct ArrayError {
    name: String,
    line: u64,
    what: String,
}

impl std::fmt::Display for ArrayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.name, self.line, self.what)
    }
}

impl std::error::Error for ArrayError {}

/// Turns a reading error into the library error, keeping our own "file:line: ..." messages.
pub fn read_error(name: &str, e: io::Error) -> Error {
    if let Some(array) = e.get_ref().and_then(|e| e.downcast_ref::<ArrayError>()) {
        return Error::Format {
            path: format!("{name}:{}", array.line),
            detail: array.what.clone(),
        };
    }
    if e.kind() == io::ErrorKind::InvalidData {
        Error::Format {
            path: name.to_string(),
            detail: e.to_string(),
        }
    } else {
        Error::io(name, e)
    }
}

/// Compressions raug doesn't read, by magic number: their name and the command that unpacks them.
const OTHER_COMPRESSIONS: [(&[u8], &str, &str); 4] = [
    (b"BZh", "bzip2", "bzcat"),
    (b"\xFD7zXZ\0", "xz", "xzcat"),
    (b"\x04\x22\x4D\x18", "lz4", "lz4cat"),
    (b"PK\x03\x04", "zip", "unzip -p"),
];

/// A UTF-8 byte-order mark (Windows tools write one) is dropped; UTF-16, other compressions,
/// Arrow IPC and Parquet bytes (inside the compression `around` them) are named for what they
/// are instead of failing as invalid JSON.
fn check_encoding(head: &mut Vec<u8>, source: &Source, around: Compression) -> Result<()> {
    if head.starts_with(b"\xEF\xBB\xBF") {
        head.drain(..3);
        // The mark may have hidden that only whitespace follows; the readers take it as is.
        return Ok(());
    }
    let utf16 = head.starts_with(b"\xFF\xFE")
        || head.starts_with(b"\xFE\xFF")
        || (head.len() >= 2 && head[0] != 0 && head[1] == 0)
        || (head.len() >= 2 && head[0] == 0 && head[1] != 0);
    let compression = OTHER_COMPRESSIONS
        .iter()
        .find(|(magic, ..)| head.starts_with(magic));
    let detail = if utf16 {
        "the file is UTF-16, and raug reads UTF-8 JSON: convert it first (iconv -f UTF-16 -t UTF-8)"
            .to_string()
    } else if let Some((_, kind, unpack)) = compression {
        format!(
            "the file is {kind}-compressed, and raug reads gzip and zstd: decompress it first \
             (`{unpack} FILE | raug COMMAND -`)"
        )
    } else if head.starts_with(b"ARROW1") || head.starts_with(b"\xFF\xFF\xFF\xFF") {
        // The Arrow IPC file magic, or a stream's first message (its continuation marker).
        crate::io::ARROW_IPC.to_string()
    } else if head.starts_with(b"PAR1") {
        if around != Compression::None {
            around.parquet_inside(&source.name(), source.is_stdin())
        } else {
            // Standard input whose first read brought too few bytes to tell.
            "these are Parquet bytes, read as JSON: name them with --input-format parquet"
                .to_string()
        }
    } else {
        return Ok(());
    };
    Err(Error::Format {
        path: source.name(),
        detail,
    })
}

/// Opens a source and picks the block reader by its first byte: `[` is a JSON array, anything
/// else JSON Lines.
pub fn blocks_of(
    source: &Source,
    block_size: usize,
    counter: Arc<AtomicU64>,
    buffers: &BufferPool,
) -> Result<Box<dyn Iterator<Item = io::Result<Block>> + Send>> {
    let (mut reader, compression) = source.open_sniffed(counter)?;
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
    check_encoding(&mut head, source, compression)?;
    let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
    Ok(if first == Some(b'[') {
        Box::new(ArrayBlocks::new(reader, head, block_size, &source.name()))
    } else {
        Box::new(LineBlocks::new(reader, head, block_size).with_pool(buffers.clone()))
    })
}

/// The blocks one shard reads of a source starting at byte `base` of `total` input bytes (see
/// [`crate::shard`]): of JSON Lines, the lines that start in the shard's range, numbered as in
/// the file; of a file that can't be split (compressed, a JSON array, empty), all of it if the
/// shard owns its first byte. `None` when the shard reads nothing of it.
pub fn shard_blocks(
    source: &Source,
    base: u64,
    total: u64,
    shard: &Shard,
    block_size: usize,
    counter: Arc<AtomicU64>,
    buffers: &BufferPool,
) -> Result<Option<Blocks>> {
    let Source::File(path) = source else {
        return Err(Shard::unsized_input(&source.name()));
    };
    let name = source.name();
    let mut file = File::open(path).map_err(|e| Error::io(&name, e))?;
    let size = file.metadata().map_err(|e| Error::io(&name, e))?.len();
    let mut head = read_head(&mut file, 64 * 1024).map_err(|e| read_error(&name, e))?;
    let compressed = Compression::sniff(&head) != Compression::None;
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    let array = !compressed
        && head[if bom { 3 } else { 0 }..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'[');
    if compressed || array || size == 0 {
        return if shard.owns(total, base) {
            blocks_of(source, block_size, counter, buffers).map(Some)
        } else {
            Ok(None)
        };
    }
    check_encoding(&mut head, source, Compression::None)?;
    let range = shard.range(total);
    let local = range.start.saturating_sub(base)..range.end.saturating_sub(base).min(size);
    let span = line_span(&mut file, size, local).map_err(|e| read_error(&name, e))?;
    let Some((mut start, end, first_line)) = span else {
        return Ok(None);
    };
    if start == 0 && bom {
        start = 3;
    }
    file.seek(SeekFrom::Start(start))
        .map_err(|e| read_error(&name, e))?;
    let reader = crate::io::counted(Box::new(file.take(end - start)), counter);
    Ok(Some(Box::new(
        LineBlocks::new(reader, Vec::new(), block_size)
            .starting_at_line(first_line)
            .with_pool(buffers.clone()),
    )))
}

/// Blocks of rows, as a reader makes them.
pub type Blocks = Box<dyn Iterator<Item = io::Result<Block>> + Send>;

/// The lines of a file of `size` bytes that start in `range`: the first one's start, the last
/// one's end (after its newline), and the first one's line number. `None` when no line starts
/// in the range.
fn line_span(file: &mut File, size: u64, range: Range<u64>) -> io::Result<Option<(u64, u64, u64)>> {
    if range.start >= range.end || range.start >= size {
        return Ok(None);
    }
    // A line starts at 0 and after every newline.
    let start = match range.start {
        0 => 0,
        at => {
            if byte_at(file, at - 1)? == b'\n' {
                at
            } else {
                next_newline(file, at)?.map_or(size, |nl| nl + 1)
            }
        }
    };
    if start >= range.end || start >= size {
        return Ok(None);
    }
    // The last line starting in the range holds byte `range.end - 1`; it ends at its newline.
    let end = match range.end {
        end if end >= size => size,
        end => next_newline(file, end - 1)?.map_or(size, |nl| nl + 1),
    };
    Ok(Some((start, end, 1 + newlines_before(file, start)?)))
}

fn byte_at(file: &mut File, at: u64) -> io::Result<u8> {
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut byte)?;
    Ok(byte[0])
}

/// The offset of the first newline at or after `from`.
fn next_newline(file: &mut File, from: u64) -> io::Result<Option<u64>> {
    file.seek(SeekFrom::Start(from))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = from;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(Some(at + i as u64));
        }
        at += n as u64;
    }
}

/// How many newlines the first `end` bytes hold: a shard names lines as the file numbers them,
/// so it reads the bytes before its range once (at memchr's speed, a few GB/s).
fn newlines_before(file: &mut File, end: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = (&mut *file).take(end);
    let mut buf = vec![0u8; 1 << 20];
    let mut count = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(count);
        }
        count += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_bytes_read_as_json_say_how_to_read_them() {
        // Standard input whose first read was too short to show Parquet's magic number, and
        // Parquet found inside compression.
        let message = |around| {
            let mut head = b"PAR1\x15\x04".to_vec();
            match check_encoding(&mut head, &Source::Stdin, around) {
                Err(Error::Format { detail, .. }) => detail,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            message(Compression::None),
            "these are Parquet bytes, read as JSON: name them with --input-format parquet"
        );
        assert_eq!(
            message(Compression::Zstd),
            "these are zstd-compressed Parquet bytes, and raug reads Parquet as it is written \
             (Parquet compresses its own pages): decompress them first (`zstd -dc FILE | raug \
             COMMAND -`)"
        );
    }

    #[test]
    fn the_pool_reuses_block_sized_buffers_and_frees_huge_ones() {
        let pool = BufferPool::default();
        pool.give(Vec::with_capacity(1 << 20));
        pool.give(Vec::with_capacity(64 << 20));
        pool.give(Vec::new());
        let reused = pool.take();
        assert_eq!((reused.len(), reused.capacity()), (0, 1 << 20));
        assert_eq!(
            pool.take().capacity(),
            0,
            "only the block-sized buffer was kept"
        );
    }

    #[test]
    fn line_blocks_cut_at_newlines_and_count_lines() {
        let input = b"{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}".to_vec();
        let blocks: Vec<Block> = LineBlocks::new(&input[3..], input[..3].to_vec(), 8)
            .collect::<io::Result<_>>()
            .unwrap();
        let joined: Vec<u8> = blocks.iter().flat_map(|b| b.data.clone()).collect();
        assert_eq!(joined, input);
        assert_eq!(blocks[0].data, b"{\"a\":1}\n{\"a\":2}\n\n");
        assert_eq!(blocks[0].first_line, 1);
        assert_eq!(blocks[1].first_line, 4);
        assert_eq!(blocks[1].data, b"{\"a\":3}");
    }

    #[test]
    fn arrays_become_single_line_rows() {
        let input = b"[\n  {\"a\": \"x y\\\"]\"},\n  {\"b\": [1, 2]}, 3\n]\n";
        let blocks: Vec<Block> = ArrayBlocks::new(&input[..], Vec::new(), 1 << 20, "t.json")
            .collect::<io::Result<_>>()
            .unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            String::from_utf8_lossy(&blocks[0].data),
            "{\"a\":\"x y\\\"]\"}\n{\"b\":[1,2]}\n3\n"
        );
        let rows: Vec<(u64, &[u8])> = blocks[0].rows().collect();
        assert_eq!(
            rows,
            [
                (2, &b"{\"a\":\"x y\\\"]\"}"[..]),
                (3, &b"{\"b\":[1,2]}"[..]),
                (3, &b"3"[..])
            ]
        );
    }

    /// Found by the fuzzer: a raw newline inside a (broken) string of an array element made the
    /// block hold more lines than elements. Rows are element ranges, so it stays one row.
    #[test]
    fn raw_newline_in_an_array_element_stays_one_row() {
        let input = b"[{\"a\n\": 1}, 2]";
        let blocks: Vec<Block> = ArrayBlocks::new(&input[..], Vec::new(), 1 << 20, "t.json")
            .collect::<io::Result<_>>()
            .unwrap();
        let rows: Vec<(u64, &[u8])> = blocks[0].rows().collect();
        assert_eq!(rows, [(1, &b"{\"a\n\":1}"[..]), (2, &b"2"[..])]);
    }

    #[test]
    fn truncated_arrays_are_errors() {
        let input = b"[{\"a\": 1}, {\"b\": ";
        let err = ArrayBlocks::new(&input[..], Vec::new(), 1 << 20, "t.json")
            .collect::<io::Result<Vec<_>>>()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.json:1: the array ends early (truncated?)"
        );
        let empty: Vec<Block> = ArrayBlocks::new(&b" [ ] "[..], Vec::new(), 8, "t.json")
            .collect::<io::Result<_>>()
            .unwrap();
        assert!(empty.is_empty());
    }
}
