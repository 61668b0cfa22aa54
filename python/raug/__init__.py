"""raug: reward-augmented relabeling of LLM preference datasets, over Arrow.

Each scored pair (prompt, chosen, rejected) becomes two reward-conditioned pairs, as in
"Reward-Augmented Data Enhances Direct Preference Alignment of LLMs" (Zhang et al., arXiv
2410.08067): one whose goal is the chosen score (roles as they were), one whose goal is the rejected
score (roles swapped), the goal written into the prompt.

The work is done by the same Rust rules as the ``raug`` command; Arrow data crosses over through
the Arrow C Data Interface without a copy.

    import pyarrow.parquet as pq, raug

    relabeler = raug.Relabeler(scale="1-10")          # the options of `raug relabel`
    table = relabeler.relabel(pq.read_table("train_prefs.parquet"))
    raug.relabel_file("train_prefs.parquet", "relabeled.parquet", order="blocks")

Engines (each ships the picklable relabeler to its workers):

    ds.with_format("arrow").map(relabeler, batched=True)                       # datasets
    ray.data.read_parquet(folder).map_batches(relabeler, batch_format="pyarrow")  # Ray Data
    df.mapInArrow(relabeler.spark, relabeler.spark_schema(df.schema))          # Spark
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Sequence, Union

from . import _raug
from ._raug import BadRowError, OptionsError, RaugError

__all__ = [
    "Relabeler",
    "relabel_file",
    "RaugError",
    "OptionsError",
    "BadRowError",
    "__version__",
]

__version__: str = _raug.__version__

# Options of `raug relabel` that name files or threads: relabel_file's, not a relabeler's.
_FILE_OPTIONS = frozenset(
    {
        "rejects",
        "stats",
        "compression",
        "passthrough",
        "threads",
        "input_format",
        "output_format",
        "output",
        "quiet",
        "shard",
    }
)
# Keyword arguments whose command-line option has another name.
_FLAG_NAMES = {"attributes": "attribute", "threads": "j"}


# Options given as a pair of numbers, written as the command line takes them.
_PAIRS = {"scale": "{}-{}", "from_scale": "{}-{}", "fixed_scores": "{},{}", "shard": "{}/{}"}


def _words(options: Mapping[str, Any]) -> List[str]:
    """The command-line words for keyword options: ``from_scale="0-5"`` is ``--from-scale 0-5``;
    ``True`` is the bare flag, ``False`` and ``None`` leave it out; a list repeats it; a pair of
    numbers is written ``LO-HI`` for scales, ``HI,LO`` for ``fixed_scores`` and ``I/N`` for
    ``shard``."""
    words: List[str] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = _FLAG_NAMES.get(name, name).replace("_", "-")
        flag = f"-{flag}" if len(flag) == 1 else f"--{flag}"
        if value is True:
            words.append(flag)
            continue
        if name in _PAIRS and isinstance(value, (list, tuple)):
            values = [_PAIRS[name].format(*value)]
        elif isinstance(value, (list, tuple)):
            values = list(value)
        else:
            values = [value]
        for v in values:
            words.extend([flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)])
    return words


class Relabeler:
    """Relabels Arrow tables and record batches with the options of ``raug relabel``.

    Keyword arguments are the command line's options, ``_`` for ``-``: ``style``,
    ``template``, ``attributes`` (a list, one per ``--attribute``), ``scale`` (``"1-10"`` or
    ``(1, 10)``), ``from_scale``, ``precision``, ``clamp``, ``goals`` (``"both"``, ``"chosen"``,
    ``"rejected"``), ``keep_original``, ``force``, ``ties`` (``"keep"``, ``"drop"``), ``order``
    (``"interleaved"`` or ``"blocks"``, within each table or batch), ``to`` (``"trl"``,
    ``"sharegpt"``, ``"openai"``), ``layout``, ``fixed_scores`` (``(10, 1)``), the field paths
    ``prompt``, ``chosen``, ``rejected``, ``chosen_score``, ``rejected_score``, ``swap``,
    ``no_swap``, the winner field's ``a``, ``b``, ``a_wins_when``, ``b_wins_when``, ``a_score``,
    ``b_score``; and ``on_error``: ``"fail"`` raises :class:`BadRowError` at the first bad row,
    ``"skip"`` drops bad rows and counts them in :attr:`stats`. ``raug relabel --help`` says what
    each does.

    The layout is detected from each table's schema, as the command line detects it from a
    Parquet file's. A relabeler is reusable and picklable (Ray and Spark ship it to workers, each
    counting its own :attr:`stats`), and calling it is :meth:`relabel`.
    """

    def __init__(self, *, on_error: str = "fail", **options: Any) -> None:
        for name in options:
            if name in _FILE_OPTIONS:
                raise TypeError(
                    f"Relabeler(): {name!r} is an option of raug.relabel_file, not of a relabeler"
                )
        self._options: Dict[str, Any] = dict(options, on_error=on_error)
        self._native = _raug.Relabeler(_words(self._options))

    def relabel(self, data: Any) -> Any:
        """Relabels ``data``: a ``pyarrow.RecordBatch`` gives a ``pyarrow.RecordBatch``, anything
        else with ``__arrow_c_stream__`` (a ``pyarrow.Table``, a Polars DataFrame, a
        ``RecordBatchReader``) a ``pyarrow.Table``. The schema and its metadata are the input's
        (with ``to``, the target layout's). Rows of each pair are interleaved, or with
        ``order="blocks"`` every goal-chosen row of ``data`` comes before every goal-rejected
        row."""
        import pyarrow as pa

        if isinstance(data, pa.RecordBatch):
            out = self._native.relabel_batch(data)
        elif hasattr(data, "__arrow_c_stream__"):
            out = self._native.relabel_table(data)
        else:
            raise TypeError(
                f"raug.Relabeler relabels Arrow data (a pyarrow Table or RecordBatch), not "
                f"{type(data).__name__}; with datasets, map over Arrow batches: "
                f"ds.with_format('arrow').map(relabeler, batched=True)"
            )
        return out

    __call__ = relabel

    def spark(self, batches: Iterable[Any]) -> Iterator[Any]:
        """For Spark's ``DataFrame.mapInArrow``: relabels each record batch Spark hands over.
        The output schema is :meth:`spark_schema` of the DataFrame's (``df.schema`` itself,
        unless ``to`` writes another layout)."""
        for batch in batches:
            yield self.relabel(batch)

    def output_schema(self, schema: Any) -> Any:
        """The ``pyarrow.Schema`` that tables of ``schema`` are relabeled into."""
        return self._native.output_schema(schema)

    def spark_schema(self, schema: Any) -> Any:
        """The Spark schema (``StructType``) that :meth:`spark` writes for a DataFrame of
        ``schema``: ``df.schema`` itself, unless ``to`` writes another layout.
        ``df.mapInArrow(relabeler.spark, relabeler.spark_schema(df.schema))``."""
        from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

        return from_arrow_schema(self.output_schema(to_arrow_schema(schema)))

    @property
    def stats(self) -> Dict[str, Any]:
        """What this relabeler has done so far (in this process): ``rows_in``, ``rows_out``,
        ``ties``, ``ties_dropped``, ``skipped``, ``skipped_by_reason``, ``layout``; the keys of
        ``raug relabel --stats``."""
        return json.loads(self._native.stats())

    @property
    def options(self) -> Dict[str, Any]:
        """The keyword arguments this relabeler was made with."""
        return dict(self._options)

    def __getstate__(self) -> Dict[str, Any]:
        return self._options

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._options.items())
        return f"raug.Relabeler({args})"


PathLike = Union[str, "os.PathLike[str]"]


def relabel_file(
    input: Union[PathLike, Sequence[PathLike]], output: PathLike, **options: Any
) -> Dict[str, Any]:
    """Runs ``raug relabel INPUT... -o OUTPUT`` with the command line's streaming, parallel
    driver, without holding the GIL (a progress bar on a terminal, unless ``quiet=True``). ``input`` is a file, a folder of shards, a glob, or a list
    of them; the formats follow the extensions, as on the command line. ``options`` are
    :class:`Relabeler`'s and the file options ``rejects``, ``stats``, ``compression``,
    ``passthrough``, ``threads``, ``input_format``, ``output_format``, ``quiet`` and ``shard``
    (``(i, n)`` or ``"i/n"``: this process's part of a job array). Returns the summary (the
    keys of ``--stats``); raises :class:`BadRowError`, :class:`OptionsError` or
    :class:`RaugError` where the command line would exit 1 or 2."""
    inputs = [input] if isinstance(input, (str, os.PathLike)) else list(input)
    words = [os.fspath(i) for i in inputs] + ["-o", os.fspath(output)]
    return json.loads(_raug.relabel_file(words + _words(options)))
