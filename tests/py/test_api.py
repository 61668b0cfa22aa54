"""raug's Python API (raug.Relabeler, raug.relabel_file) and the wheel's `raug` command, against
the command line on the same inputs."""

import json
import pickle

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import raug
from conftest import H4, NOISE, cli, parquet_of, read_jsonl, real, rows

GOAL = (
    "You are an assistant that generates responses for the instruction while implicitly "
    "achieving the following target scores (on a scale of 1-10, where 1 is lowest and 10 is "
    "highest):\nOverall score: {}."
)


def small():
    """Two standard pairs, one tie."""
    return pa.table(
        {
            "prompt": ["p1", "p2"],
            "chosen": ["a1", "a2"],
            "rejected": ["b1", "b2"],
            "score_chosen": [8.0, 5.0],
            "score_rejected": [3.0, 5.0],
        }
    )


def test_a_table_becomes_the_papers_two_pairs_per_row():
    out = raug.Relabeler().relabel(small())
    assert isinstance(out, pa.Table)
    assert out.to_pylist() == [
        {"prompt": GOAL.format(8) + "\n\np1", "chosen": "a1", "rejected": "b1",
         "score_chosen": 8.0, "score_rejected": 3.0},
        {"prompt": GOAL.format(3) + "\n\np1", "chosen": "b1", "rejected": "a1",
         "score_chosen": 3.0, "score_rejected": 8.0},
        {"prompt": GOAL.format(5) + "\n\np2", "chosen": "a2", "rejected": "b2",
         "score_chosen": 5.0, "score_rejected": 5.0},
        {"prompt": GOAL.format(5) + "\n\np2", "chosen": "b2", "rejected": "a2",
         "score_chosen": 5.0, "score_rejected": 5.0},
    ]


def test_a_record_batch_gives_a_record_batch_with_blocks_order_inside_it():
    batch = small().to_batches()[0]
    out = raug.Relabeler(order="blocks", ties="drop")(batch)
    assert isinstance(out, pa.RecordBatch)
    assert out.schema == batch.schema
    assert out.column("prompt").to_pylist() == [GOAL.format(8) + "\n\np1", GOAL.format(3) + "\n\np1"]
    assert out.column("chosen").to_pylist() == ["a1", "b1"]


def test_blocks_order_spans_the_whole_table():
    table = pa.Table.from_batches(small().to_batches(max_chunksize=1))
    out = raug.Relabeler(order="blocks")(table)
    assert out.column("chosen").to_pylist() == ["a1", "a2", "b1", "b2"]


def test_any_arrow_stream_producer_is_read():
    class Producer:
        """Only the Arrow PyCapsule stream interface, as Polars, DuckDB and nanoarrow offer."""

        def __init__(self, table):
            self.table = table

        def __arrow_c_stream__(self, requested_schema=None):
            return self.table.__arrow_c_stream__(requested_schema)

    out = raug.Relabeler()(Producer(small()))
    assert out == raug.Relabeler()(small())


def test_python_rows_are_refused_with_the_way_to_hand_over_arrow():
    with pytest.raises(TypeError) as caught:
        raug.Relabeler()({"prompt": ["p"], "chosen": ["a"]})
    assert str(caught.value) == (
        "raug.Relabeler relabels Arrow data (a pyarrow Table or RecordBatch), not dict; with "
        "datasets, map over Arrow batches: ds.with_format('arrow').map(relabeler, batched=True)"
    )


def test_options_are_the_command_lines():
    relabeler = raug.Relabeler(
        scale=(0, 5), from_scale="1-10", precision=1, goals="chosen", keep_original=True,
        template="Aim for {score}.",
    )
    out = relabeler(small().slice(0, 1))
    assert out.to_pylist() == [
        {"prompt": "p1", "chosen": "a1", "rejected": "b1", "score_chosen": 8.0,
         "score_rejected": 3.0},
        {"prompt": "Aim for 3.9.\n\np1", "chosen": "a1", "rejected": "b1",
         "score_chosen": 8.0, "score_rejected": 3.0},
    ]


def test_the_api_matches_the_command_line_on_real_data_with_its_metadata(tmp_path, h4_parquet):
    for options, flags in [({}, []), ({"order": "blocks"}, ["--order", "blocks"]),
                           ({"to": "trl"}, ["--to", "trl"])]:
        out = tmp_path / "cli.parquet"
        cli("relabel", h4_parquet, "-o", out, "--quiet", *flags)
        expected = pq.read_table(out)
        got = raug.Relabeler(**options)(pq.read_table(h4_parquet))
        assert got.schema.metadata == expected.schema.metadata, options
        assert got.schema == expected.schema, options
        assert got.to_pylist() == expected.to_pylist(), options
        assert b"huggingface" in got.schema.metadata


