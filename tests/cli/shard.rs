//! `--shard I/N`: N runs over the same inputs cover every row exactly once, whatever N, whether
//! the inputs are one big JSON Lines file, Parquet row groups, or many files of mixed kinds.

use crate::harness::{py, pyarrow_parquet, real, real_data_present, rows, Workdir, NOISE};

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// Runs every shard of N; returns each shard's output text (JSON Lines, or Parquet rows as JSON).
fn shards(wd: &Workdir, inputs: &[&str], n: u64, ext: &str, flags: &[&str]) -> Vec<String> {
    (0..n)
        .map(|i| {
            let out = format!("part-{i}.{ext}");
            let shard = format!("{i}/{n}");
            let mut args = vec!["relabel", "-q"];
            args.extend_from_slice(inputs);
            args.extend_from_slice(&["--shard", &shard, "-o", &out]);
            args.extend_from_slice(flags);
            let run = wd.run(&args);
            assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
            match ext {
                "parquet" => py(&["rows", wd.path(&out).to_str().unwrap()]),
                _ => wd.read(&out),
            }
        })
        .collect()
}

#[test]
fn shards_of_one_json_lines_file_are_the_whole_run_cut_at_lines() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = real(NOISE);
    let input = input.to_str().unwrap();
    let run = wd.run(&["relabel", "-q", input, "-o", "full.jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let full = wd.read("full.jsonl");
    assert_eq!(full.lines().count(), 2000);
    for n in [1, 2, 3, 7, 16] {
        let parts = shards(&wd, &[input], n, "jsonl", &[]);
        // Interleaved rows of lines in order: the shards, one after another, are the whole run.
        assert_eq!(parts.concat(), full, "{n} shards");
        assert!(
            parts.iter().all(|p| !p.is_empty()),
            "{n} shards: an empty shard"
        );
    }
    // Blocks order is per shard: the same rows, each shard's halves together.
    let parts = shards(&wd, &[input], 3, "jsonl", &["--order", "blocks"]);
    assert_eq!(sorted_lines(&parts.concat()), sorted_lines(&full));
}

#[test]
fn shards_of_parquet_files_take_row_groups() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = real(NOISE);
    // 1,000 rows in groups of 90 (12 row groups), and a second file of one group.
    pyarrow_parquet(&wd, &input, "a.parquet", 90);
    pyarrow_parquet(&wd, &input, "b.parquet", 1000);
    let run = wd.run(&[
        "relabel",
        "-q",
        "a.parquet",
        "b.parquet",
        "-o",
        "full.parquet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let full = py(&["rows", wd.path("full.parquet").to_str().unwrap()]);
    assert_eq!(rows(&full).len(), 4000);
    for n in [2, 5] {
        let parts = shards(&wd, &["a.parquet", "b.parquet"], n, "parquet", &[]);
        assert_eq!(parts.concat(), full, "{n} shards");
    }
}

#[test]
fn shards_of_many_files_of_every_kind_cover_each_row_once() {
    let wd = Workdir::new();
    let line = |i: u32| {
        format!(
            "{{\"prompt\": \"p{i}\", \"chosen\": \"a{i}\", \"rejected\": \"b{i}\", \"score_chosen\": {}, \"score_rejected\": 1}}\n",
            2 + i % 7
        )
    };
    let text = |range: std::ops::Range<u32>| range.map(line).collect::<String>();
    wd.write("a.jsonl", text(0..40));
    // A byte-order mark, and a last line without its newline.
    wd.write("b.jsonl", format!("\u{feff}{}", text(40..90).trim_end()));
    let array: Vec<String> = (90..100).map(|i| line(i).trim().to_string()).collect();
    wd.write("c.json", format!("[\n{}\n]\n", array.join(",\n")));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, text(100..130).as_bytes()).unwrap();
    wd.write("d.jsonl.gz", gz.finish().unwrap());
    wd.write("e.jsonl", "");
    wd.write("f.jsonl", text(130..131));
    let inputs = [
        "a.jsonl",
        "b.jsonl",
        "c.json",
        "d.jsonl.gz",
        "e.jsonl",
        "f.jsonl",
    ];
    let mut args = vec!["relabel", "-q"];
    args.extend_from_slice(&inputs);
    args.extend_from_slice(&["-o", "full.jsonl"]);
    let run = wd.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let full = wd.read("full.jsonl");
    assert_eq!(full.lines().count(), 262);
    for n in [1, 2, 3, 4, 9, 40, 300] {
        let parts = shards(&wd, &inputs, n, "jsonl", &[]);
        assert_eq!(parts.concat(), full, "{n} shards");
    }
}

#[test]
fn a_shard_names_lines_as_the_file_numbers_them() {
    let wd = Workdir::new();
    let good = "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\", \"score_chosen\": 2, \"score_rejected\": 1}\n";
    let bad = "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\", \"score_chosen\": \"x\", \"score_rejected\": 1}\n";
    wd.write(
        "in.jsonl",
        format!("{}{bad}{}", good.repeat(70), good.repeat(29)),
    );
    let codes: Vec<(i32, String)> = (0..4)
        .map(|i| {
            let run = wd.run(&[
                "relabel",
                "in.jsonl",
                "--shard",
                &format!("{i}/4"),
                "-o",
                "out.jsonl",
            ]);
            (run.code, run.stderr)
        })
        .collect();
    let failed: Vec<&(i32, String)> = codes.iter().filter(|(code, _)| *code != 0).collect();
    assert_eq!(failed.len(), 1, "{codes:?}");
    assert_eq!(failed[0].0, 1);
    assert_eq!(
        failed[0].1,
        "raug: error: in.jsonl:71: field \"score_chosen\": expected a number, got string \"x\"\n"
    );
}

#[test]
fn shard_mistakes_are_usage_errors() {
    let wd = Workdir::new();
    wd.write(
        "in.jsonl",
        "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\", \"score_chosen\": 2, \"score_rejected\": 1}\n",
    );
    std::fs::create_dir(wd.path("folder")).unwrap();
    wd.write("folder/in.jsonl", wd.read("in.jsonl"));
    for (args, message) in [
        (
            &["relabel", "in.jsonl", "--shard", "4/4"][..],
            "raug: error: --shard 4/4: I counts from 0, so it must be below 4 (0/4 .. 3/4)\n",
        ),
        (
            &["relabel", "in.jsonl", "--shard", "1-4"][..],
            "raug: error: --shard \"1-4\": write I/N, like 0/4 (shard I of N, I from 0)\n",
        ),
        (
            &["relabel", "folder", "--shard", "0/2", "-o", "out"][..],
            "raug: error: --shard 0/2 writes one file per shard, and a folder input is mirrored into a folder: name the folder's data files instead, e.g. 'data/train-*.parquet' -o part-0.parquet\n",
        ),
    ] {
        let run = wd.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, message, "{args:?}");
    }
    let run = wd.run_stdin(
        &["relabel", "--shard", "0/2"],
        wd.read("in.jsonl").as_bytes(),
    );
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: --shard splits files by their sizes, and <stdin> has none: pass files\n"
    );
}

