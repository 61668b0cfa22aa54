//! The bad-input promises: a run that can't give a right result says so and writes nothing.

use serde_json::{json, Value};

use crate::harness::*;

#[test]
fn a_run_that_rejects_every_row_fails_and_writes_nothing() {
    let wd = Workdir::new();
    jsonl_and_parquet(
        &wd,
        "bad",
        concat!(
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": null, "score_rejected": 3.0}"#,
            "\n",
            r#"{"prompt": "q", "chosen": "C", "rejected": "D", "score_chosen": 1.0, "score_rejected": null}"#,
            "\n"
        ),
    );
    for (input, output, first) in [
        ("bad.jsonl", "out.jsonl", "bad.jsonl:1"),
        ("bad.parquet", "out.parquet", "bad.parquet: row 0"),
    ] {
        wd.write(output, "old\n");
        let run = wd.run(&[
            "relabel",
            input,
            "-o",
            output,
            "--on-error",
            "skip",
            "--rejects",
            "rejects.jsonl",
        ]);
        assert_eq!(run.code, 1, "{input}: {}", run.stderr);
        assert_eq!(
            run.stderr,
            format!(
                "raug: error: every one of the 2 rows was rejected (missing_field: 2); the first: {first}: field \"score_chosen\": missing or null; nothing was written\n"
            )
        );
        assert_eq!(wd.read(output), "old\n", "{input}: the old output stays");
        assert!(!wd.path("rejects.jsonl").exists());
        wd.assert_no_temporary_files();
    }
    // An empty input is no failure: nothing was rejected.
    wd.write("empty.jsonl", "");
    let run = wd.run(&[
        "relabel",
        "empty.jsonl",
        "-o",
        "out.jsonl",
        "--on-error",
        "skip",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(wd.read("out.jsonl"), "");
}

#[test]
fn whole_file_compressed_parquet_is_refused_before_anything_is_written() {
    let wd = Workdir::new();
    jsonl_and_parquet(
        &wd,
        "in",
        concat!(
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8.0, "score_rejected": 3.0}"#,
            "\n"
        ),
    );
    let cases: [&[&str]; 4] = [
        &["relabel", "in.jsonl", "-o", "out.parquet.gz"],
        &["relabel", "in.parquet", "-o", "out.parquet.zst"],
        &[
            "relabel",
            "in.jsonl",
            "-o",
            "out.jsonl",
            "--on-error",
            "skip",
            "--rejects",
            "out.parquet.gz",
        ],
        &["condition", "in.jsonl", "-o", "out.parquet.gz"],
    ];
    for args in cases {
        let run = wd.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        let target = args.iter().find(|a| a.contains(".parquet.")).unwrap();
        assert_eq!(
            run.stderr,
            format!(
                "raug: error: {target}: Parquet can't be gzip- or zstd-compressed as a whole (no reader opens that); name it .parquet, and pick the codec of its columns with --compression\n"
            ),
            "{args:?}"
        );
        assert!(!wd.path(target).exists());
        assert!(!wd.path("out.jsonl").exists());
    }
    wd.assert_no_temporary_files();
}

#[test]
fn every_path_a_command_writes_is_checked_before_a_byte_is_read() {
    let wd = Workdir::new();
    let row = concat!(
        r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8.0, "score_rejected": 3.0}"#,
        "\n"
    );
    wd.write("data.jsonl", row);
    wd.write("out.jsonl", "old\n");
    let skip = ["--on-error", "skip"];
    let cases: [(&[&str], &str); 8] = [
        (
            &[
                "relabel",
                "data.jsonl",
                "-o",
                "out.jsonl",
                "--stats",
                "data.jsonl",
            ],
            "--stats data.jsonl is also an input; write to another file",
        ),
        (
            &[
                "relabel",
                "data.jsonl",
                "-o",
                "out.jsonl",
                "--stats",
                "out.jsonl",
            ],
            "the output and --stats are both out.jsonl",
        ),
        (
            &[
                &[
                    "relabel",
                    "data.jsonl",
                    "-o",
                    "o2.jsonl",
                    "--rejects",
                    "r.jsonl",
                    "--stats",
                    "r.jsonl",
                ][..],
                &skip,
            ]
            .concat(),
            "the rejects file and --stats are both r.jsonl",
        ),
        (
            &["condition", "data.jsonl", "-o", "data.jsonl"],
            "the output data.jsonl is also an input; write to another file",
        ),
        (
            &[
                "condition",
                "data.jsonl",
                "-o",
                "o2.jsonl",
                "--stats",
                "o2.jsonl",
            ],
            "the output and --stats are both o2.jsonl",
        ),
        (
            &[
                "pairs",
                "data.jsonl",
                "--group-by",
                "prompt",
                "--text",
                "chosen",
                "--score",
                "score_chosen",
                "--stats",
                "data.jsonl",
            ],
            "--stats data.jsonl is also an input; write to another file",
        ),
        (
            &[
                "pairs",
                "data.jsonl",
                "--group-by",
                "prompt",
                "--text",
                "chosen",
                "--score",
                "score_chosen",
                "-o",
                "data.jsonl",
            ],
            "the output data.jsonl is also an input; write to another file",
        ),
        (
            &[
                "relabel",
                "data.jsonl",
                "-o",
                "out.jsonl",
                "--stats",
                "nodir/stats.json",
            ],
            "nodir/stats.json: the folder nodir doesn't exist",
        ),
    ];
    for (args, message) in cases {
        let run = wd.run(args);
        let io_fault = message.contains("os error") || message.contains("doesn't exist");
        let code = if io_fault { 1 } else { 2 };
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, format!("raug: error: {message}\n"), "{args:?}");
        assert_eq!(wd.read("data.jsonl"), row, "{args:?}: the input stays");
        assert_eq!(
            wd.read("out.jsonl"),
            "old\n",
            "{args:?}: the old output stays"
        );
        assert!(!wd.path("o2.jsonl").exists());
        assert!(!wd.path("r.jsonl").exists());
    }
    wd.assert_no_temporary_files();
}

