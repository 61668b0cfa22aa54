//! Flat pairs from JSON rows (one row per response): streamed group by group when the input
//! keeps each group's rows together, else sorted into partitions on disk first, so memory
//! holds one group (or one partition), never the input. Rows are read (parsed) on every worker
//! of the current rayon pool, a chunk or a partition at a time.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{Map, Value};

use super::group::{fingerprint, spool_bytes, Grouping, Joined, LEFT_OUT};
use super::rules::{
    bad, choose, is_number, object_of, pair_line, pandas_index, text_and_score, text_of, PairSink,
    PairSpec, PairSummary, RawResponse, PROMPT,
};
use crate::error::{Error, Location, Position, Reason, Result, RowError, Skips};
use crate::fields::FieldPath;
use crate::io::{spill_file, Target};
use crate::json::object::{lookup, same_value, span, Object};
use crate::json::row::Shape;
use crate::rows::Inputs;

const TEMP: &str = "temporary file of pairs";

/// Bytes of rows read on the workers at once while the rows before are taken in order (small
/// enough to stay in a core's cache).
const CHUNK: usize = 256 << 10;

/// One input row of a response, read: its fields as byte ranges of the row's text, spliced
/// into the pairs as they are written (nothing is parsed into values or serialized again). The
/// text is borrowed where the row is read from a partition's buffer.
struct FlatRow<'a> {
    /// The row's input bytes.
    bytes: usize,
    /// The group key as the row writes it.
    key: Range<usize>,
    line: Text<'a>,
    prompt: Range<usize>,
    text: Range<usize>,
    score: f64,
    /// The score as the row writes it.
    score_text: Range<usize>,
    /// Numeric fields of the row, in order (the score field included).
    numbers: Vec<(String, Range<usize>)>,
    /// The key (when it isn't the prompt), then every other field but numbers.
    context: Vec<(String, Range<usize>)>,
}

/// A row's text: borrowed where it was read, its own, or its range of a block of rows shared by
/// them (kept without a copy of its own).
enum Text<'a> {
    At(&'a str),
    Own(String),
    Shared(Arc<String>, Range<usize>),
}

impl Text<'_> {
    fn as_str(&self) -> &str {
        match self {
            Text::At(text) => text,
            Text::Own(text) => text,
            Text::Shared(block, range) => &block[range.clone()],
        }
    }
}

impl FlatRow<'_> {
    fn raw(&self, range: &Range<usize>) -> &str {
        &self.line.as_str()[range.clone()]
    }

    /// The row with a text of its own, to keep.
    fn into_owned(mut self) -> FlatRow<'static> {
        let line = match std::mem::replace(&mut self.line, Text::Own(String::new())) {
            Text::At(text) => Text::Own(text.to_owned()),
            Text::Own(text) => Text::Own(text),
            Text::Shared(block, range) => Text::Shared(block, range),
        };
        self.with_line(line)
    }

    /// The row, read from `range` of `block`, keeping that range of it.
    fn shared(self, block: &Arc<String>, range: Range<usize>) -> FlatRow<'static> {
        self.with_line(Text::Shared(Arc::clone(block), range))
    }

    fn with_line<'b>(self, line: Text<'b>) -> FlatRow<'b> {
        FlatRow {
            bytes: self.bytes,
            key: self.key,
            line,
            prompt: self.prompt,
            text: self.text,
            score: self.score,
            score_text: self.score_text,
            numbers: self.numbers,
            context: self.context,
        }
    }

    /// The row's response, for a pair line.
    fn response(&self) -> RawResponse<'_> {
        RawResponse {
            text: self.raw(&self.text),
            score: self.score,
            score_text: self.raw(&self.score_text),
            numbers: self
                .numbers
                .iter()
                .map(|(name, range)| (name.as_str().into(), self.raw(range)))
                .collect(),
        }
    }

    /// The key as the data writes it, written one way (see [`canonical`]).
    fn key_text(&self) -> Cow<'_, str> {
        canonical(self.raw(&self.key))
    }

    /// The 128 bits that stand for the row's group: its key's, and its prompt's too under
    /// `--split-by-prompt`. Only the first reading needs them (rows read again know their
    /// group).
    fn group_print(&self, spec: &PairSpec) -> u128 {
        let key = self.key_text();
        if spec.split_by_prompt {
            fingerprint(&[key.as_bytes(), canonical(self.raw(&self.prompt)).as_bytes()])
        } else {
            fingerprint(&[key.as_bytes()])
        }
    }

    /// A print of the row's context fields, names and raw values in order.
    fn context_print(&self) -> u128 {
        let parts: Vec<&[u8]> = self
            .context
            .iter()
            .flat_map(|(name, range)| [name.as_bytes(), self.raw(range).as_bytes()])
            .collect();
        fingerprint(&parts)
    }

    fn context(&self, name: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| self.raw(r))
    }
}

