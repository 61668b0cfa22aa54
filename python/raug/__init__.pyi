"""Type hints of raug's Python API: every option of ``raug relabel`` as a keyword argument, so
editors complete them. ``raug relabel --help`` says what each does."""

import os
from typing import Any, Dict, Iterable, Iterator, Literal, Optional, Sequence, Tuple, Union

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

class Relabeler:
    """Relabels Arrow tables and record batches with the options of ``raug relabel``."""

    def __init__(
        self,
        *,
        on_error: Literal["fail", "skip"] = "fail",
        style: Optional[Literal["system", "prefix"]] = None,
        template: Optional[str] = None,
        attributes: Optional[Sequence[str]] = None,
        scale: _Scale = "1-10",
        from_scale: Optional[_Scale] = None,
        precision: Optional[int] = None,
        clamp: bool = False,
        goals: Literal["both", "chosen", "rejected"] = "both",
        keep_original: bool = False,
        force: bool = False,
        ties: Literal["keep", "drop"] = "keep",
        order: Literal["interleaved", "blocks"] = "interleaved",
        to: Optional[Literal["trl", "sharegpt", "openai"]] = None,
        layout: Optional[_Layout] = None,
        fixed_scores: Optional[Tuple[float, float]] = None,
        prompt: Optional[str] = None,
        chosen: Optional[str] = None,
        rejected: Optional[str] = None,
        chosen_score: Optional[str] = None,
        rejected_score: Optional[str] = None,
        swap: Optional[Sequence[str]] = None,
        no_swap: Optional[Sequence[str]] = None,
        a: Optional[str] = None,
        b: Optional[str] = None,
        a_wins_when: Optional[str] = None,
        b_wins_when: Optional[str] = None,
        a_score: Optional[str] = None,
        b_score: Optional[str] = None,
    ) -> None: ...
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
    input: Union[_Path, Sequence[_Path]],
    output: _Path,
    *,
    on_error: Literal["fail", "skip"] = "fail",
    rejects: Optional[_Path] = None,
    stats: Optional[_Path] = None,
    compression: Optional[Literal["zstd", "snappy", "gzip", "brotli", "lz4", "none"]] = None,
    passthrough: Optional[Sequence[str]] = None,
    threads: Optional[int] = None,
    input_format: Optional[Literal["jsonl", "json", "parquet"]] = None,
    output_format: Optional[Literal["jsonl", "json", "parquet"]] = None,
    quiet: bool = False,
    shard: Optional[Union[str, Tuple[int, int]]] = None,
    style: Optional[Literal["system", "prefix"]] = None,
    template: Optional[str] = None,
    attributes: Optional[Sequence[str]] = None,
    scale: _Scale = "1-10",
    from_scale: Optional[_Scale] = None,
    precision: Optional[int] = None,
    clamp: bool = False,
    goals: Literal["both", "chosen", "rejected"] = "both",
    keep_original: bool = False,
    force: bool = False,
    ties: Literal["keep", "drop"] = "keep",
    order: Literal["interleaved", "blocks"] = "interleaved",
    to: Optional[Literal["trl", "sharegpt", "openai"]] = None,
    layout: Optional[_Layout] = None,
    fixed_scores: Optional[Tuple[float, float]] = None,
    prompt: Optional[str] = None,
    chosen: Optional[str] = None,
    rejected: Optional[str] = None,
    chosen_score: Optional[str] = None,
    rejected_score: Optional[str] = None,
    swap: Optional[Sequence[str]] = None,
    no_swap: Optional[Sequence[str]] = None,
    a: Optional[str] = None,
    b: Optional[str] = None,
    a_wins_when: Optional[str] = None,
    b_wins_when: Optional[str] = None,
    a_score: Optional[str] = None,
    b_score: Optional[str] = None,
) -> Dict[str, Any]:
    """Runs ``raug relabel INPUT... -o OUTPUT``; returns the summary (``--stats``' keys)."""
