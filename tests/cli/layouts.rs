//! The named layouts of the frameworks people train with: each detected from a row the test
//! writes, relabeled from JSON Lines and from Parquet as the model of the method says, named by
//! `inspect` and listed by `raug layouts`.

use serde_json::{json, Value};

use crate::harness::*;

/// A layout's name, its prompt/chosen/rejected fields, its score fields, and a row of it.
struct Case {
    name: &'static str,
    fields: [&'static str; 3],
    scores: (&'static str, &'static str),
    row: Value,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "alpaca",
            fields: ["instruction", "chosen", "rejected"],
            scores: ("chosen_avg_rating", "rejected_avg_rating"),
            row: json!({"instruction": "Name a prime.", "input": "below ten", "chosen": "7",
                        "rejected": "8", "chosen_avg_rating": 9, "rejected_avg_rating": 2}),
        },
        Case {
            name: "nemo",
            fields: ["prompt", "chosen_response", "rejected_response"],
            scores: ("chosen_reward", "rejected_reward"),
            row: json!({"prompt": "Name a prime.", "chosen_response": "7",
                        "rejected_response": "8", "chosen_reward": 9.5, "rejected_reward": 2.25}),
        },
        Case {
            name: "axolotl-intel",
            fields: ["question", "chosen", "rejected"],
            scores: ("score_chosen", "score_rejected"),
            row: json!({"system": "Be brief.", "question": "Name a prime.", "chosen": "7",
                        "rejected": "8", "score_chosen": 9, "score_rejected": 2}),
        },
        Case {
            name: "axolotl-argilla",
            fields: ["instruction", "chosen_response", "rejected_response"],
            scores: ("avg_fine_score_chosen", "avg_fine_score_rejected"),
            row: json!({"instruction": "Name a prime.", "chosen_response": "7",
                        "rejected_response": "8", "avg_fine_score_chosen": 4.5,
                        "avg_fine_score_rejected": 2.5, "chosen_model": "a", "rejected_model": "b"}),
        },
    ]
}

#[test]
fn each_named_layout_is_detected_and_relabeled_from_jsonl_and_parquet() {
    for case in cases() {
        let wd = Workdir::new();
        jsonl_and_parquet(&wd, "in", format!("{}\n", case.row));
        // Layouts whose trainers read a system prompt field take the goal there.
        let system =
            ["alpaca", "axolotl-intel"].contains(&case.name) && case.row.get("system").is_some();
        let model = Model {
            site: if system {
                Site::SystemField
            } else {
                Site::PromptText
            },
            prefix: true,
            chosen_score: case.scores.0,
            rejected_score: case.scores.1,
        };
        let expected = model.relabel_fields(&case.row, case.fields);

        let run = wd.run(&["relabel", "in.jsonl", "-q"]);
        assert_eq!(run.code, 0, "{}: {}", case.name, run.stderr);
        assert_rows_eq(&rows(&run.stdout), &expected);
        // Asked for by name, the same.
        let run = wd.run(&["relabel", "in.jsonl", "-q", "--layout", case.name]);
        assert_eq!(run.code, 0, "{}: {}", case.name, run.stderr);
        assert_rows_eq(&rows(&run.stdout), &expected);

        let run = wd.run(&["relabel", "in.parquet", "-o", "out.parquet", "-q"]);
        assert_eq!(run.code, 0, "{}: {}", case.name, run.stderr);
        assert_rows_eq(&parquet_file_rows(&wd, "out.parquet"), &expected);

        for input in ["in.jsonl", "in.parquet"] {
            let run = wd.run(&["inspect", input]);
            assert_eq!(run.code, 0, "{}: {}", case.name, run.stderr);
            let detected = run
                .stdout
                .lines()
                .find(|l| l.starts_with("detected"))
                .unwrap();
            let style = if system {
                "system (goal in system)"
            } else {
                "prefix"
            };
            assert!(
                detected.starts_with(&format!(
                    "detected  layout {}, scores {}/{}, style {style}",
                    case.name, case.scores.0, case.scores.1
                )),
                "{input}: {detected}"
            );
        }
    }
}

