//! `raug relabel` on the real data in every layout, and on hand-made cases, against the model.

use std::fs;
use std::io::{Read, Write};

use serde_json::{json, Value};

use crate::harness::*;

fn h4_model(prefix: bool) -> Model {
    Model {
        site: Site::ResponseLists,
        prefix,
        chosen_score: "score_chosen",
        rejected_score: "score_rejected",
    }
}

#[test]
fn real_h4_system_style_matches_the_model() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = fs::read_to_string(real(H4)).unwrap();
    let run = wd.run(&["relabel", real(H4).to_str().unwrap(), "-o", "out.jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 16 rows in, 32 rows out, 4 ties, 0 skipped\n"
    );
    assert_rows_eq(
        &rows(&wd.read("out.jsonl")),
        &h4_model(false).relabel_all(&input),
    );
}

#[test]
fn real_h4_prefix_style_matches_the_model() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = fs::read_to_string(real(H4)).unwrap();
    let run = wd.run(&[
        "relabel",
        real(H4).to_str().unwrap(),
        "--style",
        "prefix",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    assert_rows_eq(&rows(&run.stdout), &h4_model(true).relabel_all(&input));
}

/// The goal-s_w row is the input line with only the two system messages spliced in: every other
/// byte (spacing, escapes, float digits, the `messages` column) is the input's.
#[test]
fn real_h4_goal_chosen_rows_change_only_the_goal_bytes() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = fs::read_to_string(real(H4)).unwrap();
    let run = wd.run(&["relabel", real(H4).to_str().unwrap(), "--goals", "chosen"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: Vec<&str> = run.stdout.lines().collect();
    for (line, got) in input.lines().zip(&out) {
        let row: Value = serde_json::from_str(line).unwrap();
        let g = serde_json::to_string(&goal(row["score_chosen"].as_f64().unwrap())).unwrap();
        let system = format!(r#"[{{"content": {g}, "role": "system"}}, "#);
        let expected = line
            .replacen(r#""chosen": ["#, &format!(r#""chosen": {system}"#), 1)
            .replacen(r#""rejected": ["#, &format!(r#""rejected": {system}"#), 1);
        assert_eq!(*got, expected);
    }
    assert_eq!(out.len(), 16);
}

#[test]
fn real_standard_strings_with_nested_scores() {
    if !real_data_present() {
        return;
    }
    for (file, chosen, rejected, summary) in [
        (
            NOISE,
            "metadata.score_chosen",
            "metadata.score_rejected",
            "raug: 1000 rows in, 2000 rows out, 111 ties, 0 skipped\n",
        ),
        (
            ARGILLA,
            "metadata.rating_chosen",
            "metadata.rating_rejected",
            "raug: 1000 rows in, 2000 rows out, 0 ties, 0 skipped\n",
        ),
    ] {
        let wd = Workdir::new();
        let input = fs::read_to_string(real(file)).unwrap();
        let run = wd.run(&["relabel", real(file).to_str().unwrap(), "-o", "out.jsonl"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stderr, summary);
        let model = Model {
            site: Site::PromptText,
            prefix: true,
            chosen_score: chosen,
            rejected_score: rejected,
        };
        assert_rows_eq(&rows(&wd.read("out.jsonl")), &model.relabel_all(&input));
    }
}

#[test]
fn flattened_columns_are_the_fields_they_flatten() {
    if !real_data_present() {
        return;
    }
    // pandas' json_normalize, datasets' flatten() and Spark name a nested field's column
    // `metadata.rating_chosen`: the Argilla rows' metadata (source, ratings, models) so
    // flattened relabel as the nested rows do, the models trading places, from JSON Lines and
    // from Parquet.
    let wd = Workdir::new();
    let flatten = |row: &Value| -> Value {
        let mut flat = serde_json::Map::new();
        for (key, value) in row.as_object().unwrap() {
            match value.as_object() {
                Some(inner) => {
                    for (k, v) in inner {
                        flat.insert(format!("{key}.{k}"), v.clone());
                    }
                }
                None => {
                    flat.insert(key.clone(), value.clone());
                }
            }
        }
        Value::Object(flat)
    };
    let input = fs::read_to_string(real(ARGILLA)).unwrap();
    let flat: String = rows(&input)
        .iter()
        .take(200)
        .map(|r| flatten(r).to_string() + "\n")
        .collect();
    jsonl_and_parquet(&wd, "flat", &flat);
    let nested: String = input.lines().take(200).map(|l| format!("{l}\n")).collect();
    wd.write("nested.jsonl", &nested);
    let run = wd.run(&["relabel", "nested.jsonl", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected: Vec<Value> = rows(&run.stdout).iter().map(flatten).collect();
    // The goal-rejected rows hold the other model.
    assert_eq!(
        expected[1]["metadata.chosen_model"],
        rows(&nested)[0]["metadata"]["rejected_model"]
    );
    for input in ["flat.jsonl", "flat.parquet"] {
        let run = wd.run(&["relabel", input, "-q", "--output-format", "jsonl"]);
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
        assert_rows_eq(&rows(&run.stdout), &expected);
        let run = wd.run(&["inspect", input, "--json"]);
        let report: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(
            report["layout"],
            json!("layout standard (explicit prompt), scores metadata.rating_chosen/metadata.rating_rejected, style prefix, also swaps metadata.chosen_model/metadata.rejected_model"),
            "{input}"
        );
    }
    // Named, they are found the same way.
    let run = wd.run(&[
        "relabel",
        "flat.jsonl",
        "-q",
        "--chosen-score",
        "metadata.rating_chosen",
        "--rejected-score",
        "metadata.rating_rejected",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_rows_eq(&rows(&run.stdout), &expected);
    // condition --prompt names a flattened column as well.
    jsonl_and_parquet(
        &wd,
        "eval",
        "{\"id\": 1, \"task.instruction\": \"Say hi.\"}\n",
    );
    for input in ["eval.jsonl", "eval.parquet"] {
        let args = ["condition", input, "-q", "--output-format", "jsonl"];
        let run = wd.run(&[&args[..], &["--prompt", "task.instruction"]].concat());
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
        assert_eq!(
            rows(&run.stdout),
            [json!({"id": 1, "task.instruction": format!("{}\n\nSay hi.", goal(10.0))})],
            "{input}"
        );
    }
}

/// Rewrites the real H4 rows into another layout (compact JSON, as TRL's exports are).
fn derive(input: &str, f: impl Fn(&Value) -> Value) -> String {
    rows(input)
        .iter()
        .map(|r| f(r).to_string() + "\n")
        .collect()
}

#[test]
fn real_rows_in_trl_conversational_explicit_layout() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = derive(&fs::read_to_string(real(H4)).unwrap(), |r| {
        json!({
            "prompt": [{"role": "user", "content": r["chosen"][0]["content"]}],
            "chosen": [{"role": "assistant", "content": r["chosen"][1]["content"]}],
            "rejected": [{"role": "assistant", "content": r["rejected"][1]["content"]}],
            "score_chosen": r["score_chosen"],
            "score_rejected": r["score_rejected"],
        })
    });
    wd.write("conv.jsonl", &input);
    for (style, prefix) in [("system", false), ("prefix", true)] {
        let run = wd.run(&["relabel", "conv.jsonl", "--style", style, "-q"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let model = Model {
            site: Site::PromptList,
            prefix,
            ..h4_model(prefix)
        };
        assert_rows_eq(&rows(&run.stdout), &model.relabel_all(&input));
    }
    // Spot-check the compact system message itself.
    let run = wd.run(&["relabel", "conv.jsonl", "-q"]);
    assert!(run
        .stdout
        .starts_with(r#"{"prompt":[{"role":"system","content":"You are an assistant"#));
}

#[test]
fn real_rows_in_trl_conversational_implicit_layout() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = derive(&fs::read_to_string(real(H4)).unwrap(), |r| {
        json!({
            "chosen": r["chosen"],
            "rejected": r["rejected"],
            "score_chosen": r["score_chosen"],
            "score_rejected": r["score_rejected"],
        })
    });
    wd.write("implicit.jsonl", &input);
    for (style, prefix) in [("system", false), ("prefix", true)] {
        let run = wd.run(&["relabel", "implicit.jsonl", "--style", style, "-q"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_rows_eq(&rows(&run.stdout), &h4_model(prefix).relabel_all(&input));
    }
}

#[test]
fn real_rows_in_standard_implicit_layout() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = derive(&fs::read_to_string(real(NOISE)).unwrap(), |r| {
        let text = |k: &str| {
            format!(
                "{}\n\n{}",
                r["prompt"].as_str().unwrap(),
                r[k].as_str().unwrap()
            )
        };
        json!({
            "chosen": text("chosen"),
            "rejected": text("rejected"),
            "chosen_score": r["metadata"]["score_chosen"],
            "rejected_score": r["metadata"]["score_rejected"],
        })
    });
    wd.write("implicit.jsonl", &input);
    let run = wd.run(&["relabel", "implicit.jsonl", "-o", "out.jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let model = Model {
        site: Site::ResponseTexts,
        prefix: true,
        chosen_score: "chosen_score",
        rejected_score: "rejected_score",
    };
    assert_rows_eq(&rows(&wd.read("out.jsonl")), &model.relabel_all(&input));
}

#[test]
fn existing_system_message_takes_the_goal_in_front_of_its_content() {
    let wd = Workdir::new();
    let input = r#"{"chosen": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], "rejected": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away."}], "overall_score_chosen": 9, "overall_score_rejected": 1.25}"#;
    wd.write("sys.jsonl", format!("{input}\n"));
    let run = wd.run(&["relabel", "sys.jsonl", "--template", "Score {score}", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        concat!(
            r#"{"chosen": [{"role": "system", "content": "Score 9\n\nBe kind."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], "rejected": [{"role": "system", "content": "Score 9\n\nBe kind."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away."}], "overall_score_chosen": 9, "overall_score_rejected": 1.25}"#,
            "\n",
            r#"{"chosen": [{"role": "system", "content": "Score 1.25\n\nBe kind."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away."}], "rejected": [{"role": "system", "content": "Score 1.25\n\nBe kind."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], "overall_score_chosen": 1.25, "overall_score_rejected": 9}"#,
            "\n"
        )
    );
}

const SMALL: &str = concat!(
    r#"{"prompt": "a", "chosen": "A1", "rejected": "A2", "score_chosen": 8, "score_rejected": 3}"#,
    "\n",
    r#"{"prompt": "b", "chosen": "B1", "rejected": "B2", "score_chosen": 5, "score_rejected": 5}"#,
    "\n",
    r#"{"prompt": "c", "chosen": "C1", "rejected": "C2", "score_chosen": 7.5, "score_rejected": 1}"#,
    "\n"
);

fn row(prompt: &str, c: &str, r: &str, sc: &str, sr: &str) -> String {
    format!(
        r#"{{"prompt": "{prompt}", "chosen": "{c}", "rejected": "{r}", "score_chosen": {sc}, "score_rejected": {sr}}}"#
    ) + "\n"
}

#[test]
fn options_goals_ties_keep_original_and_order() {
    let wd = Workdir::new();
    wd.write("small.jsonl", SMALL);
    let t = ["--template", "G{score}", "-q"];
    let run = |extra: &[&str]| {
        let mut args = vec!["relabel", "small.jsonl"];
        args.extend_from_slice(&t);
        args.extend_from_slice(extra);
        let run = wd.run(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    };
    let pos = |p: &str, c, r, sc, sr, g: &str| row(&format!("G{g}\\n\\n{p}"), c, r, sc, sr);
    assert_eq!(
        run(&["--ties", "drop"]),
        [
            pos("a", "A1", "A2", "8", "3", "8"),
            pos("a", "A2", "A1", "3", "8", "3"),
            pos("c", "C1", "C2", "7.5", "1", "7.5"),
            pos("c", "C2", "C1", "1", "7.5", "1"),
        ]
        .concat()
    );
    assert_eq!(
        run(&["--goals", "rejected", "--keep-original"]),
        [
            row("a", "A1", "A2", "8", "3"),
            pos("a", "A2", "A1", "3", "8", "3"),
            row("b", "B1", "B2", "5", "5"),
            pos("b", "B2", "B1", "5", "5", "5"),
            row("c", "C1", "C2", "7.5", "1"),
            pos("c", "C2", "C1", "1", "7.5", "1"),
        ]
        .concat()
    );
    assert_eq!(
        run(&["--order", "blocks"]),
        [
            pos("a", "A1", "A2", "8", "3", "8"),
            pos("b", "B1", "B2", "5", "5", "5"),
            pos("c", "C1", "C2", "7.5", "1", "7.5"),
            pos("a", "A2", "A1", "3", "8", "3"),
            pos("b", "B2", "B1", "5", "5", "5"),
            pos("c", "C2", "C1", "1", "7.5", "1"),
        ]
        .concat()
    );
}

/// Blocks order on real data across many small work blocks: every goal-chosen row, then every
/// goal-rejected row, and the same bytes for 1 and 2 threads.
#[test]
fn real_blocks_order_streams_and_matches_any_thread_count() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = fs::read_to_string(real(NOISE)).unwrap();
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let name = format!("out{threads}.jsonl");
        let run = wd.run(&[
            "relabel",
            real(NOISE).to_str().unwrap(),
            "--order",
            "blocks",
            "--block-size",
            "20000",
            "-j",
            threads,
            "-o",
            &name,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        outputs.push(wd.read(&name));
    }
    assert_eq!(outputs[0], outputs[1]);
    let model = Model {
        site: Site::PromptText,
        prefix: true,
        chosen_score: "metadata.score_chosen",
        rejected_score: "metadata.score_rejected",
    };
    let pairs: Vec<Vec<Value>> = rows(&input).iter().map(|r| model.relabel(r)).collect();
    let expected: Vec<Value> = pairs
        .iter()
        .map(|p| p[0].clone())
        .chain(pairs.iter().map(|p| p[1].clone()))
        .collect();
    assert_rows_eq(&rows(&outputs[0]), &expected);
    // No spill files are left beside the output.
    assert_eq!(wd.files(), ["out1.jsonl", "out2.jsonl"]);
}

#[test]
fn thread_counts_and_block_sizes_give_identical_bytes() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let path = real(H4);
    let mut outputs = Vec::new();
    for (threads, block) in [
        ("1", "1000000"),
        ("2", "1"),
        ("3", "5000"),
        ("2", "1000000"),
    ] {
        let run = wd.run(&[
            "relabel",
            path.to_str().unwrap(),
            "-j",
            threads,
            "--block-size",
            block,
            "-q",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        outputs.push(run.stdout);
    }
    assert!(outputs.iter().all(|o| *o == outputs[0]));
    assert_eq!(outputs[0].lines().count(), 32);
}

#[test]
fn stdin_to_stdout_in_a_pipeline() {
    let wd = Workdir::new();
    let run = wd.run_stdin(&["relabel", "--template", "G{score}"], SMALL.as_bytes());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 6);
    assert_eq!(
        run.stderr,
        "raug: 3 rows in, 6 rows out, 1 ties, 0 skipped\n"
    );
    let dash = wd.run_stdin(
        &["relabel", "-", "--template", "G{score}", "-o", "-"],
        SMALL.as_bytes(),
    );
    assert_eq!(dash.stdout, run.stdout);
}

#[test]
fn json_arrays_in_and_out() {
    let wd = Workdir::new();
    let pretty = "[\n  {\n    \"prompt\": \"a\",\n    \"chosen\": \"A1\",\n    \"rejected\": \"A2\",\n    \"score_chosen\": 8,\n    \"score_rejected\": 3\n  }\n]\n";
    wd.write("in.json", pretty);
    let run = wd.run(&["relabel", "in.json", "--template", "G{score}", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        concat!(
            r#"{"prompt":"G8\n\na","chosen":"A1","rejected":"A2","score_chosen":8,"score_rejected":3}"#,
            "\n",
            r#"{"prompt":"G3\n\na","chosen":"A2","rejected":"A1","score_chosen":3,"score_rejected":8}"#,
            "\n"
        )
    );
    wd.write("small.jsonl", SMALL);
    let run = wd.run(&["relabel", "small.jsonl", "-o", "out.json", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let array: Vec<Value> = serde_json::from_str(&wd.read("out.json")).unwrap();
    let lines = rows(&wd.run(&["relabel", "small.jsonl", "-q"]).stdout);
    assert_eq!(array, lines);
    // An empty array makes an empty array.
    wd.write("empty.json", " [ ]\n");
    let run = wd.run(&["relabel", "empty.json", "-o", "empty-out.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(wd.read("empty-out.json"), "[]\n");
}

#[test]
fn gzip_and_zstd_in_and_out() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = fs::read(real(H4)).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&input).unwrap();
    wd.write("in.jsonl.gz", gz.finish().unwrap());
    wd.write("in.jsonl.zst", zstd::encode_all(&input[..], 3).unwrap());
    let plain = wd
        .run(&["relabel", real(H4).to_str().unwrap(), "-q"])
        .stdout;
    for (input, output) in [
        ("in.jsonl.gz", "out.jsonl.zst"),
        ("in.jsonl.zst", "out.jsonl.gz"),
    ] {
        let run = wd.run(&["relabel", input, "-o", output, "-q"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let bytes = fs::read(wd.path(output)).unwrap();
        let text = if output.ends_with(".zst") {
            String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap()
        } else {
            let mut s = String::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_string(&mut s)
                .unwrap();
            s
        };
        assert_eq!(text, plain);
    }
}

#[test]
fn stats_file_for_ci() {
    let wd = Workdir::new();
    wd.write("small.jsonl", format!("{SMALL}\n   \n"));
    let run = wd.run(&[
        "relabel",
        "small.jsonl",
        "--ties",
        "drop",
        "--stats",
        "stats.json",
        "-o",
        "out.jsonl",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 3 rows in, 4 rows out, 1 ties (1 dropped), 0 skipped\n"
    );
    assert_eq!(
        wd.read("stats.json"),
        r#"{
  "rows_in": 3,
  "rows_out": 4,
  "ties": 1,
  "ties_dropped": 1,
  "skipped": 0,
  "skipped_by_reason": {},
  "blank_lines": 2,
  "layout": "layout standard (explicit prompt), scores score_chosen/score_rejected, style prefix"
}
"#
    );
}

#[test]
fn several_inputs_make_one_dataset() {
    let wd = Workdir::new();
    wd.write("a.jsonl", &SMALL[..SMALL.find('\n').unwrap() + 1]);
    wd.write("b.jsonl", &SMALL[SMALL.find('\n').unwrap() + 1..]);
    wd.write("all.jsonl", SMALL);
    let split = wd.run(&["relabel", "a.jsonl", "b.jsonl", "--order", "blocks", "-q"]);
    // A quoted glob is expanded by raug, in name order.
    let glob = wd.run(&["relabel", "?.jsonl", "--order", "blocks", "-q"]);
    assert_eq!(glob.stdout, split.stdout);
    let none = wd.run(&["relabel", "nothing-*.jsonl"]);
    assert_eq!(none.code, 2);
    assert_eq!(
        none.stderr,
        "raug: error: no file matches nothing-*.jsonl\n"
    );
    let whole = wd.run(&["relabel", "all.jsonl", "--order", "blocks", "-q"]);
    assert_eq!(split.code, 0, "{}", split.stderr);
    assert_eq!(split.stdout, whole.stdout);
}

#[test]
fn field_overrides_with_dotted_paths() {
    let wd = Workdir::new();
    wd.write(
        "custom.jsonl",
        r#"{"q": "why?", "good": "because", "bad": "no", "rm": {"a": 0.8125, "b": -1.5}}"#
            .to_string()
            + "\n",
    );
    let run = wd.run(&[
        "relabel",
        "custom.jsonl",
        "--prompt",
        "q",
        "--chosen",
        "good",
        "--rejected",
        "bad",
        "--chosen-score",
        "rm.a",
        "--rejected-score",
        "rm.b",
        "--template",
        "T{score}",
        "--scale",
        "-2-1",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        concat!(
            r#"{"q": "T0.8125\n\nwhy?", "good": "because", "bad": "no", "rm": {"a": 0.8125, "b": -1.5}}"#,
            "\n",
            r#"{"q": "T-1.5\n\nwhy?", "good": "no", "bad": "because", "rm": {"a": -1.5, "b": 0.8125}}"#,
            "\n"
        )
    );
}

#[test]
fn the_bundled_example_runs() {
    let wd = Workdir::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/ultrafeedback_sample.jsonl"
    );
    let run = wd.run(&["relabel", example, "-o", "out.jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 5 rows in, 10 rows out, 1 ties, 0 skipped\n"
    );
    let input = fs::read_to_string(example).unwrap();
    assert_rows_eq(
        &rows(&wd.read("out.jsonl")),
        &h4_model(false).relabel_all(&input),
    );
}
