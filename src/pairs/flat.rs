//! Flat pairs from JSON rows (one row per response): streamed group by group when the input
//! keeps each group's rows together, else sorted into partitions on disk first, so memory
//! holds one group (or one partition), never the input.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::ops::Range;

use serde_json::{Map, Value};

use super::group::{fingerprint, spool_bytes, Grouping, Joined, LEFT_OUT};
use super::{bad, choose, is_number, object_of, pair_line, text_and_score, text_of};
use super::{PairSpec, PairSummary, RawResponse};
use crate::error::{Error, Location, Position, Reason, Result, RowError};
use crate::fields::FieldPath;
use crate::io::{spill_file, Target};
use crate::json::object::{lookup, span};
use crate::rows::Inputs;

const TEMP: &str = "temporary file of pairs";

/// One input row of a response, read: its fields as byte ranges of the row's text, spliced
/// into the pairs as they are written (nothing is parsed into values or serialized again).
struct FlatRow {
    /// The row's input bytes.
    bytes: usize,
    key: u128,
    /// The key as the data writes it, for messages.
    key_text: String,
    line: String,
    prompt: Range<usize>,
    text: Range<usize>,
    score: f64,
    /// Numeric fields of the row, in order (the score field included).
    numbers: Vec<(String, Range<usize>)>,
    /// The key (when it isn't the prompt), then every other field but numbers.
    context: Vec<(String, Range<usize>)>,
}

impl FlatRow {
    fn raw(&self, range: &Range<usize>) -> &str {
        &self.line[range.clone()]
    }

    /// The row's response, for a pair line.
    fn response(&self) -> RawResponse<'_> {
        RawResponse {
            text: self.raw(&self.text),
            score: self.score,
            numbers: self
                .numbers
                .iter()
                .map(|(name, range)| (name.as_str().into(), self.raw(range)))
                .collect(),
        }
    }

    fn context(&self, name: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| self.raw(r))
    }
}

/// Two raw JSON values that mean the same (the same text, or the same value written another way).
fn same(a: &str, b: &str) -> bool {
    a == b
        || serde_json::from_str::<Value>(a)
            .ok()
            .zip(serde_json::from_str::<Value>(b).ok())
            .is_some_and(|(a, b)| a == b)
}

/// Reads a flat row: its group key, prompt, response and context, or why it can't be paired.
fn read(
    data: Vec<u8>,
    spec: &PairSpec,
    key_path: &FieldPath,
) -> std::result::Result<FlatRow, RowError> {
    let bytes = data.len();
    let line =
        String::from_utf8(data).map_err(|e| text_of(e.as_bytes()).expect_err("not UTF-8"))?;
    let text = line.trim_end();
    let object = object_of(text)?;
    let missing =
        |path: &FieldPath, what: &str| RowError::field(Reason::MissingField, path.as_str(), what);
    let key = lookup(&object, key_path)?.ok_or_else(|| missing(key_path, "missing"))?;
    let prompt_path = spec.prompt.as_ref().unwrap_or(key_path);
    let prompt = lookup(&object, prompt_path)?.ok_or_else(|| missing(prompt_path, "missing"))?;
    let (response, score) = text_and_score(&object, spec, "the row")?;
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
    for (name, value) in object.entries() {
        if is_number(value) {
            if !skip.iter().any(|p| p.parts() == [name]) {
                numbers.push((name.to_string(), span(text, value)));
            }
        } else if !used.iter().any(|p| p.parts()[0] == name) {
            context.push((name.to_string(), span(text, value)));
        }
    }
    let key_text = key.to_string();
    let key = if spec.split_by_prompt {
        fingerprint(&[key_text.as_bytes(), prompt.as_bytes()])
    } else {
        fingerprint(&[key_text.as_bytes()])
    };
    let (prompt, text) = (span(text, prompt), span(text, response));
    Ok(FlatRow {
        bytes,
        key,
        key_text,
        prompt,
        text,
        score,
        numbers,
        context,
        line,
    })
}

