//! Preference data with two unordered responses and a field saying which wins: each row becomes a
//! chosen/rejected row (the winner first), then is relabeled as any other, from JSON Lines and
//! from Parquet, as the model of the method says.

use serde_json::{json, Value};

use crate::harness::*;

/// Where the scores of a winner row come from.
#[derive(Clone, Copy)]
enum Scores {
    /// `--fixed-scores HI,LO`: the winner HI, the loser LO, a tie the midpoint.
    Fixed(f64, f64),
    /// `--a-score A --b-score B`.
    Read(&'static str, &'static str),
}

/// The model of the winner step: the row with `chosen` (the winner) in `a`'s place and
/// `rejected` in `b`'s; scores read follow their responses as score_chosen/score_rejected,
/// scores given are added at the end. `b_wins`: `None` for a tie.
fn as_chosen_rejected(
    row: &Value,
    a: &str,
    b: &str,
    b_wins: Option<bool>,
    scores: Scores,
) -> Value {
    let swap = b_wins == Some(true);
    let old = row.as_object().unwrap();
    let pick = |x: &str, y: &str| if swap { old[y].clone() } else { old[x].clone() };
    let mut out = serde_json::Map::new();
    for (key, value) in old {
        let renamed = match scores {
            Scores::Read(sa, sb) if key == sa => Some(("score_chosen", pick(sa, sb))),
            Scores::Read(sa, sb) if key == sb => Some(("score_rejected", pick(sb, sa))),
            _ if key == a => Some(("chosen", pick(a, b))),
            _ if key == b => Some(("rejected", pick(b, a))),
            _ => None,
        };
        match renamed {
            Some((name, value)) => out.insert(name.to_string(), value),
            None => out.insert(key.clone(), value.clone()),
        };
    }
    if let Scores::Fixed(hi, lo) = scores {
        let (c, r) = match b_wins {
            None => ((hi + lo) / 2.0, (hi + lo) / 2.0),
            Some(_) => (hi, lo),
        };
        out.insert("score_chosen".into(), json!(c));
        out.insert("score_rejected".into(), json!(r));
    }
    Value::Object(out)
}

/// Every number as a float: JSON writes a given score 10 as `10`, a float64 column as `10.0`.
fn floats(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().map(floats).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), floats(v))).collect())
        }
        other => other.clone(),
    }
}

fn assert_same(actual: &[Value], expected: &[Value]) {
    let all = |rows: &[Value]| rows.iter().map(floats).collect::<Vec<_>>();
    assert_rows_eq(&all(actual), &all(expected));
}

