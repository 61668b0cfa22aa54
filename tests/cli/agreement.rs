//! The disagreements between JSON Lines and Parquet that one set of rules removed, as regression
//! tests through the command line: each is named after what it protects.

use crate::differential_core::normalize;
use crate::harness::*;
use serde_json::{json, Value};

/// H4 rows, the second with a tool-call message whose content is null, the third with an empty
/// chosen list (a bad row).
const H4_ROWS: &str = concat!(
    r#"{"prompt": "q", "chosen": [{"content": "q", "role": "user"}, {"content": "A", "role": "assistant"}], "rejected": [{"content": "q", "role": "user"}, {"content": "B", "role": "assistant"}], "score_chosen": 8.0, "score_rejected": 3.0}"#,
    "\n",
    r#"{"prompt": "q", "chosen": [{"content": "q", "role": "user"}, {"content": null, "role": "assistant"}, {"content": "A", "role": "tool"}], "rejected": [{"content": "q", "role": "user"}, {"content": "B", "role": "assistant"}], "score_chosen": 7.0, "score_rejected": 2.0}"#,
    "\n",
    r#"{"prompt": "q", "chosen": [], "rejected": [{"content": "q", "role": "user"}, {"content": "B", "role": "assistant"}], "score_chosen": 6.0, "score_rejected": 1.0}"#,
    "\n"
);

