//! `raug._raug`: the Python module's native half. It parses options with the command line's own
//! parser, hands Arrow data to [`raug::table::TableRelabeler`] through the Arrow C Data Interface
//! (no copy in or out) and runs the command line's driver for files. It decides nothing: the
//! Python half (`raug/__init__.py`) turns keyword arguments into options and wraps this.

use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_pyarrow::{PyArrowType, Table};
use arrow_schema::SchemaRef;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use raug::driver::Summary;
use raug::table::TableRelabeler;

/// Output buffers are allocated afresh for every call; mimalloc reuses freed pages where glibc's
/// malloc unmaps big buffers and the kernel faults and zeroes them in again on the next call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pyo3::create_exception!(
    raug,
    RaugError,
    PyException,
    "Bad data or an I/O error: what the command line exits 1 for."
);
pyo3::create_exception!(
    raug,
    OptionsError,
    RaugError,
    "Options that can't work, alone or with this data's layout: the command line's exit 2."
);
pyo3::create_exception!(
    raug,
    BadRowError,
    RaugError,
    "A bad row under on_error=\"fail\"; `row`, `field`, `reason` and `detail` say which and why."
);

/// The Python exception for a library error, with a bad row's particulars as attributes.
fn py_error(py: Python<'_>, error: &raug::Error) -> PyErr {
    py_error_saying(py, error, error.to_string())
}

/// [`py_error`] with another message (the whole chain of a command-line error).
fn py_error_saying(py: Python<'_>, error: &raug::Error, message: String) -> PyErr {
    match error {
        raug::Error::Row { location, problem } => {
            let err = BadRowError::new_err(message);
            let value = err.value(py);
            let row = match location.position {
                raug::error::Position::Row(row) | raug::error::Position::Line(row) => row,
            };
            let set = || -> PyResult<()> {
                value.setattr("row", row)?;
                value.setattr("field", problem.field.clone())?;
                value.setattr("reason", problem.reason.as_str())?;
                value.setattr("detail", problem.detail.clone())?;
                Ok(())
            };
            match set() {
                Ok(()) => err,
                Err(e) => e,
            }
        }
        e if e.is_usage() => OptionsError::new_err(message),
        _ => RaugError::new_err(message),
    }
}

/// The Python exception for a command-line error chain: the library error inside it decides the
/// class; the message is the whole chain, as the command line prints it.
fn py_error_chain(py: Python<'_>, error: &anyhow::Error) -> PyErr {
    let message = error
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    match error.chain().find_map(|e| e.downcast_ref::<raug::Error>()) {
        Some(e) => py_error_saying(py, e, message),
        None => RaugError::new_err(message),
    }
}

fn summary_json(summary: &Summary) -> String {
    serde_json::to_string(summary).expect("a summary serializes")
}

/// Relabels Arrow tables and record batches with the rules the options ask for.
#[pyclass(module = "raug._raug", name = "Relabeler", frozen)]
struct PyRelabeler {
    relabeler: Arc<TableRelabeler>,
    stats: Mutex<Summary>,
}

#[pymethods]
impl PyRelabeler {
    /// Makes a relabeler from the options of `raug relabel`, as command-line words.
    #[new]
    fn new(py: Python<'_>, options: Vec<String>) -> PyResult<PyRelabeler> {
        let args = raug::cmd::relabel::parse(&options).map_err(|e| py_error_chain(py, &e))?;
        let (spec, fields) = args.rules().map_err(|e| py_error_chain(py, &e))?;
        Ok(PyRelabeler {
            relabeler: Arc::new(TableRelabeler::new(spec, fields, args.on_error())),
            stats: Mutex::new(Summary::default()),
        })
    }

    /// Relabels a table (anything with `__arrow_c_stream__`): a `pyarrow.Table` of the output's
    /// batches.
    fn relabel_table(
        &self,
        py: Python<'_>,
        table: PyArrowType<Table>,
    ) -> PyResult<PyArrowType<Table>> {
        let (batches, schema) = table.0.into_inner();
        let (batches, schema) = self.run(py, &schema, &batches)?;
        let table = Table::try_new(batches, schema)
            .map_err(|e| RaugError::new_err(format!("internal error: {e}")))?;
        Ok(PyArrowType(table))
    }

    /// Relabels one record batch: one `pyarrow.RecordBatch` (the halves of blocks order one
    /// after the other).
    fn relabel_batch(
        &self,
        py: Python<'_>,
        batch: PyArrowType<RecordBatch>,
    ) -> PyResult<PyArrowType<RecordBatch>> {
        let batch = batch.0;
        let (batches, schema) = self.run(py, &batch.schema(), &[batch])?;
        let out = arrow_select::concat::concat_batches(&schema, &batches)
            .map_err(|e| RaugError::new_err(format!("internal error: {e}")))?;
        Ok(PyArrowType(out))
    }

    /// The output schema of tables of this schema (with its metadata).
    fn output_schema(
        &self,
        py: Python<'_>,
        schema: PyArrowType<arrow_schema::Schema>,
    ) -> PyResult<PyArrowType<arrow_schema::Schema>> {
        let schema = Arc::new(schema.0);
        let out = self
            .relabeler
            .output_schema(&schema)
            .map_err(|e| py_error(py, &e))?;
        Ok(PyArrowType(out.as_ref().clone()))
    }

    /// Everything relabeled so far, as JSON: rows in and out, ties, skipped rows by reason.
    fn stats(&self) -> String {
        summary_json(&self.stats.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl PyRelabeler {
    /// Relabels without holding the GIL, and adds to the running stats.
    fn run(
        &self,
        py: Python<'_>,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> PyResult<(Vec<RecordBatch>, SchemaRef)> {
        let relabeler = Arc::clone(&self.relabeler);
        let out = py
            .detach(|| relabeler.relabel(schema, batches))
            .map_err(|e| py_error(py, &e))?;
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .merge(out.summary);
        Ok((out.batches, out.schema))
    }
}

/// Runs `raug relabel` with these command-line words (inputs, `-o`, options) without holding the
/// GIL; returns the summary as JSON.
#[pyfunction]
fn relabel_file(py: Python<'_>, argv: Vec<String>) -> PyResult<String> {
    let args = raug::cmd::relabel::parse(&argv).map_err(|e| py_error_chain(py, &e))?;
    let summary = py
        .detach(|| raug::cmd::relabel::execute(args))
        .map_err(|e| py_error_chain(py, &e))?;
    Ok(summary_json(&summary))
}

/// The `raug` command: runs it with these words (the program's name first) and returns its exit
/// code. Ctrl-C ends the process, as it ends the command line.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> u8 {
    py.detach(|| raug::cmd::main(argv))
}

/// The native module.
#[pymodule]
fn _raug(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRelabeler>()?;
    m.add_function(wrap_pyfunction!(relabel_file, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add("RaugError", m.py().get_type::<RaugError>())?;
    m.add("OptionsError", m.py().get_type::<OptionsError>())?;
    m.add("BadRowError", m.py().get_type::<BadRowError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