#[test]
fn pairs_and_condition_write_stats_as_relabel_does() {
    let wd = Workdir::new();
    wd.write(
        "flat.jsonl",
        "{\"id\": 1, \"response\": \"a\", \"score\": 1}\n\
         {\"id\": 1, \"response\": \"b\", \"score\": 4}\n\
         {\"id\": 2, \"response\": \"c\", \"score\": \"x\"}\n\
         {\"id\": 3, \"response\": \"d\", \"score\": 2}\n",
    );
    // A run with --on-error skip and --stats, quiet and successful: the stats it wrote.
    let stats_of = |args: &[&str]| -> Value {
        let extra = ["--on-error", "skip", "--stats", "stats.json", "-q"];
        let run = wd.run(&[args, &extra[..]].concat());
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{args:?}");
        serde_json::from_str(&wd.read("stats.json")).unwrap()
    };
    let args = [
        "pairs",
        "flat.jsonl",
        "--group-by",
        "id",
        "--text",
        "response",
    ];
    assert_eq!(
        stats_of(&[&args[..], &["--score", "score", "-o", "pairs.jsonl"]].concat()),
        json!({"rows_in": 4, "prompts": 2, "pairs": 1, "no_pair": 1, "skipped": 1,
               "skipped_by_reason": {"bad_score": 1}})
    );

    wd.write(
        "eval.jsonl",
        "{\"instruction\": \"Say hi.\"}\n{\"instruction\": 5}\n",
    );
    assert_eq!(
        stats_of(&["condition", "eval.jsonl", "-o", "eval.goal.jsonl"]),
        json!({"rows": 1, "prompt": "instruction", "skipped": 1,
               "skipped_by_reason": {"wrong_type": 1}})
    );
    // A failed run writes no stats.
    let run = wd.run(&[
        "condition",
        "eval.jsonl",
        "-o",
        "eval2.jsonl",
        "--stats",
        "eval2.stats.json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!wd.path("eval2.stats.json").exists());
    wd.assert_no_temporary_files();
}

/// A standard-layout row, relabeled.
const ROW: &str = r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8.0, "score_rejected": 3.0}"#;

#[test]
fn a_byte_order_mark_is_read_and_utf16_is_named() {
    let wd = Workdir::new();
    let plain = wd.run(&[
        "relabel",
        &wd.write("plain.jsonl", format!("{ROW}\n"))
            .to_string_lossy(),
        "-q",
    ]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_eq!(plain.stdout.lines().count(), 2);
    for (name, data) in [
        ("bom.jsonl", format!("\u{feff}{ROW}\n")),
        ("bom.json", format!("\u{feff}[{ROW}]")),
    ] {
        wd.write(name, &data);
        let run = wd.run(&["relabel", name, "-q"]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_rows_eq(&rows(&run.stdout), &rows(&plain.stdout));
    }
    let utf16: Vec<u8> = format!("\u{feff}{ROW}\n")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    wd.write("utf16.jsonl", &utf16);
    let run = wd.run(&["relabel", "utf16.jsonl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: utf16.jsonl: the file is UTF-16, and raug reads UTF-8 JSON: convert it first (iconv -f UTF-16 -t UTF-8)\n"
    );
}

#[test]
fn compressions_raug_does_not_read_are_named() {
    // `{"a": 1}` compressed by bzip2, xz, lz4 and zip: named, with the command that unpacks
    // them, instead of failing as invalid UTF-8.
    let wd = Workdir::new();
    let hex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    for (name, kind, unpack, bytes) in [
        (
            "s.jsonl.bz2",
            "bzip2",
            "bzcat",
            concat!(
                "425a6839314159265359d80ae9c6000003d9800010500020102000000a2000310c08203349191944f177",
                "245385090d80ae9c60",
            ),
        ),
        (
            "s.jsonl.xz",
            "xz",
            "xzcat",
            concat!(
                "fd377a585a000004e6d6b4460200210116000000742fe5a30100087b2261223a20317d0a00000000fce5",
                "7eac824c5940000121096c18c5d51fb6f37d010000000004595a",
            ),
        ),
        (
            "s.jsonl.lz4",
            "lz4",
            "lz4cat",
            "04224d186440a7090000807b2261223a20317d0a00000000886cfb4e",
        ),
        (
            "s.zip",
            "zip",
            "unzip -p",
            concat!(
                "504b03040a0000000000e662815dfaa1475c090000000900000007001c00742e6a736f6e6c5554090003",
                "30bc0e6b30bc0e6b75780b0001040000000004000000007b2261223a20317d0a504b01021e030a000000",
                "0000e662815dfaa1475c0900000009000000070018000000000001000000a48100000000742e6a736f6e",
                "6c555405000330bc0e6b75780b000104000000000400000000504b050600000000010001004d0000004a",
                "0000000000",
            ),
        ),
    ] {
        wd.write(name, hex(bytes));
        let message = format!(
            "the file is {kind}-compressed, and raug reads gzip and zstd: decompress it first \
             (`{unpack} FILE | raug COMMAND -`)"
        );
        for command in ["relabel", "inspect"] {
            let run = wd.run(&[command, name]);
            assert_eq!(run.code, 1, "{command} {name}");
            assert_eq!(run.stderr, format!("raug: error: {name}: {message}\n"));
        }
        let run = wd.run_stdin(&["relabel"], &hex(bytes));
        assert_eq!(run.code, 1);
        assert_eq!(run.stderr, format!("raug: error: <stdin>: {message}\n"));
    }
}

#[test]
fn parquet_bytes_are_parquet_whatever_the_name_and_compression_is_checked() {
    let wd = Workdir::new();
    let jsonl = wd.write("in.jsonl", format!("{ROW}\n"));
    let parquet = pyarrow_parquet(&wd, &jsonl, "in.parquet", 10);
    std::fs::copy(&parquet, wd.path("misnamed.jsonl")).unwrap();
    let expected = wd.run(&["relabel", "in.jsonl", "-q"]);
    let run = wd.run(&[
        "relabel",
        "misnamed.jsonl",
        "-q",
        "--output-format",
        "jsonl",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_rows_eq(&rows(&run.stdout), &rows(&expected.stdout));
    // Parquet on standard input is read from a copy (reading Parquet seeks, which a pipe
    // can't): beside the output, or in the temp folder for standard output, removed after.
    let bytes = std::fs::read(&parquet).unwrap();
    std::fs::create_dir(wd.path("tmp")).unwrap();
    let stdin_run = |args: &[&str], input: &[u8]| -> Run {
        let mut child = wd
            .command(args)
            .env("TMPDIR", wd.path("tmp"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A run that stops before reading it all closes the pipe: not the test's concern.
        let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), input);
        child.wait_with_output().unwrap().into()
    };
    let run = stdin_run(&["relabel", "-q", "--output-format", "jsonl"], &bytes);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_rows_eq(&rows(&run.stdout), &rows(&expected.stdout));
    assert_eq!(std::fs::read_dir(wd.path("tmp")).unwrap().count(), 0);
    for input in [&["-"][..], &["-", "--input-format", "parquet"], &[]] {
        let args = [&["relabel", "-o", "out.parquet", "-q"][..], input].concat();
        let run = stdin_run(&args, &bytes);
        assert_eq!(run.code, 0, "{input:?}: {}", run.stderr);
        assert_rows_eq(
            &parquet_file_rows(&wd, "out.parquet"),
            &rows(&expected.stdout),
        );
        wd.assert_no_temporary_files();
    }
    // Read once, as JSON is.
    let run = stdin_run(&["relabel", "-", "-", "-o", "twice.parquet"], &bytes);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (2, "raug: error: standard input (-) can be read only once\n")
    );
    // Its rows are named `<stdin>`: the output relabeled again.
    let relabeled = std::fs::read(wd.path("out.parquet")).unwrap();
    let run = stdin_run(&["relabel", "-o", "again.parquet"], &relabeled);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "raug: error: <stdin>: row 0: field \"prompt\": already begins with the goal text \
             (relabeled before?); --force relabels it again\n"
        )
    );
    assert!(!wd.path("again.parquet").exists());
    wd.assert_no_temporary_files();
    // The other commands read it the same way, the copy made once however often they ask
    // for their inputs (pairs with --stats asks twice).
    let run = stdin_run(
        &[
            "pairs",
            "--group-by",
            "prompt",
            "--text",
            "chosen",
            "--score",
            "score_chosen",
            "-o",
            "pairs.jsonl",
            "--stats",
            "pairs.json",
        ],
        &bytes,
    );
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            0,
            "raug: 1 rows in, 1 prompts, 0 pairs out, 1 prompts without a pair (one response or \
             all tied), 0 skipped\n"
        )
    );
    wd.assert_no_temporary_files();
    let run = stdin_run(&["inspect", "--json"], &bytes);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (&report["file"], &report["format"], &report["rows"]),
        (&json!("<stdin>"), &json!("Parquet"), &json!(1))
    );
    assert_eq!(std::fs::read_dir(wd.path("tmp")).unwrap().count(), 0);
    // A name that promises compression the bytes don't have.
    wd.write("plain.jsonl.zst", format!("{ROW}\n"));
    wd.write("plain.jsonl.gz", format!("{ROW}\n"));
    for (name, codec, ext) in [
        ("plain.jsonl.zst", "zstd", "zst"),
        ("plain.jsonl.gz", "gzip", "gz"),
    ] {
        let run = wd.run(&["relabel", name]);
        assert_eq!(run.code, 1);
        assert_eq!(
            run.stderr,
            format!("raug: error: {name}: named .{ext} but not {codec}-compressed (its first bytes are not the {codec} magic number)\n")
        );
    }
    // Parquet compressed as a whole (`gzip train.parquet`) is named, with the command that
    // undoes it, whatever the name and on standard input too, by every command.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &bytes).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&bytes[..], 1).unwrap();
    let tail = "-compressed Parquet bytes, and raug reads Parquet as it is written (Parquet \
                compresses its own pages): decompress";
    for (name, data, codec, undo) in [
        ("in.parquet.gz", &gz, "gzip", "gunzip -k in.parquet.gz"),
        ("in.gz", &gz, "gzip", "gunzip -k in.gz"),
        ("in.parquet.zst", &zst, "zstd", "zstd -d in.parquet.zst"),
    ] {
        wd.write(name, data);
        let expected =
            format!("raug: error: {name}: the file holds {codec}{tail} it first (`{undo}`)\n");
        for command in [&["relabel"][..], &["condition"], &["inspect"]] {
            let run = wd.run(&[command, &[name, "-o", "out.jsonl"][..]].concat());
            assert_eq!(
                (run.code, run.stderr.as_str()),
                (1, expected.as_str()),
                "{command:?}"
            );
        }
    }
    for input in [&[][..], &["--input-format", "parquet"]] {
        let run = stdin_run(&[&["relabel", "-o", "out.jsonl"][..], input].concat(), &gz);
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (
                1,
                format!(
                    "raug: error: <stdin>: these are gzip{tail} them first (`gunzip -c FILE | \
                     raug COMMAND -`)\n"
                )
                .as_str()
            ),
            "{input:?}"
        );
    }
    wd.assert_no_temporary_files();
}

