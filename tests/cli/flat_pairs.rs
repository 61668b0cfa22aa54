//! Flat `pairs` (one row per response) in bounded memory: groups whose rows come together are
//! streamed, others are sorted through temporary files, and both give the same pairs in the
//! order of each group's first row, from files, standard input and Parquet.

use serde_json::{json, Value};

use crate::harness::*;

const ARGS: [&str; 8] = [
    "--group-by",
    "id",
    "--prompt",
    "prompt",
    "--text",
    "response",
    "--score",
    "score",
];

fn lines(rows: &[Value]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

/// Runs `pairs` on `input` with `extra` options, JSON Lines out, and returns the pairs: written
/// to standard output (which can't start again, so pairs of rows grouped together wait until
/// the end) and to a file (written as they are made, the file started again if the groups turn
/// out apart or a field to differ late), the same either way, no temporary file left.
fn pairs(wd: &Workdir, input: &str, extra: &[&str]) -> Vec<Value> {
    let args = [
        &["pairs", input, "-q", "--output-format", "jsonl"],
        &ARGS[..],
        extra,
    ]
    .concat();
    let run = wd.run(&args);
    assert_eq!(run.code, 0, "{input} {extra:?}: {}", run.stderr);
    let to_file = wd.run(&[&args[..], &["-o", "pairs.out"]].concat());
    assert_eq!(to_file.code, 0, "{input} {extra:?} -o: {}", to_file.stderr);
    assert_eq!(wd.read("pairs.out"), run.stdout, "{input} {extra:?} -o");
    wd.assert_no_temporary_files();
    rows(&run.stdout)
}

#[test]
fn groups_apart_give_the_pairs_of_groups_together_in_first_row_order() {
    let wd = Workdir::new();
    let row = |id: u32, response: &str, score: f64| json!({"id": id, "prompt": format!("p{id}"), "response": response, "score": score, "source": "s"});
    // Group 2's rows first, then 1's, then 2's again, and 3's around them.
    let apart = [
        row(2, "b1", 4.0),
        row(1, "a1", 1.0),
        row(3, "c1", 2.0),
        row(1, "a2", 9.0),
        row(2, "b2", 7.0),
        row(3, "c2", 2.0),
        row(1, "a3", 5.0),
        row(2, "b3", 1.0),
    ];
    jsonl_and_parquet(&wd, "apart", lines(&apart));
    let pair = |id: u32, chosen: &str, rejected: &str, sc: f64, sr: f64| {
        json!({"prompt": format!("p{id}"), "chosen": chosen, "rejected": rejected,
               "score_chosen": sc, "score_rejected": sr, "id": id, "source": "s"})
    };
    // First rows: 2, then 1, then 3 (all tied: no pair).
    let expected = vec![pair(2, "b2", "b3", 7.0, 1.0), pair(1, "a2", "a1", 9.0, 1.0)];
    // --memory-bytes 100: each group is a partition of its own, on disk.
    for memory in [None, Some("100")] {
        let extra: Vec<&str> = memory.map_or(vec![], |m| vec!["--memory-bytes", m]);
        assert_eq!(pairs(&wd, "apart.jsonl", &extra), expected, "{memory:?}");
        assert_eq!(
            normalize(pairs(&wd, "apart.parquet", &extra)),
            normalize(expected.clone()),
            "Parquet {memory:?}"
        );
        let run = wd.run_stdin(
            &[&["pairs", "-q"], &ARGS[..], &extra].concat(),
            lines(&apart).as_bytes(),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(rows(&run.stdout), expected, "standard input {memory:?}");
    }
    let run = wd.run(&[&["pairs", "apart.jsonl"], &ARGS[..]].concat());
    assert_eq!(
        run.stderr,
        "raug: 8 rows in, 3 prompts, 2 pairs out, 1 prompts without a pair (one response or all tied), 0 skipped\n"
    );
}

/// Every number a float: Parquet keeps the input's integer ids.
fn normalize(rows: Vec<Value>) -> Vec<Value> {
    rows.into_iter()
        .map(crate::differential_core::normalize)
        .collect()
}

/// 40 groups of two rows (`r{id}-0` scored 8, `r{id}-1` scored 3) with `fields(id, k)` added
/// to row k, written as `NAME.jsonl`/`.parquet` and, each group's two rows apart (every first
/// row, then every second), as `NAME-apart.jsonl`/`.parquet`; and their pairs, with `kept`'s
/// fields after the pair's own and its key.
fn forty_groups(
    wd: &Workdir,
    name: &str,
    fields: impl Fn(u32, usize) -> Value,
    kept: Value,
) -> Vec<Value> {
    let mut text = String::new();
    let mut expected = Vec::new();
    for id in 0..40u32 {
        for (k, score) in [(0, 8.0), (1, 3.0)] {
            let mut row = json!({"id": id, "prompt": format!("p{id}"), "response": format!("r{id}-{k}"), "score": score});
            row.as_object_mut()
                .expect("an object")
                .extend(fields(id, k).as_object().expect("fields").clone());
            text.push_str(&format!("{row}\n"));
        }
        let mut pair = json!({"prompt": format!("p{id}"), "chosen": format!("r{id}-0"), "rejected": format!("r{id}-1"),
            "score_chosen": 8.0, "score_rejected": 3.0, "id": id});
        pair.as_object_mut()
            .expect("an object")
            .extend(kept.as_object().expect("fields").clone());
        expected.push(pair);
    }
    jsonl_and_parquet(wd, name, &text);
    let lines: Vec<&str> = text.lines().collect();
    let apart: String = lines
        .iter()
        .step_by(2)
        .chain(lines.iter().skip(1).step_by(2))
        .map(|line| format!("{line}\n"))
        .collect();
    jsonl_and_parquet(wd, &format!("{name}-apart"), &apart);
    expected
}

/// Asserts that `NAME` and `NAME-apart` (see [`forty_groups`]) pair as `expected` from JSON
/// Lines and from Parquet, in the default memory and in one so small that every pair is held
/// on disk.
fn pairs_everywhere(wd: &Workdir, name: &str, expected: &[Value]) {
    for memory in [None, Some("400")] {
        let extra: Vec<&str> = memory.map_or(vec![], |m| vec!["--memory-bytes", m]);
        for input in [name.to_string(), format!("{name}-apart")] {
            assert_eq!(
                pairs(wd, &format!("{input}.jsonl"), &extra),
                expected,
                "{input} {memory:?}"
            );
            assert_eq!(
                normalize(pairs(wd, &format!("{input}.parquet"), &extra)),
                normalize(expected.to_vec()),
                "{input}, Parquet {memory:?}"
            );
        }
    }
}

#[test]
fn a_context_field_found_to_differ_late_leaves_every_pair() {
    let wd = Workdir::new();
    // `source` agrees within every group but the last: it leaves every pair, also those made
    // (and held on disk, with a small memory) before it was found to differ. With each
    // group's rows apart, the rows are read twice and sorted into partitions, and the field is
    // found to differ while they are sorted, before any pair is made.
    let expected = forty_groups(
        &wd,
        "late",
        |id, k| {
            let source = if id == 39 && k == 1 { "other" } else { "web" };
            json!({"source": source, "lang": "en"})
        },
        json!({"lang": "en"}),
    );
    pairs_everywhere(&wd, "late", &expected);
}

#[test]
fn a_field_named_like_a_pairs_own_that_differs_late_leaves_the_pair_whole() {
    let wd = Workdir::new();
    // A per-response flag named `chosen` is a context field that never goes into a pair (the
    // pair's own `chosen` wins); found to differ in the last group, it must not take the pair's
    // own `chosen` out of the pairs held before (it did: the first 39 pairs lost their chosen).
    let expected = forty_groups(
        &wd,
        "flag",
        |id, k| json!({"chosen": id == 39 && k == 0}),
        json!({}),
    );
    pairs_everywhere(&wd, "flag", &expected);
}

#[test]
fn a_context_value_written_two_ways_apart_stays_in_every_pair() {
    let wd = Workdir::new();
    // Groups apart whose rows write `lang` as "café" and "caf\u00e9": the same value, so it
    // stays, though the rows' texts differ (their pairs are then held until every group is read).
    let text = [
        r#"{"id": 1, "prompt": "p", "response": "a1", "score": 1, "lang": "café"}"#,
        r#"{"id": 2, "prompt": "q", "response": "b1", "score": 4, "lang": "en"}"#,
        r#"{"id": 1, "prompt": "p", "response": "a2", "score": 5, "lang": "caf\u00e9"}"#,
        r#"{"id": 2, "prompt": "q", "response": "b2", "score": 7, "lang": "en"}"#,
    ]
    .map(|l| format!("{l}\n"))
    .concat();
    wd.write("two_ways.jsonl", &text);
    let expected = vec![
        json!({"prompt": "p", "chosen": "a2", "rejected": "a1", "score_chosen": 5, "score_rejected": 1, "id": 1, "lang": "café"}),
        json!({"prompt": "q", "chosen": "b2", "rejected": "b1", "score_chosen": 7, "score_rejected": 4, "id": 2, "lang": "en"}),
    ];
    for memory in ["64", "1000000"] {
        assert_eq!(
            pairs(&wd, "two_ways.jsonl", &["--memory-bytes", memory]),
            expected,
            "{memory}"
        );
    }
}

#[test]
fn a_key_written_two_ways_is_one_group() {
    let wd = Workdir::new();
    // "café" and "caf\u00e9", "a/b" and "a\/b": one key each, as in Parquet, whether the rows
    // are together or apart.
    let text = [
        r#"{"id": "caf\u00e9", "prompt": "p", "response": "a1", "score": 1}"#,
        r#"{"id": "café", "prompt": "p", "response": "a2", "score": 5}"#,
        r#"{"id": "a\/b", "prompt": "q", "response": "b1", "score": 4}"#,
        r#"{"id": "x", "prompt": "r", "response": "c1", "score": 4}"#,
        r#"{"id": "a/b", "prompt": "q", "response": "b2", "score": 7}"#,
        r#"{"id": "x", "prompt": "r", "response": "c2", "score": 3}"#,
    ]
    .map(|l| format!("{l}\n"))
    .concat();
    wd.write("keys.jsonl", &text);
    let expected = vec![
        json!({"prompt": "p", "chosen": "a2", "rejected": "a1", "score_chosen": 5, "score_rejected": 1, "id": "café"}),
        json!({"prompt": "q", "chosen": "b2", "rejected": "b1", "score_chosen": 7, "score_rejected": 4, "id": "a/b"}),
        json!({"prompt": "r", "chosen": "c1", "rejected": "c2", "score_chosen": 4, "score_rejected": 3, "id": "x"}),
    ];
    for memory in ["64", "1000000"] {
        assert_eq!(
            pairs(&wd, "keys.jsonl", &["--memory-bytes", memory]),
            expected,
            "{memory}"
        );
    }
    // Ids written as floats (pandas writes an integer column with a gap so) meet their integer
    // spelling; integers past 2^53 stay apart though they round to one float.
    let text = [
        r#"{"id": 7, "prompt": "p", "response": "a1", "score": 1}"#,
        r#"{"id": 7.0, "prompt": "p", "response": "a2", "score": 5}"#,
        r#"{"id": 9007199254740993, "prompt": "q", "response": "b1", "score": 4}"#,
        r#"{"id": 9007199254740992, "prompt": "q", "response": "b2", "score": 7}"#,
    ]
    .map(|l| format!("{l}\n"))
    .concat();
    wd.write("ids.jsonl", &text);
    let run = wd.run(
        &[
            &["pairs", "ids.jsonl", "--output-format", "jsonl"],
            &ARGS[..],
        ]
        .concat(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 4 rows in, 3 prompts, 1 pairs out, 2 prompts without a pair (one response or all tied), 0 skipped\n"
    );
    assert_eq!(
        rows(&run.stdout),
        [
            json!({"prompt": "p", "chosen": "a2", "rejected": "a1", "score_chosen": 5, "score_rejected": 1, "id": 7})
        ]
    );
}

#[test]
fn groups_together_stream_across_parquet_batches_as_the_json_path_pairs_them() {
    let wd = Workdir::new();
    // 3,000 rows in groups of three: Parquet is read 1,024 rows at a time, so groups straddle
    // batches.
    let mut text = String::new();
    let mut expected = Vec::new();
    for id in 0..1000u32 {
        let scores = [(id % 7) as f64, ((id * 3) % 5) as f64, 2.5];
        for (k, score) in scores.iter().enumerate() {
            text.push_str(&format!(
                "{}\n",
                json!({"id": id, "prompt": format!("p{id}"), "response": format!("r{id}-{k}"), "score": score})
            ));
        }
        let best = (0..3)
            .reduce(|a, b| if scores[b] > scores[a] { b } else { a })
            .unwrap();
        let worst = (0..3)
            .reduce(|a, b| if scores[b] < scores[a] { b } else { a })
            .unwrap();
        if scores[best] > scores[worst] {
            expected.push(
                json!({"prompt": format!("p{id}"), "chosen": format!("r{id}-{best}"),
                "rejected": format!("r{id}-{worst}"), "score_chosen": scores[best],
                "score_rejected": scores[worst], "id": id}),
            );
        }
    }
    jsonl_and_parquet(&wd, "together", &text);
    assert_eq!(pairs(&wd, "together.jsonl", &[]), expected);
    assert_eq!(
        normalize(pairs(&wd, "together.parquet", &[])),
        normalize(expected.clone())
    );
    // The same rows with group 5's last row moved to the end: no longer together.
    let mut moved: Vec<&str> = text.lines().collect();
    let row = moved.remove(17);
    moved.push(row);
    wd.write("moved.jsonl", moved.join("\n") + "\n");
    assert_eq!(
        pairs(&wd, "moved.jsonl", &["--memory-bytes", "20000"]),
        expected
    );
}

#[test]
fn a_group_longer_than_parquet_batches_pairs_its_best_and_worst_from_any_of_them() {
    let wd = Workdir::new();
    // Group 1 has 2,500 responses: Parquet is read 1,024 rows at a time, so the group spans
    // three batches, its best response in the third and its worst in the second.
    let mut text = String::new();
    for k in 0..2500u32 {
        let score = match k {
            2400 => 9.0,
            1100 => 1.0,
            _ => 5.0,
        };
        let row = json!({"id": 1, "prompt": "long", "response": format!("r{k}"), "score": score});
        text.push_str(&format!("{row}\n"));
    }
    for (k, score) in [(0, 2.0), (1, 4.0)] {
        let row = json!({"id": 2, "prompt": "short", "response": format!("s{k}"), "score": score});
        text.push_str(&format!("{row}\n"));
    }
    jsonl_and_parquet(&wd, "long", &text);
    let expected = vec![
        json!({"prompt": "long", "chosen": "r2400", "rejected": "r1100", "score_chosen": 9.0, "score_rejected": 1.0, "id": 1}),
        json!({"prompt": "short", "chosen": "s1", "rejected": "s0", "score_chosen": 4.0, "score_rejected": 2.0, "id": 2}),
    ];
    assert_eq!(pairs(&wd, "long.jsonl", &[]), expected);
    assert_eq!(
        normalize(pairs(&wd, "long.parquet", &[])),
        normalize(expected)
    );
}

#[test]
fn a_group_with_two_prompts_apart_is_refused_at_its_row() {
    let wd = Workdir::new();
    jsonl_and_parquet(
        &wd,
        "two",
        lines(&[
            json!({"id": 1, "prompt": "p", "response": "a", "score": 1}),
            json!({"id": 2, "prompt": "q", "response": "b", "score": 2}),
            json!({"id": 1, "prompt": "other", "response": "c", "score": 3}),
        ]),
    );
    for (input, location) in [
        ("two.jsonl", "two.jsonl:3"),
        ("two.parquet", "two.parquet: row 2"),
    ] {
        let run = wd.run(&[&["pairs", input], &ARGS[..]].concat());
        assert_eq!(run.code, 1, "{input}");
        assert_eq!(
            run.stderr,
            format!("raug: error: {location}: field \"prompt\": the group 1 has another prompt in an earlier row; group by the prompt, or --split-by-prompt makes one group per prompt\n")
        );
    }
}

#[test]
fn pandas_categoricals_apart_pair_through_temporary_files_and_stay_categoricals() {
    let wd = Workdir::new();
    // 1,500 groups of two, every first response before any second one, the key and prompt
    // pandas categoricals (Arrow dictionaries). In little memory the rows are sorted through
    // many temporary files, a few rows at a time: each must carry its own values, not the
    // dictionary of every prompt around it.
    let mut text = String::new();
    for (k, score) in [(0, 3.0), (1, 8.0)] {
        for g in 0..1500 {
            let row = json!({"id": format!("id{g}"), "prompt": format!("prompt {g} {}", "x".repeat(200)),
                "response": format!("r{g}-{k}"), "score": score});
            text.push_str(&format!("{row}\n"));
        }
    }
    let source = wd.write("cat.jsonl", &text);
    let parquet = wd.path("cat.parquet");
    py(&[
        "pandas-parquet",
        source.to_str().unwrap(),
        parquet.to_str().unwrap(),
        "id",
        "prompt",
    ]);
    let expected: Vec<Value> = (0..1500)
        .map(|g| {
            json!({"prompt": format!("prompt {g} {}", "x".repeat(200)), "chosen": format!("r{g}-1"),
                "rejected": format!("r{g}-0"), "score_chosen": 8.0, "score_rejected": 3.0, "id": format!("id{g}")})
        })
        .collect();
    for memory in [None, Some("100000")] {
        let extra: Vec<&str> = memory.map_or(vec![], |m| vec!["--memory-bytes", m]);
        assert_eq!(
            normalize(pairs(&wd, "cat.parquet", &extra)),
            normalize(expected.clone()),
            "{memory:?}"
        );
    }
    let run = wd.run(
        &[
            &["pairs", "cat.parquet", "-q", "-o", "p.parquet"],
            &ARGS[..],
            &["--memory-bytes", "100000"],
        ]
        .concat(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let info = py(&["info", wd.path("p.parquet").to_str().unwrap()]);
    assert!(
        info.contains("prompt: dictionary<values=string, indices=int16, ordered=0>")
            && info.contains("id: dictionary<values=string, indices=int16, ordered=0>"),
        "{info}"
    );
}

#[test]
fn split_by_prompt_groups_apart_pair_alike_once_later_rows_are_read_by_key() {
    let wd = Workdir::new();
    // 900 ids, every third with a second prompt: 1,200 groups of two responses, every group's
    // first response before any second one. Parquet is read 1,024 rows at a time, and once a
    // group is seen apart (row 1,200) the next batches are read by their key columns alone:
    // with --split-by-prompt, the prompt among them.
    let groups: Vec<(u32, String)> = (0..900u32)
        .flat_map(|id| {
            let second = (id % 3 == 0).then(|| format!("q{id}"));
            std::iter::once(format!("p{id}"))
                .chain(second)
                .map(move |p| (id, p))
        })
        .collect();
    assert_eq!(groups.len(), 1200);
    let mut text = String::new();
    for (k, score) in [(0, 3.0), (1, 8.0)] {
        for (id, prompt) in &groups {
            let row = json!({"id": id, "prompt": prompt, "response": format!("{prompt}-{k}"), "score": score});
            text.push_str(&format!("{row}\n"));
        }
    }
    jsonl_and_parquet(&wd, "split", &text);
    let expected: Vec<Value> = groups
        .iter()
        .map(|(id, prompt)| {
            json!({"prompt": prompt, "chosen": format!("{prompt}-1"), "rejected": format!("{prompt}-0"),
                "score_chosen": 8.0, "score_rejected": 3.0, "id": id})
        })
        .collect();
    assert_eq!(pairs(&wd, "split.jsonl", &["--split-by-prompt"]), expected);
    assert_eq!(
        normalize(pairs(&wd, "split.parquet", &["--split-by-prompt"])),
        normalize(expected)
    );
}

#[test]
fn pandas_unnamed_index_is_left_out_of_pairs() {
    let wd = Workdir::new();
    // pandas writes a DataFrame index that has no name and isn't a range as a column
    // `__index_level_0__`: numeric, so it would otherwise become __index_level_0___chosen and
    // __index_level_0___rejected (flat) or a context field (nested).
    let flat = [
        json!({"id": 1, "prompt": "p", "response": "a", "score": 1.0, "tokens": 10}),
        json!({"id": 2, "prompt": "q", "response": "c", "score": 3.0, "tokens": 30}),
        json!({"id": 1, "prompt": "p", "response": "b", "score": 5.0, "tokens": 20}),
        json!({"id": 2, "prompt": "q", "response": "d", "score": 2.0, "tokens": 40}),
    ];
    let source = wd.write("flat.jsonl", lines(&flat));
    py(&[
        "pandas-parquet",
        source.to_str().unwrap(),
        wd.path("flat.parquet").to_str().unwrap(),
    ]);
    // The same rows as JSON Lines with the index as pandas numbers it, and as two pandas shards
    // (a folder: read as rows).
    let indexed: Vec<Value> = flat
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut row = row.clone();
            row["__index_level_0__"] = json!(i * i);
            row
        })
        .collect();
    wd.write("indexed.jsonl", lines(&indexed));
    std::fs::create_dir(wd.path("shards")).unwrap();
    for (k, half) in flat.chunks(2).enumerate() {
        let part = wd.write(&format!("part-{k}.jsonl"), lines(half));
        let shard = wd.path(&format!("shards/part-{k}.parquet"));
        py(&[
            "pandas-parquet",
            part.to_str().unwrap(),
            shard.to_str().unwrap(),
        ]);
    }
    let expected = vec![
        json!({"prompt": "p", "chosen": "b", "rejected": "a", "score_chosen": 5.0, "score_rejected": 1.0,
            "tokens_chosen": 20, "tokens_rejected": 10, "id": 1}),
        json!({"prompt": "q", "chosen": "c", "rejected": "d", "score_chosen": 3.0, "score_rejected": 2.0,
            "tokens_chosen": 30, "tokens_rejected": 40, "id": 2}),
    ];
    for input in ["flat.parquet", "indexed.jsonl", "shards"] {
        assert_eq!(
            normalize(pairs(&wd, input, &[])),
            normalize(expected.clone()),
            "{input}"
        );
    }
    // Nested: the index is a top-level field beside the prompt and the responses.
    let nested = json!({"prompt": "p", "answers": [{"text": "a", "score": 1.0}, {"text": "b", "score": 5.0}]});
    let source = wd.write("nested.jsonl", lines(&[nested]));
    py(&[
        "pandas-parquet",
        source.to_str().unwrap(),
        wd.path("nested.parquet").to_str().unwrap(),
    ]);
    let run = wd.run(&[
        "pairs",
        "nested.parquet",
        "-q",
        "--output-format",
        "jsonl",
        "--responses",
        "answers",
        "--text",
        "text",
        "--score",
        "score",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        rows(&run.stdout),
        [
            json!({"prompt": "p", "chosen": "b", "rejected": "a", "score_chosen": 5.0, "score_rejected": 1.0})
        ]
    );
}

#[test]
fn bad_rows_skipped_apart_are_counted_once() {
    let wd = Workdir::new();
    // Groups apart, a row that isn't JSON and a row whose score isn't a number: with
    // --on-error skip both are counted once, though the rows are read twice.
    let text = [
        r#"{"id": 2, "prompt": "q", "response": "b1", "score": 4}"#,
        r#"{"id": 1, "prompt": "p", "response": "a1", "score": 1}"#,
        "not json",
        r#"{"id": 1, "prompt": "p", "response": "a2", "score": "x"}"#,
        r#"{"id": 2, "prompt": "q", "response": "b2", "score": 7}"#,
        r#"{"id": 1, "prompt": "p", "response": "a3", "score": 5}"#,
    ]
    .map(|l| format!("{l}\n"))
    .concat();
    wd.write("skip.jsonl", &text);
    let expected = vec![
        json!({"prompt": "q", "chosen": "b2", "rejected": "b1", "score_chosen": 7, "score_rejected": 4, "id": 2}),
        json!({"prompt": "p", "chosen": "a3", "rejected": "a1", "score_chosen": 5, "score_rejected": 1, "id": 1}),
    ];
    // Counted by reason, the first in input order named.
    let summary = |file: &str| {
        format!(
            "raug: 6 rows in, 2 prompts, 2 pairs out, 0 prompts without a pair (one response or \
             all tied), 2 skipped (bad_score: 1, invalid_json: 1)\n\
             raug: first skipped row: {file}:3: invalid JSON: expected ident at column 2\n"
        )
    };
    // `--skip-bad` is the old name of `--on-error skip`.
    for (memory, skip) in [
        ("64", &["--on-error", "skip"][..]),
        ("1000000", &["--skip-bad"]),
    ] {
        let args = [skip, &["--memory-bytes", memory][..], &ARGS[..]].concat();
        let run = wd.run(&[&["pairs", "skip.jsonl"][..], &args].concat());
        assert_eq!(
            (run.code, run.stderr),
            (0, summary("skip.jsonl")),
            "{memory}"
        );
        assert_eq!(rows(&run.stdout), expected, "{memory}");
        let run = wd.run_stdin(&[&["pairs"][..], &args].concat(), text.as_bytes());
        assert_eq!(
            (run.code, run.stderr),
            (0, summary("<stdin>")),
            "stdin {memory}"
        );
        assert_eq!(rows(&run.stdout), expected, "stdin {memory}");
    }
    // Without --on-error skip the first bad row stops the run, in input order.
    let run = wd.run(&[&["pairs", "skip.jsonl"][..], &ARGS[..]].concat());
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with("raug: error: skip.jsonl:3: "),
        "{}",
        run.stderr
    );
}

#[test]
fn flat_pairs_take_the_prompt_field_over_the_group_key_and_keep_scores_as_written() {
    // `--group-by prompt_id` without --prompt: the rows' `prompt` field is each pair's prompt
    // (the id is kept beside it), not the id, which used to take its place and drop the text.
    let wd = Workdir::new();
    let row = |id: &str, prompt: &str, response: &str, score: u32| json!({"prompt_id": id, "prompt": prompt, "response": response, "score": score});
    let data = lines(&[
        row("h1", "Say hi", "hi", 8),
        row("h2", "Say bye", "bye", 2),
        row("h1", "Say hi", "yo", 3),
        row("h2", "Say bye", "ciao", 7),
    ]);
    jsonl_and_parquet(&wd, "ids", &data);
    let expected = vec![
        json!({"prompt": "Say hi", "chosen": "hi", "rejected": "yo", "score_chosen": 8,
               "score_rejected": 3, "prompt_id": "h1"}),
        json!({"prompt": "Say bye", "chosen": "ciao", "rejected": "bye", "score_chosen": 7,
               "score_rejected": 2, "prompt_id": "h2"}),
    ];
    let args = [
        "pairs",
        "-q",
        "--output-format",
        "jsonl",
        "--group-by",
        "prompt_id",
        "--text",
        "response",
        "--score",
        "score",
    ];
    for input in ["ids.jsonl", "ids.parquet"] {
        let run = wd.run(&[&args[..], &[input]].concat());
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
        assert_eq!(rows(&run.stdout), expected, "{input}");
    }
    let run = wd.run_stdin(&[&args[..], &["-"]].concat(), data.as_bytes());
    assert_eq!(run.code, 0, "stdin: {}", run.stderr);
    assert_eq!(rows(&run.stdout), expected, "stdin");

    // A prompt that differs within an id is refused at its row, not dropped.
    wd.write(
        "mixed.jsonl",
        lines(&[
            row("h1", "Say hi", "hi", 8),
            row("h1", "Say hello", "yo", 3),
        ]),
    );
    let run = wd.run(&[&args[..], &["mixed.jsonl"]].concat());
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: mixed.jsonl:2: field \"prompt\": the group \"h1\" has another prompt in an earlier row; group by the prompt, or --split-by-prompt makes one group per prompt\n"
    );

    // Rows without a `prompt` field take the key as their prompt, as --help says; scores keep
    // the input's writing whatever their field's name (an integer stays one).
    wd.write(
        "bare.jsonl",
        lines(&[
            json!({"question": "Say hi", "response": "hi", "rating": 8}),
            json!({"question": "Say hi", "response": "yo", "rating": 3}),
        ]),
    );
    let run = wd.run(&[
        "pairs",
        "bare.jsonl",
        "-q",
        "--group-by",
        "question",
        "--text",
        "response",
        "--score",
        "rating",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "{\"prompt\":\"Say hi\",\"chosen\":\"hi\",\"rejected\":\"yo\",\"score_chosen\":8,\"score_rejected\":3,\"rating_chosen\":8,\"rating_rejected\":3}\n"
    );
}

/// Parquet shards of one dataset pair natively as one input (a group's rows may lie in two
/// files, or apart across them): the pairs of the whole file, the columns' own types kept
/// (int32 scores stay int32), a bad row named by its file and its row in it, and shards whose
/// score types differ (int32 in one, float64 in the other) read with one schema.
#[test]
fn parquet_shards_pair_natively_as_one_dataset() {
    use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let wd = Workdir::new();
    let expected = forty_groups(&wd, "whole", |_, _| json!({}), json!({}));
    let text = wd.read("whole.jsonl");
    let apart = wd.read("whole-apart.jsonl");
    for (name, text) in [("grouped", &text), ("apart", &apart)] {
        let lines: Vec<&str> = text.lines().collect();
        // The first file ends inside group 20 (grouped) or inside the first rows (apart).
        let (a, b) = lines.split_at(41);
        jsonl_and_parquet(&wd, &format!("{name}-a"), a.join("\n") + "\n");
        jsonl_and_parquet(&wd, &format!("{name}-b"), b.join("\n") + "\n");
        let (a, b) = (format!("{name}-a.parquet"), format!("{name}-b.parquet"));
        let args = [
            &[
                "pairs",
                a.as_str(),
                b.as_str(),
                "-q",
                "--output-format",
                "jsonl",
            ],
            &ARGS[..],
        ]
        .concat();
        let run = wd.run(&args);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_eq!(
            normalize(rows(&run.stdout)),
            normalize(expected.clone()),
            "{name}"
        );
        let run = wd.run(&[&args[..], &["-o", "shards.jsonl"]].concat());
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_eq!(
            normalize(rows(&wd.read("shards.jsonl"))),
            normalize(expected.clone()),
            "{name} -o"
        );
        wd.assert_no_temporary_files();
    }

    // Scores typed int32 in both shards stay int32 (the JSON path would make them int64); a
    // shard of float64 scores makes them float64; a row without a score is named in its file.
    let shard = |name: &str, ids: &[i32], scores: ArrayRef| {
        let text = |f: &dyn Fn(i32) -> String| {
            Arc::new(StringArray::from(
                ids.iter().map(|&i| f(i)).collect::<Vec<_>>(),
            )) as ArrayRef
        };
        let schema = Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("prompt", DataType::Utf8, false),
            Field::new("response", DataType::Utf8, false),
            Field::new("score", scores.data_type().clone(), true),
        ]);
        let columns = vec![
            text(&|i| format!("g{}", i / 2)),
            text(&|i| format!("p{}", i / 2)),
            text(&|i| format!("r{i}")),
            scores,
        ];
        arrow_parquet(
            &wd,
            name,
            &RecordBatch::try_new(Arc::new(schema), columns).unwrap(),
        );
    };
    shard(
        "i0.parquet",
        &[0, 1, 2],
        Arc::new(Int32Array::from(vec![8, 3, 7])),
    );
    shard("i1.parquet", &[3], Arc::new(Int32Array::from(vec![2])));
    shard("f1.parquet", &[3], Arc::new(Float64Array::from(vec![2.5])));
    shard("n1.parquet", &[3], Arc::new(Int32Array::from(vec![None])));
    shard(
        "nan1.parquet",
        &[3],
        Arc::new(Float64Array::from(vec![f64::NAN])),
    );
    let types = |name: &str| -> Vec<String> {
        let all = arrow_types(&wd, name);
        all.into_iter().filter(|t| t.starts_with("score")).collect()
    };
    for (second, score_type, last) in [
        ("i1.parquet", "Int32", json!(2)),
        ("f1.parquet", "Float64", json!(2.5)),
    ] {
        let run = wd.run(
            &[
                &["pairs", "i0.parquet", second, "-q", "-o", "typed.parquet"],
                &ARGS[..],
            ]
            .concat(),
        );
        assert_eq!(run.code, 0, "{second}: {}", run.stderr);
        assert_eq!(
            types("typed.parquet"),
            [
                format!("score_chosen: {score_type}"),
                format!("score_rejected: {score_type}")
            ]
        );
        let pairs = parquet_file_rows(&wd, "typed.parquet");
        assert_eq!(pairs.len(), 2);
        assert_eq!(
            (
                pairs[1]["chosen"].clone(),
                pairs[1]["rejected"].clone(),
                pairs[1]["score_rejected"].clone()
            ),
            (json!("r2"), json!("r3"), last)
        );
    }
    for (shard, problem) in [
        ("n1.parquet", "expected a number in the row, got null"),
        ("nan1.parquet", "NaN is not a finite number"),
    ] {
        let run = wd.run(
            &[
                &["pairs", "i0.parquet", shard, "-o", "bad.parquet"],
                &ARGS[..],
            ]
            .concat(),
        );
        assert_eq!(run.code, 1);
        assert_eq!(
            run.stderr,
            format!("raug: error: {shard}: row 0: field \"score\": {problem}\n")
        );
    }
    wd.assert_no_temporary_files();
}

#[test]
fn pairs_parquet_cant_hold_are_left_out_under_skip() {
    let wd = Workdir::new();
    // Flat rows, JSON written as Parquet: group 2's context field `src` is a boolean where the
    // first rows' is a string, so none of its pairs can be written.
    let flat = [
        r#"{"id": 1, "prompt": "p", "response": "a1", "score": 1, "src": "s1"}"#,
        r#"{"id": 1, "prompt": "p", "response": "a2", "score": 5, "src": "s1"}"#,
        r#"{"id": 2, "prompt": "q", "response": "b1", "score": 4, "src": true}"#,
        r#"{"id": 2, "prompt": "q", "response": "b2", "score": 7, "src": true}"#,
        r#"{"id": 2, "prompt": "q", "response": "b3", "score": 2, "src": true}"#,
        r#"{"id": 3, "prompt": "r", "response": "c1", "score": 3, "src": "s3"}"#,
        r#"{"id": 3, "prompt": "r", "response": "c2", "score": 2, "src": "s3"}"#,
    ]
    .map(|l| format!("{l}\n"))
    .concat();
    wd.write("flat.jsonl", &flat);
    let conflict = "field \"src\": can't be written to Parquet: expected string got true (the \
                    Parquet schema comes from the output's first rows)";
    let args = |input: &'static str, extra: &[&'static str]| {
        [&["pairs", input, "-o", "out.parquet"][..], &ARGS, extra].concat()
    };
    let run = wd.run(&args("flat.jsonl", &[]));
    assert_eq!(
        (run.code, run.stderr),
        (1, format!("raug: error: flat.jsonl:3: {conflict}\n"))
    );
    assert!(!wd.path("out.parquet").exists());
    wd.assert_no_temporary_files();

    // Under skip the group's pairs (one, or three under --strategy all) are left out together,
    // the group counted once; the others' pairs (one each) are written.
    for strategy in ["best-worst", "all"] {
        let run = wd.run(&args(
            "flat.jsonl",
            &["--on-error", "skip", "--strategy", strategy],
        ));
        assert_eq!(
            (run.code, run.stderr),
            (
                0,
                format!(
                    "raug: 7 rows in, 3 prompts, 2 pairs out, 0 prompts without a pair \
                     (one response or all tied), 1 skipped (unwritable: 1)\n\
                     raug: first skipped row: flat.jsonl:3: {conflict}\n"
                )
            ),
            "{strategy}"
        );
        assert_eq!(
            parquet_file_rows(&wd, "out.parquet"),
            [
                json!({"prompt": "p", "chosen": "a2", "rejected": "a1", "score_chosen": 5, "score_rejected": 1, "id": 1, "src": "s1"}),
                json!({"prompt": "r", "chosen": "c1", "rejected": "c2", "score_chosen": 3, "score_rejected": 2, "id": 3, "src": "s3"}),
            ],
            "{strategy}"
        );
    }

    // Nested rows: each row's pairs are left out with the row. Line 4's lone surrogate is
    // skipped as it is read, before line 2's pair reaches the writer: line 2 is named first.
    let nested = [
        r#"{"prompt": "p", "answers": [{"text": "a1", "s": 1}, {"text": "a2", "s": 5}], "src": "s1"}"#,
        r#"{"prompt": "q", "answers": [{"text": "b1", "s": 4}, {"text": "b2", "s": 7}], "src": 5}"#,
        r#"{"prompt": "r", "answers": [{"text": "c1", "s": 3}, {"text": "c2", "s": 2}], "src": "s3"}"#,
        r#"{"prompt": "s", "answers": [{"text": "\ud800", "s": 3}, {"text": "d2", "s": 2}], "src": "s4"}"#,
    ]
    .map(|l| format!("{l}\n"))
    .concat();
    wd.write("nested.jsonl", &nested);
    let nested_args = [
        "pairs",
        "nested.jsonl",
        "-o",
        "out.parquet",
        "--responses",
        "answers",
        "--text",
        "text",
        "--score",
        "s",
        "--on-error",
        "skip",
    ];
    let run = wd.run(&nested_args);
    assert_eq!(
        (run.code, run.stderr),
        (
            0,
            "raug: 4 rows in, 3 prompts, 2 pairs out, 0 prompts without a pair (one response or \
             all tied), 2 skipped (unwritable: 2)\n\
             raug: first skipped row: nested.jsonl:2: field \"src\": can't be written to \
             Parquet: expected string got 5 (the Parquet schema comes from the output's first \
             rows)\n"
                .to_string()
        )
    );
    assert_eq!(
        parquet_file_rows(&wd, "out.parquet"),
        [
            json!({"prompt": "p", "chosen": "a2", "rejected": "a1", "score_chosen": 5, "score_rejected": 1, "s_chosen": 5, "s_rejected": 1, "src": "s1"}),
            json!({"prompt": "r", "chosen": "c1", "rejected": "c2", "score_chosen": 3, "score_rejected": 2, "s_chosen": 3, "s_rejected": 2, "src": "s3"}),
        ]
    );

    // A run that skips every row it reads is no success: exit 1, nothing written.
    wd.write(
        "bad.jsonl",
        "{\"prompt\": \"p\", \"answers\": 5}\n{\"prompt\": \"q\", \"answers\": [{\"text\": \"b\", \"s\": \"x\"}]}\n",
    );
    std::fs::remove_file(wd.path("out.parquet")).unwrap();
    let mut bad_args = nested_args;
    bad_args[1] = "bad.jsonl";
    let run = wd.run(&bad_args);
    assert_eq!(
        (run.code, run.stderr),
        (
            1,
            "raug: error: every one of the 2 rows was rejected (bad_score: 1, wrong_type: 1); \
             the first: bad.jsonl:1: field \"answers\": expected a list of responses; nothing \
             was written\n"
                .to_string()
        )
    );
    assert!(!wd.path("out.parquet").exists());
    wd.assert_no_temporary_files();
}

