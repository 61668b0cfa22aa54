"""The engine recipes of the README, run for real in local mode: Hugging Face `datasets`, Ray Data
and Spark each relabel real rows with raug's batch function, and each output is the command
line's on the same input, as a multiset of rows."""

import os
import sys

import pyarrow.parquet as pq
import pytest

import raug
from conftest import H4, cli, real, rows


def cli_rows(tmp_path, source, *flags):
    out = tmp_path / "cli.parquet"
    cli("relabel", source, "-o", out, "--quiet", *flags)
    return pq.read_table(out)


def test_datasets_map_relabels_arrow_batches_and_keeps_the_features(tmp_path, h4_parquet):
    import datasets

    ds = datasets.load_dataset(
        "parquet", data_files=str(h4_parquet), split="train", cache_dir=str(tmp_path / "hf")
    )
    relabeler = raug.Relabeler()
    out = ds.with_format("arrow").map(relabeler, batched=True, batch_size=5)
    assert out.features == ds.features
    expected = cli_rows(tmp_path, h4_parquet)
    assert out.num_rows == 2 * ds.num_rows == expected.num_rows
    assert rows(out.with_format("arrow")[:]) == rows(expected)
    # Batches of 5 rows, in order: the rows come out in the command line's order too.
    assert out.with_format("arrow")[:].to_pylist() == expected.to_pylist()


def test_datasets_map_in_two_processes(tmp_path, noise_parquet):
    import datasets

    ds = datasets.load_dataset(
        "parquet", data_files=str(noise_parquet), split="train", cache_dir=str(tmp_path / "hf")
    )
    relabeler = raug.Relabeler(order="blocks")
    # Used here before `datasets` forks its workers: a child must not wait for the parent's
    # threads, which it doesn't have.
    assert relabeler(pq.read_table(noise_parquet).slice(0, 10)).num_rows == 20
    out = ds.with_format("arrow").map(relabeler, batched=True, num_proc=2)
    assert out.features == ds.features
    assert rows(out.with_format("arrow")[:]) == rows(cli_rows(tmp_path, noise_parquet))


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_data_map_batches_with_the_relabeler(tmp_path, noise_parquet, ray_local):
    folder = tmp_path / "shards"
    folder.mkdir()
    table = pq.read_table(noise_parquet)
    for i in range(4):
        pq.write_table(table.slice(250 * i, 250), folder / f"part-{i}.parquet")
    out = tmp_path / "ray-out"
    relabeler = raug.Relabeler()
    (
        ray_local.data.read_parquet(str(folder))
        .map_batches(relabeler, batch_format="pyarrow", batch_size=100)
        .write_parquet(str(out))
    )
    got = pq.read_table(out)
    assert got.num_rows == 2000
    assert rows(got) == rows(cli_rows(tmp_path, folder / "*.parquet"))


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("raug-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_map_in_arrow_with_the_relabeler(tmp_path, noise_parquet, spark):
    df = spark.read.parquet(str(noise_parquet)).repartition(2)
    relabeler = raug.Relabeler()
    out = tmp_path / "spark-out"
    df.mapInArrow(relabeler.spark, df.schema).write.parquet(str(out))
    got = pq.read_table(out)
    assert got.num_rows == 2000
    assert rows(got) == rows(cli_rows(tmp_path, noise_parquet))


def test_spark_on_real_message_lists(tmp_path, h4_parquet, spark):
    df = spark.read.parquet(str(h4_parquet))
    got = df.mapInArrow(raug.Relabeler(order="blocks").spark, df.schema).toArrow()
    expected = cli_rows(tmp_path, h4_parquet, "--order", "blocks")
    assert got.num_rows == 2 * real_rows(H4)
    assert rows(got) == rows(expected)


def test_spark_with_another_layout_takes_the_schema_from_the_relabeler(tmp_path, h4_parquet, spark):
    df = spark.read.parquet(str(h4_parquet))
    relabeler = raug.Relabeler(to="trl")
    schema = relabeler.spark_schema(df.schema)
    assert schema != df.schema
    got = df.mapInArrow(relabeler.spark, schema).toArrow()
    expected = cli_rows(tmp_path, h4_parquet, "--to", "trl")
    assert got.column_names == expected.column_names
    assert rows(got) == rows(expected)


def real_rows(name):
    with open(real(name), encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())