#[test]
fn every_parquet_codec_real_writers_use_is_read_and_kept() {
    let wd = Workdir::new();
    let jsonl = wd.write("in.jsonl", format!("{ROW}\n{ROW}\n"));
    let expected = |order: &str| {
        rows(
            &wd.run(&["relabel", "in.jsonl", "--order", order, "-q"])
                .stdout,
        )
    };
    for (codec, name) in [
        ("gzip", "GZIP"),
        ("brotli", "BROTLI"),
        ("lz4", "LZ4"),
        ("zstd", "ZSTD"),
        ("snappy", "SNAPPY"),
        ("none", "UNCOMPRESSED"),
    ] {
        let input = format!("in-{codec}.parquet");
        py(&[
            "pyarrow-parquet",
            jsonl.to_str().unwrap(),
            wd.path(&input).to_str().unwrap(),
            "1",
            codec,
        ]);
        for order in ["blocks", "interleaved"] {
            let run = wd.run(&[
                "relabel",
                &input,
                "-o",
                "out.parquet",
                "--order",
                order,
                "-q",
            ]);
            assert_eq!(run.code, 0, "{codec}: {}", run.stderr);
            let out = wd.path("out.parquet");
            assert_rows_eq(
                &rows(&py(&["rows", out.to_str().unwrap()])),
                &expected(order),
            );
            let info = py(&["info", out.to_str().unwrap()]);
            assert!(
                info.contains(&format!("codec: {name}\n")),
                "{codec}: {info}"
            );
        }
        let run = wd.run(&[
            "relabel",
            &input,
            "-o",
            "again.parquet",
            "--compression",
            codec,
            "-q",
        ]);
        assert_eq!(run.code, 0, "--compression {codec}: {}", run.stderr);
    }
}