#[test]
fn ranks_pair_the_lowest_first_with_lower_is_better() {
    let wd = Workdir::new();
    // Nectar's shape: a list of answers ranked 1 (the best) to N.
    let nested = concat!(
        r#"{"prompt": "Name a fruit.", "answers": [{"answer": "Apple.", "model": "m1", "rank": 1.0}, {"answer": "A fruit.", "model": "m2", "rank": 2.0}, {"answer": "No.", "model": "m3", "rank": 3.0}], "turns": 1}"#,
        "\n",
        r#"{"prompt": "Say hi.", "answers": [{"answer": "Hmm.", "model": "m4", "rank": 2.0}, {"answer": "Hi!", "model": "m5", "rank": 1.0}], "turns": 1}"#,
        "\n"
    );
    jsonl_and_parquet(&wd, "nectar", nested);
    // A response's numbers come along as X_chosen/X_rejected.
    let pair = |prompt: &str, c: &str, r: &str, (sc, sr): (f64, f64)| {
        json!({"prompt": prompt, "chosen": c, "rejected": r, "score_chosen": sc,
               "score_rejected": sr, "rank_chosen": sc, "rank_rejected": sr, "turns": 1})
    };
    let best_worst = vec![
        pair("Name a fruit.", "Apple.", "No.", (1.0, 3.0)),
        pair("Say hi.", "Hi!", "Hmm.", (1.0, 2.0)),
    ];
    let all = vec![
        pair("Name a fruit.", "Apple.", "A fruit.", (1.0, 2.0)),
        pair("Name a fruit.", "Apple.", "No.", (1.0, 3.0)),
        pair("Name a fruit.", "A fruit.", "No.", (2.0, 3.0)),
        pair("Say hi.", "Hi!", "Hmm.", (1.0, 2.0)),
    ];
    let nested_args = [
        "--responses",
        "answers",
        "--text",
        "answer",
        "--score",
        "rank",
    ];
    for input in ["nectar.jsonl", "nectar.parquet"] {
        for (strategy, expected) in [("best-worst", &best_worst), ("all", &all)] {
            let args = [
                &[
                    "pairs",
                    input,
                    "-q",
                    "--output-format",
                    "jsonl",
                    "--lower-is-better",
                ][..],
                &nested_args,
                &["--strategy", strategy],
            ]
            .concat();
            let run = wd.run(&args);
            assert_eq!(run.code, 0, "{input} {strategy}: {}", run.stderr);
            assert_rows_eq(&rows(&run.stdout), expected);
        }
    }
    // Without it the worst would be chosen; relabel's hint says so.
    let run = wd.run(&[&["pairs", "nectar.jsonl", "-q"][..], &nested_args].concat());
    assert_eq!(rows(&run.stdout)[0]["chosen"], "No.");
    let run = wd.run(&["relabel", "nectar.jsonl"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.ends_with(
            "raug pairs INPUT --responses answers --text answer --score rank --lower-is-better\n"
        ),
        "{}",
        run.stderr
    );

    // Flat rows, one per ranked response.
    let flat = [
        r#"{"id": 1, "prompt": "p", "response": "a", "rank": 3}"#,
        r#"{"id": 1, "prompt": "p", "response": "b", "rank": 1}"#,
        r#"{"id": 1, "prompt": "p", "response": "c", "rank": 2}"#,
    ]
    .map(|l| format!("{l}\n"))
    .concat();
    jsonl_and_parquet(&wd, "flat", &flat);
    for input in ["flat.jsonl", "flat.parquet"] {
        let run = wd.run(&[
            "pairs",
            input,
            "-q",
            "--output-format",
            "jsonl",
            "--group-by",
            "id",
            "--text",
            "response",
            "--score",
            "rank",
            "--lower-is-better",
        ]);
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
        assert_rows_eq(
            &rows(&run.stdout),
            &[
                json!({"prompt": "p", "chosen": "b", "rejected": "a", "score_chosen": 1,
                     "score_rejected": 3, "rank_chosen": 1, "rank_rejected": 3, "id": 1}),
            ],
        );
    }
}

#[test]
fn flattened_names_name_the_fields_they_flatten() {
    // Columns named with dots, as pandas' json_normalize, datasets' flatten() and Spark name
    // flattened fields: the options name them as relabel's do, from JSON Lines and Parquet.
    let wd = Workdir::new();
    let flat = [
        r#"{"meta.id": 1, "meta.prompt": "p", "answer.text": "a", "answer.rating": 3}"#,
        r#"{"meta.id": 1, "meta.prompt": "p", "answer.text": "b", "answer.rating": 1}"#,
    ]
    .map(|l| format!("{l}\n"))
    .concat();
    jsonl_and_parquet(&wd, "flat", &flat);
    let nested = concat!(
        r#"{"meta.prompt": "q", "data.answers": [{"text": "c", "rating": 2}, {"text": "d", "rating": 5}], "turns": 1}"#,
        "\n"
    );
    jsonl_and_parquet(&wd, "nested", nested);
    let flat_args = [
        "--group-by",
        "meta.id",
        "--prompt",
        "meta.prompt",
        "--text",
        "answer.text",
        "--score",
        "answer.rating",
    ];
    let nested_args = [
        "--responses",
        "data.answers",
        "--prompt",
        "meta.prompt",
        "--text",
        "text",
        "--score",
        "rating",
    ];
    let cases = [
        (
            "flat",
            &flat_args,
            json!({"prompt": "p", "chosen": "a", "rejected": "b", "score_chosen": 3,
                   "score_rejected": 1, "answer.rating_chosen": 3, "answer.rating_rejected": 1,
                   "meta.id": 1}),
        ),
        (
            "nested",
            &nested_args,
            json!({"prompt": "q", "chosen": "d", "rejected": "c", "score_chosen": 5,
                   "score_rejected": 2, "rating_chosen": 5, "rating_rejected": 2, "turns": 1}),
        ),
    ];
    for (stem, args, expected) in cases {
        for ext in ["jsonl", "parquet"] {
            let input = format!("{stem}.{ext}");
            let run = wd.run(
                &[
                    &["pairs", &input, "-q", "--output-format", "jsonl"][..],
                    args,
                ]
                .concat(),
            );
            assert_eq!(run.code, 0, "{input}: {}", run.stderr);
            assert_rows_eq(&rows(&run.stdout), std::slice::from_ref(&expected));
        }
    }
}