/// A raw JSON key written one way when writers differ in how they write it, so that keys meaning
/// the same group together as they do in Parquet: a string with an escape another writer might
/// not have used (`\u00e9` for `é`, `\/` for `/`) as serde_json writes it, a number written
/// as a float that holds an integer (`1.0`, `1e3`, as pandas writes ids) as that integer.
/// Integers stay as written (ids past 2^53 must not meet as floats); anything else as it is.
fn canonical(raw: &str) -> Cow<'_, str> {
    if raw.starts_with('"') && (raw.contains("\\u") || raw.contains("\\/")) {
        if let Ok(text) = serde_json::from_str::<String>(raw) {
            return Cow::Owned(serde_json::to_string(&text).expect("strings always serialize"));
        }
    }
    let float = raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'));
    if float && raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        if let Ok(x) = raw.parse::<f64>() {
            if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
                return Cow::Owned(format!("{}", x as i64));
            }
        }
    }
    Cow::Borrowed(raw)
}

/// Two raw JSON values that mean the same: equal values, or keys written one way by
/// [`canonical`].
fn same(a: &str, b: &str) -> bool {
    same_value(a, b) || canonical(a) == canonical(b)
}

/// Reads a flat row from its bytes where they are: its group key, prompt, response and
/// context, or why it can't be paired.
fn read_in<'a>(
    data: &'a [u8],
    spec: &PairSpec,
    key_path: &FieldPath,
) -> std::result::Result<FlatRow<'a>, RowError> {
    let line = crate::io::utf8(data).map_err(|_| text_of(data).expect_err("not UTF-8"))?;
    read_line(Text::At(line), spec, key_path)
}

/// [`read_in`] of a row's text.
fn read_line<'a>(
    line: Text<'a>,
    spec: &PairSpec,
    key_path: &FieldPath,
) -> std::result::Result<FlatRow<'a>, RowError> {
    let whole = line.as_str();
    let bytes = whole.len();
    let text = whole.trim_end();
    let object = object_of(text)?;
    let missing =
        |path: &FieldPath, what: &str| RowError::field(Reason::MissingField, path.as_str(), what);
    let key = lookup(&object, key_path)?.ok_or_else(|| missing(key_path, "missing"))?;
    let prompt_path = spec.prompt.as_ref().unwrap_or(key_path);
    let prompt = lookup(&object, prompt_path)?.ok_or_else(|| missing(prompt_path, "missing"))?;
    let (response, score, score_text) = text_and_score(&object, spec, "the row")?;
    let skip: Vec<&FieldPath> = [Some(key_path), spec.prompt.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    let used = [key_path, prompt_path, &spec.text, &spec.score];
    let mut numbers = Vec::new();
    let mut context = Vec::new();
    if key_path != prompt_path {
        context.push((key_path.parts()[0].clone(), span(text, key)));
    }
    for (name, value) in object.entries().filter(|(name, _)| !pandas_index(name)) {
        if is_number(value) {
            if !skip.iter().any(|p| p.parts() == [name]) {
                numbers.push((name.to_string(), span(text, value)));
            }
        } else if !used.iter().any(|p| p.parts()[0] == name) {
            context.push((name.to_string(), span(text, value)));
        }
    }
    let key = span(text, key);
    let score_text = span(text, score_text);
    let (prompt, text) = (span(text, prompt), span(text, response));
    Ok(FlatRow {
        bytes,
        key,
        prompt,
        text,
        score,
        score_text,
        numbers,
        context,
        line,
    })
}

/// Where pairs go: each as a JSON line, with the location of its group's first row.
type Emit<'e> = &'e mut dyn PairSink;