/// JSON to Parquet: every shard takes the schema from the dataset's first rows, as the whole run
/// does, so the parts agree (a later shard's first row holds `null` where the first row holds a
/// string), and a shard without rows still writes the schema.
#[test]
fn parquet_parts_of_json_input_share_the_whole_runs_schema() {
    let wd = Workdir::new();
    let row = |i: u32, note: &str| {
        format!("{{\"prompt\": \"p{i}\", \"chosen\": \"a\", \"rejected\": \"b\", \"note\": {note}, \"score_chosen\": 2, \"score_rejected\": 1}}\n")
    };
    let mut text = row(0, "\"first\"");
    for i in 1..40 {
        text.push_str(&row(i, "null"));
    }
    wd.write("in.jsonl", text);
    let run = wd.run(&["relabel", "-q", "in.jsonl", "-o", "full.parquet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let schema = |file: &str| {
        let info = py(&["info", wd.path(file).to_str().unwrap()]);
        info.split("codec:").next().unwrap().to_string()
    };
    let whole = schema("full.parquet");
    assert!(whole.contains("note: string"), "{whole}");
    let full = py(&["rows", wd.path("full.parquet").to_str().unwrap()]);
    let parts = shards(&wd, &["in.jsonl"], 60, "parquet", &[]);
    assert_eq!(parts.concat(), full);
    assert!(parts.iter().any(String::is_empty));
    for i in 0..60 {
        assert_eq!(schema(&format!("part-{i}.parquet")), whole, "part {i}");
    }
}