#[test]
fn null_message_content_is_accepted_from_jsonl_and_parquet_alike() {
    let wd = Workdir::new();
    jsonl_and_parquet(&wd, "in", H4_ROWS);
    let mut outputs = Vec::new();
    for input in ["in.jsonl", "in.parquet"] {
        let run = wd.run(&[
            "relabel",
            input,
            "--on-error",
            "skip",
            "--output-format",
            "jsonl",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let location = if input == "in.jsonl" {
            "in.jsonl:3"
        } else {
            "in.parquet: row 2"
        };
        assert_eq!(
            run.stderr,
            format!(
                "raug: 3 rows in, 4 rows out, 0 ties, 1 skipped (bad_message: 1)\n\
                 raug: first skipped row: {location}: field \"chosen\": empty message list\n"
            )
        );
        outputs.push(rows(&run.stdout));
    }
    assert_eq!(outputs[0].len(), 4);
    assert_rows_eq(&outputs[1], &outputs[0]);
}

#[test]
fn inspect_judges_parquet_rows_as_relabel_does() {
    let wd = Workdir::new();
    jsonl_and_parquet(&wd, "in", H4_ROWS);
    for (input, location) in [
        ("in.jsonl", "in.jsonl:3"),
        ("in.parquet", "in.parquet: row 2"),
    ] {
        let run = wd.run(&["inspect", input, "--json"]);
        assert_eq!(
            run.code, 1,
            "relabel would stop at the bad row: {}",
            run.stderr
        );
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(report["rows"], 3, "{input}");
        assert_eq!(
            report["rejected"],
            serde_json::json!({"bad_message": 1}),
            "{input}"
        );
        assert_eq!(
            report["first_rejected"],
            serde_json::json!([format!("{location}: field \"chosen\": empty message list")]),
            "{input}"
        );
        let example: serde_json::Value =
            serde_json::from_str(report["example"].as_str().unwrap()).unwrap();
        assert_eq!(at(&example, "chosen")[0]["content"], goal(8.0), "{input}");
    }
}

#[test]
fn inspect_in_parallel_reports_rows_in_input_order() {
    let wd = Workdir::new();
    // 1,000 rows in row groups of 100 (10 row groups judged in parallel); every 97th row from
    // row 150 on has an empty chosen list. The report names the first five in input order.
    let mut text = String::new();
    let mut bad = Vec::new();
    for i in 0..1000u32 {
        let chosen = if i >= 150 && (i - 150) % 97 == 0 {
            bad.push(i);
            "[]".to_string()
        } else {
            format!(
                r#"[{{"content": "q{i}", "role": "user"}}, {{"content": "A{i}", "role": "assistant"}}]"#
            )
        };
        text.push_str(&format!(
            r#"{{"prompt": "q{i}", "chosen": {chosen}, "rejected": [{{"content": "q{i}", "role": "user"}}, {{"content": "B", "role": "assistant"}}], "score_chosen": {}, "score_rejected": 2.0, "id": {i}}}"#,
            3 + i % 5
        ));
        text.push('\n');
    }
    jsonl_and_parquet(&wd, "many", &text);
    for (input, location) in [
        (
            "many.jsonl",
            Box::new(|i: u32| format!("many.jsonl:{}", i + 1)) as Box<dyn Fn(u32) -> String>,
        ),
        (
            "many.parquet",
            Box::new(|i: u32| format!("many.parquet: row {i}")),
        ),
    ] {
        let run = wd.run(&["inspect", input, "--json", "-j", "2"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(report["rows"], 1000, "{input}");
        assert_eq!(
            report["rejected"],
            serde_json::json!({"bad_message": bad.len()}),
            "{input}"
        );
        let first: Vec<String> = bad[..5]
            .iter()
            .map(|&i| format!("{}: field \"chosen\": empty message list", location(i)))
            .collect();
        assert_eq!(
            report["first_rejected"],
            serde_json::json!(first),
            "{input}"
        );
        // Scores 3..7 on 1,000 rows, 200 each (the bad rows' left out).
        let bins: Vec<(String, u64)> = report["histogram"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["score"].as_str().unwrap().to_string(),
                    b["chosen"].as_u64().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, u64)> = (3..8)
            .map(|s| {
                let kept = (0..1000u32)
                    .filter(|i| 3 + i % 5 == s && !bad.contains(i))
                    .count();
                (s.to_string(), kept as u64)
            })
            .chain([("2".to_string(), 0)])
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        assert_eq!(bins, expected, "{input}");
        let example: serde_json::Value =
            serde_json::from_str(report["example"].as_str().unwrap()).unwrap();
        // Made from every column, also those the rules don't read.
        assert_eq!(
            (&example["prompt"], &example["id"]),
            (&serde_json::json!("q0"), &serde_json::json!(0)),
            "{input}"
        );
    }
}

#[test]
fn a_null_text_and_a_null_score_give_the_same_reason_from_jsonl_and_parquet() {
    let wd = Workdir::new();
    jsonl_and_parquet(
        &wd,
        "in",
        concat!(
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8.0, "score_rejected": 3.0}"#,
            "\n",
            r#"{"prompt": "p", "chosen": null, "rejected": "B", "score_chosen": null, "score_rejected": 3.0}"#,
            "\n"
        ),
    );
    for (input, location) in [
        ("in.jsonl", "in.jsonl:2"),
        ("in.parquet", "in.parquet: row 1"),
    ] {
        let run = wd.run(&[
            "relabel",
            input,
            "--stats",
            "stats.json",
            "--on-error",
            "skip",
            "-q",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let stats: serde_json::Value = serde_json::from_str(&wd.read("stats.json")).unwrap();
        assert_eq!(
            stats["skipped_by_reason"],
            serde_json::json!({"missing_field": 1}),
            "{input}"
        );
        let run = wd.run(&["relabel", input]);
        assert_eq!(run.code, 1);
        assert_eq!(
            run.stderr,
            format!("raug: error: {location}: field \"chosen\": missing or null\n")
        );
    }
}

#[test]
fn rejects_are_written_in_the_format_their_extension_names_whatever_the_input() {
    let wd = Workdir::new();
    jsonl_and_parquet(&wd, "in", H4_ROWS);
    let skip = |input: &str, rejects: &str| {
        let run = wd.run(&[
            "relabel",
            input,
            "-o",
            "out.jsonl",
            "--on-error",
            "skip",
            "--rejects",
            rejects,
            "-q",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    };
    // JSON Lines from JSON Lines: the row, byte for byte.
    skip("in.jsonl", "rejects.jsonl");
    assert_eq!(
        wd.read("rejects.jsonl"),
        format!("{}\n", H4_ROWS.lines().nth(2).unwrap())
    );
    // Parquet and JSON arrays from JSON Lines: a real file of that format, one described
    // record per rejected row.
    let described = serde_json::json!({
        "file": "in.jsonl",
        "line": 3,
        "reason": "bad_message",
        "field": "chosen",
        "detail": "empty message list",
        "row": H4_ROWS.lines().nth(2).unwrap(),
    });
    skip("in.jsonl", "rejects.parquet");
    assert_eq!(
        &std::fs::read(wd.path("rejects.parquet")).unwrap()[..4],
        b"PAR1"
    );
    assert_eq!(
        rows(&py(&["rows", wd.path("rejects.parquet").to_str().unwrap()])),
        vec![described.clone()]
    );
    skip("in.jsonl", "rejects.json");
    let array: serde_json::Value = serde_json::from_str(&wd.read("rejects.json")).unwrap();
    assert_eq!(array, serde_json::json!([described]));
    // From Parquet: the rejected rows themselves, as Parquet or as JSON.
    skip("in.parquet", "rejects.parquet");
    let expected = rows(H4_ROWS)[2].clone();
    assert_rows_eq(
        &rows(&py(&["rows", wd.path("rejects.parquet").to_str().unwrap()])),
        std::slice::from_ref(&expected),
    );
    skip("in.parquet", "rejects.jsonl");
    assert_rows_eq(&rows(&wd.read("rejects.jsonl")), &[expected]);
}

#[test]
fn every_order_is_decided_once_for_jsonl_and_parquet() {
    let wd = Workdir::new();
    jsonl_and_parquet(
        &wd,
        "in",
        H4_ROWS.lines().take(2).collect::<Vec<_>>().join("\n"),
    );
    let options: [&[&str]; 6] = [
        &["--order", "blocks"],
        &["--order", "interleaved"],
        &["--order", "blocks", "--goals", "chosen"],
        &["--order", "interleaved", "--goals", "rejected"],
        &["--order", "blocks", "--keep-original"],
        &[
            "--order",
            "interleaved",
            "--keep-original",
            "--goals",
            "chosen",
        ],
    ];
    for args in options {
        let mut outputs = Vec::new();
        for (input, output) in [("in.jsonl", "out.jsonl"), ("in.parquet", "out.parquet")] {
            let mut all = vec!["relabel", input, "-o", output, "-q"];
            all.extend_from_slice(args);
            let run = wd.run(&all);
            assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
            outputs.push(if output.ends_with(".parquet") {
                rows(&py(&["rows", wd.path(output).to_str().unwrap()]))
            } else {
                rows(&wd.read(output))
            });
        }
        assert_rows_eq(&outputs[1], &outputs[0]);
        // The goal of each output row, in order, says the order was followed.
        let goals: Vec<String> = outputs[0]
            .iter()
            .map(|r| at(r, "chosen")[0]["content"].as_str().unwrap().to_string())
            .collect();
        let (g8, g3, g7, g2) = (goal(8.0), goal(3.0), goal(7.0), goal(2.0));
        let expected: Vec<&str> = match args {
            ["--order", "blocks"] => vec![&g8, &g7, &g3, &g2],
            ["--order", "interleaved"] => vec![&g8, &g3, &g7, &g2],
            [_, "blocks", "--goals", "chosen"] => vec![&g8, &g7],
            [_, "interleaved", "--goals", "rejected"] => vec![&g3, &g2],
            [_, "blocks", "--keep-original"] => vec!["q", "q", &g8, &g7, &g3, &g2],
            _ => vec!["q", &g8, "q", &g7],
        };
        assert_eq!(goals, expected, "{args:?}");
    }
}

#[test]
fn condition_applies_relabels_style_and_fit_rules() {
    let wd = Workdir::new();
    wd.write(
        "eval.jsonl",
        concat!(
            r#"{"prompt": [{"role": "system", "content": ["not", "a", "string"]}, {"role": "user", "content": "q"}]}"#,
            "\n"
        ),
    );
    wd.write(
        "train.jsonl",
        concat!(
            r#"{"prompt": [{"role": "system", "content": ["not", "a", "string"]}, {"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "A"}], "rejected": [{"role": "assistant", "content": "B"}], "score_chosen": 8, "score_rejected": 3}"#,
            "\n"
        ),
    );
    let message = "field \"prompt\": message 0 has neither string \"content\" nor a text part; the goal can only be put in front of text";
    let run = wd.run(&["condition", "eval.jsonl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!("raug: error: eval.jsonl:1: {message}\n")
    );
    let run = wd.run(&["relabel", "train.jsonl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!("raug: error: train.jsonl:1: {message}\n")
    );
}

#[test]
fn a_panicking_worker_is_an_internal_error_with_its_own_exit_code() {
    let wd = Workdir::new();
    jsonl_and_parquet(&wd, "in", H4_ROWS);
    for (input, output) in [("in.jsonl", "out.jsonl"), ("in.parquet", "out.parquet")] {
        let run = wd.run(&["relabel", input, "-o", output, "--test-panic-in-worker"]);
        assert_eq!(run.code, 3, "{input}: {}", run.stderr);
        assert!(
            run.stderr.ends_with(
                "raug: error: internal error: a worker panicked: --test-panic-in-worker; this is a bug in raug, please report it\n"
            ),
            "{input}: {}",
            run.stderr
        );
        assert!(!wd.path(output).exists());
        wd.assert_no_temporary_files();
    }
}

#[test]
fn condition_keeps_parquet_types() {
    use std::sync::Arc;

    use arrow_array::{Array, Int32Array, LargeStringArray, RecordBatch, StringArray};

    let wd = Workdir::new();
    let batch = RecordBatch::try_from_iter([
        (
            "instruction",
            Arc::new(StringArray::from(vec![
                "Explain a hash map.",
                "Name a prime.",
            ])) as _,
        ),
        ("id", Arc::new(Int32Array::from(vec![7, 8])) as _),
        (
            "notes",
            Arc::new(LargeStringArray::from(vec![Some("n"), None])) as _,
        ),
    ])
    .unwrap();
    arrow_parquet(&wd, "eval.parquet", &batch);

    let run = wd.run(&[
        "condition",
        "eval.parquet",
        "-o",
        "out.parquet",
        "--target",
        "9",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "raug: 2 rows conditioned (field instruction)\n");
    let out = parquet_batch(&wd, "out.parquet");
    assert_eq!(out.schema().fields(), batch.schema().fields());
    let goal9 = goal(9.0);
    let instructions: Vec<&str> = out
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(
        instructions,
        [
            format!("{goal9}\n\nExplain a hash map."),
            format!("{goal9}\n\nName a prime.")
        ]
    );
    assert_eq!(out.column(1).as_ref(), batch.column(1).as_ref());
    assert_eq!(out.column(2).as_ref(), batch.column(2).as_ref());
    assert_eq!(out.column(2).null_count(), 1);

    // The same through JSON Lines gives the same text.
    let run = wd.run(&["condition", "eval.parquet", "--target", "9", "-q"]);
    assert_eq!(
        rows(&run.stdout),
        vec![
            serde_json::json!({"instruction": format!("{goal9}\n\nExplain a hash map."), "id": 7, "notes": "n"}),
            serde_json::json!({"instruction": format!("{goal9}\n\nName a prime."), "id": 8, "notes": null}),
        ]
    );
}

#[test]
fn condition_skips_prompts_that_cant_take_the_goal_alike_from_jsonl_and_parquet() {
    use std::sync::Arc;

    use arrow_array::{Int32Array, NullArray, RecordBatch, StringArray};

    let wd = Workdir::new();
    // Rows 3 (null) and 4 (no prompt) can't take the goal; Parquet row groups of 2 rows put
    // them after a row group the fast path (copying all but the prompt) has already written.
    let prompts = [Some("p0"), Some("p1"), Some("p2"), None, None, Some("p5")];
    let mut jsonl = String::new();
    for (id, prompt) in prompts.iter().enumerate() {
        jsonl += &match (id, prompt) {
            (4, _) => format!("{{\"id\": {id}}}\n"),
            (_, Some(p)) => format!("{{\"prompt\": \"{p}\", \"id\": {id}}}\n"),
            (_, None) => format!("{{\"prompt\": null, \"id\": {id}}}\n"),
        };
    }
    wd.write("eval.jsonl", &jsonl);
    let batch = RecordBatch::try_from_iter([
        ("prompt", Arc::new(StringArray::from(prompts.to_vec())) as _),
        (
            "id",
            Arc::new(Int32Array::from(vec![0, 1, 2, 3, 4, 5])) as _,
        ),
    ])
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(2))
        .build();
    let file = std::fs::File::create(wd.path("eval.parquet")).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let goal10 = goal(10.0);
    let expected: Vec<Value> = [0, 1, 2, 5]
        .iter()
        .map(|id| json!({"prompt": format!("{goal10}\n\np{id}"), "id": id}))
        .collect();
    let summary = |first: &str| {
        format!(
            "raug: 4 rows conditioned (field prompt), 2 skipped (missing_field: 2)\n\
             raug: first skipped row: {first}: field \"prompt\": missing or null\n"
        )
    };
    let skip = ["--on-error", "skip"];
    let run = wd.run(&[&["condition", "eval.jsonl"][..], &skip].concat());
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (0, &*summary("eval.jsonl:4"))
    );
    assert_eq!(rows(&run.stdout), expected);
    for args in [
        &["condition", "eval.parquet", "-j", "1", "-o", "out.parquet"][..],
        &["condition", "eval.parquet", "-o", "out.parquet"],
    ] {
        let run = wd.run(&[args, &skip].concat());
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (0, &*summary("eval.parquet: row 3"))
        );
        assert_eq!(parquet_file_rows(&wd, "out.parquet"), expected, "{args:?}");
        assert_eq!(
            parquet_batch(&wd, "out.parquet").schema().fields(),
            batch.schema().fields(),
            "the types stay"
        );
        wd.assert_no_temporary_files();
    }
    for output in ["-", "out.jsonl"] {
        let run = wd.run(&[&["condition", "eval.parquet", "-o", output][..], &skip].concat());
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (0, &*summary("eval.parquet: row 3"))
        );
        let written = match output {
            "-" => run.stdout.clone(),
            _ => wd.read(output),
        };
        assert_eq!(rows(&written), expected, "{output}");
    }

    // Without skip the first such row stops the run; a run that skips every row fails too;
    // neither leaves an output.
    let run = wd.run(&["condition", "eval.parquet", "-o", "failed.parquet"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "raug: error: eval.parquet: row 3: field \"prompt\": missing or null\n"
        )
    );
    wd.write("bad.jsonl", "{\"prompt\": 5}\n{\"prompt\": []}\n");
    let run = wd.run(&[&["condition", "bad.jsonl", "-o", "failed.jsonl"][..], &skip].concat());
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "raug: error: every one of the 2 rows was rejected (bad_message: 1, wrong_type: 1); \
             the first: bad.jsonl:1: field \"prompt\": expected a string or a message list, got \
             number 5; nothing was written\n"
        )
    );
    assert!(!wd.path("failed.parquet").exists() && !wd.path("failed.jsonl").exists());
    wd.assert_no_temporary_files();

    // A column of nulls (pyarrow types it Null) holds no prompt at all: a usage error.
    let nulls = RecordBatch::try_from_iter_with_nullable([(
        "prompt",
        Arc::new(NullArray::new(2)) as _,
        true,
    )])
    .unwrap();
    arrow_parquet(&wd, "nulls.parquet", &nulls);
    let run = wd.run(&["condition", "nulls.parquet", "-o", "n.parquet"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            2,
            "raug: error: nulls.parquet: field \"prompt\" is a column of type Null; expected a \
             string or a message list\n"
        )
    );
}

#[test]
fn pairs_from_parquet_are_the_jsonl_pairs_with_the_input_types() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let helpsteer = real("llm-thankfulness-claude__nvidia_HelpSteer_sample.jsonl");
    let stack =
        real("llm-thankfulness-claude__HuggingFaceH4_stack-exchange-preferences_sample.jsonl");
    pyarrow_parquet(&wd, &helpsteer, "helpsteer.parquet", 100);
    pyarrow_parquet(&wd, &stack, "stack.parquet", 7);
    let flat = [
        "--group-by",
        "prompt",
        "--text",
        "response",
        "--score",
        "helpfulness",
    ];
    let nested = [
        "--prompt",
        "question",
        "--responses",
        "answers",
        "--text",
        "text",
        "--score",
        "pm_score",
    ];
    let cases: [(&std::path::Path, &str, &[&str], &[&str]); 6] = [
        (&helpsteer, "helpsteer.parquet", &flat, &[]),
        (
            &helpsteer,
            "helpsteer.parquet",
            &flat,
            &["--strategy", "all", "--min-gap", "2"],
        ),
        (
            &helpsteer,
            "helpsteer.parquet",
            &flat,
            &["--strategy", "best-random", "--seed", "3", "--messages"],
        ),
        (&stack, "stack.parquet", &nested, &[]),
        (&stack, "stack.parquet", &nested, &["--strategy", "all"]),
        (
            &stack,
            "stack.parquet",
            &nested,
            &["--strategy", "best-random", "--messages"],
        ),
    ];
    for (jsonl, parquet, fields, options) in cases {
        let mut outputs = Vec::new();
        let mut summaries = Vec::new();
        for (input, output) in [(jsonl.to_str().unwrap(), "p.jsonl"), (parquet, "p.parquet")] {
            let mut args = vec!["pairs", input, "-o", output];
            args.extend_from_slice(fields);
            args.extend_from_slice(options);
            let run = wd.run(&args);
            assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
            summaries.push(run.stderr);
            let got = if output.ends_with(".parquet") {
                rows(&py(&["rows", wd.path(output).to_str().unwrap()]))
            } else {
                rows(&wd.read(output))
            };
            // JSON's `4.0` (pairs writes scores as floats) and Parquet's `4` (an int64 column
            // kept as it was) are the same value.
            outputs.push(got.into_iter().map(normalize).collect::<Vec<_>>());
        }
        assert_eq!(summaries[0], summaries[1], "{parquet} {options:?}");
        assert!(!outputs[0].is_empty(), "{parquet} {options:?}");
        assert_rows_eq(&outputs[1], &outputs[0]);
    }
    // The Parquet path keeps the input's column types: the scores stay integers.
    let run = wd.run(
        &[
            &["pairs", "helpsteer.parquet", "-o", "p.parquet"][..],
            &flat,
        ]
        .concat(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let info = py(&["info", wd.path("p.parquet").to_str().unwrap()]);
    assert!(info.contains("score_chosen: int64"), "{info}");
    assert!(info.contains("correctness_rejected: int64"), "{info}");
}