/// Builds flat pairs, each as a JSON line through `emit`, in order of each group's first row.
pub(super) fn flat(
    source: &Inputs,
    spec: &PairSpec,
    summary: &mut PairSummary,
    emit: &mut dyn FnMut(&[u8], &Location) -> Result<()>,
) -> Result<()> {
    let key_path = spec.group_by.as_ref().ok_or_else(|| {
        Error::Usage(
            "name the responses: --responses PATH (nested) or --group-by PATH (flat)".to_string(),
        )
    })?;
    let mut grouping = Grouping::default();
    // Standard input can't be read twice: its rows are kept in case the groups aren't together.
    let mut tee = (!source.rereadable()).then(|| Spool::new(spec.memory as usize, &spec.temp));
    let mut stream = Some(Pairer::new(spec));
    // Each row's group (`LEFT_OUT` for rows that can't be paired), so that reading the rows
    // again needs no parsing: 4 bytes a row.
    let mut groups: Vec<u32> = Vec::new();
    for row in source.rows_ahead()? {
        let row = row?;
        summary.rows_in += 1;
        if let Some(tee) = &mut tee {
            tee.push(0, &row.location, row.data.as_slice())?;
        }
        let location = row.location;
        let flat = match read(row.data, spec, key_path) {
            Ok(flat) => flat,
            Err(_) if spec.skip_bad => {
                summary.skipped += 1;
                groups.push(LEFT_OUT);
                continue;
            }
            Err(problem) => return Err(bad(&location, problem)),
        };
        let joined = grouping.join(flat.key, flat.bytes);
        groups.push(match joined {
            Joined::Here(g) | Joined::Earlier(g) => g,
        });
        match joined {
            Joined::Here(g) => {
                if let Some(pairer) = &mut stream {
                    pairer.push(g, flat, &location)?;
                }
            }
            // Not together: read again below, a partition at a time.
            Joined::Earlier(_) => stream = None,
        }
    }
    if let Some(pairer) = stream {
        return pairer.finish(summary, emit);
    }
    let partitions = grouping.partitions(spec.memory);
    // One partition stays in memory; more go to disk.
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
        None => {
            for row in source.rows_ahead()? {
                let row = row?;
                scatter(&row.location, &row.data)?;
            }
        }
    }
    let mut pairer = Pairer::new(spec);
    for part in parts {
        let mut rows = Vec::new();
        part.drain(|g, location, data| {
            rows.push((g, location, data));
            Ok(())
        })?;
        // Stable: a group's rows keep their input order.
        rows.sort_by_key(|(g, _, _)| *g);
        for (g, location, data) in rows {
            let flat = read(data, spec, key_path).map_err(|p| bad(&location, p))?;
            pairer.push(g, flat, &location)?;
        }
    }
    pairer.finish(summary, emit)
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
        &location.file,
        std::io::Error::other(format!("changed while raug read it ({at} {why})")),
    )
}

/// The group being read: its rows, the first of which gives its prompt and context.
struct Open {
    g: u32,
    location: Location,
    rows: Vec<FlatRow>,
}