/// A public dataset's shape, the flags the README gives for it, and rows the test writes:
/// (row, b wins? None for a tie).
struct Case {
    name: &'static str,
    flags: Vec<&'static str>,
    a: &'static str,
    b: &'static str,
    scores: Scores,
    rows: Vec<(Value, Option<bool>)>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "auto-j",
            flags: vec![
                "--a",
                "response 1",
                "--b",
                "response 2",
                "--a-wins-when",
                "label=0",
                "--b-wins-when",
                "label=1",
                "--fixed-scores",
                "10,1",
            ],
            a: "response 1",
            b: "response 2",
            scores: Scores::Fixed(10.0, 1.0),
            rows: vec![
                (
                    json!({"prompt": "Name a prime.", "response 1": "7", "response 2": "8", "label": 0}),
                    Some(false),
                ),
                (
                    json!({"prompt": "Name an even prime.", "response 1": "4", "response 2": "2", "label": 1}),
                    Some(true),
                ),
                (
                    json!({"prompt": "Name a prime.", "response 1": "3", "response 2": "5", "label": 2}),
                    None,
                ),
            ],
        },
        Case {
            name: "HelpSteer3",
            flags: vec![
                "--a",
                "response1",
                "--b",
                "response2",
                "--a-wins-when",
                "overall_preference<0",
                "--b-wins-when",
                "overall_preference>0",
                "--fixed-scores",
                "10,1",
            ],
            a: "response1",
            b: "response2",
            scores: Scores::Fixed(10.0, 1.0),
            rows: vec![
                (
                    json!({"domain": "general", "prompt": "Name a prime.", "response1": "7", "response2": "8",
                        "overall_preference": -2}),
                    Some(false),
                ),
                (
                    json!({"domain": "general", "prompt": "Name a prime.", "response1": "9", "response2": "11",
                        "overall_preference": 1}),
                    Some(true),
                ),
                (
                    json!({"domain": "code", "prompt": "Name a prime.", "response1": "2", "response2": "3",
                        "overall_preference": 0}),
                    None,
                ),
            ],
        },
        Case {
            name: "PKU-SafeRLHF, responses detected, scores read",
            flags: vec![
                "--a-wins-when",
                "better_response_id=0",
                "--b-wins-when",
                "better_response_id=1",
                "--a-score",
                "response_0_score",
                "--b-score",
                "response_1_score",
            ],
            a: "response_0",
            b: "response_1",
            scores: Scores::Read("response_0_score", "response_1_score"),
            rows: vec![
                (
                    json!({"prompt": "Name a prime.", "response_0": "7", "response_1": "8",
                        "response_0_score": 9, "response_1_score": 3.5, "better_response_id": 0}),
                    Some(false),
                ),
                (
                    json!({"prompt": "Name a prime.", "response_0": "9", "response_1": "11",
                        "response_0_score": 2.5, "response_1_score": 8.5, "better_response_id": 1}),
                    Some(true),
                ),
            ],
        },
        Case {
            name: "Chatbot Arena, responses detected",
            flags: vec![
                "--a-wins-when",
                "winner_model_a=1",
                "--b-wins-when",
                "winner_model_b=1",
                "--fixed-scores",
                "10,1",
                "--ties",
                "drop",
            ],
            a: "response_a",
            b: "response_b",
            scores: Scores::Fixed(10.0, 1.0),
            rows: vec![
                (
                    json!({"id": 1, "model_a": "x", "model_b": "y", "prompt": "Name a prime.",
                        "response_a": "7", "response_b": "8", "winner_model_a": 1,
                        "winner_model_b": 0, "winner_tie": 0}),
                    Some(false),
                ),
                (
                    json!({"id": 2, "model_a": "x", "model_b": "y", "prompt": "Name a prime.",
                        "response_a": "2", "response_b": "3", "winner_model_a": 0,
                        "winner_model_b": 0, "winner_tie": 1}),
                    None,
                ),
                (
                    json!({"id": 3, "model_a": "y", "model_b": "x", "prompt": "Name a prime.",
                        "response_a": "9", "response_b": "11", "winner_model_a": 0,
                        "winner_model_b": 1, "winner_tie": 0}),
                    Some(true),
                ),
            ],
        },
    ]
}

#[test]
fn winner_fields_of_public_datasets_become_chosen_and_rejected_then_relabeled() {
    for case in cases() {
        let wd = Workdir::new();
        let text: String = case.rows.iter().map(|(r, _)| format!("{r}\n")).collect();
        jsonl_and_parquet(&wd, "in", &text);
        let model = Model::standard();
        let drop_ties = case.flags.contains(&"drop");
        let expected: Vec<Value> = case
            .rows
            .iter()
            .filter(|(_, wins)| !(drop_ties && wins.is_none()))
            .flat_map(|(row, wins)| {
                model.relabel(&as_chosen_rejected(row, case.a, case.b, *wins, case.scores))
            })
            .collect();
        let mut args = vec!["relabel", "in.jsonl", "-q"];
        args.extend(&case.flags);
        let run = wd.run(&args);
        assert_eq!(run.code, 0, "{}: {}", case.name, run.stderr);
        assert_same(&rows(&run.stdout), &expected);

        let mut args = vec!["relabel", "in.parquet", "-o", "out.parquet", "-q"];
        args.extend(&case.flags);
        let run = wd.run(&args);
        assert_eq!(run.code, 0, "{}: {}", case.name, run.stderr);
        assert_same(&parquet_file_rows(&wd, "out.parquet"), &expected);

        // inspect names what it found.
        let mut args = vec!["inspect", "in.parquet"];
        args.extend(
            case.flags
                .iter()
                .filter(|f| !["--ties", "drop"].contains(f)),
        );
        let run = wd.run(&args);
        assert_eq!(run.code, 0, "{}: {}", case.name, run.stderr);
        assert!(
            run.stdout.contains(&format!("winner {} (", case.a)),
            "{}: {}",
            case.name,
            run.stdout
        );
    }
}

