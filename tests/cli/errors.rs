//! Bad input, usage mistakes and I/O faults: exact messages, exit codes, nothing half-written.

use std::io::Read;
use std::process::Stdio;

use crate::harness::*;

const GOOD: &str =
    r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#;

/// One good row, then every kind of damage, one per line (line numbers in comments).
fn damaged() -> Vec<u8> {
    let mut data = Vec::new();
    let lines: [&[u8]; 12] = [
        GOOD.as_bytes(),                                                                         // 1
        br#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": "eight", "score_rejected": 3}"#, // 2
        br#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": NaN, "score_rejected": 3}"#,     // 3
        br#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "#,                           // 4
        b"{\"prompt\": \"p\xff\", \"chosen\": \"A\", \"rejected\": \"B\", \"score_chosen\": 8, \"score_rejected\": 3}", // 5
        br#"["not", "an", "object"]"#,                                                                      // 6
        br#"{"prompt": "p", "chosen": ["A"], "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#,     // 7
        br#"{"prompt": "p", "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#,                      // 8
        b"",                                                                                     // 9 (blank)
        br#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": null, "score_rejected": 3}"#,    // 10
        br#"{"prompt": "", "chosen": "", "rejected": "", "score_chosen": 2, "score_rejected": 1}"#,          // 11: empty texts are fine
        br#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 1e999}"#,   // 12
    ];
    for line in lines {
        data.extend_from_slice(line);
        data.push(b'\n');
    }
    data
}