/// Builds flat pairs, each as a JSON line through `emit`, in order of each group's first row.
/// Rows are read on the current rayon pool's workers.
pub(super) fn flat(
    source: &Inputs,
    spec: &PairSpec,
    summary: &mut PairSummary,
    emit: Emit,
) -> Result<()> {
    if spec.group_by.is_none() {
        return Err(Error::Usage(
            "name the responses: --responses PATH (nested) or --group-by PATH (flat)".to_string(),
        ));
    }
    let mut blocks = source.row_blocks_ahead()?.peekable();
    // The named fields, and the prompt field unless named, as the first row that is an object
    // says.
    let first = match blocks.peek() {
        Some(Ok(block)) => block.rows().find_map(|(_, data)| {
            let object = Object::parse(std::str::from_utf8(data).ok()?).ok()?;
            Some((spec.in_row(&Shape(&object)), object.get(PROMPT).is_some()))
        }),
        _ => None,
    };
    let spec = &match first {
        Some((spec, has_prompt)) => spec.with_flat_prompt(has_prompt),
        None => spec.clone(),
    };
    let key_path = spec
        .group_by
        .as_ref()
        .expect("checked above, kept by in_row");
    // Standard input can't be read twice: its rows are kept in case the groups aren't together.
    let mut tee = (!source.rereadable()).then(|| Spool::new(spec.memory as usize, &spec.temp));
    let mut first = FirstReading {
        spec,
        grouping: Grouping::default(),
        // Pairs go out as they are made if the output can be started again, should the
        // groups turn out not to be together or a context field differ after pairs went out.
        stream: Some(Pairer::new(spec, emit.can_rewind())),
        groups: Vec::new(),
        contexts: Vec::new(),
        context_differs: false,
        skips: Skips::default(),
    };
    // A chunk's rows are read (on every worker) while the chunk before is taken in order.
    let mut taking: Vec<ReadRow> = Vec::new();
    for block in blocks {
        let block = match block {
            Ok(block) => block,
            Err(e) => {
                // The rows before it come first.
                first.take(taking, emit)?;
                return Err(e);
            }
        };
        let (rows, data) = block.into_ranges();
        summary.rows_in += rows.len() as u64;
        if let Some(tee) = &mut tee {
            for (location, range) in &rows {
                tee.push(0, location, &data[range.clone()])?;
            }
        }
        // Rows kept while the stream goes on share their block's text, checked once.
        let block = match String::from_utf8(data) {
            Ok(text) => Block::Text(Arc::new(text)),
            Err(e) => Block::Bytes(e.into_bytes()),
        };
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let (mut chunk, mut bytes) = (Vec::new(), 0);
            while bytes < CHUNK {
                let Some(row) = rows.next() else { break };
                bytes += row.1.len();
                chunk.push(row);
            }
            let before = std::mem::take(&mut taking);
            // Once the stream has stopped it never starts again: rows are only numbered.
            let keep = first.stream.is_some();
            let (read, taken) = rayon::join(
                || read_rows(chunk, &block, spec, key_path, keep),
                || first.take(before, &mut *emit),
            );
            taken?;
            taking = read;
        }
        // The block's buffer is read into again unless rows kept for pairing still share it.
        match block {
            Block::Text(text) => {
                if let Ok(text) = Arc::try_unwrap(text) {
                    source.buffers().give(text.into_bytes());
                }
            }
            Block::Bytes(data) => source.buffers().give(data),
        }
    }
    first.take(taking, emit)?;
    summary.skips.add(std::mem::take(&mut first.skips));
    let FirstReading {
        grouping,
        stream,
        groups,
        context_differs,
        ..
    } = first;
    if let Some(pairer) = stream {
        return pairer.finish(summary, emit);
    }
    // One partition stays in memory; more go to disk, and two are in memory at once (one
    // paired while the next is read).
    let mut partitions = grouping.partitions(spec.memory);
    if partitions.len() > 1 {
        partitions = grouping.partitions(spec.memory / 2);
    }
    let limit = if partitions.len() == 1 { usize::MAX } else { 0 };
    let mut parts: Vec<Spool> = (0..partitions.len())
        .map(|_| Spool::new(limit, &spec.temp))
        .collect();
    let mut groups = groups.into_iter();
    let mut scatter = |location: &Location, data: &[u8]| -> Result<()> {
        match groups.next() {
            None => Err(changed(location)),
            // Rows that can't be paired were counted above.
            Some(LEFT_OUT) => Ok(()),
            Some(g) => parts[partitions.of(g)].push(g, location, data),
        }
    };
    match tee {
        Some(tee) => tee.drain(|_, location, data| scatter(&location, &data))?,
        // Rows go from the blocks they were read in to their partitions, not copied one by one.
        None => {
            for block in source.row_blocks_ahead()? {
                for (location, data) in block?.rows() {
                    scatter(&location, data)?;
                }
            }
        }
    }
    if context_differs {
        pair_held(parts, spec, key_path, summary, emit)
    } else {
        pair_at_once(parts, spec, key_path, summary, emit)
    }
}

