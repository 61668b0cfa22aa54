"""Type hints of raug's Python API: every option of ``raug relabel`` as a keyword argument, so
editors complete them. ``raug relabel --help`` says what each does."""

import os
from typing import Any, Dict, Iterable, Iterator, Literal, Sequence, Tuple, TypedDict, Union

from typing_extensions import Unpack

import pyarrow

from ._raug import BadRowError as BadRowError
from ._raug import OptionsError as OptionsError
from ._raug import RaugError as RaugError

__version__: str

_Path = Union[str, os.PathLike[str]]
_Scale = Union[str, Tuple[float, float]]
_Layout = Literal[
    "ultrafeedback_binarized", "trl", "nemo", "axolotl-argilla", "alpaca", "axolotl-intel",
    "sharegpt", "openai",
]

class RelabelOptions(TypedDict, total=False):
    """The options of ``raug relabel`` that say how to relabel (``_`` for ``-``)."""

    on_error: Literal["fail", "skip"]
    style: Literal["system", "prefix"]
    template: str
    attributes: Sequence[str]
    scale: _Scale
    from_scale: _Scale
    precision: int
    clamp: bool
    goals: Literal["both", "chosen", "rejected"]
    keep_original: bool
    force: bool
    ties: Literal["keep", "drop"]
    order: Literal["interleaved", "blocks"]
    to: Literal["trl", "sharegpt", "openai"]
    layout: _Layout
    fixed_scores: Tuple[float, float]
    prompt: str
    chosen: str
    rejected: str
    chosen_score: str
    rejected_score: str
    swap: Sequence[str]
    no_swap: Sequence[str]
    a: str
    b: str
    a_wins_when: str
    b_wins_when: str
    a_score: str
    b_score: str

class FileOptions(RelabelOptions, total=False):
    """:class:`RelabelOptions` and the options of files and processes."""

    rejects: _Path
    stats: _Path
    compression: Literal["zstd", "snappy", "gzip", "brotli", "lz4", "none"]
    passthrough: Sequence[str]
    threads: int
    input_format: Literal["jsonl", "json", "parquet"]
    output_format: Literal["jsonl", "json", "parquet"]
    quiet: bool
    shard: Union[str, Tuple[int, int]]

class Relabeler:
    """Relabels Arrow tables and record batches with the options of ``raug relabel``."""

    def __init__(self, **options: Unpack[RelabelOptions]) -> None: ...
    def relabel(self, data: Any) -> Any:
        """A ``pyarrow.RecordBatch`` gives a ``RecordBatch``; a ``pyarrow.Table`` (or anything
        with ``__arrow_c_stream__``) a ``pyarrow.Table``."""
    def __call__(self, data: Any) -> Any:
        """The same as :meth:`relabel`, for ``datasets.map`` and Ray's ``map_batches``."""
    def spark(self, batches: Iterable[pyarrow.RecordBatch]) -> Iterator[pyarrow.RecordBatch]:
        """For Spark's ``df.mapInArrow(relabeler.spark, relabeler.spark_schema(df.schema))``."""
    def output_schema(self, schema: pyarrow.Schema) -> pyarrow.Schema:
        """The schema tables of ``schema`` are relabeled into."""
    def spark_schema(self, schema: Any) -> Any:
        """The Spark ``StructType`` :meth:`spark` writes for a DataFrame of ``schema``."""
    @property
    def stats(self) -> Dict[str, Any]:
        """Rows in and out, ties, skipped rows by reason, the layout: ``--stats``' keys."""
    @property
    def options(self) -> Dict[str, Any]:
        """The keyword arguments this relabeler was made with."""

def relabel_file(
    input: Union[_Path, Sequence[_Path]], output: _Path, **options: Unpack[FileOptions]
) -> Dict[str, Any]:
    """Runs ``raug relabel INPUT... -o OUTPUT``; returns the summary (``--stats``' keys)."""