@pytest.mark.parametrize(
    "name, options, flags",
    [
        (NOISE, {"order": "blocks"}, ["--order", "blocks"]),
        ("finetunelab.ai__ultrafeedback_sample_1k.jsonl", {"scale": "1-5"}, ["--scale", "1-5"]),
        (
            "llm-thankfulness-claude__PKU-Alignment_PKU-SafeRLHF_sample.jsonl",
            {"a_wins_when": "better_response_id=0", "b_wins_when": "better_response_id=1",
             "fixed_scores": (10, 1), "to": "trl"},
            ["--a-wins-when", "better_response_id=0", "--b-wins-when", "better_response_id=1",
             "--fixed-scores", "10,1", "--to", "trl"],
        ),
    ],
)
def test_the_api_matches_the_command_line_on_other_real_layouts(tmp_path, name, options, flags):
    source = parquet_of(real(name), tmp_path / "in.parquet", row_group_size=128)
    out = tmp_path / "cli.parquet"
    cli("relabel", source, "-o", out, "--quiet", *flags)
    expected = pq.read_table(out)
    got = raug.Relabeler(**options)(pq.read_table(source))
    assert got.schema == expected.schema
    assert got.to_pylist() == expected.to_pylist()


def test_float32_scores_and_large_strings_are_read_as_they_are_held():
    table = pa.table(
        {
            "prompt": pa.array(["p"], pa.large_string()),
            "chosen": pa.array(["a"], pa.large_string()),
            "rejected": pa.array(["b"], pa.large_string()),
            "score_chosen": pa.array([7.3], pa.float32()),
            "score_rejected": pa.array([2.1], pa.float32()),
        }
    )
    out = raug.Relabeler(precision=1)(table)
    assert out.schema == table.schema
    assert out.column("prompt").to_pylist() == [GOAL.format("7.3") + "\n\np", GOAL.format("2.1") + "\n\np"]


def test_scores_of_two_types_come_out_in_the_wider_one_as_output_schema_says():
    # As pyarrow types scores read from 8, 7 and 3.5, 2: int64 and float64.
    table = pa.table(
        {
            "prompt": ["p", "q"],
            "chosen": ["a", "c"],
            "rejected": ["b", "d"],
            "score_chosen": pa.array([8, 7], pa.int64()),
            "score_rejected": pa.array([3.5, 2.0], pa.float64()),
        }
    )
    relabeler = raug.Relabeler()
    out = relabeler(table)
    assert out.schema == relabeler.output_schema(table.schema)
    assert out.schema.field("score_chosen").type == pa.float64()
    assert out.schema.field("score_rejected").type == pa.float64()
    assert [(r["chosen"], r["score_chosen"], r["score_rejected"]) for r in out.to_pylist()] == [
        ("a", 8.0, 3.5), ("b", 3.5, 8.0), ("c", 7.0, 2.0), ("d", 2.0, 7.0),
    ]


def test_a_bad_row_raises_naming_row_field_and_reason():
    table = small().set_column(3, "score_chosen", pa.array([8.0, None]))
    with pytest.raises(raug.BadRowError) as caught:
        raug.Relabeler()(table)
    e = caught.value
    assert str(e) == '<arrow>: row 1: field "score_chosen": missing or null'
    assert (e.row, e.field, e.reason, e.detail) == (1, "score_chosen", "missing_field", "missing or null")
    assert isinstance(e, raug.RaugError)
    # Engines send a worker's exception to the driver pickled: it comes back as itself.
    assert type(e).__module__ == "raug"
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is raug.BadRowError and str(back) == str(e)


def test_skip_drops_bad_rows_and_counts_them():
    table = small().set_column(3, "score_chosen", pa.array([8.0, None]))
    relabeler = raug.Relabeler(on_error="skip")
    assert relabeler(table).num_rows == 2
    assert relabeler(table.slice(0, 1)).num_rows == 2
    assert relabeler.stats == {
        "rows_in": 3, "rows_out": 4, "ties": 0, "ties_dropped": 0, "skipped": 1,
        "skipped_by_reason": {"missing_field": 1}, "blank_lines": 0,
        "layout": "layout standard (explicit prompt), scores score_chosen/score_rejected, style prefix",
    }


def test_mistaken_options_say_what_is_wrong():
    with pytest.raises(raug.OptionsError, match=r"^--scale: invalid scale \"x\": write LO-HI, like 1-10 or 0-1$"):
        raug.Relabeler(scale="x")
    with pytest.raises(raug.OptionsError, match=r"^unexpected argument '--scael' found; tip: a similar argument exists: '--scale'$"):
        raug.Relabeler(scael="1-5")
    with pytest.raises(TypeError, match="'stats' is an option of raug.relabel_file, not of a relabeler"):
        raug.Relabeler(stats="s.json")
    with pytest.raises(raug.OptionsError) as caught:
        raug.Relabeler(chosen_score="nope", rejected_score="score_rejected")(small())
    assert str(caught.value) == "<arrow>: --chosen-score nope: the first row has no such field"


def test_a_relabeler_pickles_with_its_options():
    relabeler = raug.Relabeler(order="blocks", scale="0-5", on_error="skip")
    copy = pickle.loads(pickle.dumps(relabeler))
    assert copy.options == {"order": "blocks", "scale": "0-5", "on_error": "skip"}
    assert copy(small()) == relabeler(small())
    assert repr(copy) == "raug.Relabeler(order='blocks', scale='0-5', on_error='skip')"