#[test]
fn helpsteer3_as_published_takes_the_goal_in_its_context() {
    // nvidia/HelpSteer3: no `prompt`; the conversation so far is the `context` message list and
    // the two candidate next turns are strings. The goal goes into the context (a system
    // message), never into the responses as if they were full texts.
    let wd = Workdir::new();
    let user = |t: &str| json!({"role": "user", "content": t});
    let assistant = |t: &str| json!({"role": "assistant", "content": t});
    let rows = [
        (
            json!({"domain": "stem", "language": "english",
                   "context": [user("Name a prime."), assistant("7"), user("Another?")],
                   "response1": "11", "response2": "12", "overall_preference": -2}),
            Some(false),
        ),
        (
            json!({"domain": "code", "language": "english", "context": [user("Say hi.")],
                   "response1": "bye", "response2": "hi", "overall_preference": 3}),
            Some(true),
        ),
    ];
    let text: String = rows.iter().map(|(r, _)| format!("{r}\n")).collect();
    jsonl_and_parquet(&wd, "in", &text);
    let model = Model {
        site: Site::PromptList,
        prefix: false,
        chosen_score: "score_chosen",
        rejected_score: "score_rejected",
    };
    let scores = Scores::Fixed(10.0, 1.0);
    let expected: Vec<Value> = rows
        .iter()
        .flat_map(|(row, wins)| {
            let made = as_chosen_rejected(row, "response1", "response2", *wins, scores);
            model.relabel_fields(&made, ["context", "chosen", "rejected"])
        })
        .collect();
    // The README's flags, as the case of HelpSteer3 with a prompt string uses them.
    let flags = cases()
        .into_iter()
        .find(|c| c.name == "HelpSteer3")
        .unwrap()
        .flags;
    let run = wd.run(&[&["relabel", "in.jsonl", "-q"][..], &flags].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&crate::harness::rows(&run.stdout), &expected);
    let args = [
        &["relabel", "in.parquet", "-o", "out.parquet", "-q"][..],
        &flags,
    ]
    .concat();
    let run = wd.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&parquet_file_rows(&wd, "out.parquet"), &expected);
    let run = wd.run(&[&["inspect", "in.jsonl"][..], &flags].concat());
    assert!(
        run.stdout
            .contains("detected  layout conversation prompt with string responses, scores score_chosen/score_rejected, style system, winner response1"),
        "{}",
        run.stdout
    );
    // At evaluation, `condition` finds the context too: the top score as its system message.
    let conditioned: Vec<Value> = rows
        .iter()
        .map(|(row, _)| {
            let mut row = row.clone();
            let context = row["context"].as_array_mut().unwrap();
            context.insert(0, json!({"role": "system", "content": goal(10.0)}));
            row
        })
        .collect();
    for input in ["in.jsonl", "in.parquet"] {
        let run = wd.run(&["condition", input, "-q", "--output-format", "jsonl"]);
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
        assert_same(&crate::harness::rows(&run.stdout), &conditioned);
    }
}

#[test]
fn a_winner_row_is_written_as_trl_too() {
    let wd = Workdir::new();
    let user = json!({"content": "Name a prime.", "role": "user"});
    let answer = |t: &str| json!({"content": t, "role": "assistant"});
    let row = json!({"response_a": [user, answer("8")], "response_b": [user, answer("7")],
                     "winner": "model_b"});
    jsonl_and_parquet(&wd, "in", format!("{row}\n"));
    let flags = [
        "--a-wins-when",
        "winner=model_a",
        "--b-wins-when",
        "winner=model_b",
        "--fixed-scores",
        "10,1",
        "--to",
        "trl",
    ];
    let model = Model {
        site: Site::PromptList,
        prefix: false,
        chosen_score: "score_chosen",
        rejected_score: "score_rejected",
    };
    let made = as_chosen_rejected(
        &row,
        "response_a",
        "response_b",
        Some(true),
        Scores::Fixed(10.0, 1.0),
    );
    let expected = model.relabel(&to_trl(&made, ["prompt", "chosen", "rejected"], None));
    let mut args = vec!["relabel", "in.jsonl", "-q"];
    args.extend(flags);
    let run = wd.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&rows(&run.stdout), &expected);
    let mut args = vec!["relabel", "in.parquet", "-o", "out.parquet", "-q"];
    args.extend(flags);
    let run = wd.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&parquet_file_rows(&wd, "out.parquet"), &expected);
}