#[test]
fn float32_and_float16_scores_print_as_their_columns_show_them() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float32Array, RecordBatch, StringArray};
    use arrow_schema::DataType;

    let wd = Workdir::new();
    for (name, data_type) in [
        ("f32.parquet", DataType::Float32),
        ("f16.parquet", DataType::Float16),
    ] {
        let scores = |v: f32| -> ArrayRef {
            let floats: ArrayRef = Arc::new(Float32Array::from(vec![v]));
            arrow_cast::cast(&floats, &data_type).unwrap()
        };
        let batch = RecordBatch::try_from_iter([
            ("prompt", Arc::new(StringArray::from(vec!["p"])) as ArrayRef),
            ("chosen", Arc::new(StringArray::from(vec!["A"])) as ArrayRef),
            (
                "rejected",
                Arc::new(StringArray::from(vec!["B"])) as ArrayRef,
            ),
            ("score_chosen", scores(7.3)),
            ("score_rejected", scores(1.1)),
        ])
        .unwrap();
        arrow_parquet(&wd, name, &batch);
        let run = wd.run(&[
            "relabel",
            name,
            "--output-format",
            "jsonl",
            "--template",
            "Score {score}.",
            "-q",
        ]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let prompts: Vec<String> = rows(&run.stdout)
            .iter()
            .map(|r| r["prompt"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(prompts, ["Score 7.3.\n\np", "Score 1.1.\n\np"], "{name}");
    }
}

#[test]
fn a_key_raug_reads_or_writes_twice_makes_the_row_bad() {
    let wd = Workdir::new();
    wd.write(
        "dup.jsonl",
        concat!(
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3, "score_chosen": 2}"#,
            "\n",
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3, "note": 1, "note": 2}"#,
            "\n",
            r#"{"prompt": "p", "chosen": [{"role": "user", "content": "q", "content": "r"}], "rejected": [{"role": "user", "content": "q"}], "score_chosen": 8, "score_rejected": 3}"#,
            "\n"
        ),
    );
    let run = wd.run(&["relabel", "dup.jsonl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: dup.jsonl:1: field \"score_chosen\": appears 2 times in one object; JSON readers disagree on which one counts\n"
    );
    // A repeated key raug neither reads nor writes passes through; one inside a message raug
    // writes into is bad too.
    let run = wd.run(&[
        "relabel",
        "dup.jsonl",
        "--on-error",
        "skip",
        "--style",
        "prefix",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2);
    assert!(run.stdout.contains(r#""note": 1, "note": 2"#));
    assert_eq!(
        run.stderr,
        "raug: 3 rows in, 2 rows out, 0 ties, 2 skipped (duplicate_key: 2)\n\
         raug: first skipped row: dup.jsonl:1: field \"score_chosen\": appears 2 times in one object; JSON readers disagree on which one counts\n"
    );
}

#[test]
fn a_goal_states_only_scores_its_scale_has() {
    let wd = Workdir::new();
    jsonl_and_parquet(
        &wd,
        "s",
        concat!(
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": -3}"#,
            "\n"
        ),
    );
    for (input, location) in [("s.jsonl", "s.jsonl:1"), ("s.parquet", "s.parquet: row 0")] {
        let run = wd.run(&["relabel", input]);
        assert_eq!(run.code, 1, "{input}");
        assert_eq!(
            run.stderr,
            format!("raug: error: {location}: field \"score_rejected\": -3 is outside the goal's scale 1-10; name the scores' scale with --scale or --from-scale, or --clamp them to its ends\n")
        );
        let run = wd.run(&[
            "relabel",
            input,
            "--clamp",
            "--template",
            "G{score}",
            "-q",
            "--output-format",
            "jsonl",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let prompts: Vec<Value> = rows(&run.stdout)
            .iter()
            .map(|r| r["prompt"].clone())
            .collect();
        assert_eq!(prompts, [json!("G8\n\np"), json!("G1\n\np")], "{input}");
    }
    // A mapped score outside the scale says what it was mapped from.
    let run = wd.run(&[
        "relabel",
        "s.jsonl",
        "--from-scale",
        "0-8",
        "--scale",
        "1-5",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: s.jsonl:1: field \"score_rejected\": -3 is outside --from-scale 0-8\n"
    );
    // Lower is better: a severity of 3 is the lowest goal, 0 the highest.
    wd.write(
        "severity.jsonl",
        concat!(
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 0, "score_rejected": 3}"#,
            "\n"
        ),
    );
    let run = wd.run(&[
        "relabel",
        "severity.jsonl",
        "--from-scale",
        "3-0",
        "--template",
        "G{score}",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let prompts: Vec<Value> = rows(&run.stdout)
        .iter()
        .map(|r| r["prompt"].clone())
        .collect();
    assert_eq!(prompts, [json!("G10\n\np"), json!("G1\n\np")]);
    // Eval-time targets, likewise.
    wd.write("eval.jsonl", "{\"prompt\": \"q\"}\n");
    for (args, message) in [
        (
            &["--target", "11"][..],
            "the target 11 is outside the goal's scale 1-10",
        ),
        (
            &["--target", "7", "--scale", "1-5"][..],
            "the target 7 is outside the goal's scale 1-5",
        ),
    ] {
        let run = wd.run(&[&["condition", "eval.jsonl"][..], args].concat());
        assert_eq!(run.code, 2, "{args:?}");
        assert_eq!(
            run.stderr,
            format!("raug: error: --target: {message}; pick a target on it, or change --scale\n")
        );
    }
}

#[test]
fn dictionary_strings_read_as_strings_and_string_scores_are_bad_data() {
    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, DictionaryArray, Float64Array, ListArray, RecordBatch, StringArray, StructArray,
    };
    use arrow_buffer::OffsetBuffer;
    use arrow_schema::{DataType, Field};

    let wd = Workdir::new();
    let dict = |values: Vec<&str>| -> ArrayRef {
        Arc::new(values.into_iter().collect::<DictionaryArray<Int32Type>>())
    };
    // pandas categoricals: the texts, and the roles inside the messages.
    let messages = |contents: Vec<&str>, roles: Vec<&str>| -> ArrayRef {
        let n = contents.len() as i32;
        let role = dict(roles);
        let fields = vec![
            Field::new("content", DataType::Utf8, true),
            Field::new("role", role.data_type().clone(), true),
        ];
        let structs = StructArray::try_new(
            fields.clone().into(),
            vec![Arc::new(StringArray::from(contents)), role],
            None,
        )
        .unwrap();
        let item = Arc::new(Field::new("item", DataType::Struct(fields.into()), true));
        Arc::new(ListArray::new(
            item,
            OffsetBuffer::new(vec![0, n].into()),
            Arc::new(structs),
            None,
        ))
    };
    let scores = |v: f64| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
    let standard = RecordBatch::try_from_iter([
        ("prompt", dict(vec!["p"])),
        ("chosen", dict(vec!["A"])),
        ("rejected", dict(vec!["B"])),
        ("score_chosen", scores(8.0)),
        ("score_rejected", scores(3.0)),
    ])
    .unwrap();
    arrow_parquet(&wd, "standard.parquet", &standard);
    let h4 = RecordBatch::try_from_iter([
        ("prompt", dict(vec!["q"])),
        (
            "chosen",
            messages(vec!["q", "A"], vec!["user", "assistant"]),
        ),
        (
            "rejected",
            messages(vec!["q", "B"], vec!["user", "assistant"]),
        ),
        ("score_chosen", scores(8.0)),
        ("score_rejected", scores(3.0)),
    ])
    .unwrap();
    arrow_parquet(&wd, "h4.parquet", &h4);
    for (name, args) in [
        ("standard.parquet", &["--template", "G{score}"][..]),
        ("h4.parquet", &["--template", "G{score}"][..]),
        (
            "h4.parquet",
            &["--template", "G{score}", "--style", "prefix"][..],
        ),
    ] {
        for order in ["blocks", "interleaved"] {
            let run = wd.run(
                &[
                    &["relabel", name, "-o", "out.parquet", "--order", order, "-q"][..],
                    args,
                ]
                .concat(),
            );
            assert_eq!(run.code, 0, "{name} {args:?}: {}", run.stderr);
            let got = rows(&py(&["rows", wd.path("out.parquet").to_str().unwrap()]));
            let run = wd.run(
                &[
                    &[
                        "relabel",
                        name,
                        "--output-format",
                        "jsonl",
                        "--order",
                        order,
                        "-q",
                    ][..],
                    args,
                ]
                .concat(),
            );
            assert_eq!(run.code, 0, "{name}: {}", run.stderr);
            assert_rows_eq(&got, &rows(&run.stdout));
            let text = serde_json::to_string(&got).unwrap();
            assert!(
                text.contains("G8") && text.contains("G3"),
                "{name} {args:?}: {text}"
            );
        }
    }
    // A string score column is bad data, as a string score in JSON Lines is.
    let strings = RecordBatch::try_from_iter([
        ("prompt", Arc::new(StringArray::from(vec!["p"])) as ArrayRef),
        ("chosen", Arc::new(StringArray::from(vec!["A"])) as ArrayRef),
        (
            "rejected",
            Arc::new(StringArray::from(vec!["B"])) as ArrayRef,
        ),
        (
            "score_chosen",
            Arc::new(StringArray::from(vec!["eight"])) as ArrayRef,
        ),
        ("score_rejected", scores(3.0)),
    ])
    .unwrap();
    arrow_parquet(&wd, "strings.parquet", &strings);
    let run = wd.run(&["relabel", "strings.parquet", "-o", "out2.parquet"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: strings.parquet: row 0: field \"score_chosen\": expected a number, got string \"eight\"\n"
    );
}

#[test]
fn pandas_categoricals_are_read_as_strings_and_written_as_categoricals_again() {
    let wd = Workdir::new();
    // pandas writes categorical columns as Arrow dictionaries (int8 keys for a few values, its
    // unnamed index as a column). raug reads their values and declares them dictionaries
    // again in Parquet output, where the column is rewritten (prompt) and where it is copied
    // (source).
    let text: String = (0..6)
        .map(|i| {
            let row = json!({"prompt": format!("p{}", i % 3), "chosen": format!("A{i}"),
                "rejected": format!("B{i}"), "score_chosen": 8.0, "score_rejected": 3.0,
                "source": if i % 2 == 0 { "evol" } else { "sharegpt" }});
            format!("{row}\n")
        })
        .collect();
    let source = wd.write("cat.jsonl", &text);
    py(&[
        "pandas-parquet",
        source.to_str().unwrap(),
        wd.path("cat.parquet").to_str().unwrap(),
        "prompt",
        "source",
    ]);
    let model = Model::standard();
    let expected: Vec<Value> = rows(&text)
        .into_iter()
        .enumerate()
        .flat_map(|(i, mut row)| {
            row["__index_level_0__"] = json!(i * i);
            model.relabel(&row)
        })
        .collect();
    let categorical = |name: &str| {
        let info = py(&["info", wd.path(name).to_str().unwrap()]);
        for column in ["prompt", "source"] {
            let line = format!("{column}: dictionary<values=string, indices=int8, ordered=0>");
            assert!(info.contains(&line), "{name}: {info}");
        }
    };
    for order in ["blocks", "interleaved"] {
        let run = wd.run(&[
            "relabel",
            "cat.parquet",
            "-o",
            "out.parquet",
            "--order",
            order,
            "-q",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let got = rows(&py(&["rows", wd.path("out.parquet").to_str().unwrap()]));
        let want: Vec<Value> = match order {
            "blocks" => (0..2)
                .flat_map(|half| expected.iter().skip(half).step_by(2).cloned())
                .collect(),
            _ => expected.clone(),
        };
        assert_rows_eq(&got, &want);
        categorical("out.parquet");
    }
    // condition: the same rows as from JSON Lines, the same types as the input.
    let run = wd.run(&["condition", "cat.parquet", "-o", "c.parquet", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = wd.run(&["condition", "cat.parquet", "--output-format", "jsonl", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got = rows(&py(&["rows", wd.path("c.parquet").to_str().unwrap()]));
    assert_rows_eq(&got, &rows(&run.stdout));
    assert!(
        got[0]["prompt"].as_str().unwrap().ends_with("\n\np0"),
        "{got:?}"
    );
    categorical("c.parquet");
}

#[test]
fn a_categorical_shard_and_a_plain_one_relabel_into_one_output() {
    let wd = Workdir::new();
    // Two shards pandas wrote, the first with categorical prompts, the second with plain
    // strings: the same columns to a reader, so one output holds both (in either order, its
    // prompt column typed as the first file's).
    let row = |i: usize| {
        json!({"prompt": format!("p{}", i % 2), "chosen": format!("A{i}"),
               "rejected": format!("B{i}"), "score_chosen": 8.0, "score_rejected": 3.0})
    };
    let lines = |range: std::ops::Range<usize>| -> String {
        range.map(|i| format!("{}\n", row(i))).collect()
    };
    for (name, range, categorical) in [("cat", 0..3, true), ("plain", 3..5, false)] {
        let source = wd.write(&format!("{name}.jsonl"), lines(range));
        let mut args = vec![
            "pandas-parquet".to_string(),
            source.to_str().unwrap().to_string(),
            wd.path(&format!("{name}.parquet"))
                .to_str()
                .unwrap()
                .to_string(),
        ];
        if categorical {
            args.push("prompt".to_string());
        }
        py(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let model = Model::standard();
    // pandas' index numbers each shard's rows i*i from 0.
    let relabeled = |range: std::ops::Range<usize>| -> Vec<Value> {
        let first = range.start;
        range
            .flat_map(|i| {
                let mut row = row(i);
                row["__index_level_0__"] = json!((i - first) * (i - first));
                model.relabel(&row)
            })
            .collect()
    };
    for (files, want, prompt_type) in [
        (
            ["cat.parquet", "plain.parquet"],
            [relabeled(0..3), relabeled(3..5)].concat(),
            "dictionary<values=string, indices=int8, ordered=0>",
        ),
        (
            ["plain.parquet", "cat.parquet"],
            [relabeled(3..5), relabeled(0..3)].concat(),
            // As pandas writes plain strings: string, or large_string from pandas 3 on.
            "string",
        ),
    ] {
        let run = wd.run(&["relabel", files[0], files[1], "-o", "both.parquet", "-q"]);
        assert_eq!(run.code, 0, "{files:?}: {}", run.stderr);
        let got = rows(&py(&["rows", wd.path("both.parquet").to_str().unwrap()]));
        assert_rows_eq(&got, &want);
        let info = py(&["info", wd.path("both.parquet").to_str().unwrap()]);
        let line = info.lines().find(|l| l.starts_with("prompt: ")).unwrap();
        let line = line.replace("prompt: large_string", "prompt: string");
        assert_eq!(line, format!("prompt: {prompt_type}"), "{files:?}: {info}");
    }
}

#[test]
fn fields_of_one_response_follow_it_when_the_roles_swap() {
    let wd = Workdir::new();
    jsonl_and_parquet(
        &wd,
        "m",
        concat!(
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8.0, "score_rejected": 3.0, "chosen_model": "gpt-4", "rejected_model": "llama", "answer_id_chosen": 1, "answer_id_rejected": 2, "meta": {"chosen-len": 10, "rejected-len": 20}, "a": "x", "b": "y"}"#,
            "\n"
        ),
    );
    let second = |input: &str, extra: &[&str]| -> Value {
        let mut args = vec![
            "relabel",
            input,
            "--output-format",
            "jsonl",
            "-q",
            "--stats",
            "stats.json",
        ];
        args.extend_from_slice(extra);
        let run = wd.run(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        rows(&run.stdout)[1].clone()
    };
    for input in ["m.jsonl", "m.parquet"] {
        let row = second(input, &[]);
        assert_eq!(row["chosen"], "B");
        assert_eq!(row["chosen_model"], "llama", "{input}");
        assert_eq!(row["rejected_model"], "gpt-4", "{input}");
        assert_eq!(row["answer_id_chosen"], 2, "{input}");
        assert_eq!(
            row["meta"],
            json!({"chosen-len": 20, "rejected-len": 10}),
            "{input}"
        );
        assert_eq!((&row["a"], &row["b"]), (&json!("x"), &json!("y")));
        let stats: Value = serde_json::from_str(&wd.read("stats.json")).unwrap();
        assert_eq!(
            stats["layout"],
            "layout standard (explicit prompt), scores score_chosen/score_rejected, style prefix, also swaps chosen_model/rejected_model, answer_id_chosen/answer_id_rejected, meta.chosen-len/meta.rejected-len"
        );
        // --no-swap keeps a pair where it is; --swap names one more.
        let row = second(input, &["--no-swap", "rejected_model", "--swap", "a,b"]);
        assert_eq!(row["chosen_model"], "gpt-4", "{input}");
        assert_eq!(
            (&row["a"], &row["b"]),
            (&json!("y"), &json!("x")),
            "{input}"
        );
    }
    let run = wd.run(&["relabel", "m.jsonl", "--swap", "a,nope"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: m.jsonl:1: no field \"nope\" in the first row; name the field with --swap PATH\n"
    );
}

#[test]
fn relabeling_twice_is_refused_unless_forced() {
    let wd = Workdir::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/ultrafeedback_sample.jsonl"
    );
    let run = wd.run(&["relabel", example, "-o", "once.jsonl", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    pyarrow_parquet(&wd, &wd.path("once.jsonl"), "once.parquet", 100);
    for (input, location) in [
        ("once.jsonl", "once.jsonl:1"),
        ("once.parquet", "once.parquet: row 0"),
    ] {
        let run = wd.run(&["relabel", input, "-o", "twice.jsonl"]);
        assert_eq!(run.code, 1, "{input}");
        assert_eq!(
            run.stderr,
            format!("raug: error: {location}: field \"chosen\": already begins with the goal text (relabeled before?); --force relabels it again\n")
        );
        assert!(!wd.path("twice.jsonl").exists());
        let run = wd.run(&["inspect", input, "--json"]);
        let report: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(
            report["rejected"],
            json!({"already_conditioned": 10}),
            "{input}"
        );
        let run = wd.run(&["relabel", input, "-o", "twice.jsonl", "--force", "-q"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let first = rows(&wd.read("twice.jsonl"))[0].clone();
        let system = first["chosen"][0]["content"].as_str().unwrap().to_string();
        assert!(system.matches("Overall score").count() == 2, "{system}");
        std::fs::remove_file(wd.path("twice.jsonl")).unwrap();
    }
}

#[test]
fn inspect_reports_and_exits_as_relabel_would() {
    let wd = Workdir::new();
    // A broken first line: relabel stops there, so inspect can't call the file clean.
    wd.write("broken.jsonl", format!("{{\"prompt\": \"p\"\n{ROW}\n"));
    let run = wd.run(&["inspect", "broken.jsonl", "--json", "-o", "report.json"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "", "the report went to -o");
    let report: Value = serde_json::from_str(&wd.read("report.json")).unwrap();
    assert_eq!(report["rows"], 2);
    assert_eq!(report["rejected"], json!({"invalid_json": 1}));
    assert_eq!(
        run.stderr,
        format!(
            "raug: error: relabel would stop at broken.jsonl:1: {}\n",
            report["first_rejected"][0]
                .as_str()
                .unwrap()
                .split_once(": ")
                .unwrap()
                .1
        )
    );
    // No layout: nothing would be relabeled, and the command must change (exit 2).
    wd.write("odd.jsonl", "{\"text\": \"hi\"}\n");
    let run = wd.run(&["inspect", "odd.jsonl"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout
            .contains("rows      1 (nothing relabeled: no layout)"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stderr,
        "raug: error: odd.jsonl:1: no field \"chosen\" in the first row; name the field with --chosen PATH\n"
    );
    // A folder is read as its data files.
    std::fs::create_dir_all(wd.path("ds/data")).unwrap();
    wd.write("ds/data/a.jsonl", format!("{ROW}\n"));
    wd.write("ds/data/b.jsonl", format!("{ROW}\n{ROW}\n"));
    wd.write("ds/README.md", "# a dataset\n");
    let run = wd.run(&["inspect", "ds", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let reports: Value = serde_json::from_str(&run.stdout).unwrap();
    let rows: Vec<&Value> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["rows"])
        .collect();
    assert_eq!(rows, [&json!(1), &json!(2)]);
    let run = wd.run(&["condition", "ds", "--target", "9", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 3);
}

/// Starts `args` reading a FIFO at `fifo` (one row written, then held open), waits for its
/// temporary output to appear, and stops it with `signal`.
fn stop_mid_run(wd: &Workdir, args: &[&str], fifo: &std::path::Path, signal: &str) -> i32 {
    assert!(std::process::Command::new("mkfifo")
        .arg(fifo)
        .status()
        .unwrap()
        .success());
    let mut child = wd
        .command(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut writer = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    std::io::Write::write_all(&mut writer, format!("{ROW}\n").as_bytes()).unwrap();
    let started = std::time::Instant::now();
    while !std::fs::read_dir(wd.path("."))
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".raug-tmp"))
    {
        assert!(
            started.elapsed().as_secs() < 20,
            "no temporary output appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    drop(writer);
    status.code().unwrap_or(-1)
}

#[test]
fn a_stop_by_any_signal_but_sigkill_leaves_nothing_behind() {
    for signal in ["-TERM", "-HUP", "-INT"] {
        let wd = Workdir::new();
        wd.write("out.jsonl", "precious\n");
        let code = stop_mid_run(
            &wd,
            &["relabel", "in.jsonl", "-o", "out.jsonl"],
            &wd.path("in.jsonl"),
            signal,
        );
        assert_eq!(code, 130, "{signal}");
        assert_eq!(wd.read("out.jsonl"), "precious\n");
        assert_eq!(wd.files(), ["in.jsonl", "out.jsonl"], "{signal}");
        // A folder output's staging folder goes too.
        let wd = Workdir::new();
        std::fs::create_dir_all(wd.path("ds")).unwrap();
        let code = stop_mid_run(
            &wd,
            &["relabel", "ds", "-o", "out"],
            &wd.path("ds/a.jsonl"),
            signal,
        );
        assert_eq!(code, 130, "{signal}");
        let left: Vec<String> = std::fs::read_dir(wd.path("."))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["ds"], "{signal}");
    }
}

#[test]
fn a_later_run_removes_what_a_killed_run_left() {
    let wd = Workdir::new();
    wd.write("in.jsonl", format!("{ROW}\n"));
    // PID 0 never names a running raug; an unknown file of another name stays.
    wd.write(".out.jsonl.0.abc123.raug-tmp", "half\n");
    wd.write(".other.jsonl.0.abc123.raug-tmp", "not ours\n");
    let run = wd.run(&["relabel", "in.jsonl", "-o", "out.jsonl", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!wd.path(".out.jsonl.0.abc123.raug-tmp").exists());
    assert!(wd.path(".other.jsonl.0.abc123.raug-tmp").exists());
}

#[test]
fn score_columns_of_two_numeric_types_are_both_written_in_the_wider_one() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array};
    use arrow_array::{RecordBatch, StringArray};
    use arrow_schema::DataType;

    // pyarrow types the scores `8, 7` int64 and `3.5, 2` float64; a reward model writes
    // float32. Both columns become one type in every output row group, whatever the values.
    let wd = Workdir::new();
    let make = |name: &str, chosen: ArrayRef, rejected: ArrayRef| {
        let batch = RecordBatch::try_from_iter([
            (
                "prompt",
                Arc::new(StringArray::from(vec!["p", "q"])) as ArrayRef,
            ),
            (
                "chosen",
                Arc::new(StringArray::from(vec!["A", "C"])) as ArrayRef,
            ),
            (
                "rejected",
                Arc::new(StringArray::from(vec!["B", "D"])) as ArrayRef,
            ),
            ("score_chosen", chosen),
            ("score_rejected", rejected),
        ])
        .unwrap();
        arrow_parquet(&wd, name, &batch);
    };
    make(
        "int_float.parquet",
        Arc::new(Int64Array::from(vec![8, 7])),
        Arc::new(Float64Array::from(vec![3.5, 2.0])),
    );
    make(
        "float32_int.parquet",
        Arc::new(Float32Array::from(vec![7.3, 9.0])),
        Arc::new(Int32Array::from(vec![3, 2])),
    );
    let row = |goal_score: f64, prompt: &str, c: &str, r: &str, sc: f64, sr: f64| {
        json!({"prompt": format!("{}\n\n{prompt}", goal(goal_score)), "chosen": c,
               "rejected": r, "score_chosen": sc, "score_rejected": sr})
    };
    let cases = [
        (
            "int_float.parquet",
            [(8.0, 3.5), (7.0, 2.0)],
            DataType::Float64,
        ),
        // A float32 7.3 is the float64 7.3, as its column shows it.
        (
            "float32_int.parquet",
            [(7.3, 3.0), (9.0, 2.0)],
            DataType::Float64,
        ),
    ];
    for (input, [(c1, r1), (c2, r2)], to) in cases {
        for order in ["blocks", "interleaved"] {
            let run = wd.run(&[
                "relabel",
                input,
                "-o",
                "out.parquet",
                "--order",
                order,
                "-q",
            ]);
            assert_eq!(run.code, 0, "{input} {order}: {}", run.stderr);
            let goal_chosen = [
                row(c1, "p", "A", "B", c1, r1),
                row(c2, "q", "C", "D", c2, r2),
            ];
            let goal_rejected = [
                row(r1, "p", "B", "A", r1, c1),
                row(r2, "q", "D", "C", r2, c2),
            ];
            let [g1, g2] = goal_chosen;
            let [s1, s2] = goal_rejected;
            let expected = match order {
                "blocks" => vec![g1, g2, s1, s2],
                _ => vec![g1, s1, g2, s2],
            };
            assert_eq!(
                parquet_file_rows(&wd, "out.parquet"),
                expected,
                "{input} {order}"
            );
            let file = std::fs::File::open(wd.path("out.parquet")).unwrap();
            let schema =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap()
                    .schema()
                    .clone();
            for field in ["score_chosen", "score_rejected"] {
                assert_eq!(
                    schema.field_with_name(field).unwrap().data_type(),
                    &to,
                    "{input} {order} {field}"
                );
            }
        }
    }
    // The scores of a winner field's two responses, likewise.
    let batch = RecordBatch::try_from_iter([
        ("prompt", Arc::new(StringArray::from(vec!["p"])) as ArrayRef),
        (
            "response_a",
            Arc::new(StringArray::from(vec!["A"])) as ArrayRef,
        ),
        (
            "response_b",
            Arc::new(StringArray::from(vec!["B"])) as ArrayRef,
        ),
        ("a_score", Arc::new(Int64Array::from(vec![3])) as ArrayRef),
        (
            "b_score",
            Arc::new(Float64Array::from(vec![9.5])) as ArrayRef,
        ),
        ("w", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
    ])
    .unwrap();
    arrow_parquet(&wd, "winner.parquet", &batch);
    let run = wd.run(&[
        "relabel",
        "winner.parquet",
        "--a-wins-when",
        "w=0",
        "--b-wins-when",
        "w=1",
        "--a-score",
        "a_score",
        "--b-score",
        "b_score",
        "-o",
        "out.parquet",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let with_w = |mut row: Value| {
        row["w"] = json!(1);
        row
    };
    assert_eq!(
        parquet_file_rows(&wd, "out.parquet"),
        [
            with_w(row(9.5, "p", "B", "A", 9.5, 3.0)),
            with_w(row(3.0, "p", "A", "B", 3.0, 9.5)),
        ]
    );
}

#[test]
fn pairs_keep_the_prompts_context_and_refuse_mixed_prompts() {
    let wd = Workdir::new();
    let rows_of = |lines: &[&str]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    jsonl_and_parquet(
        &wd,
        "flat",
        rows_of(&[
            r#"{"idx": 1, "prompt": "p", "response": "a", "score": 5, "source": "s1", "model": "m1"}"#,
            r#"{"idx": 1, "prompt": "p", "response": "b", "score": 2, "source": "s1", "model": "m2"}"#,
            r#"{"idx": 2, "prompt": "q", "response": "c", "score": 4, "source": "s2", "model": "m1"}"#,
            r#"{"idx": 2, "prompt": "q", "response": "d", "score": 1, "source": "s2", "model": "m1"}"#,
        ]),
    );
    let args = [
        "--group-by",
        "idx",
        "--prompt",
        "prompt",
        "--text",
        "response",
        "--score",
        "score",
        "-q",
    ];
    for input in ["flat.jsonl", "flat.parquet"] {
        let run = wd.run(&[&["pairs", input, "--output-format", "jsonl"][..], &args].concat());
        assert_eq!(run.code, 0, "{}", run.stderr);
        // source is one value per group: kept; model differs inside group 1: dropped everywhere.
        assert_eq!(
            normalize_rows(&run.stdout),
            normalize_rows(&rows_of(&[
                r#"{"prompt": "p", "chosen": "a", "rejected": "b", "score_chosen": 5.0, "score_rejected": 2.0, "idx": 1, "source": "s1"}"#,
                r#"{"prompt": "q", "chosen": "c", "rejected": "d", "score_chosen": 4.0, "score_rejected": 1.0, "idx": 2, "source": "s2"}"#,
            ])),
            "{input}"
        );
    }
    jsonl_and_parquet(
        &wd,
        "mixed",
        rows_of(&[
            r#"{"idx": 1, "prompt": "p", "response": "a", "score": 5}"#,
            r#"{"idx": 1, "prompt": "other", "response": "b", "score": 2}"#,
            r#"{"idx": 1, "prompt": "other", "response": "c", "score": 1}"#,
        ]),
    );
    for (input, location) in [
        ("mixed.jsonl", "mixed.jsonl:2"),
        ("mixed.parquet", "mixed.parquet: row 1"),
    ] {
        let run = wd.run(&[&["pairs", input][..], &args].concat());
        assert_eq!(run.code, 1, "{input}");
        assert_eq!(
            run.stderr,
            format!("raug: error: {location}: field \"prompt\": the group 1 has another prompt in an earlier row; group by the prompt, or --split-by-prompt makes one group per prompt\n")
        );
        let run = wd.run(
            &[
                &[
                    "pairs",
                    input,
                    "--split-by-prompt",
                    "--output-format",
                    "jsonl",
                ][..],
                &args,
            ]
            .concat(),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let pairs = rows(&run.stdout);
        assert_eq!(
            pairs.len(),
            1,
            "{input}: only the group 'other' has two responses"
        );
        assert_eq!(
            (&pairs[0]["prompt"], &pairs[0]["chosen"]),
            (&json!("other"), &json!("b"))
        );
    }
}

/// Rows with every number a float, for comparing JSON and Parquet output.
fn normalize_rows(text: &str) -> Vec<Value> {
    rows(text)
        .into_iter()
        .map(crate::differential_core::normalize)
        .collect()
}

#[test]
fn a_row_that_only_fails_as_parquet_is_named_by_its_input_line() {
    let wd = Workdir::new();
    let row = |prompt: &str, meta: &str| {
        format!(
            r#"{{"prompt": "{prompt}", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3, "meta": {meta}}}"#
        ) + "\n"
    };
    // Line 4: a lone surrogate escape (valid JSON, no Unicode character); line 5: a value of
    // another type than the first rows'; line 7: a surrogate pair, which is fine; line 8:
    // integers written with a fraction or an exponent, which are fine.
    let lines = [
        row("p1", "1"),
        row("p2", "2"),
        row("p3", "3"),
        row(r"bad \ud800 text", "4"),
        row("p5", r#""five""#),
        row("p6", "6"),
        row(r"smile \ud83d\ude00", "7"),
        row("p8", "8.0").replace("\"score_rejected\": 3", "\"score_rejected\": 3e0"),
    ];
    wd.write("in.jsonl", lines.concat());
    let good: String = [0, 1, 2, 5, 6, 7].map(|i| lines[i].clone()).concat();
    wd.write("good.jsonl", &good);
    let surrogate = "field \"prompt\": holds \\ud800, half of a UTF-16 surrogate pair without its \
                     other half: valid JSON, but no Unicode character, so Parquet can't hold it";
    let conflict =
        "field \"meta\": can't be written to Parquet: failed to parse \"five\" as Int64 \
                    (the Parquet schema comes from the output's first rows)";
    let fraction = "field \"meta\": 8.5 can't be written to Parquet: its column holds integers \
                    (the Parquet schema comes from the output's first rows); writing a file from \
                    input files (without --shard), raug would start the output again with a \
                    wider schema";

    // JSON output holds both rows as they are.
    let run = wd.run(&["relabel", "in.jsonl", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 16);

    // In one block (relabeled before the schema is known) and in blocks of one row each (the
    // schema known, relabeled on the workers), in both orders, the same rows are named.
    for extra in [&[][..], &["--block-size", "1"], &["--order", "blocks"]] {
        let _ = std::fs::remove_file(wd.path("out.parquet"));
        let mut args = vec!["relabel", "in.jsonl", "-o", "out.parquet"];
        args.extend_from_slice(extra);
        let run = wd.run(&args);
        assert_eq!(run.code, 1, "{extra:?}");
        assert_eq!(
            run.stderr,
            format!("raug: error: in.jsonl:4: {surrogate}\n")
        );
        wd.assert_no_temporary_files();
        assert!(!wd.path("out.parquet").exists());

        args.extend_from_slice(&["--on-error", "skip", "--rejects", "rejects.jsonl"]);
        let run = wd.run(&args);
        assert_eq!(run.code, 0, "{extra:?}: {}", run.stderr);
        assert_eq!(
            run.stderr,
            format!(
                "raug: 8 rows in, 12 rows out, 0 ties, 2 skipped (unwritable: 2)\n\
                 raug: first skipped row: in.jsonl:4: {surrogate}\n"
            )
        );
        assert_eq!(
            wd.read("rejects.jsonl"),
            [3, 4].map(|i| lines[i].clone()).concat()
        );
        let mut expected = vec!["relabel", "good.jsonl", "-q"];
        expected.extend(extra.iter().filter(|a| **a != "--block-size" && **a != "1"));
        let expected = wd.run(&expected);
        // Numbers as floats: the 8.0 and 3e0 of line 8 make their columns float64 where the
        // schema sees them.
        let got: Vec<Value> = parquet_file_rows(&wd, "out.parquet")
            .into_iter()
            .map(crate::differential_core::normalize)
            .collect();
        assert_rows_eq(&got, &normalize_rows(&expected.stdout));
    }

    // The type conflict alone: the row that differs from the first rows is the bad one.
    wd.write("typed.jsonl", [0, 4, 1].map(|i| lines[i].clone()).concat());
    let run = wd.run(&["relabel", "typed.jsonl", "-o", "typed.parquet"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!("raug: error: typed.jsonl:2: {conflict}\n")
    );
    // A fraction after the rows the schema came from (the first block read: 64 KiB at the
    // smallest), which hold integers: arrow-json would write 8 for 8.5, so written to standard
    // output (which can't start again with a wider schema) it is a bad row. Where the schema
    // sees it, or the output can start again, the column is float64.
    let mut text: String = (0..1000).map(|i| row(&format!("p{i}"), "1")).collect();
    text += &row("p8", "8.5");
    wd.write("fraction.jsonl", text);
    let args = ["relabel", "fraction.jsonl", "-o", "fraction.parquet"];
    let to_stdout = ["relabel", "fraction.jsonl", "--output-format", "parquet"];
    let run = wd.run(&[&to_stdout[..], &["--block-size", "1"]].concat());
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!("raug: error: fraction.jsonl:1001: {fraction}\n")
    );
    let run = wd.run(&[&args[..], &["--block-size", "1", "-q"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        parquet_file_rows(&wd, "fraction.parquet")[2000]["meta"],
        json!(8.5)
    );
    let run = wd.run(&[&args[..], &["-q"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let metas: Vec<Value> = parquet_file_rows(&wd, "fraction.parquet")
        .iter()
        .map(|r| r["meta"].clone())
        .collect();
    assert_eq!(metas.len(), 2002);
    assert_eq!(metas[0], json!(1.0));
    assert_eq!(metas[2000..], [json!(8.5), json!(8.5)]);

    // condition and pairs name the input line too.
    let run = wd.run(&["condition", "in.jsonl", "-o", "c.parquet", "--target", "9"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!("raug: error: in.jsonl:4: {surrogate}\n")
    );
    assert!(!wd.path("c.parquet").exists());
    // Under skip, condition leaves them out as relabel does.
    let run = wd.run(&[
        "condition",
        "in.jsonl",
        "-o",
        "c.parquet",
        "--target",
        "9",
        "--on-error",
        "skip",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "raug: 6 rows conditioned (field prompt), 2 skipped (unwritable: 2)\n\
             raug: first skipped row: in.jsonl:4: {surrogate}\n"
        )
    );
    let metas: Vec<Value> = parquet_file_rows(&wd, "c.parquet")
        .iter()
        .map(|r| r["meta"].clone())
        .collect();
    assert_eq!(metas, [1.0, 2.0, 3.0, 6.0, 7.0, 8.0].map(|m| json!(m)));

    wd.write(
        "flat.jsonl",
        concat!(
            r#"{"id": 1, "text": "a \ud800", "score": 3}"#,
            "\n",
            r#"{"id": 1, "text": "b", "score": 5}"#,
            "\n"
        ),
    );
    let run = wd.run(&[
        "pairs",
        "flat.jsonl",
        "--group-by",
        "id",
        "--text",
        "text",
        "--score",
        "score",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: flat.jsonl:1: field \"text\": holds \\ud800, half of a UTF-16 surrogate pair \
         without its other half: valid JSON, but no Unicode character\n"
    );
}

#[test]
fn rows_that_make_no_parquet_schema_are_named_for_their_own_reason() {
    // The Parquet schema of JSON input comes from its first rows; when none of them makes one,
    // each is a bad row: the first names its line and why, not "no schema fits".
    let wd = Workdir::new();
    let good = r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#;
    let lone = r#"{"prompt": "a \ud83d b", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#;
    let deep = format!(
        r#"{{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3, "x": {}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    wd.write("lone.jsonl", format!("{lone}\n"));
    wd.write("deep.jsonl", format!("{deep}\n"));
    wd.write("lone_first.jsonl", format!("{lone}\n{good}\n"));
    let surrogate = "field \"prompt\": holds \\ud83d, half of a UTF-16 surrogate pair without its \
                     other half: valid JSON, but no Unicode character, so Parquet can't hold it";
    let nested = "can't be written to Parquet: it nests deeper than the 128 levels Arrow's JSON \
                  reader takes";

    for (file, why) in [("lone.jsonl", surrogate), ("deep.jsonl", nested)] {
        // relabel in both orders, and condition: the row named under fail, every row rejected
        // under skip, nothing written either way.
        for (command, out) in [
            (&["relabel", "--order", "interleaved"][..], "out.parquet"),
            (&["relabel", "--order", "blocks"], "out.parquet"),
            (&["condition", "--target", "9"], "c.parquet"),
        ] {
            let args = [command, &[file, "-o", out]].concat();
            let run = wd.run(&args);
            assert_eq!(run.code, 1, "{args:?}");
            assert_eq!(run.stderr, format!("raug: error: {file}:1: {why}\n"));
            let run = wd.run(&[&args[..], &["--on-error", "skip"]].concat());
            assert_eq!(run.code, 1, "{args:?}");
            assert_eq!(
                run.stderr,
                format!(
                    "raug: error: every one of the 1 rows was rejected (unwritable: 1); the \
                     first: {file}:1: {why}; nothing was written\n"
                )
            );
            assert!(!wd.path(out).exists());
        }
    }
    wd.assert_no_temporary_files();

    // Skipped, the bad first row leaves the schema to the next.
    let run = wd.run(&[
        "relabel",
        "lone_first.jsonl",
        "-o",
        "out.parquet",
        "--on-error",
        "skip",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "raug: 2 rows in, 2 rows out, 0 ties, 1 skipped (unwritable: 1)\n\
             raug: first skipped row: lone_first.jsonl:1: {surrogate}\n"
        )
    );
    wd.write("good.jsonl", format!("{good}\n"));
    let expected = wd.run(&["relabel", "good.jsonl", "-q"]);
    let got: Vec<Value> = parquet_file_rows(&wd, "out.parquet")
        .into_iter()
        .map(crate::differential_core::normalize)
        .collect();
    assert_rows_eq(&got, &normalize_rows(&expected.stdout));

    // pairs writes its pairs as condition does.
    let flat = |text: &str, score: u8| {
        format!(
            r#"{{"id": 1, "text": "{text}", "score": {score}, "x": {}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        ) + "\n"
    };
    wd.write("flat.jsonl", flat("a", 3) + &flat("b", 5));
    let args = ["--group-by", "id", "--text", "text", "--score", "score"];
    let run = wd.run(&[&["pairs", "flat.jsonl", "-o", "p.parquet"][..], &args].concat());
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, format!("raug: error: flat.jsonl:1: {nested}\n"));
    assert!(!wd.path("p.parquet").exists());
}

#[test]
fn an_empty_input_is_a_dataset_of_no_rows_for_every_command() {
    // Not bad input: every command succeeds, writes an empty output and says it read nothing.
    let wd = Workdir::new();
    wd.write("empty.jsonl", "");
    for (args, summary) in [
        (
            vec!["relabel", "empty.jsonl", "-o", "out.jsonl"],
            "raug: 0 rows in, 0 rows out, 0 ties, 0 skipped\n",
        ),
        (
            vec!["condition", "empty.jsonl", "-o", "out.jsonl"],
            "raug: 0 rows conditioned\n",
        ),
        (
            vec![
                "pairs",
                "empty.jsonl",
                "--group-by",
                "id",
                "--text",
                "response",
                "--score",
                "score",
                "-o",
                "out.jsonl",
            ],
            "raug: 0 rows in, 0 prompts, 0 pairs out, 0 prompts without a pair (one response or all tied), 0 skipped\n",
        ),
    ] {
        let run = wd.run(&args);
        assert_eq!((run.code, run.stderr.as_str()), (0, summary), "{args:?}");
        assert_eq!(wd.read("out.jsonl"), "", "{args:?}");
        std::fs::remove_file(wd.path("out.jsonl")).expect("written above");
    }
}

#[test]
fn inputs_count_the_bytes_they_read_for_progress_bars() {
    use raug::io::{Format, Source};
    use raug::rows::Inputs;
    use std::sync::atomic::Ordering;
    // What `pairs` and `condition` show on a terminal: every byte of every input read, each
    // reading counted (flat pairs whose groups are apart read the input twice), Parquet by its
    // share of the file's bytes as its rows come.
    let wd = Workdir::new();
    let text: String = (0..300)
        .map(|i| format!("{}\n", json!({"prompt": format!("p{i}"), "score": i})))
        .collect();
    jsonl_and_parquet(&wd, "rows", &text);
    let gz = wd.path("rows.jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, text.as_bytes()).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
    let size = |name: &str| std::fs::metadata(wd.path(name)).unwrap().len();
    let inputs = Inputs::new(vec![
        (Source::File(wd.path("rows.jsonl")), Format::Jsonl),
        (Source::File(wd.path("rows.parquet")), Format::Parquet),
        (Source::File(gz), Format::Jsonl),
    ]);
    let total = size("rows.jsonl") + size("rows.parquet") + size("rows.jsonl.gz");
    assert_eq!(inputs.size(), Some(total));
    let read = inputs.bytes_read();
    assert_eq!(inputs.rows().unwrap().map(Result::unwrap).count(), 900);
    assert_eq!(read.load(Ordering::Relaxed), total);
    let rows: usize = inputs
        .row_blocks_ahead()
        .unwrap()
        .map(|block| block.unwrap().rows().count())
        .sum();
    assert_eq!(rows, 900);
    assert_eq!(read.load(Ordering::Relaxed), 2 * total);

    // One Parquet file read natively (inspect, condition, pairs): every row group's rows, of
    // any columns, count their share; the rows read again count again.
    let parquet = raug::rows::RowGroups::open(&Source::File(wd.path("rows.parquet"))).unwrap();
    assert_eq!(parquet.size(), size("rows.parquet"));
    let read = parquet.bytes_read();
    let batches = parquet.read_ahead(None).unwrap();
    assert_eq!(batches.map(|b| b.unwrap().num_rows()).sum::<usize>(), 300);
    assert_eq!(read.load(Ordering::Relaxed), size("rows.parquet"));
    for rg in 0..parquet.len() {
        parquet.batches(rg, Some(&[1])).unwrap().for_each(drop);
    }
    let twice = read.load(Ordering::Relaxed);
    let groups = parquet.len() as u64;
    assert!(
        (2 * size("rows.parquet") - groups..=2 * size("rows.parquet")).contains(&twice),
        "{twice}"
    );

    // condition from Parquet to Parquet (row groups copied but the prompt's) reports the input
    // bytes done after each row group, up to the file's size.
    let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let progress = {
        let told = std::sync::Arc::clone(&told);
        raug::driver::Progress(std::sync::Arc::new(move |n| told.lock().unwrap().push(n)))
    };
    let spec = raug::condition::ConditionSpec {
        template: Default::default(),
        style: None,
        prompt: None,
        target: raug::condition::TargetScore::Max,
        skip_bad: false,
    };
    let summary = raug::driver::condition_parquet(
        &Source::File(wd.path("rows.parquet")),
        &spec,
        &raug::io::Target::File(wd.path("conditioned.parquet")),
        2,
        Some(&progress),
    )
    .unwrap()
    .expect("the prompt keeps its type");
    assert_eq!(summary.rows, 300);
    let told = told.lock().unwrap().clone();
    assert_eq!(told.len(), 3, "{told:?}");
    assert!(told.windows(2).all(|w| w[0] < w[1]), "{told:?}");
    assert_eq!(told.last(), Some(&size("rows.parquet")));
}