/// Pairs groups whose rows come together, keeping the pairs until the end: a context field
/// some group's rows disagree on is left out of every pair, and that is known only then.
struct Pairer<'s> {
    spec: &'s PairSpec,
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
    fn new(spec: &'s PairSpec) -> Pairer<'s> {
        Pairer {
            spec,
            open: None,
            differs: HashSet::new(),
            stale: 0,
            made: 0,
            pending: Spool::new(spool_bytes(spec.memory), &spec.temp),
            prompts: 0,
            no_pair: 0,
        }
    }

    /// Adds a row of group `g`; rows of a group come one after another.
    fn push(&mut self, g: u32, row: FlatRow, location: &Location) -> Result<()> {
        if self.open.as_ref().is_none_or(|open| open.g != g) {
            self.close()?;
            self.open = Some(Open {
                g,
                location: location.clone(),
                rows: vec![row],
            });
            return Ok(());
        }
        let open = self.open.as_mut().expect("checked above");
        let first = &open.rows[0];
        if !same(first.raw(&first.prompt), row.raw(&row.prompt)) {
            let key_path = self.spec.group_by.as_ref().expect("flat");
            let prompt_path = self.spec.prompt.as_ref().unwrap_or(key_path);
            return Err(bad(
                location,
                RowError::field(
                    Reason::LayoutMismatch,
                    prompt_path.as_str(),
                    format!(
                        "the group {} has another prompt in an earlier row; group by the prompt, or --split-by-prompt makes one group per prompt",
                        row.key_text
                    ),
                ),
            ));
        }
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
                self.stale = self.made;
            }
        }
        Ok(())
    }

    /// Pairs the open group.
    fn close(&mut self) -> Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        self.prompts += 1;
        let scores: Vec<f64> = open.rows.iter().map(|r| r.score).collect();
        let chosen = choose(&scores, self.spec, u64::from(open.g));
        if chosen.is_empty() {
            self.no_pair += 1;
        }
        let first = &open.rows[0];
        let context: Vec<(&str, &str)> = first
            .context
            .iter()
            .filter(|(name, _)| !self.differs.contains(name))
            .map(|(name, range)| (name.as_str(), first.raw(range)))
            .collect();
        for (c, r) in chosen {
            let (chosen, rejected) = (open.rows[c].response(), open.rows[r].response());
            let line = pair_line(
                first.raw(&first.prompt),
                &chosen,
                &rejected,
                &context,
                self.spec,
            );
            self.pending.push(0, &open.location, line.into_bytes())?;
            self.made += 1;
        }
        Ok(())
    }

    /// Emits every pair, without the context fields found to differ after it was made.
    fn finish(
        mut self,
        summary: &mut PairSummary,
        emit: &mut dyn FnMut(&[u8], &Location) -> Result<()>,
    ) -> Result<()> {
        self.close()?;
        summary.prompts += self.prompts;
        summary.no_pair += self.no_pair;
        summary.pairs += self.made;
        let (differs, stale) = (self.differs, self.stale);
        let mut at = 0u64;
        self.pending.drain(|_, location, line| {
            at += 1;
            if at > stale || differs.is_empty() {
                return emit(&line, &location);
            }
            let mut row: Map<String, Value> =
                serde_json::from_slice(&line).map_err(|e| Error::Internal(e.to_string()))?;
            row.retain(|name, _| !differs.contains(name));
            let mut line = Value::Object(row).to_string();
            line.push('\n');
            emit(line.as_bytes(), &location)
        })
    }
}

/// Rows kept for later, each with a group and its input location: in memory up to a limit,
/// the rest in a temporary file.
struct Spool {
    limit: usize,
    bytes: usize,
    held: Vec<(u32, Location, Vec<u8>)>,
    file: Option<BufWriter<File>>,
    temp: Target,
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
        let (kind, at) = match location.position {
            Position::Line(n) => (0u8, n),
            Position::Row(n) => (1u8, n),
        };
        let name = location.file.as_bytes();
        let mut head = Vec::with_capacity(25 + name.len());
        head.extend_from_slice(&g.to_le_bytes());
        head.push(kind);
        head.extend_from_slice(&at.to_le_bytes());
        head.extend_from_slice(&(name.len() as u32).to_le_bytes());
        head.extend_from_slice(name);
        head.extend_from_slice(&(data.len() as u64).to_le_bytes());
        file.write_all(&head)
            .and_then(|()| file.write_all(data))
            .map_err(|e| Error::io(TEMP, e))
    }

    /// Hands every row over in the order they came.
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
        let mut head = [0u8; 17];
        loop {
            match reader.read_exact(&mut head[..1]) {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                other => other.map_err(io)?,
            }
            reader.read_exact(&mut head[1..]).map_err(io)?;
            let g = u32::from_le_bytes(head[0..4].try_into().expect("4 bytes"));
            let at = u64::from_le_bytes(head[5..13].try_into().expect("8 bytes"));
            let position = if head[4] == 0 {
                Position::Line(at)
            } else {
                Position::Row(at)
            };
            let name_len = u32::from_le_bytes(head[13..17].try_into().expect("4 bytes")) as usize;
            let mut name = vec![0u8; name_len];
            reader.read_exact(&mut name).map_err(io)?;
            let mut len = [0u8; 8];
            reader.read_exact(&mut len).map_err(io)?;
            let mut data = vec![0u8; u64::from_le_bytes(len) as usize];
            reader.read_exact(&mut data).map_err(io)?;
            let location = Location {
                file: String::from_utf8_lossy(&name).into_owned(),
                position,
            };
            to(g, location, data)?;
        }
    }
}
