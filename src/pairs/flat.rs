//! Flat pairs from JSON rows (one row per response): streamed group by group when the input
//! keeps each group's rows together, else sorted into partitions on disk first, so memory
//! holds one group (or one partition), never the input.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};

use serde_json::{Map, Value};

use super::group::{fingerprint, spool_bytes, Grouping, Joined, LEFT_OUT};
use super::Response;
use super::{bad, choose, context_of, get, pair_row, parse_row, response, PairSpec, PairSummary};
use crate::error::{Error, Location, Position, Reason, Result, RowError};
use crate::fields::FieldPath;
use crate::io::{spill_file, Target};
use crate::rows::Inputs;

const TEMP: &str = "temporary file of pairs";

/// One input row of a response, read.
struct FlatRow {
    key: u128,
    /// The key as the data writes it, for messages.
    key_text: String,
    prompt: Value,
    response: Response,
    /// The key (when it isn't the prompt), then every other field but numbers.
    context: Map<String, Value>,
}

/// Reads a flat row: its group key, prompt, response and context, or why it can't be paired.
fn read(
    data: &[u8],
    spec: &PairSpec,
    key_path: &FieldPath,
) -> std::result::Result<FlatRow, RowError> {
    let value = parse_row(data)?;
    let key = get(&value, key_path)
        .ok_or_else(|| RowError::field(Reason::MissingField, key_path.as_str(), "missing"))?;
    let prompt_path = spec.prompt.as_ref().unwrap_or(key_path);
    let prompt = get(&value, prompt_path)
        .ok_or_else(|| RowError::field(Reason::MissingField, prompt_path.as_str(), "missing"))?;
    let skip: Vec<&FieldPath> = [Some(key_path), spec.prompt.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    let response = response(&value, spec, &skip, "the row")?;
    let mut context = Map::new();
    if key_path != prompt_path {
        context.insert(key_path.parts()[0].clone(), key.clone());
    }
    context.extend(context_of(
        &value,
        &[key_path, prompt_path, &spec.text, &spec.score],
        true,
    ));
    let key_text = key.to_string();
    let key = if spec.split_by_prompt {
        fingerprint(&[key_text.as_bytes(), prompt.to_string().as_bytes()])
    } else {
        fingerprint(&[key_text.as_bytes()])
    };
    Ok(FlatRow {
        key,
        key_text,
        prompt: prompt.clone(),
        response,
        context,
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
    for row in source.rows()? {
        let row = row?;
        summary.rows_in += 1;
        if let Some(tee) = &mut tee {
            tee.push(0, &row.location, row.data.as_slice())?;
        }
        let flat = match read(&row.data, spec, key_path) {
            Ok(flat) => flat,
            Err(_) if spec.skip_bad => {
                summary.skipped += 1;
                groups.push(LEFT_OUT);
                continue;
            }
            Err(problem) => return Err(bad(&row.location, problem)),
        };
        let joined = grouping.join(flat.key, row.data.len());
        groups.push(match joined {
            Joined::Here(g) | Joined::Earlier(g) => g,
        });
        match joined {
            Joined::Here(g) => {
                if let Some(pairer) = &mut stream {
                    pairer.push(g, flat, &row.location)?;
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
            for row in source.rows()? {
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
            let flat = read(&data, spec, key_path).map_err(|p| bad(&location, p))?;
            pairer.push(g, flat, &location)?;
        }
    }
    pairer.finish(summary, emit)
}

/// The error of a row read the second time that wasn't there the first.
pub(super) fn changed(location: &Location) -> Error {
    let at = match location.position {
        Position::Line(n) => format!("line {n}"),
        Position::Row(n) => format!("row {n}"),
    };
    Error::io(
        &location.file,
        std::io::Error::other(format!(
            "changed while raug read it ({at} wasn't there the first time)"
        )),
    )
}

/// The group being read.
struct Open {
    g: u32,
    location: Location,
    prompt: Value,
    context: Map<String, Value>,
    responses: Vec<Response>,
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
                prompt: row.prompt,
                context: row.context,
                responses: vec![row.response],
            });
            return Ok(());
        }
        let open = self.open.as_mut().expect("checked above");
        if open.prompt != row.prompt {
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
        let mut newly = Vec::new();
        for (name, value) in &open.context {
            if row.context.get(name) != Some(value) {
                newly.push(name.clone());
            }
        }
        newly.extend(
            row.context
                .keys()
                .filter(|name| !open.context.contains_key(*name))
                .cloned(),
        );
        open.responses.push(row.response);
        for name in newly {
            if self.differs.insert(name) {
                self.stale = self.made;
            }
        }
        Ok(())
    }

    /// Pairs the open group.
    fn close(&mut self) -> Result<()> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        self.prompts += 1;
        open.context.retain(|name, _| !self.differs.contains(name));
        let scores: Vec<f64> = open.responses.iter().map(|r| r.score).collect();
        let chosen = choose(&scores, self.spec, u64::from(open.g));
        if chosen.is_empty() {
            self.no_pair += 1;
        }
        for (c, r) in chosen {
            let row = pair_row(
                &open.prompt,
                &open.responses[c],
                &open.responses[r],
                &open.context,
                self.spec,
            );
            let mut line = row.to_string();
            line.push('\n');
            self.pending.push(0, &open.location, line.as_bytes())?;
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

    fn push(&mut self, g: u32, location: &Location, data: &[u8]) -> Result<()> {
        if self.file.is_none() && self.bytes + data.len() <= self.limit {
            self.bytes += data.len();
            self.held.push((g, location.clone(), data.to_vec()));
            return Ok(());
        }
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