def test_relabel_file_is_the_command_lines_driver(tmp_path):
    out = tmp_path / "out.jsonl"
    summary = raug.relabel_file(real(NOISE), out, order="blocks", threads=2)
    assert summary == {
        "rows_in": 1000, "rows_out": 2000, "ties": 111, "ties_dropped": 0, "skipped": 0,
        "skipped_by_reason": {}, "blank_lines": 0,
        "layout": "layout standard (explicit prompt), scores metadata.score_chosen/metadata.score_rejected, style prefix",
    }
    expected = tmp_path / "cli.jsonl"
    cli("relabel", real(NOISE), "--order", "blocks", "-o", expected, "--quiet")
    assert out.read_bytes() == expected.read_bytes()


def test_relabel_file_shards_cover_the_file(tmp_path):
    whole = []
    for i in range(3):
        out = tmp_path / f"part-{i}.jsonl"
        summary = raug.relabel_file(real(NOISE), out, shard=(i, 3), quiet=True)
        assert summary["rows_out"] == 2 * summary["rows_in"] > 0
        whole.append(out.read_bytes())
    expected = tmp_path / "cli.jsonl"
    cli("relabel", real(NOISE), "-o", expected, "--quiet")
    assert b"".join(whole) == expected.read_bytes()


def test_relabel_file_raises_at_the_bad_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt":"p","chosen":"a","rejected":"b","score_chosen":2,"score_rejected":1}\n'
                   '{"prompt":"p","chosen":"a","rejected":"b","score_chosen":"x","score_rejected":1}\n')
    with pytest.raises(raug.BadRowError) as caught:
        raug.relabel_file(bad, tmp_path / "out.jsonl")
    assert str(caught.value) == f'{bad}:2: field "score_chosen": expected a number, got string "x"'
    assert caught.value.row == 2
    assert not (tmp_path / "out.jsonl").exists()
    with pytest.raises(raug.OptionsError, match="is also an input; write to another file"):
        raug.relabel_file(bad, bad)


def test_the_wheels_command_is_the_command_line(tmp_path):
    assert cli("--version").stdout == f"raug {raug.__version__}\n"
    out = tmp_path / "out.jsonl"
    cli("relabel", real(H4), "-o", out, "--quiet")
    assert len(read_jsonl(out)) == 32
    usage = cli("relabel", "--nope", check=False)
    assert usage.returncode == 2
    assert "unexpected argument '--nope'" in usage.stderr
    missing = cli("relabel", tmp_path / "missing.jsonl", check=False)
    assert missing.returncode == 1
    assert missing.stderr.startswith("raug: error: ")


def test_the_type_hints_name_every_option_of_the_command_line():
    import ast
    import re
    from pathlib import Path

    stub = ast.parse((Path(raug.__file__).parent / "__init__.pyi").read_text())
    fields = {
        node.name: {f.target.id for f in node.body if isinstance(f, ast.AnnAssign)}
        for node in stub.body
        if isinstance(node, ast.ClassDef)
    }
    relabeler_options = fields["RelabelOptions"]
    file_options_all = fields["RelabelOptions"] | fields["FileOptions"]
    help_text = cli("relabel", "--help").stdout
    flags = set(re.findall(r"--([a-z](?:[a-z-]*[a-z])?)\b", help_text)) - {"help", "version"}
    keywords = {"attributes" if f == "attribute" else f.replace("-", "_") for f in flags}
    file_options = {"output", "rejects", "stats", "compression", "passthrough", "threads",
                    "input_format", "output_format", "quiet", "shard"}
    assert relabeler_options == keywords - file_options
    assert file_options_all == keywords - {"output"}
    layouts = {line for line in cli("layouts").stdout.splitlines() if re.fullmatch(r"[a-z_-]+", line)}
    text = (Path(raug.__file__).parent / "__init__.pyi").read_text()
    hinted = text.split("_Layout = Literal[")[1].split("]")[0]
    assert set(re.findall(r'"([a-z_-]+)"', hinted)) == layouts


def test_a_type_checker_catches_a_mistyped_option(tmp_path):
    import subprocess
    import sys

    use = tmp_path / "use.py"
    use.write_text(
        "import raug\n"
        "r = raug.Relabeler(order='blocks', scale=(1, 10), on_error='skip', attributes=['helpfulness'])\n"
        "s = raug.relabel_file('a.jsonl', 'b.jsonl', shard=(0, 4), threads=2, ties='drop')\n"
        "raug.Relabeler(ordr='blocks')\n"
        "raug.Relabeler(order='sideways')\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--hide-error-context",
         "--no-error-summary", str(use)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    errors = [line.split(": error: ")[1] for line in run.stdout.splitlines() if ": error: " in line]
    assert errors == [
        'Unexpected keyword argument "ordr" for "Relabeler"; did you mean "order"?  [call-arg]',
        'Argument "order" to "Relabeler" has incompatible type "Literal[\'sideways\']"; '
        'expected "Literal[\'interleaved\', \'blocks\']"  [arg-type]',
    ], run.stdout + run.stderr
