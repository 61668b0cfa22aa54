//! Output order for both drivers: in blocks order ([`Arrangement::Blocks`]) the first half is
//! written as it comes and each later half waits in an anonymous temporary file beside the
//! output (same disk; memory stays flat), to be replayed, half after half, once the first is
//! done. Interleaved and single-half output have nothing to wait.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};

use crate::error::{Error, Result};
use crate::io::{spill_file, Target};
use crate::plan::Arrangement;
use crate::write::{Place, Writer};

/// What the error messages call a spill.
const SPILL: &str = "temporary file for --order blocks";

/// Where a replayed half goes.
pub(crate) trait Replay {
    /// The rows that follow belong at `place`.
    fn place(&mut self, place: Place) -> Result<()>;
    /// JSON rows held in a file.
    fn rows_from(&mut self, file: &mut File) -> Result<()>;
    /// An Arrow batch.
    fn batch(&mut self, batch: RecordBatch) -> Result<()>;
}

impl Replay for Box<dyn Writer> {
    fn place(&mut self, place: Place) -> Result<()> {
        self.set_place(place)
    }

    fn rows_from(&mut self, file: &mut File) -> Result<()> {
        self.write_rows_from(file)
    }

    fn batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.write_batch(&batch)
    }
}

/// One later half, waiting on disk in one representation.
pub(crate) trait Spill: Sized {
    /// What one unit of work leaves for the half.
    type Part;
    /// Appends a unit's part.
    fn push(&mut self, unit: usize, part: &Self::Part) -> Result<()>;
    /// Hands the half over, in unit order.
    fn replay(self, half: usize, to: &mut dyn Replay) -> Result<()>;
}

/// The later halves of blocks order, one spill each; none in other arrangements.
pub(crate) struct Spills<S: Spill> {
    halves: Vec<S>,
}

impl<S: Spill> Spills<S> {
    /// A spill for each half after the first, made with `make` from a temporary file beside
    /// `output`.
    pub(crate) fn new(
        arrangement: Arrangement,
        halves: usize,
        output: &Target,
        make: impl Fn(File) -> Result<S>,
    ) -> Result<Spills<S>> {
        let halves = (1..arrangement.streams(halves))
            .map(|_| make(spill_file(output, SPILL)?))
            .collect::<Result<_>>()?;
        Ok(Spills { halves })
    }

    /// Appends the later halves' parts of one unit (the first half's part is written at once).
    pub(crate) fn push<'p>(
        &mut self,
        unit: usize,
        parts: impl IntoIterator<Item = &'p S::Part>,
    ) -> Result<()>
    where
        S::Part: 'p,
    {
        for (spill, part) in self.halves.iter_mut().zip(parts) {
            spill.push(unit, part)?;
        }
        Ok(())
    }

    /// Appends one batch of a later half (`half` counts from 0, the first) for one unit.
    pub(crate) fn push_to(&mut self, half: usize, unit: usize, batch: S::Part) -> Result<()> {
        self.halves[half - 1].push(unit, &batch)
    }

    /// Replays every later half, in order, after the first.
    pub(crate) fn replay(self, to: &mut dyn Replay) -> Result<()> {
        for (i, spill) in self.halves.into_iter().enumerate() {
            spill.replay(i + 1, to)?;
        }
        Ok(())
    }
}

/// A half of JSON rows: their bytes, appended.
pub(crate) struct JsonSpill(BufWriter<File>);

impl JsonSpill {
    pub(crate) fn new(file: File) -> Result<JsonSpill> {
        Ok(JsonSpill(BufWriter::with_capacity(1 << 20, file)))
    }
}

impl Spill for JsonSpill {
    type Part = Vec<u8>;

    fn push(&mut self, _unit: usize, part: &Vec<u8>) -> Result<()> {
        self.0.write_all(part).map_err(|e| Error::io(SPILL, e))
    }

    fn replay(self, _half: usize, to: &mut dyn Replay) -> Result<()> {
        let mut file = self
            .0
            .into_inner()
            .map_err(|e| Error::io(SPILL, e.into_error()))?;
        file.rewind().map_err(|e| Error::io(SPILL, e))?;
        to.rows_from(&mut file)
    }
}

/// A half of Arrow batches, as an Arrow IPC stream, with each unit's batch count so the replay
/// can say where each unit's rows belong.
pub(crate) struct ArrowSpill {
    stream: arrow_ipc::writer::StreamWriter<File>,
    /// Per unit: its number, and how many batches it has.
    entries: Vec<(usize, usize)>,
}

impl ArrowSpill {
    pub(crate) fn new(file: File, schema: &SchemaRef) -> Result<ArrowSpill> {
        Ok(ArrowSpill {
            stream: arrow_ipc::writer::StreamWriter::try_new(file, schema).map_err(spill_error)?,
            entries: Vec::new(),
        })
    }
}

impl Spill for ArrowSpill {
    type Part = Vec<RecordBatch>;

    fn push(&mut self, unit: usize, batches: &Vec<RecordBatch>) -> Result<()> {
        for batch in batches {
            self.stream.write(batch).map_err(spill_error)?;
        }
        self.entries.push((unit, batches.len()));
        Ok(())
    }

    fn replay(self, half: usize, to: &mut dyn Replay) -> Result<()> {
        let mut file = self.stream.into_inner().map_err(spill_error)?;
        file.rewind().map_err(|e| Error::io(SPILL, e))?;
        let mut reader =
            arrow_ipc::reader::StreamReader::try_new(file, None).map_err(spill_error)?;
        for (unit, n) in self.entries {
            to.place(Place { half, unit })?;
            for _ in 0..n {
                let batch = reader
                    .next()
                    .unwrap_or_else(|| Err(ArrowError::IpcError("spill ended early".into())))
                    .map_err(spill_error)?;
                to.batch(batch)?;
            }
        }
        Ok(())
    }
}

fn spill_error(e: ArrowError) -> Error {
    Error::io(SPILL, std::io::Error::other(e.to_string()))
}