#[test]
fn rows_the_winner_step_cant_read_are_bad_rows_named_by_their_input_field() {
    let wd = Workdir::new();
    let inputs = [
        json!({"prompt": "p", "response_a": "7", "response_b": "8", "a_won": true, "b_won": false}),
        json!({"prompt": "p", "response_a": "7", "response_b": "8", "a_won": true, "b_won": true}),
        json!({"prompt": "p", "response_a": "7", "response_b": "8", "a_won": null, "b_won": false}),
        json!({"prompt": "p", "response_a": "7", "response_b": "8", "a_won": "yes", "b_won": false}),
        json!({"prompt": "p", "response_a": "7", "response_b": 8, "a_won": false, "b_won": true}),
    ];
    let text: String = inputs.iter().map(|r| format!("{r}\n")).collect();
    wd.write("in.jsonl", &text);
    // Parquet's typed columns hold neither a string beside booleans nor a number beside strings.
    let typed: String = inputs[..3].iter().map(|r| format!("{r}\n")).collect();
    jsonl_and_parquet(&wd, "typed", &typed);
    let flags = [
        "--a-wins-when",
        "a_won=true",
        "--b-wins-when",
        "b_won=true",
        "--fixed-scores",
        "10,1",
    ];
    let expected = [
        (
            "two_winners",
            "b_won",
            "both a_won=true and b_won=true hold: which response wins?",
        ),
        (
            "missing_field",
            "a_won",
            "missing or null; it says which response wins (a_won=true)",
        ),
        (
            "wrong_type",
            "response_b",
            "expected a string (layout standard (explicit prompt)), got number 8",
        ),
    ];
    // JSON: each row alone stops the run with its message.
    for (i, row) in inputs.iter().enumerate().skip(1) {
        wd.write("one.jsonl", format!("{}\n{row}\n", inputs[0]));
        let mut args = vec!["relabel", "one.jsonl"];
        args.extend(flags);
        let run = wd.run(&args);
        assert_eq!(run.code, 1, "row {i}: {}", run.stdout);
        let message = match i {
            1 => format!("field \"{}\": {}", expected[0].1, expected[0].2),
            2 => format!("field \"{}\": {}", expected[1].1, expected[1].2),
            3 => "field \"a_won\": expected a boolean (a_won=true), got string \"yes\"".to_string(),
            _ => format!("field \"{}\": {}", expected[2].1, expected[2].2),
        };
        assert_eq!(run.stderr, format!("raug: error: one.jsonl:2: {message}\n"));
    }
    // Both representations skip the same rows for the same reasons.
    for (input, skipped) in [
        (
            "in.jsonl",
            json!({"missing_field": 1, "two_winners": 1, "wrong_type": 2}),
        ),
        ("typed.jsonl", json!({"missing_field": 1, "two_winners": 1})),
        (
            "typed.parquet",
            json!({"missing_field": 1, "two_winners": 1}),
        ),
    ] {
        let mut args = vec![
            "relabel",
            input,
            "-o",
            "out.jsonl",
            "--on-error",
            "skip",
            "--stats",
            "stats.json",
            "-q",
        ];
        args.extend(flags);
        let run = wd.run(&args);
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
        let stats: Value = serde_json::from_str(&wd.read("stats.json")).unwrap();
        assert_eq!(stats["skipped_by_reason"], skipped, "{input}");
        // The first row's two.
        assert_eq!(rows(&wd.read("out.jsonl")).len(), 2, "{input}");
    }
}