/// Pairs the partitions' groups when no group's rows disagree on a context field: every pair
/// is whole once made, so groups are read and paired on every worker and their pairs go out in
/// order.
fn pair_at_once(
    parts: Vec<Spool>,
    spec: &PairSpec,
    key_path: &FieldPath,
    summary: &mut PairSummary,
    emit: Emit,
) -> Result<()> {
    let mut send = |made: Vec<Result<GroupPairs>>| -> Result<()> {
        for group in made {
            let (location, lines, pairs) = group?;
            summary.prompts += 1;
            summary.no_pair += u64::from(pairs == 0);
            summary.pairs += pairs;
            // The group's pairs at once: they share its location.
            if pairs > 0 {
                emit.emit(lines.as_bytes(), &location)?;
            }
        }
        Ok(())
    };
    // A partition is paired in one buffer while the next is read into the other (each buffer's
    // pages are touched once, not a row's each time).
    let (mut buffer, mut next_buffer) = (Vec::new(), Vec::new());
    let mut parts = parts.into_iter();
    let mut rows = match parts.next() {
        Some(part) => part.read_all(&mut buffer)?,
        None => return Ok(()),
    };
    let mut made: Vec<Result<GroupPairs>> = Vec::new();
    loop {
        let (following, current) = (parts.next(), std::mem::take(&mut rows));
        let before = std::mem::take(&mut made);
        let (read, paired) = rayon::join(
            || {
                following
                    .map(|part| part.read_all(&mut next_buffer))
                    .transpose()
            },
            || -> Result<Vec<Result<GroupPairs>>> {
                let mut made = before;
                // A batch of groups is paired (on every worker) while the pairs of the batch
                // before go out.
                for groups in group_batches(current) {
                    let before = std::mem::take(&mut made);
                    let (next, sent) = rayon::join(
                        || pair_groups(groups, &buffer, spec, key_path),
                        || send(before),
                    );
                    sent?;
                    made = next;
                }
                Ok(made)
            },
        );
        made = paired?;
        match read? {
            Some(next) => {
                rows = next;
                std::mem::swap(&mut buffer, &mut next_buffer);
            }
            None => break,
        }
    }
    send(made)
}

/// A group's pairs: the location of its first row, its pairs as JSON lines, and how many.
type GroupPairs = (Location, String, u64);

/// Reads and pairs groups, their rows in `buffer`, on every worker: each group's pairs, or the
/// first error of its rows.
fn pair_groups(
    groups: Vec<Vec<Held>>,
    buffer: &[u8],
    spec: &PairSpec,
    key_path: &FieldPath,
) -> Vec<Result<GroupPairs>> {
    groups
        .into_par_iter()
        .map(|rows| {
            let (g, location) = (rows[0].0, rows[0].1.clone());
            let mut flats = Vec::with_capacity(rows.len());
            for (_, at, range) in rows {
                let flat = read_in(&buffer[range], spec, key_path).map_err(|p| bad(&at, p))?;
                if let Some(first) = flats.first() {
                    same_prompt(first, &flat, spec, &at)?;
                }
                flats.push(flat);
            }
            let mut lines = String::new();
            let pairs = group_pairs(g, &flats, spec, &HashSet::new(), &mut lines).len();
            Ok((location, lines, pairs as u64))
        })
        .collect()
}

/// Pairs the partitions' groups when some group's rows may disagree on a context field: rows
/// are read on every worker, paired in order, and the pairs held until every group is read.
fn pair_held(
    parts: Vec<Spool>,
    spec: &PairSpec,
    key_path: &FieldPath,
    summary: &mut PairSummary,
    emit: Emit,
) -> Result<()> {
    let mut pairer = Pairer::new(spec, false);
    let mut buffer = Vec::new();
    for part in parts {
        let rows = part.read_all(&mut buffer)?;
        let read: Vec<_> = rows
            .into_par_iter()
            .map(|(g, location, range)| {
                let flat = read_in(&buffer[range], spec, key_path).map(FlatRow::into_owned);
                (g, flat, location)
            })
            .collect();
        for (g, flat, location) in read {
            let flat = flat.map_err(|p| bad(&location, p))?;
            pairer.push(g, flat, &location, emit)?;
        }
    }
    pairer.finish(summary, emit)
}

/// A row read: where it is, and what the first reading needs of it, or why it can't be paired.
type ReadRow = (Location, std::result::Result<Seen, RowError>);

/// What the first reading needs of a row: its group key, size and context print, and the row
/// itself while the groups are being paired as they come.
struct Seen {
    key: u128,
    bytes: usize,
    print: u128,
    row: Option<FlatRow<'static>>,
}

/// A block of rows as read: its text when all of it is UTF-8, else its bytes (each row is then
/// checked alone, so that the error names the row that isn't).
enum Block {
    Text(Arc<String>),
    Bytes(Vec<u8>),
}

