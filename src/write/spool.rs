//! Record batches kept for later: in memory up to a limit, the rest in an anonymous temporary
//! file beside the output (Arrow IPC), handed back in the order they came.

use std::fs::File;
use std::io::{BufWriter, Seek};

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;

use crate::error::{Error, Result};
use crate::io::{spill_file, Target};

/// Batches kept for later (e.g. the output of a row group relabeled before its turn to be
/// written): in memory up to a limit, then in an anonymous temporary file beside the output, so
/// that they hold little memory however many there are.
pub struct Spool {
    /// What error messages call the file.
    what: &'static str,
    parts: Vec<(usize, RecordBatch)>,
    bytes: usize,
    /// Past the limit: the file, and the stream of each batch in it.
    spilled: Option<(arrow_ipc::writer::StreamWriter<BufWriter<File>>, Vec<usize>)>,
}

impl Spool {
    /// An empty spool; `what` names its file in errors.
    pub fn new(what: &'static str) -> Spool {
        Spool {
            what,
            parts: Vec::new(),
            bytes: 0,
            spilled: None,
        }
    }

    /// Keeps a batch of stream `stream` (e.g. a half, in blocks order): in memory while the
    /// spool holds at most `limit` bytes, else on disk beside `output`.
    pub fn push(
        &mut self,
        stream: usize,
        batch: RecordBatch,
        limit: usize,
        output: &Target,
    ) -> Result<()> {
        let size = crate::arrow::slice_bytes(&batch);
        if self.spilled.is_none() && self.bytes + size <= limit {
            self.bytes += size;
            self.parts.push((stream, batch));
            return Ok(());
        }
        if self.spilled.is_none() {
            let file = BufWriter::with_capacity(1 << 20, spill_file(output, self.what)?);
            let writer = arrow_ipc::writer::StreamWriter::try_new(file, &batch.schema())
                .map_err(|e| Error::io(self.what, std::io::Error::other(e)))?;
            self.spilled = Some((writer, Vec::new()));
        }
        let (writer, streams) = self.spilled.as_mut().expect("made above");
        writer
            .write(&batch)
            .map_err(|e| Error::io(self.what, std::io::Error::other(e)))?;
        streams.push(stream);
        Ok(())
    }

    /// Hands every batch over, in the order they came.
    pub fn drain(self, mut to: impl FnMut(usize, RecordBatch) -> Result<()>) -> Result<()> {
        for (stream, batch) in self.parts {
            to(stream, batch)?;
        }
        let Some((writer, streams)) = self.spilled else {
            return Ok(());
        };
        let what = self.what;
        let error = |e: ArrowError| Error::io(what, std::io::Error::other(e));
        let mut file = writer
            .into_inner()
            .map_err(error)?
            .into_inner()
            .map_err(|e| Error::io(what, e.into_error()))?;
        file.rewind().map_err(|e| Error::io(what, e))?;
        let mut reader = arrow_ipc::reader::StreamReader::try_new(file, None).map_err(error)?;
        for stream in streams {
            let batch = reader
                .next()
                .unwrap_or_else(|| Err(ArrowError::IpcError("the file ended early".into())))
                .map_err(error)?;
            to(stream, batch)?;
        }
        Ok(())
    }
}