#[test]
fn a_layout_asked_for_must_be_the_rows_layout() {
    let wd = Workdir::new();
    wd.write("nemo.jsonl", format!("{}\n", cases()[1].row));
    let run = wd.run(&["relabel", "nemo.jsonl", "--layout", "alpaca"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: nemo.jsonl:1: the first row is not in the layout alpaca: it has no field \"instruction\"\n"
    );
    let h4 = json!({"prompt": "q", "chosen": [{"role": "user", "content": "q"}],
                    "rejected": [{"role": "user", "content": "q"}], "score_chosen": 8, "score_rejected": 2});
    wd.write("h4.jsonl", format!("{h4}\n"));
    let run = wd.run(&["relabel", "h4.jsonl", "--layout", "trl"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: h4.jsonl:1: the first row is not in the layout trl: its fields read as ultrafeedback_binarized\n"
    );
    // A row with a prompt is read by it, though it has an instruction and an input too.
    let row = json!({"prompt": "p", "instruction": "i", "input": "", "chosen": "A", "rejected": "B",
                     "score_chosen": 8, "score_rejected": 2});
    wd.write("both.jsonl", format!("{row}\n"));
    let run = wd.run(&["inspect", "both.jsonl"]);
    assert!(
        run.stdout
            .contains("detected  layout standard (explicit prompt),"),
        "{}",
        run.stdout
    );
}

#[test]
fn raug_layouts_lists_every_layout_with_the_flags_that_read_it() {
    let wd = Workdir::new();
    let run = wd.run(&["layouts"]);
    assert_eq!(run.code, 0);
    let names: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(' ') && !l.starts_with("--"))
        .collect();
    assert_eq!(
        run.stdout.lines().last(),
        Some("--to LAYOUT writes another layout than the input's: trl, sharegpt, openai")
    );
    assert_eq!(
        names,
        [
            "ultrafeedback_binarized",
            "trl",
            "nemo",
            "axolotl-argilla",
            "alpaca",
            "axolotl-intel",
            "sharegpt",
            "openai",
            "(detected, no name) a conversation with string responses",
        ]
    );
    let flags: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  same as: "))
        .collect();
    assert_eq!(
        flags,
        [
            "--chosen chosen_response --rejected rejected_response",
            "--prompt instruction --chosen chosen_response --rejected rejected_response",
            "--prompt instruction",
            "--prompt question",
        ]
    );
    // What the flags say is what the layout does: the alpaca row read with them.
    let case = &cases()[0];
    wd.write("in.jsonl", format!("{}\n", case.row));
    let by_name = wd.run(&["relabel", "in.jsonl", "-q", "--layout", "alpaca"]);
    let by_flags = wd.run(&["relabel", "in.jsonl", "-q", "--prompt", "instruction"]);
    assert_eq!(by_name.stdout, by_flags.stdout);
}

#[test]
fn fixed_scores_condition_on_preferred_versus_dispreferred() {
    let wd = Workdir::new();
    let row = json!({"chosen": "Human: hi Assistant: hello", "rejected": "Human: hi Assistant: go away",
                     "chosen_model": "a", "rejected_model": "b"});
    jsonl_and_parquet(&wd, "hh", format!("{row}\n"));
    let expected = [
        json!({"chosen": format!("{}\n\nHuman: hi Assistant: hello", goal(10.0)),
               "rejected": format!("{}\n\nHuman: hi Assistant: go away", goal(10.0)),
               "chosen_model": "a", "rejected_model": "b"}),
        json!({"chosen": format!("{}\n\nHuman: hi Assistant: go away", goal(1.0)),
               "rejected": format!("{}\n\nHuman: hi Assistant: hello", goal(1.0)),
               "chosen_model": "b", "rejected_model": "a"}),
    ];
    let run = wd.run(&["relabel", "hh.jsonl", "--fixed-scores", "10,1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_rows_eq(&rows(&run.stdout), &expected);
    let run = wd.run(&[
        "relabel",
        "hh.parquet",
        "-o",
        "out.parquet",
        "-q",
        "--fixed-scores",
        "10,1",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_rows_eq(&parquet_file_rows(&wd, "out.parquet"), &expected);
    let run = wd.run(&["inspect", "hh.parquet", "--fixed-scores", "10,1"]);
    assert!(
        run.stdout.contains("detected  layout standard (implicit prompt), scores fixed 10/1, style prefix, also swaps chosen_model/rejected_model"),
        "{}",
        run.stdout
    );
    // Without scores or --fixed-scores, the error says where scores were looked for.
    let run = wd.run(&["relabel", "hh.jsonl"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no score fields found"),
        "{}",
        run.stderr
    );

    for (args, message) in [
        (&["--fixed-scores", "1,10"][..], "--fixed-scores: HI must be above LO, got 1,10"),
        (&["--fixed-scores", "11,1"], "--fixed-scores: 11 is outside the goal's scale 1-10; give scores on it, or change --scale"),
        (&["--fixed-scores", "5,1", "--from-scale", "1-5"], "--fixed-scores: give them on the goal's scale: --from-scale maps scores read from fields"),
        (&["--fixed-scores", "5"], "--fixed-scores \"5\": write HI,LO, like 10,1"),
    ] {
        let mut all = vec!["relabel", "hh.jsonl"];
        all.extend_from_slice(args);
        let run = wd.run(&all);
        assert_eq!(run.code, 2, "{args:?}");
        assert_eq!(run.stderr, format!("raug: error: {message}\n"));
    }
}

/// The score fields a row of the cases has.
fn score_fields(row: &Value) -> (&'static str, &'static str) {
    [
        ("score_chosen", "score_rejected"),
        ("chosen_avg_rating", "rejected_avg_rating"),
        ("chosen_reward", "rejected_reward"),
        ("avg_fine_score_chosen", "avg_fine_score_rejected"),
    ]
    .into_iter()
    .find(|(c, _)| row.get(*c).is_some())
    .unwrap()
}

/// A layout's name, a row of it, its prompt/chosen/rejected fields, its input field (alpaca's)
/// and where the goal goes in its TRL form.
type TrlCase = (
    &'static str,
    Value,
    [&'static str; 3],
    Option<&'static str>,
    Site,
);

/// A row of each layout `--to trl` reads.
fn trl_cases() -> Vec<TrlCase> {
    let user = json!({"content": "Name a prime.", "role": "user"});
    let system = json!({"content": "Be brief.", "role": "system"});
    let answer = |text: &str| json!({"content": text, "role": "assistant"});
    let mut cases: Vec<_> = cases()
        .into_iter()
        .map(|c| {
            let input = (c.name == "alpaca").then_some("input");
            (c.name, c.row, c.fields, input, Site::PromptText)
        })
        .collect();
    cases.extend([
        (
            "ultrafeedback_binarized",
            json!({"prompt": "Name a prime.", "prompt_id": "p1",
                   "chosen": [user, answer("7")], "rejected": [user, answer("8")],
                   "messages": [user, answer("7")], "score_chosen": 9, "score_rejected": 2}),
            ["prompt", "chosen", "rejected"],
            None,
            Site::PromptList,
        ),
        (
            "conversational, explicit prompt",
            json!({"prompt": [user], "chosen": [answer("7")], "rejected": [answer("8")],
                   "score_chosen": 9, "score_rejected": 2}),
            ["prompt", "chosen", "rejected"],
            None,
            Site::PromptList,
        ),
        (
            "conversational, implicit prompt, system message, two turns",
            json!({"id": 3, "chosen": [system, user, answer("7"), user, answer("11")],
                   "rejected": [system, user, answer("7"), user, answer("12")],
                   "score_chosen": 9.5, "score_rejected": 2.5}),
            ["prompt", "chosen", "rejected"],
            None,
            Site::PromptList,
        ),
        (
            "alpaca with an empty input",
            json!({"instruction": "Name a prime.", "input": "", "chosen": "7", "rejected": "8",
                   "chosen_avg_rating": 9, "rejected_avg_rating": 2}),
            ["instruction", "chosen", "rejected"],
            Some("input"),
            Site::PromptText,
        ),
        (
            "standard, implicit prompt",
            json!({"chosen": "Q: prime? A: 7", "rejected": "Q: prime? A: 8",
                   "score_chosen": 9, "score_rejected": 2}),
            ["prompt", "chosen", "rejected"],
            None,
            Site::ResponseTexts,
        ),
        (
            // HelpSteer3: the conversation so far in `context`, the next turns strings.
            "conversation with string responses",
            json!({"domain": "stem", "context": [system, user, answer("2"), user],
                   "chosen": "7", "rejected": "8", "score_chosen": 9, "score_rejected": 2}),
            ["context", "chosen", "rejected"],
            None,
            Site::PromptList,
        ),
    ]);
    cases
}

#[test]
fn every_layout_is_written_as_trl_from_jsonl_and_parquet() {
    for (name, row, fields, input, site) in trl_cases() {
        let wd = Workdir::new();
        jsonl_and_parquet(&wd, "in", format!("{row}\n"));
        let scores = score_fields(&row);
        let model = Model {
            site,
            prefix: false,
            chosen_score: scores.0,
            rejected_score: scores.1,
        };
        let expected = model.relabel(&to_trl(&row, fields, input));
        let goal_chosen = |order| vec!["--order", order, "--goals", "chosen"];
        assert_written_as(
            &wd,
            name,
            "trl",
            &expected,
            &[
                ("in.parquet", goal_chosen("interleaved"), &expected[..1]),
                ("in.parquet", goal_chosen("blocks"), &expected[..1]),
                ("in.jsonl", goal_chosen("interleaved"), &expected[..1]),
                ("in.parquet", vec![], &expected),
            ],
        );
    }
}

/// Runs `relabel --to TARGET` on `in.jsonl` to standard output, expecting `expected`, then each
/// (input, more options, expected rows) to `out.parquet`.
fn assert_written_as(
    wd: &Workdir,
    name: &str,
    target: &str,
    expected: &[Value],
    runs: &[(&str, Vec<&str>, &[Value])],
) {
    let run = wd.run(&["relabel", "in.jsonl", "-q", "--to", target]);
    assert_eq!(run.code, 0, "{target} {name}: {}", run.stderr);
    assert_rows_eq(&rows(&run.stdout), expected);
    for (input, options, expected) in runs {
        let args = [
            &["relabel", input, "-o", "out.parquet", "-q", "--to", target][..],
            options,
        ]
        .concat();
        let run = wd.run(&args);
        assert_eq!(run.code, 0, "{target} {name}: {options:?}: {}", run.stderr);
        assert_rows_eq(&parquet_file_rows(wd, "out.parquet"), expected);
    }
}

#[test]
fn rows_that_cant_be_written_as_trl_are_bad_rows_named_by_their_input_field() {
    let wd = Workdir::new();
    let user = |q: &str| json!({"role": "user", "content": q});
    let answer = json!({"role": "assistant", "content": "A"});
    let good = json!({"chosen": [user("q"), answer], "rejected": [user("q"), answer],
                      "score_chosen": 8, "score_rejected": 2});
    let unshared = json!({"chosen": [user("q"), answer], "rejected": [user("r"), answer],
                          "score_chosen": 8, "score_rejected": 2});
    let text = json!({"chosen": "A", "rejected": [user("q"), answer],
                      "score_chosen": 8, "score_rejected": 2});
    jsonl_and_parquet(&wd, "in", format!("{good}\n{unshared}\n"));
    let message = "field \"chosen\": shares no leading message with \"rejected\", so no prompt can be split off them (--to)";
    let run = wd.run(&["relabel", "in.jsonl", "--to", "trl"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, format!("raug: error: in.jsonl:2: {message}\n"));
    let run = wd.run(&["relabel", "in.parquet", "-o", "out.parquet", "--to", "trl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!("raug: error: in.parquet: row 1: {message}\n")
    );
    wd.write("text.jsonl", format!("{good}\n{text}\n"));
    let run = wd.run(&["relabel", "text.jsonl", "--to", "trl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: text.jsonl:2: field \"chosen\": expected a message list (layout conversational (implicit prompt)), got a string\n"
    );
    // Renamed fields are named as the input has them.
    let nemo = json!({"prompt": "p", "chosen_response": 7, "rejected_response": "8",
                      "chosen_reward": 1, "rejected_reward": 0});
    wd.write("nemo.jsonl", format!("{}\n{nemo}\n", cases()[1].row));
    let run = wd.run(&["relabel", "nemo.jsonl", "--to", "trl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: nemo.jsonl:2: field \"chosen_response\": expected a string (layout standard (explicit prompt)), got number 7\n"
    );
    // A field the output needs is taken.
    let taken = json!({"prompt": "p", "chosen": "x", "chosen_response": "7", "rejected_response": "8",
                       "chosen_reward": 1, "rejected_reward": 0});
    wd.write("taken.jsonl", format!("{taken}\n"));
    let run = wd.run(&["relabel", "taken.jsonl", "--to", "trl", "--layout", "nemo"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: taken.jsonl:1: --to trl: the output would have two fields named \"chosen\"; rename the input's \"chosen\" first\n"
    );
}

#[test]
fn trl_data_helpers_load_to_trl_output_as_it_is() {
    let (_, h4, ..) = trl_cases()
        .into_iter()
        .find(|c| c.0 == "ultrafeedback_binarized")
        .unwrap();
    let nemo = &cases()[1].row;
    let expected = |conversational: bool, rows: [(String, &str, &str); 2]| -> Vec<Value> {
        rows.into_iter()
            .map(|(prompt, chosen, rejected)| {
                json!({"prompt": prompt, "chosen": chosen, "rejected": rejected,
                       "conversational": conversational})
            })
            .collect()
    };
    let chat = |score: f64| {
        format!(
            "<|system|>{}\n<|user|>Name a prime.\n<|assistant|>",
            goal(score)
        )
    };
    let prefixed = |score: f64| format!("{}\n\nName a prime.", goal(score));
    for (row, expected) in [
        (
            h4,
            expected(true, [(chat(9.0), "7\n", "8\n"), (chat(2.0), "8\n", "7\n")]),
        ),
        (
            nemo.clone(),
            expected(
                false,
                [(prefixed(9.5), "7", "8"), (prefixed(2.25), "8", "7")],
            ),
        ),
    ] {
        let wd = Workdir::new();
        jsonl_and_parquet(&wd, "in", format!("{row}\n"));
        for (input, output) in [("in.jsonl", "out.jsonl"), ("in.parquet", "out.parquet")] {
            let run = wd.run(&["relabel", input, "-o", output, "-q", "--to", "trl"]);
            assert_eq!(run.code, 0, "{input}: {}", run.stderr);
            let loaded: Vec<Value> = rows(&py(&["trl", wd.path(output).to_str().unwrap()]))
                .into_iter()
                .map(|r| {
                    json!({"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"],
                           "conversational": r["conversational"]})
                })
                .collect();
            assert_rows_eq(&loaded, &expected);
        }
    }
}

#[test]
fn every_layout_with_a_prompt_is_written_as_sharegpt_and_openai() {
    for target in ["sharegpt", "openai"] {
        for (name, row, fields, input, _) in trl_cases() {
            if name == "standard, implicit prompt" {
                continue;
            }
            let wd = Workdir::new();
            jsonl_and_parquet(&wd, "in", format!("{row}\n"));
            let scores = score_fields(&row);
            let model = Model {
                site: Site::PromptList,
                prefix: false,
                chosen_score: scores.0,
                rejected_score: scores.1,
            };
            let expected: Vec<Value> = model
                .relabel(&to_canonical(&row, fields, input, true))
                .iter()
                .map(|r| emit(r, target))
                .collect();
            // One pair: both orders are the same two rows.
            let order = |order| vec!["--order", order];
            assert_written_as(
                &wd,
                name,
                target,
                &expected,
                &[
                    ("in.parquet", order("interleaved"), &expected),
                    ("in.parquet", order("blocks"), &expected),
                    ("in.jsonl", order("blocks"), &expected),
                ],
            );
        }
    }
}

#[test]
fn rows_sharegpt_and_openai_cant_hold_are_bad_rows() {
    let wd = Workdir::new();
    let user = |q: &str| json!({"role": "user", "content": q});
    let answer = |a: &str| json!({"role": "assistant", "content": a});
    let one = json!({"chosen": [user("q"), answer("A")], "rejected": [user("q"), answer("B")],
                     "score_chosen": 8, "score_rejected": 2});
    let turns = json!({"chosen": [user("q"), answer("A"), user("more"), answer("A2")],
                       "rejected": [user("q"), answer("B"), user("more"), answer("B2")],
                       "score_chosen": 8, "score_rejected": 2});
    jsonl_and_parquet(&wd, "in", format!("{one}\n{turns}\n"));
    let message =
        "field \"chosen\": has 3 messages; ShareGPT holds one response message (--to sharegpt)";
    let run = wd.run(&["relabel", "in.jsonl", "--to", "sharegpt"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, format!("raug: error: in.jsonl:2: {message}\n"));
    let run = wd.run(&[
        "relabel",
        "in.parquet",
        "-o",
        "out.parquet",
        "--to",
        "sharegpt",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!("raug: error: in.parquet: row 1: {message}\n")
    );
    // OpenAI takes multi-turn responses.
    let run = wd.run(&[
        "relabel",
        "in.parquet",
        "-o",
        "out.parquet",
        "--to",
        "openai",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(parquet_file_rows(&wd, "out.parquet").len(), 4);
    // A layout without a prompt can't be written with one.
    let implicit =
        json!({"chosen": "Q A", "rejected": "Q B", "score_chosen": 2, "score_rejected": 1});
    wd.write("implicit.jsonl", format!("{implicit}\n"));
    let run = wd.run(&["relabel", "implicit.jsonl", "--to", "openai"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: implicit.jsonl:1: --to openai: it writes a prompt, and the layout standard (implicit prompt) has none (its responses are full texts)\n"
    );
}

/// A ShareGPT row as the rules read it: the `system` field the prompt's first message,
/// `conversations` the prompt, each response a one-message list, messages as role/content.
fn sharegpt_to_canonical(row: &Value) -> Value {
    let message = |m: &Value| sharegpt_message(m, false);
    let mut out = serde_json::Map::new();
    for (key, value) in row.as_object().unwrap() {
        match key.as_str() {
            "system" => {}
            "conversations" => {
                let mut list = Vec::new();
                if let Some(system) = row.get("system").filter(|s| *s != "") {
                    list.push(json!({"role": "system", "content": system}));
                }
                list.extend(value.as_array().unwrap().iter().map(message));
                out.insert("prompt".into(), Value::Array(list));
            }
            "chosen" | "rejected" => {
                out.insert(key.clone(), json!([message(value)]));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// An OpenAI row as the rules read it: `input.messages` the prompt (the rest of `input` after
/// it), `preferred_output` and `non_preferred_output` the responses.
fn openai_to_canonical(row: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (key, value) in row.as_object().unwrap() {
        match key.as_str() {
            "input" => {
                let mut rest = value.as_object().unwrap().clone();
                out.insert("prompt".into(), rest.shift_remove("messages").unwrap());
                if !rest.is_empty() {
                    out.insert("input".into(), Value::Object(rest));
                }
            }
            "preferred_output" => {
                out.insert("chosen".into(), value.clone());
            }
            "non_preferred_output" => {
                out.insert("rejected".into(), value.clone());
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

#[test]
fn sharegpt_and_openai_rows_are_detected_relabeled_and_written_back() {
    let human = |v: &str| json!({"from": "human", "value": v});
    let gpt = |v: &str| json!({"from": "gpt", "value": v});
    let user = |v: &str| json!({"role": "user", "content": v});
    let assistant = |v: &str| json!({"role": "assistant", "content": v});
    let cases = [
        (
            "sharegpt",
            vec![
                json!({"system": "Be brief.", "conversations": [human("Name a prime.")],
                       "chosen": gpt("7"), "rejected": gpt("8"), "score_chosen": 9.5, "score_rejected": 2.5}),
                json!({"system": "", "conversations": [human("Hi"), gpt("Hello"), human("Name a prime.")],
                       "chosen": gpt("11"), "rejected": gpt("9"), "score_chosen": 8.5, "score_rejected": 3.5}),
            ],
        ),
        (
            "openai",
            vec![
                json!({"input": {"messages": [user("Name a prime.")], "parallel_tool_calls": false},
                       "preferred_output": [assistant("7")], "non_preferred_output": [assistant("8")],
                       "score_chosen": 9.5, "score_rejected": 2.5}),
                json!({"input": {"messages": [user("Hi"), assistant("Hello"), user("Name a prime.")],
                                 "parallel_tool_calls": true},
                       "preferred_output": [assistant("11")], "non_preferred_output": [assistant("9")],
                       "score_chosen": 8.5, "score_rejected": 3.5}),
            ],
        ),
    ];
    let model = Model {
        site: Site::PromptList,
        prefix: false,
        chosen_score: "score_chosen",
        rejected_score: "score_rejected",
    };
    for (layout, rows_in) in cases {
        let wd = Workdir::new();
        let text: String = rows_in.iter().map(|r| format!("{r}\n")).collect();
        jsonl_and_parquet(&wd, "in", &text);
        let canonical: Vec<Value> = rows_in
            .iter()
            .map(|r| match layout {
                "sharegpt" => sharegpt_to_canonical(r),
                _ => openai_to_canonical(r),
            })
            .collect();
        for to in [None, Some("trl"), Some("sharegpt"), Some("openai")] {
            let expected: Vec<Value> = canonical
                .iter()
                .flat_map(|r| model.relabel(r))
                .map(|r| match to.unwrap_or(layout) {
                    "trl" => r,
                    target => emit(&r, target),
                })
                .collect();
            for (input, output) in [("in.jsonl", "out.jsonl"), ("in.parquet", "out.parquet")] {
                let mut args = vec!["relabel", input, "-o", output, "-q"];
                if let Some(to) = to {
                    args.extend(["--to", to]);
                }
                let run = wd.run(&args);
                assert_eq!(run.code, 0, "{layout} {to:?} {input}: {}", run.stderr);
                let got = match output {
                    "out.jsonl" => rows(&wd.read(output)),
                    _ => parquet_file_rows(&wd, output),
                };
                assert_rows_eq(&got, &expected);
            }
        }
        let run = wd.run(&["inspect", "in.parquet"]);
        assert!(
            run.stdout.contains(&format!(
                "detected  layout {layout}, scores score_chosen/score_rejected, style system\n"
            )),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn sharegpt_rows_that_cant_be_read_are_bad_rows_named_by_their_field() {
    let wd = Workdir::new();
    let good = json!({"conversations": [{"from": "human", "value": "q"}], "chosen": {"from": "gpt", "value": "A"},
                      "rejected": {"from": "gpt", "value": "B"}, "score_chosen": 9, "score_rejected": 2});
    for (row, message) in [
        (
            json!({"conversations": [{"value": "q"}], "chosen": {"from": "gpt", "value": "A"},
                "rejected": {"from": "gpt", "value": "B"}, "score_chosen": 9, "score_rejected": 2}),
            "field \"conversations\": message 0 has no \"from\"",
        ),
        (
            json!({"conversations": [{"from": "human", "value": "q"}], "chosen": {"value": "A"},
                "rejected": {"from": "gpt", "value": "B"}, "score_chosen": 9, "score_rejected": 2}),
            "field \"chosen\": has no \"from\"",
        ),
        (
            json!({"conversations": [], "chosen": {"from": "gpt", "value": "A"},
                "rejected": {"from": "gpt", "value": "B"}, "score_chosen": 9, "score_rejected": 2}),
            "field \"conversations\": empty message list",
        ),
    ] {
        jsonl_and_parquet(&wd, "in", format!("{good}\n{row}\n"));
        let run = wd.run(&["relabel", "in.jsonl", "-o", "out.jsonl"]);
        assert_eq!(run.code, 1, "{row}");
        assert_eq!(run.stderr, format!("raug: error: in.jsonl:2: {message}\n"));
        let run = wd.run(&["relabel", "in.parquet", "-o", "out.parquet"]);
        assert_eq!(run.code, 1, "{row}");
        assert_eq!(
            run.stderr,
            format!("raug: error: in.parquet: row 1: {message}\n")
        );
    }
}

#[test]
fn the_goal_goes_into_a_system_prompt_field_the_layout_reads() {
    let wd = Workdir::new();
    // Every row the first row's field, the others too: a text, none, null, empty.
    let rows_in = [
        json!({"system": "Be brief.", "instruction": "Add", "input": "1+1", "chosen": "2", "rejected": "3",
               "chosen_avg_rating": 9.0, "rejected_avg_rating": 2.0}),
        json!({"system": "", "instruction": "Add", "input": "1+2", "chosen": "3", "rejected": "4",
               "chosen_avg_rating": 8.0, "rejected_avg_rating": 2.5}),
        json!({"system": null, "instruction": "Add", "input": "1+3", "chosen": "4", "rejected": "5",
               "chosen_avg_rating": 7.0, "rejected_avg_rating": 2.0}),
    ];
    let text: String = rows_in.iter().map(|r| format!("{r}\n")).collect();
    jsonl_and_parquet(&wd, "in", &text);
    let model = Model {
        site: Site::SystemField,
        prefix: true,
        chosen_score: "chosen_avg_rating",
        rejected_score: "rejected_avg_rating",
    };
    let expected: Vec<Value> = rows_in
        .iter()
        .flat_map(|r| model.relabel_fields(r, ["instruction", "chosen", "rejected"]))
        .collect();
    let run = wd.run(&["relabel", "in.jsonl", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_rows_eq(&rows(&run.stdout), &expected);
    for order in ["interleaved", "blocks"] {
        let run = wd.run(&[
            "relabel",
            "in.parquet",
            "-o",
            "out.parquet",
            "-q",
            "--order",
            order,
            "--goals",
            "chosen",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let chosen: Vec<Value> = expected.iter().step_by(2).cloned().collect();
        assert_rows_eq(&parquet_file_rows(&wd, "out.parquet"), &chosen);
    }
    // A row without the field gets it, last.
    let bare = json!({"instruction": "Add", "input": "1+4", "chosen": "5", "rejected": "6",
                      "chosen_avg_rating": 6.0, "rejected_avg_rating": 2.0});
    wd.write("bare.jsonl", format!("{}\n{bare}\n", rows_in[0]));
    let run = wd.run(&["relabel", "bare.jsonl", "-q", "--goals", "chosen"]);
    let mut with_system = bare.clone();
    with_system["system"] = json!(goal(6.0));
    assert_rows_eq(&rows(&run.stdout)[1..], &[with_system]);
    // --style prefix puts it before the instruction instead.
    let run = wd.run(&[
        "relabel", "in.jsonl", "-q", "--style", "prefix", "--goals", "chosen",
    ]);
    let mut prefixed = rows_in[0].clone();
    prefixed["instruction"] = json!(format!("{}\n\nAdd", goal(9.0)));
    assert_rows_eq(&rows(&run.stdout)[..1], &[prefixed]);
    // A row relabeled before is a bad row.
    let run = wd.run(&["relabel", "in.jsonl", "-q", "-o", "once.jsonl"]);
    assert_eq!(run.code, 0);
    let run = wd.run(&["relabel", "once.jsonl"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: once.jsonl:1: field \"system\": already begins with the goal text (relabeled before?); --force relabels it again\n"
    );
}

#[test]
fn multimodal_content_parts_take_the_goal_in_their_own_shape() {
    let image = json!({"type": "image", "text": null});
    let text = |t: &str| json!({"type": "text", "text": t});
    let user = json!({"role": "user", "content": [image, text("What is shown?")]});
    let answer = |t: &str| json!({"role": "assistant", "content": [text(t)]});
    let system = json!({"role": "system", "content": [text("Look closely.")]});
    let cases = [
        (
            "prompt list",
            json!({"images": ["a.png"], "prompt": [user], "chosen": [answer("A cat.")],
                   "rejected": [answer("A dog.")], "score_chosen": 9.0, "score_rejected": 2.0}),
            Site::PromptList,
        ),
        (
            "prompt list with a system message",
            json!({"prompt": [system, user], "chosen": [answer("A cat.")],
                   "rejected": [answer("A dog.")], "score_chosen": 9.0, "score_rejected": 2.0}),
            Site::PromptList,
        ),
        (
            "full conversations",
            json!({"chosen": [user, answer("A cat.")], "rejected": [user, answer("A dog.")],
                   "score_chosen": 9.0, "score_rejected": 2.0}),
            Site::ResponseLists,
        ),
    ];
    for (name, row, site) in cases {
        let wd = Workdir::new();
        jsonl_and_parquet(&wd, "in", format!("{row}\n"));
        for style in ["system", "prefix"] {
            let model = Model {
                site,
                prefix: style == "prefix",
                chosen_score: "score_chosen",
                rejected_score: "score_rejected",
            };
            let expected = model.relabel(&row);
            let run = wd.run(&["relabel", "in.jsonl", "-q", "--style", style]);
            assert_eq!(run.code, 0, "{name} {style}: {}", run.stderr);
            assert_rows_eq(&rows(&run.stdout), &expected);
            let run = wd.run(&[
                "relabel",
                "in.parquet",
                "-o",
                "out.parquet",
                "-q",
                "--style",
                style,
            ]);
            assert_eq!(run.code, 0, "{name} {style}: {}", run.stderr);
            assert_rows_eq(&parquet_file_rows(&wd, "out.parquet"), &expected);
            // Relabeled once, a row is recognized in either format.
            for (out, again) in [
                ("out.jsonl", "again.jsonl"),
                ("out.parquet", "again.parquet"),
            ] {
                let run = wd.run(&["relabel", "in.parquet", "-o", out, "-q", "--style", style]);
                assert_eq!(run.code, 0);
                let run = wd.run(&["relabel", out, "-o", again, "--style", style]);
                assert_eq!(run.code, 1, "{name} {style} {out}");
                assert!(
                    run.stderr.contains("already begins with the goal text"),
                    "{}",
                    run.stderr
                );
            }
        }
    }
    // A first message without text: nowhere to put the goal in front of.
    let wd = Workdir::new();
    let only_image = json!({"prompt": [{"role": "user", "content": [image]}], "chosen": [answer("A cat.")],
                            "rejected": [answer("A dog.")], "score_chosen": 9.0, "score_rejected": 2.0});
    jsonl_and_parquet(&wd, "in", format!("{only_image}\n"));
    let message = "field \"prompt\": message 0 has neither string \"content\" nor a text part; the goal can only be put in front of text";
    let run = wd.run(&["relabel", "in.jsonl", "--style", "prefix"]);
    assert_eq!(run.stderr, format!("raug: error: in.jsonl:1: {message}\n"));
    let run = wd.run(&[
        "relabel",
        "in.parquet",
        "-o",
        "out.parquet",
        "--style",
        "prefix",
    ]);
    assert_eq!(
        run.stderr,
        format!("raug: error: in.parquet: row 0: {message}\n")
    );
}
