//! The bad-input promises: a run that can't give a right result says so and writes nothing.

use crate::harness::*;

#[test]
fn a_run_that_rejects_every_row_fails_and_writes_nothing() {
    let wd = Workdir::new();
    let jsonl = wd.write(
        "bad.jsonl",
        concat!(
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": null, "score_rejected": 3.0}"#,
            "\n",
            r#"{"prompt": "q", "chosen": "C", "rejected": "D", "score_chosen": 1.0, "score_rejected": null}"#,
            "\n"
        ),
    );
    pyarrow_parquet(&wd, &jsonl, "bad.parquet", 10);
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
                "raug: error: every one of the 2 rows was rejected (bad_score: 2); the first: {first}: field \"score_chosen\": expected a number, got null; nothing was written\n"
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