/// Reads rows of `block` on every worker of the current rayon pool, keeping them if `keep`
/// (else only what the first reading needs).
fn read_rows(
    rows: Vec<(Location, Range<usize>)>,
    block: &Block,
    spec: &PairSpec,
    key_path: &FieldPath,
    keep: bool,
) -> Vec<ReadRow> {
    rows.into_par_iter()
        .map(|(location, range)| {
            let read = match block {
                Block::Text(text) => {
                    read_line(Text::At(&text[range.clone()]), spec, key_path).map(|flat| {
                        Seen::of(
                            flat,
                            spec,
                            keep.then_some(|f: FlatRow| f.shared(text, range)),
                        )
                    })
                }
                Block::Bytes(data) => read_in(&data[range], spec, key_path)
                    .map(|flat| Seen::of(flat, spec, keep.then_some(FlatRow::into_owned))),
            };
            (location, read)
        })
        .collect()
}

impl Seen {
    /// What the first reading needs of `flat`, and the row `keep` makes of it, if any.
    fn of<'a>(
        flat: FlatRow<'a>,
        spec: &PairSpec,
        keep: Option<impl FnOnce(FlatRow<'a>) -> FlatRow<'static>>,
    ) -> Seen {
        Seen {
            key: flat.group_print(spec),
            bytes: flat.bytes,
            print: flat.context_print(),
            row: keep.map(|keep| keep(flat)),
        }
    }
}

/// The first reading of flat rows: numbers their groups and, while each group's rows come
/// together, pairs them as they come.
struct FirstReading<'s> {
    spec: &'s PairSpec,
    grouping: Grouping,
    /// Pairs while the groups come together; `None` once one doesn't.
    stream: Option<Pairer<'s>>,
    /// Each row's group (`LEFT_OUT` for rows that can't be paired), so that reading the rows
    /// again needs no parsing: 4 bytes a row.
    groups: Vec<u32>,
    /// The print of each group's first row's context.
    contexts: Vec<u128>,
    /// Whether a row's context printed otherwise than its group's first row's: if none did,
    /// no context field is left out of any pair, and pairs made from partitions can go out at
    /// once.
    context_differs: bool,
    /// The rows skipped as bad.
    skips: Skips,
}

impl FirstReading<'_> {
    /// Takes rows read, in input order; pairs made go to `sink` (see [`Pairer`]).
    fn take(&mut self, rows: Vec<ReadRow>, sink: Emit) -> Result<()> {
        for (location, seen) in rows {
            let seen = match seen {
                Ok(seen) => seen,
                Err(problem) if self.spec.skip_bad => {
                    self.skips.skip(&bad(&location, problem));
                    self.groups.push(LEFT_OUT);
                    continue;
                }
                Err(problem) => return Err(bad(&location, problem)),
            };
            let joined = self.grouping.join(seen.key, seen.bytes);
            let g = match joined {
                Joined::Here(g) | Joined::Earlier(g) => g,
            };
            self.groups.push(g);
            match self.contexts.get(g as usize) {
                None => self.contexts.push(seen.print),
                Some(first) => self.context_differs |= *first != seen.print,
            }
            let together = match (joined, &mut self.stream) {
                (Joined::Here(g), Some(pairer)) => {
                    // Rows are kept while the stream goes on.
                    let row = seen.row.expect("kept while streaming");
                    pairer.push(g, row, &location, &mut *sink)?
                }
                (Joined::Here(_), None) => true,
                // Not together: read again below, a partition at a time.
                (Joined::Earlier(_), _) => false,
            };
            if !together {
                self.stop(&mut *sink)?;
            }
        }
        Ok(())
    }

    /// Stops pairing as the rows come (the partitions pair them all once they are read),
    /// throwing away the pairs already written.
    fn stop(&mut self, sink: Emit) -> Result<()> {
        match self.stream.take() {
            Some(pairer) if pairer.direct && pairer.made > 0 => sink.rewind(),
            _ => Ok(()),
        }
    }
}

/// Rows sorted by group, cut into their groups, in batches of about 8 MiB of rows: the pairs
/// of a batch are held until it is paired.
fn group_batches(rows: Vec<Held>) -> impl Iterator<Item = Vec<Vec<Held>>> {
    const BATCH: usize = 8 << 20;
    let mut rows = rows.into_iter().peekable();
    std::iter::from_fn(move || {
        rows.peek()?;
        let (mut batch, mut bytes) = (Vec::new(), 0);
        while bytes < BATCH {
            let Some(row) = rows.next() else { break };
            let g = row.0;
            let mut group = vec![row];
            while let Some(row) = rows.next_if(|row| row.0 == g) {
                group.push(row);
            }
            bytes += group.iter().map(|(_, _, data)| data.len()).sum::<usize>();
            batch.push(group);
        }
        Some(batch)
    })
}

