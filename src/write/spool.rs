//! Record batches kept for later: in memory up to a limit, the rest in an anonymous temporary
//! file beside the output (Arrow IPC), handed back in the order they came.

use std::fs::File;
use std::io::{BufWriter, Seek};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType};

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
        let io = |e: ArrowError| Error::io(self.what, std::io::Error::other(e));
        writer.write(&compact(&batch).map_err(io)?).map_err(io)?;
        streams.push(stream);
        Ok(())
    }

    /// Hands every batch over, in the order they came (a dictionary column with only the
    /// values its rows use, if the batch went to disk).
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

/// The batch with each top-level dictionary column holding only the values its rows use. Arrow
/// IPC writes a batch's whole dictionary with it: a few rows taken from a Parquet batch of
/// pandas categoricals (every distinct prompt in the row group) would carry all of them, for
/// every batch spilled.
fn compact(batch: &RecordBatch) -> std::result::Result<RecordBatch, ArrowError> {
    if !batch
        .columns()
        .iter()
        .any(|c| matches!(c.data_type(), DataType::Dictionary(..)))
    {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .map(|column| match column.data_type() {
            DataType::Dictionary(..) => crate::arrow::compact_dictionary(column.as_ref()),
            _ => Ok(ArrayRef::clone(column)),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    RecordBatch::try_new(batch.schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int32Type;
    use arrow_array::{Array, DictionaryArray, Int32Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn a_few_rows_of_a_big_dictionary_spill_with_only_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::File(dir.path().join("out.parquet"));
        // 200 values of 1 KB behind every batch, each batch's its own (as a Parquet reader
        // decoding plain pages into a dictionary type makes one a batch): IPC writes a batch's
        // dictionary whenever it changes.
        let mut spool = Spool::new("a test spool");
        let mut pushed = Vec::new();
        for i in 0..100 {
            let keys = Int32Array::from(vec![i, 199 - i]);
            let values = StringArray::from_iter_values((0..200).map(|j| format!("{i}-{j:01024}")));
            let column: ArrayRef =
                Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap());
            let batch = RecordBatch::try_from_iter([("prompt", column)]).unwrap();
            spool.push(0, batch.clone(), 0, &target).unwrap();
            pushed.push(batch);
        }
        let (writer, _) = spool.spilled.as_mut().unwrap();
        writer.flush().unwrap();
        // Two values a batch: about 200 KB, not 20 MB.
        let written = writer.get_ref().get_ref().metadata().unwrap().len();
        assert!(written < 1 << 20, "{written} bytes spilled");
        let mut back = Vec::new();
        spool
            .drain(|_, batch| {
                back.push(batch);
                Ok(())
            })
            .unwrap();
        let strings = |b: &RecordBatch| -> Vec<String> {
            let column = arrow_cast::cast(b.column(0), &DataType::Utf8).unwrap();
            let column = column.as_string::<i32>();
            (0..column.len())
                .map(|i| column.value(i).to_string())
                .collect()
        };
        assert_eq!(back.len(), 100);
        for (b, p) in back.iter().zip(&pushed) {
            assert_eq!(b.column(0).data_type(), p.column(0).data_type());
            assert_eq!(strings(b), strings(p));
        }
    }
}