#[test]
fn fail_mode_stops_at_the_first_bad_row_and_writes_nothing() {
    let wd = Workdir::new();
    wd.write("data.jsonl", damaged());
    wd.write("out.jsonl", "precious\n");
    let run = wd.run(&["relabel", "data.jsonl", "-o", "out.jsonl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: data.jsonl:2: field \"score_chosen\": expected a number, got string \"eight\"\n"
    );
    assert_eq!(wd.read("out.jsonl"), "precious\n");
    assert_eq!(wd.files(), ["data.jsonl", "out.jsonl"]);
}

#[test]
fn each_kind_of_damage_has_a_precise_message() {
    let wd = Workdir::new();
    let data = damaged();
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let expected = [
        (
            2,
            "field \"score_chosen\": expected a number, got string \"eight\"",
        ),
        (3, "field \"score_chosen\": NaN is not a finite number"),
        (
            4,
            "invalid JSON: the row ends early (truncated?) at column 66",
        ),
        (5, "invalid UTF-8 at byte 13"),
        (6, "expected a JSON object, got an array"),
        (
            7,
            "field \"chosen\": expected a string (layout standard (explicit prompt)), got an array",
        ),
        (8, "field \"chosen\": missing or null"),
        (10, "field \"score_chosen\": missing or null"),
        (
            12,
            "field \"score_rejected\": 1e999 is beyond a 64-bit float's range",
        ),
    ];
    for (line, message) in expected {
        let mut file = GOOD.as_bytes().to_vec();
        file.push(b'\n');
        for _ in 1..line - 1 {
            file.extend_from_slice(b"\n");
        }
        file.extend_from_slice(lines[line - 1]);
        file.push(b'\n');
        wd.write("one.jsonl", &file);
        let run = wd.run(&["relabel", "one.jsonl"]);
        assert_eq!(run.code, 1, "line {line}");
        assert_eq!(
            run.stderr,
            format!("raug: error: one.jsonl:{line}: {message}\n")
        );
    }
}

#[test]
fn damaged_json_arrays_name_the_file_the_line_and_the_damage() {
    let wd = Workdir::new();
    let row = r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#;
    let cases = [
        (
            format!("[\n{row},\n{row},\n]\n"),
            "4: a comma before the array's closing ] (JSON allows no trailing comma)",
        ),
        (
            format!("[{row},,{row}]"),
            "1: expected an array element, found ,",
        ),
        (
            format!("[\n{row}\n{row}]"),
            "3: expected , or ] between array elements",
        ),
        (
            format!("[\n{row},\n{{\"prompt\": "),
            "3: the array ends early (truncated?)",
        ),
        (
            format!("[{row}] {row}"),
            "1: unexpected data after the array",
        ),
    ];
    for (text, message) in cases {
        wd.write("a.json", text.as_bytes());
        let run = wd.run(&["relabel", "a.json", "-o", "out.jsonl"]);
        assert_eq!(run.code, 1, "{text}");
        assert_eq!(
            run.stderr,
            format!("raug: error: a.json:{message}\n"),
            "{text}"
        );
        assert!(!wd.path("out.jsonl").exists(), "{text}");
    }
}

#[test]
fn skip_mode_counts_reasons_and_keeps_rejects_verbatim() {
    let wd = Workdir::new();
    let data = damaged();
    wd.write("data.jsonl", &data);
    let run = wd.run(&[
        "relabel",
        "data.jsonl",
        "--on-error",
        "skip",
        "--rejects",
        "rejects.jsonl",
        "--stats",
        "stats.json",
        "-o",
        "out.jsonl",
        "--template",
        "G{score}",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 11 rows in, 4 rows out, 0 ties, 9 skipped (bad_score: 3, invalid_json: 1, invalid_utf8: 1, missing_field: 2, not_an_object: 1, wrong_type: 1)\n\
         raug: first skipped row: data.jsonl:2: field \"score_chosen\": expected a number, got string \"eight\"\n"
    );
    assert_eq!(
        wd.read("out.jsonl"),
        concat!(
            r#"{"prompt": "G8\n\np", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#,
            "\n",
            r#"{"prompt": "G3\n\np", "chosen": "B", "rejected": "A", "score_chosen": 3, "score_rejected": 8}"#,
            "\n",
            r#"{"prompt": "G2\n\n", "chosen": "", "rejected": "", "score_chosen": 2, "score_rejected": 1}"#,
            "\n",
            r#"{"prompt": "G1\n\n", "chosen": "", "rejected": "", "score_chosen": 1, "score_rejected": 2}"#,
            "\n",
        )
    );
    // Every bad row, byte for byte (the invalid UTF-8 included), in input order.
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let mut expected = Vec::new();
    for i in [2, 3, 4, 5, 6, 7, 8, 10, 12] {
        expected.extend_from_slice(lines[i - 1]);
        expected.push(b'\n');
    }
    assert_eq!(std::fs::read(wd.path("rejects.jsonl")).unwrap(), expected);
    let stats: serde_json::Value = serde_json::from_str(&wd.read("stats.json")).unwrap();
    assert_eq!(stats["rows_in"], 11);
    assert_eq!(stats["skipped"], 9);
    assert_eq!(stats["skipped_by_reason"]["bad_score"], 3);
    assert_eq!(stats["skipped_by_reason"]["missing_field"], 2);
    assert_eq!(stats["blank_lines"], 1);
}

#[test]
fn usage_errors_exit_2_with_a_fix() {
    let wd = Workdir::new();
    wd.write("data.jsonl", format!("{GOOD}\n"));
    let cases: [(&[&str], &str); 8] = [
        (
            &["relabel", "data.jsonl", "--style", "system"],
            "raug: error: data.jsonl:1: --style system needs message lists, but the layout standard (explicit prompt) holds plain strings; use --style prefix\n",
        ),
        (
            &["relabel", "data.jsonl", "--template", "no placeholder"],
            "raug: error: --template: the template must contain the placeholder {score} (or {scores}), got \"no placeholder\"\n",
        ),
        (
            &["relabel", "data.jsonl", "-o", "data.jsonl"],
            "raug: error: the output data.jsonl is also an input; write to another file\n",
        ),
        (
            &["relabel", "data.jsonl", "--chosen-score", "x"],
            "raug: error: data.jsonl:1: --chosen-score and --rejected-score go together: give both\n",
        ),
        (
            &["relabel", "data.jsonl", "--chosen-score", "nope", "--rejected-score", "score_rejected"],
            "raug: error: data.jsonl:1: --chosen-score nope: the first row has no such field\n",
        ),
        (
            &["relabel", "data.jsonl", "--chosen-score", "a..b", "--rejected-score", "c"],
            "raug: error: --chosen-score: invalid field path \"a..b\": write keys joined by dots, like metadata.score_chosen\n",
        ),
        (
            &["relabel", "data.jsonl", "--rejects", "r.jsonl"],
            "raug: error: --rejects needs --on-error skip (under fail, the first bad row stops the run)\n",
        ),
        (
            &["relabel", "data.jsonl", "-j", "0"],
            "raug: error: --threads must be at least 1\n",
        ),
    ];
    for (args, message) in cases {
        let run = wd.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, message, "{args:?}");
    }
    wd.write(
        "noscore.jsonl",
        r#"{"prompt": "p", "chosen": "A", "rejected": "B"}"#.to_string() + "\n",
    );
    let run = wd.run(&["relabel", "noscore.jsonl"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("raug: error: noscore.jsonl:1: no score fields found (looked for score_chosen/score_rejected, chosen_score/rejected_score,"),
        "{}",
        run.stderr
    );
    assert!(run
        .stderr
        .ends_with("name them with --chosen-score PATH --rejected-score PATH, or, for data without scores, give --fixed-scores HI,LO\n"));
    // A file that is one object holding the rows under a key (what some exporters write).
    wd.write("wrapped.json", format!(r#"{{"data": [{GOOD}]}}"#));
    let run = wd.run(&["relabel", "wrapped.json"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: wrapped.json:1: no field \"chosen\" in the first row, which holds only the \
         list \"data\": if those are the rows, take them out first (`jq -c '.data[]' FILE | raug \
         relabel -`), or name the field with --chosen PATH\n"
    );
    let run = wd.run(&["relabel", "data.jsonl", "--bogus"]);
    assert_eq!(run.code, 2);
    assert_eq!(wd.files(), ["data.jsonl", "noscore.jsonl", "wrapped.json"]);
}

#[test]
fn io_faults_name_the_file() {
    let wd = Workdir::new();
    wd.write("data.jsonl", format!("{GOOD}\n"));
    let run = wd.run(&["relabel", "missing.jsonl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: missing.jsonl: No such file or directory (os error 2)\n"
    );
    if std::path::Path::new("/dev/full").exists() {
        let run = wd.run(&["relabel", "data.jsonl", "-o", "/dev/full"]);
        assert_eq!(run.code, 1);
        assert_eq!(
            run.stderr,
            "raug: error: /dev/full: No space left on device (os error 28)\n"
        );
    }
    // An unreadable file (root reads everything, but /proc/self/mem fails at offset 0).
    if std::path::Path::new("/proc/self/mem").exists() {
        let run = wd.run(&["relabel", "/proc/self/mem", "-o", "out.jsonl"]);
        assert_eq!(run.code, 1);
        assert_eq!(
            run.stderr,
            "raug: error: /proc/self/mem: Input/output error (os error 5)\n"
        );
        assert!(!wd.path("out.jsonl").exists());
    }
    // An output in a folder that isn't there says which folder.
    let run = wd.run(&["relabel", "data.jsonl", "-o", "nodir/sub/out.jsonl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: nodir/sub/out.jsonl: the folder nodir/sub doesn't exist\n"
    );
    let run = wd.run(&["relabel", "data.jsonl", "-o", "/dev/null"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::path::Path::new("/dev/null").exists());
    std::fs::create_dir(wd.path("adir")).unwrap();
    // A folder is a dataset to mirror: it needs an output folder.
    let run = wd.run(&["relabel", "adir"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: a folder input needs an output folder: -o OUTDIR\n"
    );
}

/// `raug relabel big | head -1`: the reader goes away; raug ends quietly with status 0.
#[test]
fn closed_pipe_downstream_ends_quietly() {
    let wd = Workdir::new();
    let mut big = String::new();
    for _ in 0..20000 {
        big.push_str(GOOD);
        big.push('\n');
    }
    wd.write("big.jsonl", &big);
    let mut child = wd
        .command(&["relabel", "big.jsonl"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn huge_rows_are_not_errors() {
    let wd = Workdir::new();
    let response = "x".repeat(50 << 20);
    let line = format!(
        r#"{{"prompt": "p", "chosen": "{response}", "rejected": "short", "score_chosen": 9, "score_rejected": 1}}"#
    );
    wd.write("huge.jsonl", format!("{GOOD}\n{line}\n{GOOD}\n"));
    let run = wd.run(&[
        "relabel",
        "huge.jsonl",
        "-o",
        "out.jsonl",
        "--block-size",
        "65536",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 3 rows in, 6 rows out, 0 ties, 0 skipped\n"
    );
    let out = wd.read("out.jsonl");
    let lens: Vec<usize> = out.lines().map(str::len).collect();
    assert_eq!(lens.len(), 6);
    assert!(lens[2] > 50 << 20 && lens[3] > 50 << 20);
}

/// Ctrl-C mid-run: the temporary output is deleted, an existing target is untouched.
#[test]
fn interrupt_leaves_no_output_behind() {
    let wd = Workdir::new();
    wd.write("out.jsonl", "precious\n");
    let fifo = wd.path("in.jsonl");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut child = wd
        .command(&["relabel", "in.jsonl", "-o", "out.jsonl"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Keep the FIFO open (raug waits for more rows) after one row.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::io::Write::write_all(&mut writer, format!("{GOOD}\n").as_bytes()).unwrap();
    let started = std::time::Instant::now();
    while !wd.files().iter().any(|f| f.ends_with(".raug-tmp")) {
        assert!(
            started.elapsed().as_secs() < 20,
            "no temporary file appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    drop(writer);
    assert_eq!(status.code(), Some(130));
    assert_eq!(wd.read("out.jsonl"), "precious\n");
    assert_eq!(wd.files(), ["in.jsonl", "out.jsonl"]);
}

#[test]
fn rows_of_responses_without_a_pair_are_pointed_to_raug_pairs() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    // Real data without pairs: nvidia/HelpSteer (a row per response) and the Stack Exchange
    // preferences (a list of answers per question), from JSON Lines and from Parquet.
    let cases = [
        (
            "llm-thankfulness-claude__nvidia_HelpSteer_sample.jsonl",
            "hs",
            "each row holds one response (\"response\"), make pairs of them first: raug pairs \
             INPUT --group-by prompt --text response --score SCORE (a number field: helpfulness, \
             correctness, coherence, complexity or verbosity)",
            &[
                "--group-by",
                "prompt",
                "--text",
                "response",
                "--score",
                "helpfulness",
            ][..],
            &["--scale", "0-4"][..],
        ),
        (
            "llm-thankfulness-claude__HuggingFaceH4_stack-exchange-preferences_sample.jsonl",
            "se",
            "the row holds a list of responses (\"answers\"), make pairs of them first: raug \
             pairs INPUT --responses answers --prompt question --text text --score pm_score",
            &[
                "--responses",
                "answers",
                "--prompt",
                "question",
                "--text",
                "text",
                "--score",
                "pm_score",
            ][..],
            &["--from-scale", "-1-7"][..],
        ),
    ];
    for (file, stem, hint, pairs_args, scale) in cases {
        jsonl_and_parquet(&wd, stem, std::fs::read(real(file)).unwrap());
        for (input, at) in [
            (format!("{stem}.jsonl"), format!("{stem}.jsonl:1")),
            (format!("{stem}.parquet"), format!("{stem}.parquet")),
        ] {
            let run = wd.run(&["relabel", &input, "-o", "out.jsonl"]);
            assert_eq!(run.code, 2, "{input}: {}", run.stderr);
            assert_eq!(
                run.stderr,
                format!(
                    "raug: error: {at}: no field \"chosen\" in the first row; name the field \
                     with --chosen PATH, or, as {hint}\n"
                )
            );
        }
        // The hint, its capitals filled in, makes pairs that relabel.
        let input = format!("{stem}.jsonl");
        let run = wd.run(&[&["pairs", &input, "-q", "-o", "p.jsonl"][..], pairs_args].concat());
        assert_eq!(run.code, 0, "{}", run.stderr);
        let run = wd.run(&[&["relabel", "p.jsonl", "-q", "-o", "out.jsonl"][..], scale].concat());
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    // Another prompt field's name, or none; the text and score fields where the row says
    // which, else the candidates.
    for (row, hint) in [
        (
            r#"{"instruction": "q", "output": "a", "rating": 3}"#,
            "each row holds one response (\"output\"), make pairs of them first: raug pairs \
             INPUT --group-by instruction --text output --score rating",
        ),
        (
            r#"{"id": 7, "prompt": "q", "response": "a", "a": 1, "b": 2.5}"#,
            "each row holds one response (\"response\"), make pairs of them first: raug pairs \
             INPUT --group-by prompt --text response --score SCORE (a number field: a or b)",
        ),
        (
            r#"{"id": 1, "completions": [{"text": "a", "rating": 3}]}"#,
            "the row holds a list of responses (\"completions\"), make pairs of them first: \
             raug pairs INPUT --responses completions --prompt PROMPT --text text --score rating",
        ),
        (
            r#"{"completions": [{"model": "m", "says": "a", "said": "b", "overall_score": 3, "fine-grained_score": 2.5}]}"#,
            "the row holds a list of responses (\"completions\"), make pairs of them first: \
             raug pairs INPUT --responses completions --prompt PROMPT --text TEXT (a text field: \
             model, says or said) --score SCORE (a number field: overall_score or \
             fine-grained_score)",
        ),
    ] {
        wd.write("small.jsonl", format!("{row}\n"));
        let run = wd.run(&["relabel", "small.jsonl"]);
        assert_eq!(run.code, 2);
        assert_eq!(
            run.stderr,
            format!(
                "raug: error: small.jsonl:1: no field \"chosen\" in the first row; name the field \
                 with --chosen PATH, or, as {hint}\n"
            )
        );
    }
}

#[test]
fn non_finite_literals_pass_through_and_are_bad_scores_as_in_parquet() {
    // Python's json.dumps writes float('nan') as NaN, and pyarrow, pandas and `datasets` read
    // it back: JSON has no such number, but a field holding one passes through as written, and
    // a score holding one is a bad score, as Parquet's NaN is.
    let wd = Workdir::new();
    let text = concat!(
        r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3, "tox": NaN, "m": {"r": -Infinity, "s": "NaN"}}"#,
        "\n",
        r#"{"prompt": "q", "chosen": "A", "rejected": "B", "score_chosen": NaN, "score_rejected": 3, "tox": 0.5, "m": {"r": 1.0, "s": "x"}}"#,
        "\n",
        r#"{"prompt": "r", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": -Infinity, "tox": 0.5, "m": {"r": 1.0, "s": "x"}}"#,
        "\n",
    );
    jsonl_and_parquet(&wd, "nan", text);
    let args = ["--template", "G{score}", "--on-error", "skip"];
    let run = wd.run(&[&["relabel", "nan.jsonl"][..], &args].concat());
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            0,
            concat!(
                r#"{"prompt": "G8\n\np", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3, "tox": NaN, "m": {"r": -Infinity, "s": "NaN"}}"#,
                "\n",
                r#"{"prompt": "G3\n\np", "chosen": "B", "rejected": "A", "score_chosen": 3, "score_rejected": 8, "tox": NaN, "m": {"r": -Infinity, "s": "NaN"}}"#,
                "\n",
            ),
            "raug: 3 rows in, 2 rows out, 0 ties, 2 skipped (bad_score: 2)\n\
             raug: first skipped row: nan.jsonl:2: field \"score_chosen\": NaN is not a finite number\n"
        )
    );
    // The same rules on the same rows from Parquet (NaN a float there).
    for (input, at) in [
        ("nan.jsonl", "nan.jsonl:3"),
        ("nan.parquet", "nan.parquet: row 2"),
    ] {
        let run = wd.run(&["relabel", input, "--template", "G{score}"]);
        assert_eq!(run.code, 1, "{input}");
        let second = wd.run(&["inspect", input]);
        assert!(
            second.stdout.contains(&format!(
                "{at}: field \"score_rejected\": -inf is not a finite number"
            )),
            "{input}: {}",
            second.stdout
        );
    }
    // Inside a message list too.
    wd.write(
        "messages.jsonl",
        concat!(
            r#"{"prompt": "hi", "chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "A", "logp": NaN}], "#,
            r#""rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "B", "logp": -Infinity}], "score_chosen": 8, "score_rejected": 3}"#,
            "\n"
        ),
    );
    let run = wd.run(&["relabel", "messages.jsonl", "--template", "G{score}", "-q"]);
    assert_eq!(
        run.stdout.lines().next().unwrap(),
        concat!(
            r#"{"prompt": "hi", "chosen": [{"role": "system", "content": "G8"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "A", "logp": NaN}], "#,
            r#""rejected": [{"role": "system", "content": "G8"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "B", "logp": -Infinity}], "score_chosen": 8, "score_rejected": 3}"#,
        ),
        "{}",
        run.stderr
    );
    // condition passes them through; pairs carries a response's as written, and refuses one
    // as its score, as from Parquet.
    let run = wd.run(&["condition", "nan.jsonl", "--template", "G{score}", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.lines().next().unwrap(),
        r#"{"prompt": "G10\n\np", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3, "tox": NaN, "m": {"r": -Infinity, "s": "NaN"}}"#
    );
    let flat = concat!(
        r#"{"id": 1, "prompt": "p", "response": "a", "score": 3, "len": NaN}"#,
        "\n",
        r#"{"id": 1, "prompt": "p", "response": "b", "score": 1, "len": Infinity}"#,
        "\n",
        r#"{"id": 2, "prompt": "q", "response": "c", "score": NaN, "len": 1}"#,
        "\n",
    );
    jsonl_and_parquet(&wd, "flat", flat);
    let pairs = ["--group-by", "id", "--text", "response", "--score", "score"];
    for (input, at) in [
        ("flat.jsonl", "flat.jsonl:3"),
        ("flat.parquet", "flat.parquet: row 2"),
    ] {
        let run = wd.run(&[&["pairs", input][..], &pairs].concat());
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (
                1,
                format!("raug: error: {at}: field \"score\": NaN is not a finite number\n")
                    .as_str()
            )
        );
    }
    let run = wd.run(
        &[
            &["pairs", "flat.jsonl", "-q", "--on-error", "skip"][..],
            &pairs,
        ]
        .concat(),
    );
    assert_eq!(
        run.stdout,
        concat!(
            r#"{"prompt":"p","chosen":"a","rejected":"b","score_chosen":3,"score_rejected":1,"#,
            r#""len_chosen":NaN,"len_rejected":Infinity,"id":1}"#,
            "\n"
        )
    );
    // Parquet written from such JSON can't hold them: the field is named, in the first row
    // (though the reading finds row 2 bad first).
    let run = wd.run(&[
        "relabel",
        "nan.jsonl",
        "-o",
        "out.parquet",
        "--template",
        "G{score}",
    ]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "raug: error: nan.jsonl:1: field \"tox\": holds NaN or an infinity, which JSON has no \
             number for and Arrow's JSON reader doesn't take, so Parquet can't hold it\n"
        )
    );
}

#[test]
fn a_row_parquet_output_cant_hold_is_named_before_a_later_bad_row() {
    // The output finds the first row bad only when it decodes it, after the reading found the
    // later one: under fail, the first in input order is named.
    let wd = Workdir::new();
    let row = |i: usize, score: &str, k: &str| {
        format!(
            r#"{{"prompt": "p{i}", "chosen": "A", "rejected": "B", "score_chosen": {score}, "score_rejected": 3, "k": {k}}}"#
        )
    };
    wd.write(
        "data.jsonl",
        [row(1, "8", "1"), row(2, "8", r#""s""#), row(3, "null", "1")].join("\n"),
    );
    let run = wd.run(&["relabel", "data.jsonl", "-o", "out.parquet"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "raug: error: data.jsonl:2: field \"k\": can't be written to Parquet: failed to parse \
             \"s\" as Int64 (the Parquet schema comes from the output's first rows)\n"
        )
    );
    // A row a wider schema holds is no bad row: the later one is. The first block, which
    // makes the schema (k an integer), is the first row alone: blocks are read 64 KiB at a
    // time and cut at the last newline, the second row's ending past 128 KiB.
    let padded =
        |i: usize, k: &str, pad: usize| row(i, "8", k).replace(&format!("p{i}"), &"p".repeat(pad));
    wd.write(
        "data.jsonl",
        [
            padded(1, "1", 100_000),
            padded(2, "1", 40_000),
            row(3, "8", "1.5"),
            row(4, "null", "1"),
            String::new(),
        ]
        .join("\n"),
    );
    let run = wd.run(&[
        "relabel",
        "data.jsonl",
        "-o",
        "out.parquet",
        "--block-size",
        "1000",
    ]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "raug: error: data.jsonl:4: field \"score_chosen\": missing or null\n"
        )
    );
    assert_eq!(wd.files(), ["data.jsonl"]);
}