/// The error of a row read the second time that wasn't there the first.
pub(super) fn changed(location: &Location) -> Error {
    changed_because(location, "wasn't there the first time")
}

/// The error of an input whose row at `location` read otherwise the second time, `why`.
pub(super) fn changed_because(location: &Location, why: &str) -> Error {
    let at = match location.position {
        Position::Line(n) => format!("line {n}"),
        Position::Row(n) => format!("row {n}"),
    };
    Error::io(
        &*location.file,
        std::io::Error::other(format!("changed while raug read it ({at} {why})")),
    )
}

/// The group being read: its rows, the first of which gives its prompt and context.
struct Open {
    g: u32,
    location: Location,
    rows: Vec<FlatRow<'static>>,
}

/// Pairs groups whose rows come together. A context field some group's rows disagree on is
/// left out of every pair, and that is known only at the end: pairs wait until then, or
/// (`direct`, when the output can start again) go out as they are made, as long as no field
/// comes to differ after some went out.
struct Pairer<'s> {
    spec: &'s PairSpec,
    direct: bool,
    open: Option<Open>,
    differs: HashSet<String>,
    /// Pairs made before the last field joined `differs`: they may hold it.
    stale: u64,
    made: u64,
    pending: Spool,
    prompts: u64,
    no_pair: u64,
}

impl<'s> Pairer<'s> {
    fn new(spec: &'s PairSpec, direct: bool) -> Pairer<'s> {
        Pairer {
            spec,
            direct,
            open: None,
            differs: HashSet::new(),
            stale: 0,
            made: 0,
            pending: Spool::new(spool_bytes(spec.memory), &spec.temp),
            prompts: 0,
            no_pair: 0,
        }
    }

    /// Adds a row of group `g`; rows of a group come one after another. `false` when pairing
    /// directly can't go on: a context field now differs that pairs already written hold.
    fn push(
        &mut self,
        g: u32,
        row: FlatRow<'static>,
        location: &Location,
        sink: Emit,
    ) -> Result<bool> {
        if self.open.as_ref().is_none_or(|open| open.g != g) {
            self.close(sink)?;
            self.open = Some(Open {
                g,
                location: location.clone(),
                rows: vec![row],
            });
            return Ok(true);
        }
        let open = self.open.as_mut().expect("checked above");
        let first = &open.rows[0];
        same_prompt(first, &row, self.spec, location)?;
        let mut newly: Vec<String> = Vec::new();
        for (name, range) in &first.context {
            if !row.context(name).is_some_and(|v| same(v, first.raw(range))) {
                newly.push(name.clone());
            }
        }
        newly.extend(
            row.context
                .iter()
                .filter(|(name, _)| first.context(name).is_none())
                .map(|(name, _)| name.clone()),
        );
        open.rows.push(row);
        for name in newly {
            if self.differs.insert(name) {
                if self.direct && self.made > 0 {
                    return Ok(false);
                }
                self.stale = self.made;
            }
        }
        Ok(true)
    }

    /// Pairs the open group.
    fn close(&mut self, sink: Emit) -> Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        self.prompts += 1;
        let mut lines = String::new();
        let owns = group_pairs(open.g, &open.rows, self.spec, &self.differs, &mut lines);
        if owns.is_empty() {
            self.no_pair += 1;
        }
        self.made += owns.len() as u64;
        if self.direct {
            if !owns.is_empty() {
                sink.emit(lines.as_bytes(), &open.location)?;
            }
            return Ok(());
        }
        for (line, own) in lines.split_inclusive('\n').zip(&owns) {
            // Kept with the line: the fields a late rewrite leaves alone.
            self.pending
                .push(*own as u32, &open.location, line.as_bytes())?;
        }
        Ok(())
    }

    /// Emits every pair, without the context fields found to differ after it was made.
    fn finish(mut self, summary: &mut PairSummary, emit: Emit) -> Result<()> {
        self.close(&mut *emit)?;
        summary.prompts += self.prompts;
        summary.no_pair += self.no_pair;
        summary.pairs += self.made;
        let (differs, stale) = (self.differs, self.stale);
        let mut at = 0u64;
        self.pending.drain(|own, location, line| {
            at += 1;
            if at > stale || differs.is_empty() {
                return emit.emit(&line, &location);
            }
            let mut row: Map<String, Value> =
                serde_json::from_slice(&line).map_err(|e| Error::Internal(e.to_string()))?;
            // Context fields only: a row's field named like one of the pair's own (`chosen`,
            // say) never went into it, and the pair's own stays.
            let mut i = 0;
            row.retain(|name, _| {
                i += 1;
                i <= own as usize || !differs.contains(name)
            });
            let mut line = Value::Object(row).to_string();
            line.push('\n');
            emit.emit(line.as_bytes(), &location)
        })
    }
}