#[test]
fn winner_options_that_dont_fit_are_usage_errors() {
    let wd = Workdir::new();
    let row = json!({"prompt": "p", "answer_x": "7", "answer_y": "8", "label": 0});
    wd.write("in.jsonl", format!("{row}\n"));
    for (args, message) in [
        (&["--a-wins-when", "label=0", "--b-wins-when", "label=1", "--fixed-scores", "10,1"][..],
         "no pair of responses in the first row (looked for \"response_a\"/\"response_b\", \"response_0\"/\"response_1\", \"response1\"/\"response2\", \"response_1\"/\"response_2\", \"response 1\"/\"response 2\", \"completion_a\"/\"completion_b\"); name them with --a PATH --b PATH"),
        (&["--a", "answer_x", "--b", "answer_y", "--a-wins-when", "label=0", "--b-wins-when", "label=1"],
         "the responses need scores: --a-score PATH --b-score PATH read them, --fixed-scores HI,LO gives the winner HI and the loser LO"),
        (&["--a", "answer_x", "--b", "answer_y", "--a-wins-when", "verdict=0", "--b-wins-when", "label=1", "--fixed-scores", "10,1"],
         "no field \"verdict\" in the first row; name the field with --a-wins-when PATH"),
        (&["--a", "answer_x", "--b", "answer_y", "--a-wins-when", "label", "--b-wins-when", "label=1", "--fixed-scores", "10,1"],
         "--a-wins-when \"label\": write PATH=V1,V2,... or PATH<N (or >, <=, >=)"),
        (&["--a", "answer_x", "--b", "answer_y", "--a-wins-when", "label<x", "--b-wins-when", "label=1", "--fixed-scores", "10,1"],
         "--a-wins-when \"label<x\": \"x\" is not a number"),
        (&["--a", "answer_x", "--b", "prompt", "--a-wins-when", "label=0", "--b-wins-when", "label=1", "--fixed-scores", "10,1", "--chosen", "answer_x"],
         "the responses and their scores are named by --a, --b, --a-score and --b-score: drop --chosen, --rejected, --chosen-score, --rejected-score and --attribute"),
    ] {
        let mut all = vec!["relabel", "in.jsonl"];
        all.extend_from_slice(args);
        let run = wd.run(&all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        let prefix = if message.starts_with("--a-wins-when") { "raug: error: " } else { "raug: error: in.jsonl:1: " };
        assert_eq!(run.stderr, format!("{prefix}{message}\n"), "{args:?}");
    }
    // Two responses a winner field orders, read without the winner options: the error says so.
    let row = json!({"context": [{"role": "user", "content": "p"}], "response1": "7",
                     "response2": "8", "overall_preference": 2});
    wd.write("hs3.jsonl", format!("{row}\n"));
    let run = wd.run(&["relabel", "hs3.jsonl"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: hs3.jsonl:1: no field \"chosen\" in the first row; name the field with \
         --chosen PATH, or, as the row holds two responses \"response1\" and \"response2\", say \
         when each wins with --a-wins-when COND --b-wins-when COND\n"
    );
}

/// Real data: the PKU-SafeRLHF sample with the README's flags, from JSON Lines and Parquet, as
/// the model says, row for row.
#[test]
fn the_real_pku_saferlhf_sample_becomes_chosen_and_rejected_rows() {
    if !real_data_present() {
        return;
    }
    let source = real("llm-thankfulness-claude__PKU-Alignment_PKU-SafeRLHF_sample.jsonl");
    let text = std::fs::read_to_string(&source).unwrap();
    let wd = Workdir::new();
    let parquet = pyarrow_parquet(&wd, &source, "pku.parquet", 200);
    let model = Model::standard();
    let expected: Vec<Value> = rows(&text)
        .iter()
        .flat_map(|row| {
            let b_wins = row["better_response_id"] == 1;
            let made = as_chosen_rejected(
                row,
                "response_0",
                "response_1",
                Some(b_wins),
                Scores::Fixed(10.0, 1.0),
            );
            model.relabel(&made)
        })
        .collect();
    assert_eq!(expected.len(), 1000);
    let flags = [
        "--a",
        "response_0",
        "--b",
        "response_1",
        "--a-wins-when",
        "better_response_id=0",
        "--b-wins-when",
        "better_response_id=1",
        "--fixed-scores",
        "10,1",
    ];
    for input in [source.to_str().unwrap(), parquet.to_str().unwrap()] {
        let mut args = vec!["relabel", input, "-o", "out.jsonl", "-q"];
        args.extend(flags);
        let run = wd.run(&args);
        assert_eq!(run.code, 0, "{input}: {}", run.stderr);
        assert_same(&rows(&wd.read("out.jsonl")), &expected);
    }
}
