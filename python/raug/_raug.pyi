"""Type hints of raug's native module; use the wrappers in ``raug`` (``raug.Relabeler``)."""

from typing import List

import pyarrow

__version__: str

class RaugError(Exception):
    """Bad data or an I/O error: what the command line exits 1 for."""

class OptionsError(RaugError):
    """Options that can't work, alone or with this data's layout: the command line's exit 2."""

class BadRowError(RaugError):
    """A bad row under ``on_error="fail"``."""

    row: int
    """The row: its index in the table handed over (from 0), or its line in a JSON Lines file."""
    field: str | None
    """The field to blame (a dotted path), if one is."""
    reason: str
    """The reason, as ``--stats`` counts it: ``bad_score``, ``missing_field``, ..."""
    detail: str
    """What is wrong, for a person."""

class Relabeler:
    """Relabels Arrow data with the options of ``raug relabel`` given as command-line words."""

    def __init__(self, options: List[str]) -> None: ...
    def relabel_table(self, table: object) -> pyarrow.Table: ...
    def relabel_batch(self, batch: pyarrow.RecordBatch) -> pyarrow.RecordBatch: ...
    def output_schema(self, schema: pyarrow.Schema) -> pyarrow.Schema: ...
    def stats(self) -> str: ...

def relabel_file(argv: List[str]) -> str:
    """Runs ``raug relabel`` with these words; returns the summary as JSON."""

def main(argv: List[str]) -> int:
    """Runs the ``raug`` command with these words (its name first); returns the exit code."""