/// An error unless `row` has the prompt of its group's first row.
fn same_prompt(first: &FlatRow, row: &FlatRow, spec: &PairSpec, location: &Location) -> Result<()> {
    if same(first.raw(&first.prompt), row.raw(&row.prompt)) {
        return Ok(());
    }
    let key_path = spec.group_by.as_ref().expect("flat");
    let prompt_path = spec.prompt.as_ref().unwrap_or(key_path);
    Err(bad(
        location,
        RowError::field(
            Reason::LayoutMismatch,
            prompt_path.as_str(),
            format!(
                "the group {} has another prompt in an earlier row; group by the prompt, or --split-by-prompt makes one group per prompt",
                row.key_text()
            ),
        ),
    ))
}

/// The pairs of group `g`, whose rows (in input order) are `rows`, as JSON lines appended to
/// `lines`, without the context fields in `differs`; for each, how many of its fields are its
/// own (see [`pair_line`]).
fn group_pairs(
    g: u32,
    rows: &[FlatRow],
    spec: &PairSpec,
    differs: &HashSet<String>,
    lines: &mut String,
) -> Vec<usize> {
    let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
    let first = &rows[0];
    let context: Vec<(&str, &str)> = first
        .context
        .iter()
        .filter(|(name, _)| !differs.contains(name))
        .map(|(name, range)| (name.as_str(), first.raw(range)))
        .collect();
    choose(&scores, spec, u64::from(g))
        .into_iter()
        .map(|(c, r)| {
            let (chosen, rejected) = (rows[c].response(), rows[r].response());
            pair_line(
                lines,
                first.raw(&first.prompt),
                &chosen,
                &rejected,
                &context,
                spec,
            )
        })
        .collect()
}

/// Rows kept for later, each with a number (a row's group; a held pair's count of its own
/// fields) and its input location: in memory up to a limit, the rest in a temporary file.
struct Spool {
    limit: usize,
    bytes: usize,
    held: Vec<(u32, Location, Vec<u8>)>,
    file: Option<BufWriter<File>>,
    temp: Target,
}

/// A spooled row's head, before the row's bytes: its group (4 bytes), whether it is at a line
/// or a row (1) and which (8), its file's name (4 bytes of length, then the name), and the
/// row's length (8). [`FIXED`] is what comes before the name.
struct Head<'a> {
    g: u32,
    position: Position,
    name: &'a [u8],
}

/// A head's bytes before the name.
const FIXED: usize = 17;

impl<'a> Head<'a> {
    fn write(&self, len: usize, to: &mut impl Write) -> std::io::Result<()> {
        let (kind, at) = match self.position {
            Position::Line(n) => (0u8, n),
            Position::Row(n) => (1u8, n),
        };
        let mut head = [0u8; FIXED];
        head[0..4].copy_from_slice(&self.g.to_le_bytes());
        head[4] = kind;
        head[5..13].copy_from_slice(&at.to_le_bytes());
        head[13..17].copy_from_slice(&(self.name.len() as u32).to_le_bytes());
        to.write_all(&head)?;
        to.write_all(self.name)?;
        to.write_all(&(len as u64).to_le_bytes())
    }

    /// The group, position and name length a head starts with.
    fn fixed(head: &[u8; FIXED]) -> (u32, Position, usize) {
        let g = u32::from_le_bytes(head[0..4].try_into().expect("4 bytes"));
        let at = u64::from_le_bytes(head[5..13].try_into().expect("8 bytes"));
        let position = if head[4] == 0 {
            Position::Line(at)
        } else {
            Position::Row(at)
        };
        let name_len = u32::from_le_bytes(head[13..17].try_into().expect("4 bytes")) as usize;
        (g, position, name_len)
    }
}

/// Files' names as read back from a spool: rows of one file share one.
#[derive(Default)]
struct Names(Option<Arc<str>>);

impl Names {
    fn location(&mut self, name: &[u8], position: Position) -> Location {
        let file = match &self.0 {
            Some(known) if known.as_bytes() == name => Arc::clone(known),
            _ => self.0.insert(String::from_utf8_lossy(name).into()).clone(),
        };
        Location { file, position }
    }
}

