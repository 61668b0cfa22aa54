//! Parquet written by the real `datasets` library and pyarrow: same schema and features out, the
//! same rows as the JSONL path, both cross-format directions, folders, and damaged files.

use std::fs;

use crate::harness::*;

/// The rows raug's JSONL path makes of `input` with `args`.
fn jsonl_rows(wd: &Workdir, input: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["relabel", input, "-q", "--output-format", "jsonl"];
    all.extend_from_slice(args);
    let run = wd.run(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    rows(&run.stdout)
}

/// Relabels Parquet into Parquet and returns pyarrow's reading of the rows.
fn parquet_rows(wd: &Workdir, input: &str, output: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["relabel", input, "-o", output, "-q"];
    all.extend_from_slice(args);
    let run = wd.run(&all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    rows(&py(&["rows", wd.path(output).to_str().unwrap()]))
}

#[test]
fn datasets_parquet_keeps_schema_features_and_matches_jsonl() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let real = real(H4);
    let input = wd.path("in.parquet");
    py(&[
        "datasets-parquet",
        real.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let run = wd.run(&["relabel", "in.parquet", "-o", "out.parquet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 16 rows in, 32 rows out, 4 ties, 0 skipped\n"
    );
    // `datasets` loads the output with the input's features, and the schema is the input's.
    let features = py(&["features", input.to_str().unwrap()]);
    assert!(
        features.contains("'chosen': List({'content': Value('string'), 'role': Value('string')})"),
        "{features}"
    );
    assert_eq!(
        py(&["features", wd.path("out.parquet").to_str().unwrap()]),
        features
    );
    let info_in = py(&["info", input.to_str().unwrap()]);
    let info_out = py(&["info", wd.path("out.parquet").to_str().unwrap()]);
    let schema = |info: &str| info.split("metadata:").next().unwrap().to_string();
    assert_eq!(schema(&info_out), schema(&info_in));
    // The schema's metadata is the input's: `huggingface`, not the writer setting
    // `content_defined_chunking` that `datasets` files carry among their key-value metadata.
    assert!(
        info_out.contains("metadata: ['huggingface']\n"),
        "{info_out}"
    );
    assert!(info_out.contains("codec: SNAPPY"), "{info_out}");
    assert!(info_out.contains("rows: 32"), "{info_out}");
    // The rows are the JSONL path's, and the JSONL path's are the paper's.
    let got = rows(&py(&["rows", wd.path("out.parquet").to_str().unwrap()]));
    let jsonl = jsonl_rows(&wd, real.to_str().unwrap(), &[]);
    assert_rows_eq(&got, &jsonl);
    let model = Model {
        site: Site::ResponseLists,
        prefix: false,
        chosen_score: "score_chosen",
        rejected_score: "score_rejected",
    };
    assert_rows_eq(
        &got,
        &model.relabel_all(&fs::read_to_string(&real).unwrap()),
    );
}

/// One relabel core, two representations: every option gives the same rows on both.
#[test]
fn every_option_gives_the_same_rows_on_parquet_and_jsonl() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let real = real(H4);
    pyarrow_parquet(&wd, &real, "in.parquet", 5);
    let options: [&[&str]; 6] = [
        &["--style", "prefix"],
        &["--ties", "drop"],
        &["--goals", "rejected", "--keep-original"],
        &["--goals", "chosen"],
        &["--order", "blocks", "--keep-original"],
        &["--template", "Aim for {score}!", "-j", "1"],
    ];
    for args in options {
        let got = parquet_rows(&wd, "in.parquet", "out.parquet", args);
        let expected = jsonl_rows(&wd, real.to_str().unwrap(), args);
        assert!(!expected.is_empty());
        assert_rows_eq(&got, &expected);
    }
}

#[test]
fn real_standard_strings_with_struct_scores() {
    if !real_data_present() {
        return;
    }
    for file in [NOISE, ARGILLA] {
        let wd = Workdir::new();
        let real = real(file);
        let input = wd.path("in.parquet");
        py(&[
            "pyarrow-parquet",
            real.to_str().unwrap(),
            input.to_str().unwrap(),
            "300",
            "zstd",
        ]);
        let got = parquet_rows(&wd, "in.parquet", "out.parquet", &[]);
        assert_rows_eq(&got, &jsonl_rows(&wd, real.to_str().unwrap(), &[]));
        let info = py(&["info", wd.path("out.parquet").to_str().unwrap()]);
        assert!(info.contains("codec: ZSTD"), "{info}");
        assert!(info.contains("rows: 2000"), "{info}");
    }
}

#[test]
fn parquet_to_jsonl_and_jsonl_to_parquet() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let real = real(H4);
    let input = wd.path("in.parquet");
    py(&[
        "datasets-parquet",
        real.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let expected = jsonl_rows(&wd, real.to_str().unwrap(), &[]);
    // Parquet -> JSONL.
    let run = wd.run(&["relabel", "in.parquet", "-o", "out.jsonl", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_rows_eq(&rows(&wd.read("out.jsonl")), &expected);
    // JSONL -> Parquet: a schema is inferred, and `datasets` reads the features it would infer
    // from the relabeled JSON Lines themselves.
    let run = wd.run(&[
        "relabel",
        real.to_str().unwrap(),
        "-o",
        "from-json.parquet",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = wd.path("from-json.parquet");
    assert_rows_eq(&rows(&py(&["rows", out.to_str().unwrap()])), &expected);
    assert_eq!(
        py(&["features", out.to_str().unwrap()]),
        py(&["features", wd.path("out.jsonl").to_str().unwrap()])
    );
    assert!(py(&["info", out.to_str().unwrap()]).contains("'huggingface'"));
}

#[test]
fn folder_of_shards_is_mirrored_with_test_passed_through() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let lines: Vec<String> = fs::read_to_string(real(H4))
        .unwrap()
        .lines()
        .map(|l| format!("{l}\n"))
        .collect();
    fs::create_dir_all(wd.path("ds/data")).unwrap();
    let shards = [
        ("train_prefs-00000-of-00002.parquet", &lines[0..6]),
        ("train_prefs-00001-of-00002.parquet", &lines[6..12]),
        ("test_prefs-00000-of-00001.parquet", &lines[12..16]),
    ];
    for (name, part) in shards {
        let json = wd.write(&format!("{name}.jsonl"), part.concat());
        let out = wd.path(&format!("ds/data/{name}"));
        py(&[
            "datasets-parquet",
            json.to_str().unwrap(),
            out.to_str().unwrap(),
        ]);
    }
    wd.write("ds/README.md", "# my dataset\n");
    let run = wd.run(&["relabel", "ds", "-o", "out", "--passthrough", "test_*"]);
    // The four ties of the H4 sample are rows 0, 1, 6 and 9: all in the train shards.
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 12 rows in, 24 rows out, 4 ties, 0 skipped\n"
    );
    let mut listing: Vec<String> = Vec::new();
    for entry in fs::read_dir(wd.path("out/data")).unwrap() {
        listing.push(entry.unwrap().file_name().to_string_lossy().into_owned());
    }
    listing.sort();
    assert_eq!(
        listing,
        [
            "test_prefs-00000-of-00001.parquet",
            "train_prefs-00000-of-00002.parquet",
            "train_prefs-00001-of-00002.parquet"
        ]
    );
    assert_eq!(wd.read("out/README.md"), "# my dataset\n");
    let test = "data/test_prefs-00000-of-00001.parquet";
    assert_eq!(
        fs::read(wd.path(&format!("out/{test}"))).unwrap(),
        fs::read(wd.path(&format!("ds/{test}"))).unwrap()
    );
    for (name, _) in &shards[..2] {
        let got = rows(&py(&[
            "rows",
            wd.path(&format!("out/data/{name}")).to_str().unwrap(),
        ]));
        let expected = jsonl_rows(&wd, &format!("{name}.jsonl"), &[]);
        assert_rows_eq(&got, &expected);
    }
    // Nothing staged is left beside the output.
    wd.assert_no_temporary_files();
}

#[test]
fn damaged_parquet_is_an_error_naming_the_file_and_leaves_nothing() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = pyarrow_parquet(&wd, &real(H4), "in.parquet", 4);
    let bytes = fs::read(&input).unwrap();
    wd.write("truncated.parquet", &bytes[..bytes.len() / 2]);
    let mut corrupt = bytes.clone();
    let middle = corrupt.len() / 2;
    for b in &mut corrupt[middle - 2000..middle] {
        *b = 0xAB;
    }
    wd.write("corrupt.parquet", &corrupt);
    wd.write("notparquet.parquet", "hello, I am text\n");
    for name in ["truncated.parquet", "notparquet.parquet", "corrupt.parquet"] {
        let run = wd.run(&["relabel", name, "-o", "out.parquet"]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!(
                "raug: error: {name}: not a readable Parquet file: "
            )),
            "{name}: {}",
            run.stderr
        );
        assert!(!wd.path("out.parquet").exists(), "{name} left an output");
    }
    wd.assert_no_temporary_files();
}

#[test]
fn damage_in_a_copied_column_is_reported_in_blocks_order_too() {
    if !real_data_present() {
        return;
    }
    // In --order blocks, `messages` is copied as compressed bytes, never decoded: its pages are
    // still read and decompressed, so damage there stops the run as on the decoding path.
    let wd = Workdir::new();
    let input = pyarrow_parquet(&wd, &real(H4), "in.parquet", 4);
    // Leaf 6 is messages.list.element.content.
    let span = py(&["span", input.to_str().unwrap(), "1", "6"]);
    let (start, len) = span.trim().split_once(' ').unwrap();
    let (start, len): (usize, usize) = (start.parse().unwrap(), len.parse().unwrap());
    let mut bytes = fs::read(&input).unwrap();
    for b in &mut bytes[start + len / 4..start + len / 2] {
        *b = 0xAB;
    }
    wd.write("corrupt.parquet", &bytes);
    for order in ["interleaved", "blocks"] {
        let run = wd.run(&[
            "relabel",
            "corrupt.parquet",
            "-o",
            "out.parquet",
            "--order",
            order,
        ]);
        assert_eq!(run.code, 1, "{order}: {}", run.stderr);
        let expected = match order {
            "blocks" => "raug: error: corrupt.parquet: not a readable Parquet file: row group 1, column messages.list.element.content: ",
            _ => "raug: error: corrupt.parquet: not a readable Parquet file: ",
        };
        assert!(run.stderr.starts_with(expected), "{order}: {}", run.stderr);
        assert!(!wd.path("out.parquet").exists(), "{order} left an output");
    }
    // The undamaged file goes through the same path.
    let run = wd.run(&[
        "relabel",
        "in.parquet",
        "-o",
        "out.parquet",
        "--order",
        "blocks",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    wd.assert_no_temporary_files();
}

#[test]
fn parquet_output_is_the_same_for_any_thread_count() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    pyarrow_parquet(&wd, &real(NOISE), "in.parquet", 64);
    for order in ["interleaved", "blocks"] {
        let mut files = Vec::new();
        for threads in ["1", "2", "3"] {
            let out = format!("out{threads}.parquet");
            let args = ["relabel", "in.parquet", "-o", &out, "-j", threads, "-q"];
            let run = wd.run(&[&args[..], &["--order", order]].concat());
            assert_eq!(run.code, 0, "{}", run.stderr);
            files.push(fs::read(wd.path(&out)).unwrap());
        }
        assert_eq!(files[0], files[1], "--order {order}");
        assert_eq!(files[0], files[2], "--order {order}");
    }
}

#[test]
fn bad_parquet_rows_fail_or_go_to_rejects() {
    let wd = Workdir::new();
    wd.write(
        "bad.jsonl",
        concat!(
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8.0, "score_rejected": 3.0}"#,
            "\n",
            r#"{"prompt": "q", "chosen": "C", "rejected": "D", "score_chosen": null, "score_rejected": 3.0}"#,
            "\n",
            r#"{"prompt": null, "chosen": "E", "rejected": "F", "score_chosen": 2.0, "score_rejected": 1.0}"#,
            "\n"
        ),
    );
    let input = wd.path("bad.parquet");
    py(&[
        "pyarrow-parquet",
        wd.path("bad.jsonl").to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let run = wd.run(&["relabel", "bad.parquet", "-o", "out.parquet"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: bad.parquet: row 1: field \"score_chosen\": missing or null\n"
    );
    assert!(!wd.path("out.parquet").exists());
    // Standard output can't be taken back: a run that fails before its first row group writes
    // nothing there, not even the file's magic number.
    for order in ["interleaved", "blocks"] {
        let run = wd.run(&[
            "relabel",
            "bad.parquet",
            "--output-format",
            "parquet",
            "--order",
            order,
        ]);
        assert_eq!(run.code, 1);
        assert_eq!(run.stdout, "", "--order {order}");
    }
    let run = wd.run(&[
        "relabel",
        "bad.parquet",
        "-o",
        "out.jsonl",
        "--on-error",
        "skip",
        "--rejects",
        "rejects.jsonl",
        "--template",
        "G{score}",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 3 rows in, 2 rows out, 0 ties, 2 skipped (missing_field: 2)\n\
         raug: first skipped row: bad.parquet: row 1: field \"score_chosen\": missing or null\n"
    );
    assert_eq!(
        wd.read("rejects.jsonl"),
        concat!(
            r#"{"prompt":"q","chosen":"C","rejected":"D","score_chosen":null,"score_rejected":3.0}"#,
            "\n",
            r#"{"prompt":null,"chosen":"E","rejected":"F","score_chosen":2.0,"score_rejected":1.0}"#,
            "\n"
        )
    );
    assert_eq!(
        wd.read("out.jsonl"),
        concat!(
            r#"{"prompt":"G8\n\np","chosen":"A","rejected":"B","score_chosen":8.0,"score_rejected":3.0}"#,
            "\n",
            r#"{"prompt":"G3\n\np","chosen":"B","rejected":"A","score_chosen":3.0,"score_rejected":8.0}"#,
            "\n"
        )
    );
}

/// Batches too big for 32-bit offsets once doubled are split by rows before relabeling. At real
/// scale (5 rows of 2 x 260 MB, 2.6 GB in one batch) that was checked by hand; here the limit is
/// lowered so the same path runs on small data, and the output must not change.
#[test]
fn batches_split_for_offsets_give_the_same_output() {
    let wd = Workdir::new();
    let input = wd.path("big.parquet");
    py(&["big-parquet", input.to_str().unwrap(), "12", "1"]);
    // One row group of 12 rows x 2 MB: with a 3 MB limit it is read a row at a time, and each
    // read batch is cut again by its real size.
    assert!(py(&["info", input.to_str().unwrap()]).contains("row groups: 1 rows: 12"));
    let whole = parquet_rows(&wd, "big.parquet", "whole.parquet", &[]);
    let split = parquet_rows(
        &wd,
        "big.parquet",
        "split.parquet",
        &["--batch-bytes", "3000000"],
    );
    assert_eq!(whole.len(), 24);
    assert_rows_eq(&split, &whole);
    assert_eq!(whole[3]["score_chosen"], 2.0);
    assert_eq!(whole[3]["score_rejected"], 9.0);
}

/// Relabels `wd`'s Parquet file `input` into `out.parquet` in `order`, checks it succeeded, and
/// returns its peak RSS in KiB.
fn relabel_peak_kib(wd: &Workdir, input: &str, order: &str) -> u64 {
    let (run, peak_kib) = wd.run_peak_rss(&[
        "relabel",
        input,
        "-o",
        "out.parquet",
        "--order",
        order,
        "-q",
    ]);
    assert_eq!(run.code, 0, "{order}: {}", run.stderr);
    peak_kib
}

/// A row group of 400 MB (400 rows of two 512 KB texts, pages of about 2 MB as writers make
/// them) is read and relabeled a slice at a time: peak memory stays within the 256 MiB goal in
/// both orders (it was 1.2 GB in the interleaved order when whole batches were read; 66-86 MiB
/// when this bound was set).
#[test]
fn one_big_row_group_relabels_in_a_fraction_of_its_size() {
    let wd = Workdir::new();
    let input = wd.path("big.parquet");
    py(&["big-row-group", input.to_str().unwrap(), "400", "512"]);
    assert!(py(&["info", input.to_str().unwrap()]).contains("row groups: 1 rows: 400"));
    for order in ["interleaved", "blocks"] {
        let peak_kib = relabel_peak_kib(&wd, "big.parquet", order);
        assert!(
            peak_kib < 256 * 1024,
            "{order}: peak RSS {} MiB for a 400 MB row group",
            peak_kib / 1024
        );
        let info = py(&["info", wd.path("out.parquet").to_str().unwrap()]);
        assert!(info.contains("rows: 800"), "{order}: {info}");
    }
}

/// A single huge row (chosen and rejected 64 MiB each) relabels in a small multiple of its size
/// in both orders: its two records go to the writer as they are made, not interleaved into one
/// batch, a copy of every value (10x the row before; about 5.3x now, most of it the Parquet
/// writer's own copies of a value: its dictionary, its statistics, snappy's worst-case buffer).
#[test]
fn one_huge_row_relabels_in_a_small_multiple_of_its_size() {
    let wd = Workdir::new();
    let input = wd.path("huge.parquet");
    py(&["big-parquet", input.to_str().unwrap(), "1", "64"]);
    let row_mib = 128;
    for order in ["interleaved", "blocks"] {
        let peak_kib = relabel_peak_kib(&wd, "huge.parquet", order);
        assert!(
            peak_kib < 7 * row_mib * 1024,
            "{order}: peak RSS {} MiB for a row of {row_mib} MiB",
            peak_kib / 1024
        );
        let batch = parquet_batch(&wd, "out.parquet");
        let text = |column: &str, row: usize| {
            let array = batch.column_by_name(column).unwrap();
            let array: &arrow_array::StringArray = array.as_any().downcast_ref().unwrap();
            array.value(row).to_string()
        };
        let score = |column: &str, row: usize| {
            let array = batch.column_by_name(column).unwrap();
            let array: &arrow_array::Float64Array = array.as_any().downcast_ref().unwrap();
            array.value(row)
        };
        assert_eq!(batch.num_rows(), 2, "{order}");
        let long = "0".repeat(64 << 20);
        for row in 0..2 {
            assert!(text("chosen", row) == long && text("rejected", row) == long);
        }
        assert_eq!(text("prompt", 0), format!("{}\n\np0", goal(9.0)), "{order}");
        assert_eq!(text("prompt", 1), format!("{}\n\np0", goal(1.0)), "{order}");
        assert_eq!(
            [score("score_chosen", 0), score("score_rejected", 0)],
            [9.0, 1.0]
        );
        assert_eq!(
            [score("score_chosen", 1), score("score_rejected", 1)],
            [1.0, 9.0]
        );
    }
}

/// pairs, multi-attribute relabel with scales, condition and inspect work on Parquet too, with
/// the same rows as on JSONL.
#[test]
fn method_features_on_parquet_match_jsonl() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let helpsteer = real("llm-thankfulness-claude__nvidia_HelpSteer_sample.jsonl");
    let pairs = [
        "pairs",
        helpsteer.to_str().unwrap(),
        "--group-by",
        "prompt",
        "--text",
        "response",
        "--score",
        "helpfulness",
        "-q",
    ];
    let run = wd.run(&[&pairs[..], &["-o", "pairs.parquet"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = wd.run(&[&pairs[..], &["-o", "pairs.jsonl"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_rows_eq(
        &rows(&py(&["rows", wd.path("pairs.parquet").to_str().unwrap()])),
        &rows(&wd.read("pairs.jsonl")),
    );
    let goal = [
        "--attribute",
        "helpfulness",
        "--attribute",
        "verbosity",
        "--scale",
        "0-4",
        "--from-scale",
        "0-4",
        "--precision",
        "0",
        "--ties",
        "drop",
    ];
    let got = parquet_rows(&wd, "pairs.parquet", "out.parquet", &goal);
    let expected = jsonl_rows(&wd, "pairs.jsonl", &goal);
    assert!(expected.len() > 100);
    assert_rows_eq(&got, &expected);
    // condition and inspect read Parquet rows.
    let run = wd.run(&[
        "condition",
        "pairs.parquet",
        "--output-format",
        "jsonl",
        "--target",
        "9",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let conditioned = rows(&run.stdout);
    assert_eq!(conditioned.len(), rows(&wd.read("pairs.jsonl")).len());
    assert!(conditioned[0]["prompt"]
        .as_str()
        .unwrap()
        .contains("Overall score: 9.\n\nWhat are"));
    let run = wd.run(&["inspect", "pairs.parquet", "--json", "--scale", "0-4"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["format"], "Parquet");
    assert_eq!(report["rows"].as_u64().unwrap() as usize, conditioned.len());
}

/// condition from Parquet to Parquet rewrites only the prompt column (the others are copied from
/// the input, row group by row group, in parallel): the same rows as the general path (JSON
/// Lines out), for a string prompt and for a message list, and a bad prompt is named by its row.
#[test]
fn condition_to_parquet_copies_all_but_the_prompt_and_matches_the_general_path() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    // Real rows in row groups of 100: several row groups, judged in parallel.
    pyarrow_parquet(&wd, &real(H4), "in.parquet", 100);
    for prompt in ["prompt", "chosen"] {
        let run = wd.run(&[
            "condition",
            "in.parquet",
            "-o",
            "out.parquet",
            "--prompt",
            prompt,
            "--target",
            "9",
            "-j",
            "2",
        ]);
        assert_eq!(run.code, 0, "{prompt}: {}", run.stderr);
        let n = rows(&py(&["rows", wd.path("in.parquet").to_str().unwrap()])).len();
        assert_eq!(
            run.stderr,
            format!("raug: {n} rows conditioned (field {prompt})\n")
        );
        let run = wd.run(&[
            "condition",
            "in.parquet",
            "--output-format",
            "jsonl",
            "--prompt",
            prompt,
            "--target",
            "9",
            "-q",
        ]);
        assert_eq!(run.code, 0, "{prompt}: {}", run.stderr);
        let got = rows(&py(&["rows", wd.path("out.parquet").to_str().unwrap()]));
        assert_rows_eq(&got, &rows(&run.stdout));
        assert!(
            py(&["info", wd.path("out.parquet").to_str().unwrap()]).contains(
                &py(&["info", wd.path("in.parquet").to_str().unwrap()])
                    .lines()
                    .last()
                    .unwrap()
                    .to_string()
            )
        );
    }
    // An empty message list can't take the goal: row 150 (in the second row group) says so.
    let mut text = String::new();
    for i in 0..200 {
        let prompt = if i == 150 {
            "[]".to_string()
        } else {
            format!(r#"[{{"content": "q{i}", "role": "user"}}]"#)
        };
        text.push_str(&format!("{{\"prompt\": {prompt}, \"id\": {i}}}\n"));
    }
    jsonl_and_parquet(&wd, "bad", &text);
    let run = wd.run(&["condition", "bad.parquet", "-o", "bad.out.parquet"]);
    assert_eq!(run.code, 1);
    let jsonl = wd.run(&["condition", "bad.jsonl", "-o", "bad.out.jsonl"]);
    assert_eq!(
        run.stderr,
        jsonl
            .stderr
            .replace("bad.jsonl:151", "bad.parquet: row 150"),
        "{}",
        jsonl.stderr
    );
    assert!(
        run.stderr.contains("bad.parquet: row 150"),
        "{}",
        run.stderr
    );
    assert!(!wd.path("bad.out.parquet").exists());
    // Parquet compressed as a whole is a usage error here too.
    let run = wd.run(&["condition", "in.parquet", "-o", "out.parquet.gz"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!wd.path("out.parquet.gz").exists());
}

/// In blocks order, a row group whose rows are all kept becomes one row group per half, aligned
/// with the input's: unchanged columns are copied as compressed bytes, not re-encoded.
#[test]
fn blocks_order_copies_unchanged_column_chunks() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = wd.path("in.parquet");
    py(&[
        "datasets-parquet",
        real(H4).to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let got = parquet_rows(&wd, "in.parquet", "out.parquet", &["--order", "blocks"]);
    assert_rows_eq(
        &got,
        &jsonl_rows(&wd, real(H4).to_str().unwrap(), &["--order", "blocks"]),
    );
    let out = wd.path("out.parquet");
    assert!(py(&["info", out.to_str().unwrap()]).contains("row groups: 2 rows: 32"));
    // Leaves: prompt 0, prompt_id 1, chosen 2-3, rejected 4-5, messages 6-7, scores 8-9.
    let chunk = |file: &std::path::Path, rg: &str, leaf: &str| {
        py(&["chunk", file.to_str().unwrap(), rg, leaf])
    };
    for rg in ["0", "1"] {
        for leaf in ["0", "1", "6", "7"] {
            assert_eq!(
                chunk(&out, rg, leaf),
                chunk(&input, "0", leaf),
                "row group {rg}, leaf {leaf}"
            );
        }
        assert_ne!(chunk(&out, rg, "2"), chunk(&input, "0", "2"));
    }
    // The goal-chosen half keeps the score columns; the goal-rejected half swaps them.
    assert_eq!(chunk(&out, "0", "8"), chunk(&input, "0", "8"));
    assert_eq!(chunk(&out, "1", "8"), chunk(&input, "0", "9"));
    assert_eq!(
        py(&["features", out.to_str().unwrap()]),
        py(&["features", input.to_str().unwrap()])
    );
}

/// Where the goal goes into the prompt (string responses), the goal-rejected half's responses
/// and scores are the input's other column's values: their chunks are copied from that column
/// (chosen from rejected, rejected from chosen), not decoded and encoded again, and every
/// reader sees the same rows as through JSON.
#[test]
fn blocks_order_copies_swapped_columns_from_each_other() {
    let wd = Workdir::new();
    let rows: String = (0..40)
        .map(|i| {
            format!(
                "{{\"prompt\": \"p{i}\", \"chosen\": \"good {i} {}\", \"rejected\": \"bad {i}\", \"score_chosen\": {}.0, \"score_rejected\": {}.5, \"lang\": \"en\"}}\n",
                "x".repeat(i * 7),
                9 - i % 3,
                1 + i % 4
            )
        })
        .collect();
    wd.write("in.jsonl", &rows);
    let input = pyarrow_parquet(&wd, &wd.path("in.jsonl"), "in.parquet", 20);
    let got = parquet_rows(&wd, "in.parquet", "out.parquet", &["--order", "blocks"]);
    assert_rows_eq(&got, &jsonl_rows(&wd, "in.jsonl", &["--order", "blocks"]));
    assert_eq!(got.len(), 80);
    assert_eq!(got[40]["chosen"], "bad 0");
    assert_eq!(got[40]["rejected"], "good 0 ");
    assert_eq!(got[40]["score_chosen"], 1.5);
    let out = wd.path("out.parquet");
    // Leaves: prompt 0, chosen 1, rejected 2, score_chosen 3, score_rejected 4, lang 5. Footer
    // order: goal-chosen row groups 0-1, goal-rejected 2-3.
    let chunk = |file: &std::path::Path, rg: usize, leaf: usize| {
        py(&[
            "chunk",
            file.to_str().unwrap(),
            &rg.to_string(),
            &leaf.to_string(),
        ])
    };
    for rg in 0..2 {
        for (leaf, from) in [(1, 2), (2, 1), (3, 4), (4, 3), (5, 5)] {
            assert_eq!(
                chunk(&out, 2 + rg, leaf),
                chunk(&input, rg, from),
                "rg {rg} leaf {leaf}"
            );
            assert_eq!(
                chunk(&out, rg, leaf),
                chunk(&input, rg, leaf),
                "rg {rg} leaf {leaf}"
            );
        }
        assert_ne!(chunk(&out, 2 + rg, 0), chunk(&input, rg, 0));
    }
}

#[test]
fn blocks_order_lists_row_groups_in_order_whatever_their_place_in_the_file() {
    if !real_data_present() {
        return;
    }
    // Aligned row groups of every half are written as soon as they are ready (so the goal-rejected
    // half of input row group 0 sits before the goal-chosen half of row group 1), and the footer
    // lists them in order. With --ties drop, the row groups holding a tie (rows 0, 1, 6, 9)
    // take the other path, spilled and written last: the order still holds.
    let wd = Workdir::new();
    let input = pyarrow_parquet(&wd, &real(H4), "in.parquet", 3);
    let layout = |file: &str| -> Vec<(u64, u64)> {
        py(&["layout", wd.path(file).to_str().unwrap()])
            .lines()
            .map(|line| {
                let (rows, offset) = line.split_once(' ').unwrap();
                (rows.parse().unwrap(), offset.parse().unwrap())
            })
            .collect()
    };
    for ties in ["keep", "drop"] {
        let args = ["--order", "blocks", "--ties", ties];
        let got = parquet_rows(&wd, "in.parquet", "out.parquet", &args);
        let expected = jsonl_rows(&wd, real(H4).to_str().unwrap(), &args);
        assert_eq!(expected.len(), if ties == "keep" { 32 } else { 24 });
        assert_rows_eq(&got, &expected);
        let offsets: Vec<u64> = layout("out.parquet").iter().map(|&(_, o)| o).collect();
        if ties == "keep" {
            // Six input row groups, each aligned: footer order h0u0..h0u5 h1u0..h1u5, file
            // order h0u0 h1u0 h0u1 h1u1 ...
            assert_eq!(offsets.len(), 12);
            let mut file_order: Vec<usize> = (0..12).collect();
            file_order.sort_by_key(|&i| offsets[i]);
            assert_eq!(file_order, [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]);
        } else {
            // Row groups 1, 4 and 5 (rows 3-5, 12-14, 15) are aligned; 0 (one row kept), 2 and
            // 3 (two each, written together) are not.
            let rows: Vec<u64> = layout("out.parquet").iter().map(|&(r, _)| r).collect();
            assert_eq!(rows, [1, 3, 4, 3, 1, 1, 3, 4, 3, 1]);
            assert!(!offsets.is_sorted(), "{offsets:?}");
        }
        assert_eq!(
            py(&["features", wd.path("out.parquet").to_str().unwrap()]),
            py(&["features", input.to_str().unwrap()])
        );
    }
}

/// A score column the options name and the schema lacks is a usage error naming the option,
/// before anything is written (it was an Arrow "no column" error after the output was begun).
#[test]
fn a_named_score_column_the_schema_lacks_is_a_usage_error() {
    let wd = Workdir::new();
    wd.write(
        "in.jsonl",
        "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\", \"score_chosen\": 2.0, \"score_rejected\": 1.0}\n",
    );
    pyarrow_parquet(&wd, &wd.path("in.jsonl"), "in.parquet", 1);
    let run = wd.run(&[
        "relabel",
        "in.parquet",
        "--chosen-score",
        "score_chosen",
        "--rejected-score",
        "meta.nope",
        "-o",
        "out.parquet",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: error: in.parquet: --rejected-score meta.nope: the first row has no such field\n"
    );
    assert!(!wd.path("out.parquet").exists());
}

/// `--threads` bounds the threads that compress Parquet output too (they had been rayon's
/// global pool, one per core whatever `-j` said). Counted while the writer is open: the rows
/// arrive on standard input, which stays open until the count is taken.
#[cfg(target_os = "linux")]
#[test]
fn threads_bound_the_threads_that_compress_parquet_output() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let wd = Workdir::new();
    let row = r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#;
    for threads in ["1", "3"] {
        let mut child = wd
            .command(&["relabel", "-", "-o", "out.parquet", "-j", threads, "-q"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn raug");
        let mut stdin = child.stdin.take().unwrap();
        // Parquet output takes JSON rows 4 MiB at a time: more than that, so the writer opens.
        for _ in 0..60_000 {
            writeln!(stdin, "{row}").unwrap();
        }
        stdin.flush().unwrap();
        let tasks = format!("/proc/{}/task", child.id());
        let compressing = || {
            std::fs::read_dir(&tasks)
                .map(|dir| {
                    dir.flatten()
                        .filter(|t| {
                            std::fs::read_to_string(t.path().join("comm"))
                                .is_ok_and(|name| name.starts_with("raug-parquet"))
                        })
                        .count()
                })
                .unwrap_or(0)
        };
        // The pool starts with the writer, once the first rows have set the schema.
        let start = Instant::now();
        while compressing() == 0 && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(50));
        let counted = compressing();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(counted.to_string(), threads);
        assert_eq!(parquet_file_rows(&wd, "out.parquet").len(), 120_000);
    }
}

/// JSON written as Parquet takes its schema from the first rows; a later row with a field they
/// lack, a fraction in a column of integers, or a value where they held only nulls starts the
/// output again with a wider schema (an output file, input files), with a note; where the run
/// can't start again (standard output, standard input) the row is the error it was.
#[test]
fn json_written_as_parquet_widens_its_schema_for_later_rows() {
    let wd = Workdir::new();
    // 3,500 rows of ~150 bytes: the changes at lines 1001, 2001 and 3001 fall in different
    // 64 KiB blocks (--block-size 1), so each starts the output again.
    let row = |i: usize| {
        let weight = if i == 1001 {
            "0.5".to_string()
        } else {
            "1".to_string()
        };
        let note = if i == 3001 { "\"late\"" } else { "null" };
        let lang = if i >= 2001 { ", \"lang\": \"en\"" } else { "" };
        format!(
            "{{\"prompt\": \"prompt {i:05}\", \"chosen\": \"good answer\", \"rejected\": \"bad\", \
             \"score_chosen\": 8, \"score_rejected\": 3, \"weight\": {weight}, \"note\": {note}{lang}}}\n"
        )
    };
    let text: String = (1..=3500).map(row).collect();
    wd.write("in.jsonl", &text);
    let note = |line: usize, change: &str| {
        format!(
            "raug: note: in.jsonl:{line}: a row the Parquet schema so far can't hold; the output \
             started again with {change}\n"
        )
    };
    let summary = "raug: 3500 rows in, 7000 rows out, 0 ties, 0 skipped\n";
    // What the Parquet output must hold: the JSON output's rows, weights as floats, the fields
    // a row lacks as nulls.
    let expected: Vec<serde_json::Value> = jsonl_rows(&wd, "in.jsonl", &[])
        .into_iter()
        .map(|mut r| {
            let weight = r["weight"].as_f64().unwrap();
            r["weight"] = serde_json::json!(weight);
            if r.get("lang").is_none() {
                r["lang"] = serde_json::Value::Null;
            }
            r
        })
        .collect();
    let types = [
        "prompt: Utf8",
        "chosen: Utf8",
        "rejected: Utf8",
        "score_chosen: Int64",
        "score_rejected: Int64",
        "weight: Float64",
        "note: Utf8",
        "lang: Utf8",
    ];
    let check = |name: &str| {
        assert_eq!(arrow_types(&wd, name), types);
        let got: Vec<serde_json::Value> = parquet_file_rows(&wd, name)
            .into_iter()
            .map(|mut r| {
                // raug's own Arrow -> JSON leaves nulls out; the expected rows name them.
                if r.get("lang").is_none() {
                    r["lang"] = serde_json::Value::Null;
                }
                r
            })
            .collect();
        assert_eq!(got.len(), expected.len());
        assert_eq!(got, expected);
    };

    for order in ["interleaved", "blocks"] {
        for on_error in ["fail", "skip"] {
            let run = wd.run(&[
                "relabel",
                "in.jsonl",
                "-o",
                "out.parquet",
                "--block-size",
                "1",
                "--order",
                order,
                "--on-error",
                on_error,
                "--stats",
                "stats.json",
            ]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert_eq!(
                run.stderr,
                [
                    note(1001, "column \"weight\" as double (was int64)"),
                    note(2001, "a new column \"lang\" (string)"),
                    note(3001, "column \"note\" as string (was null)"),
                    summary.to_string(),
                ]
                .concat(),
                "{order} {on_error}"
            );
            let stats: serde_json::Value = serde_json::from_str(&wd.read("stats.json")).unwrap();
            assert_eq!(stats["notes"].as_array().map(Vec::len), Some(3));
            wd.assert_no_temporary_files();
            if order == "interleaved" {
                check("out.parquet");
            }
        }
    }
    // In one block the first rows are every row: no start again.
    let run = wd.run(&["relabel", "in.jsonl", "-o", "whole.parquet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, summary);
    check("whole.parquet");

    // Standard output, or standard input, can't start again: the row is a bad row.
    let fraction = "raug: error: {}:1001: field \"weight\": 0.5 can't be written to Parquet: its \
                    column holds integers (the Parquet schema comes from the output's first \
                    rows); writing a file from input files (without --shard), raug would start \
                    the output again with a wider schema\n";
    let args = [
        "relabel",
        "-o",
        "-",
        "--output-format",
        "parquet",
        "--block-size",
        "1",
    ];
    let run = wd.run(&[&args[..], &["in.jsonl"]].concat());
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, fraction.replace("{}", "in.jsonl"));
    let run = wd.run_stdin(
        &["relabel", "-o", "stdin.parquet", "--block-size", "1"],
        text.as_bytes(),
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, fraction.replace("{}", "<stdin>"));
    assert!(!wd.path("stdin.parquet").exists());
    wd.assert_no_temporary_files();
}

/// `condition` and `pairs` write JSON rows as Parquet the same way: a later row that needs a
/// wider schema starts the output again.
#[test]
fn condition_and_pairs_widen_their_parquet_schema_for_later_rows() {
    let wd = Workdir::new();
    // More than a block of rows (4 MiB) before the first fraction.
    let pad = "x".repeat(200);
    let prompts: String = (1..=30000)
        .map(|i| {
            let score = if i > 25000 { "7.5" } else { "8" };
            format!("{{\"prompt\": \"p{i} {pad}\", \"score\": {score}}}\n")
        })
        .collect();
    wd.write("prompts.jsonl", &prompts);
    let run = wd.run(&[
        "condition",
        "prompts.jsonl",
        "-o",
        "c.parquet",
        "--target",
        "9",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: note: prompts.jsonl:25001: a row the Parquet schema so far can't hold; the output \
         started again with column \"score\" as double (was int64)\n\
         raug: 30000 rows conditioned (field prompt)\n"
    );
    assert_eq!(
        arrow_types(&wd, "c.parquet"),
        ["prompt: Utf8", "score: Float64"]
    );
    let rows = parquet_file_rows(&wd, "c.parquet");
    assert_eq!(rows.len(), 30000);
    assert_eq!(
        rows[29999],
        serde_json::json!({"prompt": format!("{}\n\np30000 {pad}", goal(9.0)), "score": 7.5})
    );
    assert_eq!(rows[0]["score"], serde_json::json!(8.0));
    wd.assert_no_temporary_files();
    // Standard output can't start again: the row is the error, which says what would widen it.
    let args = [
        "condition",
        "prompts.jsonl",
        "--output-format",
        "parquet",
        "--target",
        "9",
    ];
    let run = wd.run(&args);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: prompts.jsonl:25001: field \"score\": 7.5 can't be written to Parquet: its \
         column holds integers (the Parquet schema comes from the output's first rows); writing a \
         file from input files (without --shard), raug would start the output again with a wider \
         schema\n"
    );

    let responses: String = (1..=20000)
        .flat_map(|g| {
            let best = if g > 15000 { "7.5" } else { "8" };
            [(0, best), (1, "2")].map(|(k, score)| {
                format!(
                    "{{\"prompt_id\": \"id{g}\", \"prompt\": \"p{g} {pad}\", \"response\": \
                     \"r{g}-{k}\", \"score\": {score}}}\n"
                )
            })
        })
        .collect();
    wd.write("flat.jsonl", &responses);
    let pairs = [
        "pairs",
        "flat.jsonl",
        "--group-by",
        "prompt_id",
        "--text",
        "response",
        "--score",
        "score",
        "-o",
        "p.parquet",
    ];
    let run = wd.run(&pairs);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: note: flat.jsonl:30001: a row the Parquet schema so far can't hold; the output \
         started again with column \"score_chosen\" as double (was int64)\n\
         raug: 40000 rows in, 20000 prompts, 20000 pairs out, 0 prompts without a pair (one \
         response or all tied), 0 skipped\n"
    );
    assert_eq!(
        arrow_types(&wd, "p.parquet"),
        [
            "prompt: Utf8",
            "chosen: Utf8",
            "rejected: Utf8",
            "score_chosen: Float64",
            "score_rejected: Int64",
            "prompt_id: Utf8"
        ]
    );
    let rows = parquet_file_rows(&wd, "p.parquet");
    assert_eq!(rows.len(), 20000);
    assert_eq!(
        rows[19999],
        serde_json::json!({"prompt": format!("p20000 {pad}"), "chosen": "r20000-0",
            "rejected": "r20000-1", "score_chosen": 7.5, "score_rejected": 2,
            "prompt_id": "id20000"})
    );
    wd.assert_no_temporary_files();
}

/// In blocks order the goal-rejected half's score fields hold the other side's scores: the
/// Parquet schema of JSON rows comes from both halves of the first rows (integer chosen scores,
/// fractional rejected ones), even where the run can't start again.
#[test]
fn json_to_parquet_in_blocks_order_takes_both_halves_for_its_schema() {
    let wd = Workdir::new();
    let text: String = (0..10)
        .map(|i| {
            format!(
                "{{\"prompt\": \"p{i}\", \"chosen\": \"a\", \"rejected\": \"b\", \"score_chosen\": 8, \"score_rejected\": 2.5}}\n"
            )
        })
        .collect();
    // Standard input can't be read again, so the run can't start again.
    let args = ["relabel", "--order", "blocks", "-o", "out.parquet", "-q"];
    let run = wd.run_stdin(&args, text.as_bytes());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let scores: Vec<(serde_json::Value, serde_json::Value)> = parquet_file_rows(&wd, "out.parquet")
        .into_iter()
        .map(|r| (r["score_chosen"].clone(), r["score_rejected"].clone()))
        .collect();
    let chosen_first = (serde_json::json!(8.0), serde_json::json!(2.5));
    let rejected_first = (serde_json::json!(2.5), serde_json::json!(8.0));
    assert_eq!(
        scores,
        [vec![chosen_first; 10], vec![rejected_first; 10]].concat()
    );
}

/// `--output-format` with a folder input converts every relabeled data file, its extension (and
/// compression's) changed; passed-through and other files keep their names and bytes. Two files
/// that would land on one name are a usage error before anything is written.
#[test]
fn a_folder_relabeled_into_another_format_renames_its_data_files() {
    let wd = Workdir::new();
    let row = |i: u32| {
        format!(
            "{{\"prompt\": \"p{i}\", \"chosen\": \"a\", \"rejected\": \"b\", \"score_chosen\": 8, \"score_rejected\": 3}}\n"
        )
    };
    let text: String = (0..3).map(row).collect();
    fs::create_dir_all(wd.path("ds/data")).unwrap();
    fs::create_dir_all(wd.path("two")).unwrap();
    wd.write("ds/data/train-0.jsonl", &text);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
    wd.write("ds/data/train-1.JSONL.gz", gz.finish().unwrap());
    wd.write("ds/data/test-0.jsonl", &text);
    wd.write("ds/README.md", "# my dataset\n");
    let run = wd.run(&[
        "relabel",
        "ds",
        "-o",
        "out",
        "--output-format",
        "parquet",
        "--passthrough",
        "test-*",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 6 rows in, 12 rows out, 0 ties, 0 skipped\n"
    );
    let mut listing: Vec<String> = fs::read_dir(wd.path("out/data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listing.sort();
    assert_eq!(
        listing,
        ["test-0.jsonl", "train-0.parquet", "train-1.parquet"]
    );
    assert_eq!(wd.read("out/README.md"), "# my dataset\n");
    assert_eq!(wd.read("out/data/test-0.jsonl"), text);
    let expected = jsonl_rows(&wd, "ds/data/train-0.jsonl", &[]);
    for name in ["train-0.parquet", "train-1.parquet"] {
        let got = parquet_file_rows(&wd, &format!("out/data/{name}"));
        assert_eq!(got, expected, "{name}");
    }
    // And back: Parquet shards into JSON Lines (relabeled again: --force).
    let args = [
        "relabel",
        "out",
        "-o",
        "back",
        "--output-format",
        "jsonl",
        "-q",
        "--force",
        "--passthrough",
        "test-*",
    ];
    let run = wd.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut listing: Vec<String> = fs::read_dir(wd.path("back/data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    listing.sort();
    assert_eq!(listing, ["test-0.jsonl", "train-0.jsonl", "train-1.jsonl"]);
    assert_eq!(rows(&wd.read("back/data/train-0.jsonl")).len(), 12);
    assert_eq!(wd.read("back/data/test-0.jsonl"), text);
    wd.assert_no_temporary_files();

    // Two shards one name apart.
    wd.write("two/a.json", format!("[{}]", row(0).trim_end()));
    wd.write("two/a.jsonl", row(1));
    let run = wd.run(&[
        "relabel",
        "two",
        "-o",
        "two-out",
        "--output-format",
        "parquet",
    ]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: two/a.json and two/a.jsonl would both be written to two-out/a.parquet; \
         convert them apart\n"
    );
    assert!(!wd.path("two-out").exists());
    wd.assert_no_temporary_files();
}

/// JSON shards of a folder written as Parquet share one schema, as readers of the folder as one
/// dataset (`datasets`, polars) need: each file's schema comes from its own rows, so a shard of
/// integer scores, one with a field the others lack, one whose fields come in another order and
/// an empty one are written again in the schema that holds them all, each with a note. A shard
/// that contradicts the others (text in one, numbers in another) keeps its own schema, with a
/// note saying so, and the others still share one.
#[test]
fn json_shards_written_as_parquet_share_one_schema() {
    let wd = Workdir::new();
    fs::create_dir_all(wd.path("ds")).unwrap();
    let row = |i: u32, scores: &str| {
        format!("{{\"prompt\": \"p{i}\", \"chosen\": \"a\", \"rejected\": \"b\", {scores}}}\n")
    };
    wd.write(
        "ds/a.jsonl",
        row(0, "\"score_chosen\": 8, \"score_rejected\": 3")
            + &row(1, "\"score_chosen\": 9, \"score_rejected\": 1"),
    );
    wd.write(
        "ds/b.jsonl",
        row(
            2,
            "\"score_chosen\": 7.5, \"score_rejected\": 2, \"lang\": \"en\"",
        ),
    );
    wd.write("ds/c.jsonl", "");
    wd.write(
        "ds/d.jsonl",
        "{\"lang\": \"de\", \"prompt\": \"p3\", \"chosen\": \"a\", \"rejected\": \"b\", \
         \"score_chosen\": 6.5, \"score_rejected\": 4.5}\n",
    );
    let run = wd.run(&["relabel", "ds", "-o", "out", "--output-format", "parquet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: note: ds/a.jsonl: written again in the Parquet schema the folder's other files \
         share, with column \"score_chosen\" as double (was int64), column \"score_rejected\" as \
         double (was int64), a new column \"lang\" (string)\n\
         raug: note: ds/c.jsonl: written again in the Parquet schema the folder's other files \
         share, with their columns (its rows, if any, made none)\n\
         raug: note: ds/d.jsonl: written again in the Parquet schema the folder's other files \
         share, with its columns in the other files' order\n\
         raug: 4 rows in, 8 rows out, 0 ties, 0 skipped\n"
    );
    let types = [
        "prompt: Utf8",
        "chosen: Utf8",
        "rejected: Utf8",
        "score_chosen: Float64",
        "score_rejected: Float64",
        "lang: Utf8",
    ];
    for name in ["a", "b", "c", "d"] {
        assert_eq!(
            arrow_types(&wd, &format!("out/{name}.parquet")),
            types,
            "{name}"
        );
    }
    let got = |name: &str| parquet_file_rows(&wd, &format!("out/{name}.parquet"));
    let relabeled = |i: u32, c: f64, r: f64, lang: serde_json::Value| {
        vec![
            serde_json::json!({"prompt": format!("{}\n\np{i}", goal(c)), "chosen": "a",
                "rejected": "b", "score_chosen": c, "score_rejected": r, "lang": lang}),
            serde_json::json!({"prompt": format!("{}\n\np{i}", goal(r)), "chosen": "b",
                "rejected": "a", "score_chosen": r, "score_rejected": c, "lang": lang}),
        ]
    };
    let null = serde_json::Value::Null;
    let a: Vec<_> = [
        relabeled(0, 8.0, 3.0, null.clone()),
        relabeled(1, 9.0, 1.0, null),
    ]
    .concat();
    assert_eq!(got("a"), a);
    assert_eq!(got("b"), relabeled(2, 7.5, 2.0, "en".into()));
    assert_eq!(got("c"), Vec::<serde_json::Value>::new());
    assert_eq!(got("d"), relabeled(3, 6.5, 4.5, "de".into()));
    wd.assert_no_temporary_files();

    // Text in one shard where another holds numbers: no schema holds both. That shard keeps
    // its own; the others still share one.
    fs::create_dir_all(wd.path("apart")).unwrap();
    wd.write(
        "apart/x.jsonl",
        row(
            0,
            "\"score_chosen\": 8, \"score_rejected\": 3, \"tag\": \"t\"",
        ),
    );
    wd.write(
        "apart/y.jsonl",
        row(1, "\"score_chosen\": 8, \"score_rejected\": 3, \"tag\": 5"),
    );
    wd.write(
        "apart/z.jsonl",
        row(
            2,
            "\"score_chosen\": 8.5, \"score_rejected\": 3, \"tag\": \"u\"",
        ),
    );
    let run = wd.run(&[
        "relabel",
        "apart",
        "-o",
        "apart-out",
        "--output-format",
        "parquet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: note: apart/x.jsonl: written again in the Parquet schema the folder's other files \
         share, with column \"score_chosen\" as double (was int64), column \"score_rejected\" as \
         double (was int64)\n\
         raug: note: apart/y.jsonl: its rows' Parquet schema contradicts the other files' (a \
         column of another type), so it keeps its own; readers that load the folder as one \
         dataset may refuse it\n\
         raug: 3 rows in, 6 rows out, 0 ties, 0 skipped\n"
    );
    let scores_and_tag =
        |name: &str| arrow_types(&wd, &format!("apart-out/{name}.parquet"))[3..].to_vec();
    assert_eq!(
        scores_and_tag("x"),
        [
            "score_chosen: Float64",
            "score_rejected: Float64",
            "tag: Utf8"
        ]
    );
    assert_eq!(scores_and_tag("z"), scores_and_tag("x"));
    assert_eq!(
        scores_and_tag("y"),
        ["score_chosen: Int64", "score_rejected: Int64", "tag: Int64"]
    );
}

/// Parquet files read as one dataset whose columns differ a little, as shards written apart do
/// (int64 scores in one, float32 in another, a column only some have), are read with one schema
/// that holds them all: scores as float64 (a float32 7.3 stays 7.3 in its goal), the missing
/// column null, the `huggingface` features made again from it. A column that can't meet (text
/// in one, numbers in another) is a usage error naming the file.
#[test]
fn parquet_shards_whose_columns_differ_a_little_are_read_as_one_dataset() {
    use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let wd = Workdir::new();
    let shard = |name: &str, prompt: &str, scores: [ArrayRef; 2], lang: Option<&str>| {
        let mut fields = vec![
            Field::new("prompt", DataType::Utf8, false),
            Field::new("chosen", DataType::Utf8, false),
            Field::new("rejected", DataType::Utf8, false),
            Field::new("score_chosen", scores[0].data_type().clone(), false),
            Field::new("score_rejected", scores[1].data_type().clone(), false),
        ];
        let text = |s: &str| Arc::new(StringArray::from(vec![s.to_string()])) as ArrayRef;
        let [chosen, rejected] = scores;
        let mut columns = vec![text(prompt), text("good"), text("bad"), chosen, rejected];
        if let Some(lang) = lang {
            fields.push(Field::new("lang", DataType::Utf8, false));
            columns.push(text(lang));
        }
        let schema = Schema::new(fields);
        let features = raug::arrow::hf::metadata(&schema).unwrap();
        let metadata = std::collections::HashMap::from([("huggingface".to_string(), features)]);
        let schema = schema.with_metadata(metadata);
        let batch = RecordBatch::try_new(Arc::new(schema), columns).unwrap();
        arrow_parquet(&wd, name, &batch);
    };
    let ints = |c: i64, r: i64| -> [ArrayRef; 2] {
        [
            Arc::new(Int64Array::from(vec![c])),
            Arc::new(Int64Array::from(vec![r])),
        ]
    };
    shard("s0.parquet", "p0", ints(8, 3), None);
    let floats: [ArrayRef; 2] = [
        Arc::new(Float32Array::from(vec![7.3])),
        Arc::new(Float32Array::from(vec![2.5])),
    ];
    shard("s1.parquet", "p1", floats, None);
    shard("s2.parquet", "p2", ints(9, 1), Some("en"));

    let run = wd.run(&[
        "relabel",
        "s0.parquet",
        "s1.parquet",
        "s2.parquet",
        "-o",
        "out.parquet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 3 rows in, 6 rows out, 0 ties, 0 skipped\n"
    );
    let types: Vec<String> = arrow_types(&wd, "out.parquet");
    assert_eq!(
        types,
        [
            "prompt: Utf8",
            "chosen: Utf8",
            "rejected: Utf8",
            "score_chosen: Float64",
            "score_rejected: Float64",
            "lang: Utf8"
        ]
    );
    let file = fs::File::open(wd.path("out.parquet")).unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let features: serde_json::Value =
        serde_json::from_str(&builder.schema().metadata()["huggingface"]).unwrap();
    let features = &features["info"]["features"];
    assert_eq!(features["score_chosen"]["dtype"], "float64", "{features}");
    assert_eq!(features["lang"]["dtype"], "string", "{features}");
    let row = |prompt: &str, goal: f64, chosen: &str, scores: [f64; 2], lang: Option<&str>| {
        let mut row = serde_json::json!({
            "prompt": format!("{}\n\n{prompt}", crate::harness::goal(goal)),
            "chosen": chosen,
            "rejected": if chosen == "good" { "bad" } else { "good" },
            "score_chosen": scores[0],
            "score_rejected": scores[1],
        });
        row["lang"] = serde_json::json!(lang);
        row
    };
    let expected = vec![
        row("p0", 8.0, "good", [8.0, 3.0], None),
        row("p0", 3.0, "bad", [3.0, 8.0], None),
        row("p1", 7.3, "good", [7.3, 2.5], None),
        row("p1", 2.5, "bad", [2.5, 7.3], None),
        row("p2", 9.0, "good", [9.0, 1.0], Some("en")),
        row("p2", 1.0, "bad", [1.0, 9.0], Some("en")),
    ];
    assert_eq!(parquet_file_rows(&wd, "out.parquet"), expected);
    // JSON Lines out, and in blocks order, the same rows.
    let args = ["relabel", "s0.parquet", "s1.parquet", "s2.parquet", "-q"];
    let run = wd.run(&[&args[..], &["--output-format", "jsonl"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(rows(&run.stdout), expected);
    let args = [
        "relabel",
        "s0.parquet",
        "s1.parquet",
        "s2.parquet",
        "--order",
        "blocks",
    ];
    let run = wd.run(&[&args[..], &["-o", "blocks.parquet", "-q"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let blocks: Vec<serde_json::Value> = [0, 2, 4, 1, 3, 5].map(|i| expected[i].clone()).into();
    assert_eq!(parquet_file_rows(&wd, "blocks.parquet"), blocks);
    // condition reads them as one dataset too.
    let args = [
        "condition",
        "s0.parquet",
        "s1.parquet",
        "s2.parquet",
        "--target",
        "10",
    ];
    let run = wd.run(&[&args[..], &["-o", "c.parquet"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(arrow_types(&wd, "c.parquet"), types);
    let scores: Vec<serde_json::Value> = parquet_file_rows(&wd, "c.parquet")
        .iter()
        .map(|r| r["score_chosen"].clone())
        .collect();
    assert_eq!(scores, [8.0, 7.3, 9.0].map(|s| serde_json::json!(s)));

    // Text where the files before hold numbers.
    let texts: [ArrayRef; 2] = [
        Arc::new(StringArray::from(vec!["8"])),
        Arc::new(StringArray::from(vec!["3"])),
    ];
    shard("s3.parquet", "p3", texts, None);
    for command in [&["relabel"][..], &["condition", "--target", "10"]] {
        let mut args = command.to_vec();
        args.extend(["s0.parquet", "s3.parquet", "-o", "bad.parquet"]);
        let run = wd.run(&args);
        assert_eq!(run.code, 2, "{}", run.stderr);
        let verb = command[0];
        assert_eq!(
            run.stderr,
            format!(
                "raug: error: s3.parquet: column \"score_chosen\" is Utf8, Int64 in the files \
                 before it; {verb} the files separately\n"
            )
        );
    }
    wd.assert_no_temporary_files();
}

#[test]
fn timestamps_in_named_time_zones_are_written_as_json() {
    use std::sync::Arc;

    use arrow_array::{Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};

    // pandas writes a tz-aware column as timestamp[us, tz=UTC]; a named zone needs the time
    // zone database to be written with its offset.
    let wd = Workdir::new();
    let at = 1_719_835_200_000_000; // 2024-07-01T12:00:00Z
    let text = |v: &str| Arc::new(StringArray::from(vec![v])) as arrow_array::ArrayRef;
    let score = |v: f64| Arc::new(Float64Array::from(vec![v])) as arrow_array::ArrayRef;
    let zoned =
        |tz: &str| Arc::new(TimestampMicrosecondArray::from(vec![at]).with_timezone(tz)) as _;
    let batch = RecordBatch::try_from_iter([
        ("prompt", text("p")),
        ("chosen", text("A")),
        ("rejected", text("B")),
        ("score_chosen", score(8.0)),
        ("score_rejected", score(3.0)),
        ("created", zoned("UTC")),
        ("local", zoned("America/New_York")),
    ])
    .unwrap();
    arrow_parquet(&wd, "tz.parquet", &batch);
    let run = wd.run(&[
        "relabel",
        "tz.parquet",
        "-o",
        "out.jsonl",
        "--template",
        "G{score}",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        wd.read("out.jsonl"),
        concat!(
            r#"{"prompt":"G8\n\np","chosen":"A","rejected":"B","score_chosen":8.0,"score_rejected":3.0,"created":"2024-07-01T12:00:00Z","local":"2024-07-01T08:00:00-04:00"}"#,
            "\n",
            r#"{"prompt":"G3\n\np","chosen":"B","rejected":"A","score_chosen":3.0,"score_rejected":8.0,"created":"2024-07-01T12:00:00Z","local":"2024-07-01T08:00:00-04:00"}"#,
            "\n"
        )
    );
    // condition reads Parquet as JSON rows.
    let run = wd.run(&["condition", "tz.parquet", "--template", "G{score}", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        concat!(
            r#"{"prompt":"G10\n\np","chosen":"A","rejected":"B","score_chosen":8.0,"score_rejected":3.0,"created":"2024-07-01T12:00:00Z","local":"2024-07-01T08:00:00-04:00"}"#,
            "\n"
        )
    );
}

#[test]
fn dataset_folders_copy_their_metadata_and_name_arrow_ipc() {
    use std::sync::Arc;

    use arrow_array::{RecordBatch, StringArray};

    let wd = Workdir::new();
    let row = r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#;
    // A hub folder of a dataset with a loading script (`dataset_infos.json` beside the data) and
    // a LLaMA-Factory data folder (`dataset_info.json`, its registry): JSON, but not rows.
    let info = r#"{"default": {"features": {"prompt": {"dtype": "string"}}}}"#;
    fs::create_dir_all(wd.path("ds/data")).unwrap();
    fs::create_dir_all(wd.path("saved")).unwrap();
    wd.write("ds/data/train.jsonl", format!("{row}\n"));
    wd.write("ds/dataset_infos.json", info);
    wd.write("ds/dataset_info.json", info);
    let run = wd.run(&["relabel", "ds", "-o", "out"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 1 rows in, 2 rows out, 0 ties, 0 skipped\n"
    );
    assert_eq!(wd.read("out/dataset_infos.json"), info);
    assert_eq!(wd.read("out/dataset_info.json"), info);
    assert_eq!(
        wd.read("out/data/train.jsonl"),
        wd.run(&["relabel", "ds/data/train.jsonl", "-q"]).stdout
    );
    for command in [
        &["inspect", "ds"][..],
        &["condition", "ds", "--target", "9"],
    ] {
        let run = wd.run(command);
        assert_eq!(run.code, 0, "{command:?}: {}", run.stderr);
    }

    // `datasets`' save_to_disk writes rows as Arrow IPC streams beside JSON state; Feather is
    // the IPC file format. Named for what they are, from a file, a folder or standard input.
    let batch =
        RecordBatch::try_from_iter([("prompt", Arc::new(StringArray::from(vec!["p"])) as _)])
            .unwrap();
    let mut stream = arrow_ipc::writer::StreamWriter::try_new(
        fs::File::create(wd.path("saved/data-00000-of-00001.arrow")).unwrap(),
        &batch.schema(),
    )
    .unwrap();
    stream.write(&batch).unwrap();
    stream.finish().unwrap();
    wd.write(
        "saved/state.json",
        r#"{"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}"#,
    );
    wd.write("saved/dataset_info.json", info);
    let mut file = arrow_ipc::writer::FileWriter::try_new(
        fs::File::create(wd.path("t.feather")).unwrap(),
        &batch.schema(),
    )
    .unwrap();
    file.write(&batch).unwrap();
    file.finish().unwrap();
    let ipc = "raug reads JSON and Parquet, not Arrow IPC (the .arrow files `datasets`' \
               save_to_disk writes, or Feather): write the dataset as Parquet first, e.g. in \
               Python `datasets.load_from_disk(FOLDER).to_parquet(\"train.parquet\")` (each split \
               of a DatasetDict apart), or relabel it in Python with `raug.Relabeler()`";
    let shard = "saved/data-00000-of-00001.arrow";
    for (args, named) in [
        (&["relabel", "saved", "-o", "out2"][..], shard),
        (&["inspect", "saved"], shard),
        (&["condition", "saved", "--target", "9"], shard),
        (&["relabel", shard, "-o", "x.jsonl"], shard),
        (&["inspect", shard], shard),
        (&["relabel", "t.feather"], "t.feather"),
        (
            &[
                "pairs",
                "t.feather",
                "--group-by",
                "p",
                "--text",
                "t",
                "--score",
                "s",
            ],
            "t.feather",
        ),
    ] {
        let run = wd.run(args);
        assert_eq!(run.code, 1, "{args:?}");
        assert_eq!(
            run.stderr,
            format!("raug: error: {named}: {ipc}\n"),
            "{args:?}"
        );
    }
    let run = wd.run_stdin(&["relabel"], &fs::read(wd.path(shard)).unwrap());
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, format!("raug: error: <stdin>: {ipc}\n"));
    assert!(!wd.path("out2").exists() && !wd.path("x.jsonl").exists());
    wd.assert_no_temporary_files();
    // Passed through, they are copied as any file.
    let run = wd.run(&["relabel", "saved", "-o", "out3", "--passthrough", "*.arrow"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        fs::read(wd.path(&format!("out3/{}", &shard[6..]))).unwrap(),
        fs::read(wd.path(shard)).unwrap()
    );
}

#[test]
fn int96_timestamps_are_read_and_written_in_both_orders() {
    // Spark writes timestamps as INT96 by default; Arrow reads them as timestamp[ns], written
    // back as INT64. Their chunks can't be copied into the INT64 column (the blocks order and
    // condition copy the columns they don't change), so such files are rewritten.
    let wd = Workdir::new();
    use serde_json::{json, Value};

    let lines = [(8, 3), (7, 2)].map(|(c, r)| {
        format!(
            r#"{{"prompt": "p{c}", "chosen": "A", "rejected": "B", "score_chosen": {c}, "score_rejected": {r}}}"#
        ) + "\n"
    });
    let json = wd.write("in.jsonl", lines.concat());
    let parquet = wd.path("in.parquet");
    py(&[
        "int96-parquet",
        json.to_str().unwrap(),
        parquet.to_str().unwrap(),
    ]);
    let day = |d: u8| json!(format!("2024-01-0{d}T00:00:00"));
    for (order, days) in [("interleaved", [1, 1, 2, 2]), ("blocks", [1, 2, 1, 2])] {
        let expected: Vec<Value> = rows(&wd.run(&["relabel", "in.jsonl", "--order", order]).stdout)
            .into_iter()
            .zip(days)
            .map(|(mut row, d)| {
                row["ts"] = day(d);
                row
            })
            .collect();
        let _ = fs::remove_file(wd.path("out.parquet"));
        let run = wd.run(&[
            "relabel",
            "in.parquet",
            "-o",
            "out.parquet",
            "--order",
            order,
        ]);
        assert_eq!(run.code, 0, "{order}: {}", run.stderr);
        assert_rows_eq(&parquet_file_rows(&wd, "out.parquet"), &expected);
    }
    let run = wd.run(&[
        "condition",
        "in.parquet",
        "-o",
        "c.parquet",
        "--target",
        "9",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got = parquet_file_rows(&wd, "c.parquet");
    assert_eq!(got.len(), 2);
    assert_eq!((&got[0]["ts"], &got[1]["ts"]), (&day(1), &day(2)));
    assert_eq!(got[1]["prompt"], json!(format!("{}\n\np7", goal(9.0))));
}