/// A spool that doesn't read back as written.
fn cut_short() -> Error {
    Error::io(TEMP, std::io::ErrorKind::UnexpectedEof.into())
}

impl Spool {
    fn new(limit: usize, temp: &Target) -> Spool {
        Spool {
            limit,
            bytes: 0,
            held: Vec::new(),
            file: None,
            temp: temp.clone(),
        }
    }

    fn push(
        &mut self,
        g: u32,
        location: &Location,
        data: impl AsRef<[u8]> + Into<Vec<u8>>,
    ) -> Result<()> {
        if self.file.is_none() && self.bytes + data.as_ref().len() <= self.limit {
            self.bytes += data.as_ref().len();
            self.held.push((g, location.clone(), data.into()));
            return Ok(());
        }
        let data = data.as_ref();
        if self.file.is_none() {
            self.file = Some(BufWriter::with_capacity(
                1 << 20,
                spill_file(&self.temp, TEMP)?,
            ));
        }
        let file = self.file.as_mut().expect("made above");
        let head = Head {
            g,
            position: location.position,
            name: location.file.as_bytes(),
        };
        head.write(data.len(), file)
            .and_then(|()| file.write_all(data))
            .map_err(|e| Error::io(TEMP, e))
    }

    /// Every row, sorted by group (a group's rows keep the order they came in), with its bytes
    /// in `buffer`, which is cleared first. The spooled file is read into it at once, heads
    /// and all, and the rows held in memory are put after it.
    fn read_all(self, buffer: &mut Vec<u8>) -> Result<Vec<Held>> {
        buffer.clear();
        let mut spilled = Vec::new();
        if let Some(file) = self.file {
            let io = |e: std::io::Error| Error::io(TEMP, e);
            let mut file = file.into_inner().map_err(|e| io(e.into_error()))?;
            let len = file.stream_position().map_err(io)?;
            file.rewind().map_err(io)?;
            buffer.reserve_exact(len as usize + self.bytes);
            file.take(len).read_to_end(buffer).map_err(io)?;
            let mut names = Names::default();
            let mut at = 0;
            while at < buffer.len() {
                let fixed = buffer.get(at..at + FIXED).ok_or_else(cut_short)?;
                let (g, position, name_len) = Head::fixed(fixed.try_into().expect("FIXED"));
                let name = at + FIXED..at + FIXED + name_len;
                let len = buffer.get(name.end..name.end + 8).ok_or_else(cut_short)?;
                let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
                let row = name.end + 8..name.end + 8 + len;
                if row.end > buffer.len() {
                    return Err(cut_short());
                }
                spilled.push((g, names.location(&buffer[name], position), row.clone()));
                at = row.end;
            }
        }
        // Held rows came before any spilled.
        let mut rows = Vec::with_capacity(self.held.len() + spilled.len());
        for (g, location, data) in self.held {
            let start = buffer.len();
            buffer.extend_from_slice(&data);
            rows.push((g, location, start..buffer.len()));
        }
        rows.append(&mut spilled);
        // Stable: a group's rows keep their input order.
        rows.sort_by_key(|(g, _, _)| *g);
        Ok(rows)
    }

    /// Hands every row over in the order they came, a row at a time (a spool can be larger
    /// than memory).
    fn drain(self, mut to: impl FnMut(u32, Location, Vec<u8>) -> Result<()>) -> Result<()> {
        for (g, location, data) in self.held {
            to(g, location, data)?;
        }
        let Some(file) = self.file else {
            return Ok(());
        };
        let io = |e: std::io::Error| Error::io(TEMP, e);
        let mut file = file.into_inner().map_err(|e| io(e.into_error()))?;
        file.rewind().map_err(io)?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut fixed = [0u8; FIXED];
        let (mut name, mut names) = (Vec::new(), Names::default());
        loop {
            match reader.read_exact(&mut fixed[..1]) {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                other => other.map_err(io)?,
            }
            reader.read_exact(&mut fixed[1..]).map_err(io)?;
            let (g, position, name_len) = Head::fixed(&fixed);
            name.resize(name_len, 0);
            reader.read_exact(&mut name).map_err(io)?;
            let mut len = [0u8; 8];
            reader.read_exact(&mut len).map_err(io)?;
            let len = u64::from_le_bytes(len);
            let mut data = Vec::with_capacity(len as usize);
            (&mut reader).take(len).read_to_end(&mut data).map_err(io)?;
            if data.len() as u64 != len {
                return Err(cut_short());
            }
            to(g, names.location(&name, position), data)?;
        }
    }
}

/// A row kept in a partition: its group, where it came from, and its bytes in the partition's
/// buffer.
type Held = (u32, Location, Range<usize>);
