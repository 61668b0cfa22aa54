//! The rest of the method: pairs from scored responses, multi-attribute goals, scales, eval-time
//! goals and inspect, on the real HelpSteer and StackExchange samples and hand-made data.

use std::fs;

use serde_json::{json, Map, Value};

use crate::harness::*;

const HELPSTEER: &str = "llm-thankfulness-claude__nvidia_HelpSteer_sample.jsonl";
const STACK: &str =
    "llm-thankfulness-claude__HuggingFaceH4_stack-exchange-preferences_sample.jsonl";
const ATTRIBUTES: [&str; 5] = [
    "helpfulness",
    "correctness",
    "coherence",
    "complexity",
    "verbosity",
];

fn first_max(scores: &[f64]) -> usize {
    (0..scores.len()).fold(0, |a, b| if scores[b] > scores[a] { b } else { a })
}

fn first_min(scores: &[f64]) -> usize {
    (0..scores.len()).fold(0, |a, b| if scores[b] < scores[a] { b } else { a })
}

/// The pairs model: a row from chosen/rejected response objects and their numeric fields.
fn pair(prompt: &Value, c: &Value, r: &Value, score: &str, text: &str, skip: &[&str]) -> Value {
    let mut row = Map::new();
    row.insert("prompt".into(), prompt.clone());
    row.insert("chosen".into(), c[text].clone());
    row.insert("rejected".into(), r[text].clone());
    // Scores as the input writes them (an integer stays one), as Parquet keeps the column type.
    assert!(c[score].is_number() && r[score].is_number());
    row.insert("score_chosen".into(), c[score].clone());
    row.insert("score_rejected".into(), r[score].clone());
    for (k, v) in c.as_object().unwrap() {
        if v.is_number() && !skip.contains(&k.as_str()) {
            row.insert(format!("{k}_chosen"), v.clone());
            row.insert(format!("{k}_rejected"), r[k].clone());
        }
    }
    Value::Object(row)
}

/// HelpSteer grouped by prompt, in order of first appearance.
fn helpsteer_groups() -> Vec<(Value, Vec<Value>)> {
    let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
    for row in rows(&fs::read_to_string(real(HELPSTEER)).unwrap()) {
        match groups.iter_mut().find(|(p, _)| *p == row["prompt"]) {
            Some((_, list)) => list.push(row),
            None => groups.push((row["prompt"].clone(), vec![row])),
        }
    }
    groups
}

fn helpsteer_pairs_model() -> Vec<Value> {
    let mut expected = Vec::new();
    for (prompt, responses) in helpsteer_groups() {
        let scores: Vec<f64> = responses
            .iter()
            .map(|r| r["helpfulness"].as_f64().unwrap())
            .collect();
        let (best, worst) = (first_max(&scores), first_min(&scores));
        if responses.len() >= 2 && scores[best] != scores[worst] {
            expected.push(pair(
                &prompt,
                &responses[best],
                &responses[worst],
                "helpfulness",
                "response",
                &["prompt"],
            ));
        }
    }
    expected
}

#[test]
fn real_helpsteer_flat_pairs_best_worst() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let run = wd.run(&[
        "pairs",
        real(HELPSTEER).to_str().unwrap(),
        "--group-by",
        "prompt",
        "--text",
        "response",
        "--score",
        "helpfulness",
        "-o",
        "pairs.jsonl",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = helpsteer_pairs_model();
    assert_eq!(
        run.stderr,
        format!(
            "raug: 500 rows in, 139 prompts, {} pairs out, {} prompts without a pair (one response or all tied), 0 skipped\n",
            expected.len(),
            139 - expected.len()
        )
    );
    assert_rows_eq(&rows(&wd.read("pairs.jsonl")), &expected);
}

/// The multi-attribute goal as the paper's framework writes it, built independently.
fn attribute_goal(values: &[f64]) -> String {
    let lines: Vec<String> = ATTRIBUTES
        .iter()
        .zip(values)
        .map(|(a, v)| {
            let name = a[..1].to_uppercase() + &a[1..];
            format!("{name}: {}.", *v as i64)
        })
        .collect();
    format!(
        "You are an assistant that generates responses for the instruction while implicitly achieving the following target scores (on a scale of 0-4, where 0 is lowest and 4 is highest):\n{}",
        lines.join("\n")
    )
}

#[test]
fn real_helpsteer_pairs_then_five_attribute_relabel() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let pairs = helpsteer_pairs_model();
    let input: String = pairs.iter().map(|p| p.to_string() + "\n").collect();
    wd.write("pairs.jsonl", &input);
    let mut args = vec![
        "relabel",
        "pairs.jsonl",
        "--scale",
        "0-4",
        "-o",
        "out.jsonl",
    ];
    for a in ATTRIBUTES {
        args.extend(["--attribute", a]);
    }
    let run = wd.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut expected = Vec::new();
    for p in &pairs {
        for swap in [false, true] {
            let side = |s: &str| -> Vec<f64> {
                ATTRIBUTES
                    .iter()
                    .map(|a| p[format!("{a}_{s}")].as_f64().unwrap())
                    .collect()
            };
            let values = if swap {
                side("rejected")
            } else {
                side("chosen")
            };
            let mut row = p.clone();
            let prompt = format!(
                "{}\n\n{}",
                attribute_goal(&values),
                p["prompt"].as_str().unwrap()
            );
            row["prompt"] = json!(prompt);
            if swap {
                for (c, r) in ATTRIBUTES
                    .iter()
                    .map(|a| (format!("{a}_chosen"), format!("{a}_rejected")))
                    .chain([("chosen".to_string(), "rejected".to_string())])
                    .chain([("score_chosen".to_string(), "score_rejected".to_string())])
                {
                    let tmp = row[&c].clone();
                    row[&c] = row[&r].clone();
                    row[&r] = tmp;
                }
            }
            expected.push(row);
        }
    }
    assert_rows_eq(&rows(&wd.read("out.jsonl")), &expected);
}

/// `raug pairs` on the StackExchange sample: answers ranked by pm_score, plus `extra`.
fn stack_pairs(wd: &Workdir, extra: &[&str]) -> Run {
    let real = real(STACK);
    let mut args = vec![
        "pairs",
        real.to_str().unwrap(),
        "--prompt",
        "question",
        "--responses",
        "answers",
        "--text",
        "text",
        "--score",
        "pm_score",
    ];
    args.extend_from_slice(extra);
    wd.run(&args)
}

#[test]
fn real_stack_exchange_nested_pairs() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let questions = rows(&fs::read_to_string(real(STACK)).unwrap());
    for (strategy, gap) in [("best-worst", "0"), ("all", "2")] {
        let run = stack_pairs(&wd, &["--strategy", strategy, "--min-gap", gap, "-q"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let mut expected = Vec::new();
        for q in &questions {
            let answers = q["answers"].as_array().unwrap();
            let scores: Vec<f64> = answers
                .iter()
                .map(|a| a["pm_score"].as_f64().unwrap())
                .collect();
            let mk = |i: usize, j: usize| {
                let mut row = pair(
                    &q["question"],
                    &answers[i],
                    &answers[j],
                    "pm_score",
                    "text",
                    &[],
                );
                // The question's context comes along: every row field but the question and
                // its answers.
                for key in ["qid", "date", "metadata"] {
                    row[key] = q[key].clone();
                }
                row
            };
            if strategy == "best-worst" {
                let (b, w) = (first_max(&scores), first_min(&scores));
                if scores[b] != scores[w] {
                    expected.push(mk(b, w));
                }
            } else {
                for i in 0..answers.len() {
                    for j in 0..answers.len() {
                        if scores[i] - scores[j] >= 2.0 {
                            expected.push(mk(i, j));
                        }
                    }
                }
            }
        }
        assert!(expected.len() > 100, "{strategy}: {}", expected.len());
        assert_rows_eq(&rows(&run.stdout), &expected);
    }
    // Message lists make the ultrafeedback_binarized layout, which relabel detects.
    let run = stack_pairs(&wd, &["--messages", "-o", "msgs.jsonl", "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first = &rows(&wd.read("msgs.jsonl"))[0];
    assert_eq!(
        first["chosen"][0],
        json!({"content": questions[0]["question"], "role": "user"})
    );
    assert_eq!(first["chosen"][1]["role"], "assistant");
    let run = wd.run(&[
        "relabel",
        "msgs.jsonl",
        "--scale",
        "-1-7",
        "--attribute",
        "pm_score",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = rows(&run.stdout);
    assert_eq!(out[0]["chosen"][0]["role"], "system");
    assert!(out[0]["chosen"][0]["content"]
        .as_str()
        .unwrap()
        .ends_with(&format!(
            "(on a scale of -1-7, where -1 is lowest and 7 is highest):\nPm score: {}.",
            first["pm_score_chosen"]
        )));
}

#[test]
fn best_random_is_reproducible_and_always_takes_the_best() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let run = |seed: &str| {
        let run = wd.run(&[
            "pairs",
            real(HELPSTEER).to_str().unwrap(),
            "--group-by",
            "prompt",
            "--text",
            "response",
            "--score",
            "helpfulness",
            "--strategy",
            "best-random",
            "--seed",
            seed,
            "-q",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    };
    let (a, b, c) = (run("1"), run("1"), run("2"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let groups = helpsteer_groups();
    let out = rows(&a);
    // Every prompt with a score spread gets exactly one pair, whose chosen is a best response.
    let spread = groups
        .iter()
        .filter(|(_, r)| {
            let s: Vec<f64> = r
                .iter()
                .map(|x| x["helpfulness"].as_f64().unwrap())
                .collect();
            s.len() >= 2 && s[first_max(&s)] != s[first_min(&s)]
        })
        .count();
    assert_eq!(out.len(), spread);
    for row in &out {
        let (_, responses) = groups.iter().find(|(p, _)| *p == row["prompt"]).unwrap();
        let best = responses
            .iter()
            .map(|r| r["helpfulness"].as_f64().unwrap())
            .fold(f64::MIN, f64::max);
        assert_eq!(row["score_chosen"].as_f64().unwrap(), best);
        // (Texts may repeat: the sample has two responses "Sports" with different scores.)
        assert!(row["score_rejected"].as_f64().unwrap() <= best);
    }
}

#[test]
fn reward_model_scores_map_onto_the_goal_scale() {
    let wd = Workdir::new();
    wd.write(
        "rm.jsonl",
        concat!(
            r#"{"prompt": "a", "chosen": "A", "rejected": "B", "chosen_score": 0.8123, "rejected_score": 0.0412}"#,
            "\n",
            r#"{"prompt": "b", "chosen": "C", "rejected": "D", "chosen_score": 1.0, "rejected_score": 0.5}"#,
            "\n",
        ),
    );
    let goal = |v: &str| {
        format!("You are an assistant that generates responses for the instruction while implicitly achieving the following target scores (on a scale of 1-10, where 1 is lowest and 10 is highest):\\nOverall score: {v}.\\n\\n")
    };
    let run = wd.run(&[
        "relabel",
        "rm.jsonl",
        "--from-scale",
        "0-1",
        "--precision",
        "1",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = [
        format!(
            r#"{{"prompt": "{}a", "chosen": "A", "rejected": "B", "chosen_score": 0.8123, "rejected_score": 0.0412}}"#,
            goal("8.3")
        ),
        format!(
            r#"{{"prompt": "{}a", "chosen": "B", "rejected": "A", "chosen_score": 0.0412, "rejected_score": 0.8123}}"#,
            goal("1.4")
        ),
        format!(
            r#"{{"prompt": "{}b", "chosen": "C", "rejected": "D", "chosen_score": 1.0, "rejected_score": 0.5}}"#,
            goal("10")
        ),
        format!(
            r#"{{"prompt": "{}b", "chosen": "D", "rejected": "C", "chosen_score": 0.5, "rejected_score": 1.0}}"#,
            goal("5.5")
        ),
    ];
    assert_eq!(run.stdout, expected.join("\n") + "\n");
    // A score outside --from-scale is a bad row like any other.
    wd.write("out.jsonl", r#"{"prompt": "c", "chosen": "E", "rejected": "F", "chosen_score": 1.7, "rejected_score": 0.5}"#.to_string() + "\n");
    let run = wd.run(&["relabel", "out.jsonl", "--from-scale", "0-1"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "raug: error: out.jsonl:1: field \"chosen_score\": 1.7 is outside --from-scale 0-1\n"
    );
}

#[test]
fn condition_matches_the_training_prompts() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    // AlpacaEval-style instructions from the real prompts.
    let real_rows = rows(&fs::read_to_string(real(NOISE)).unwrap());
    let input: String = real_rows
        .iter()
        .map(|r| json!({"instruction": r["prompt"], "dataset": "helpful_base"}).to_string() + "\n")
        .collect();
    wd.write("alpaca.jsonl", &input);
    let run = wd.run(&[
        "condition",
        "alpaca.jsonl",
        "--target",
        "max",
        "-o",
        "eval.jsonl",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: 1000 rows conditioned (field instruction)\n"
    );
    let expected: Vec<Value> = real_rows
        .iter()
        .map(|r| json!({"instruction": format!("{}\n\n{}", goal(10.0), r["prompt"].as_str().unwrap()), "dataset": "helpful_base"}))
        .collect();
    assert_rows_eq(&rows(&wd.read("eval.jsonl")), &expected);
    // The training rows of the same prompts carry exactly the same prompt text at goal 10.
    let training = wd.run(&["relabel", real(NOISE).to_str().unwrap(), "-q"]);
    let trained = rows(&training.stdout);
    let at_ten = trained
        .iter()
        .find(|r| r["metadata"]["score_chosen"] == 10.0)
        .unwrap();
    let eval = rows(&wd.read("eval.jsonl"));
    assert!(eval.iter().any(|e| e["instruction"] == at_ten["prompt"]));

    // Message-list prompts get a system message; attributes and scales as in relabel.
    let h4 = rows(&fs::read_to_string(real(H4)).unwrap());
    let input: String = h4
        .iter()
        .map(|r| json!({"prompt": [r["chosen"][0]], "id": r["prompt_id"]}).to_string() + "\n")
        .collect();
    wd.write("chat.jsonl", &input);
    let run = wd.run(&[
        "condition",
        "chat.jsonl",
        "--attribute",
        "helpfulness",
        "--attribute",
        "verbosity",
        "--scale",
        "0-4",
        "--target",
        "3",
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let system = "You are an assistant that generates responses for the instruction while implicitly achieving the following target scores (on a scale of 0-4, where 0 is lowest and 4 is highest):\nHelpfulness: 3.\nVerbosity: 3.";
    let expected: Vec<Value> = h4
        .iter()
        .map(|r| json!({"prompt": [{"content": system, "role": "system"}, r["chosen"][0]], "id": r["prompt_id"]}))
        .collect();
    assert_rows_eq(&rows(&run.stdout), &expected);
    let run = wd.run(&["condition", "alpaca.jsonl", "--style", "system"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: alpaca.jsonl:1: --style system needs message lists, but field \"instruction\" holds plain strings; use --style prefix\n"
    );
}

#[test]
fn inspect_reports_what_relabel_will_do() {
    if !real_data_present() {
        return;
    }
    let wd = Workdir::new();
    let input = fs::read_to_string(real(H4)).unwrap();
    let run = wd.run(&["inspect", real(H4).to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["rows"], 16);
    assert_eq!(report["ties"], 4);
    assert_eq!(report["rejected"], json!({}));
    assert_eq!(
        report["layout"],
        "layout ultrafeedback_binarized, scores score_chosen/score_rejected, style system"
    );
    // The histogram counts, computed here from the file.
    let rows_in = rows(&input);
    for bin in report["histogram"].as_array().unwrap() {
        let v: f64 = bin["score"].as_str().unwrap().parse().unwrap();
        let count = |k: &str| rows_in.iter().filter(|r| r[k].as_f64() == Some(v)).count();
        assert_eq!(bin["chosen"], count("score_chosen"), "{bin}");
        assert_eq!(bin["rejected"], count("score_rejected"), "{bin}");
    }
    let relabeled = wd
        .run(&["relabel", real(H4).to_str().unwrap(), "-q"])
        .stdout;
    assert_eq!(report["example"], relabeled.lines().next().unwrap());

    // The text report, on a small hand-made file with a bad row.
    wd.write(
        "small.jsonl",
        concat!(
            r#"{"prompt": "p", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3}"#,
            "\n",
            r#"{"prompt": "q", "chosen": "C", "rejected": "D", "score_chosen": 5, "score_rejected": 5}"#,
            "\n",
            r#"{"prompt": "r", "chosen": "E", "rejected": "F", "score_chosen": "x", "score_rejected": 5}"#,
            "\n",
        ),
    );
    let run = wd.run(&["inspect", "small.jsonl", "--template", "G{score}"]);
    // relabel would stop at the bad row: so does inspect's exit code, after the report.
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "raug: error: relabel would stop at small.jsonl:3: field \"score_chosen\": expected a number, got string \"x\"\n"
    );
    assert_eq!(
        run.stdout,
        r#"file      small.jsonl
format    JSON (lines or array)
detected  layout standard (explicit prompt), scores score_chosen/score_rejected, style prefix
rows      3 (1 ties; 1 would be rejected, 2 relabeled into 4 rows)
rejected  bad_score: 1
          small.jsonl:3: field "score_chosen": expected a number, got string "x"

score          chosen  rejected
3                   0         1                       ####################
5                   1         1  #################### ####################
8                   1         0  ####################

first relabeled row (goal = chosen score):
{"prompt": "G8\n\np", "chosen": "A", "rejected": "B", "score_chosen": 8, "score_rejected": 3}
"#
    );
}

/// Alpaca rows with a `system` field take the goal there in training (LLaMA-Factory reads it as
/// the system prompt); eval prompts of the same format take it there too, so the two match. A
/// `system` that is missing, null or empty gets the goal alone; `--style prefix` puts it in the
/// instruction, as it does for relabel.
#[test]
fn condition_puts_the_goal_in_the_system_field_where_training_did() {
    let wd = Workdir::new();
    wd.write(
        "train.jsonl",
        r#"{"instruction": "a", "input": "", "system": "S", "chosen": "x", "rejected": "y", "score_chosen": 9, "score_rejected": 4}
"#,
    );
    let trained = wd.run(&["relabel", "train.jsonl", "--template", "G={score}", "-q"]);
    assert_eq!(trained.code, 0, "{}", trained.stderr);
    assert_eq!(rows(&trained.stdout)[0]["system"], "G=9\n\nS");

    wd.write(
        "eval.jsonl",
        concat!(
            r#"{"instruction": "a", "input": "", "system": "S"}"#,
            "\n",
            r#"{"instruction": "b", "input": ""}"#,
            "\n",
            r#"{"instruction": "c", "system": null}"#,
            "\n",
            r#"{"instruction": "d", "system": ""}"#,
            "\n",
        ),
    );
    let run = wd.run(&[
        "condition",
        "eval.jsonl",
        "--template",
        "G={score}",
        "--target",
        "9",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "raug: 4 rows conditioned (field system)\n");
    assert_eq!(
        run.stdout,
        concat!(
            r#"{"instruction": "a", "input": "", "system": "G=9\n\nS"}"#,
            "\n",
            r#"{"instruction": "b", "input": "", "system": "G=9"}"#,
            "\n",
            r#"{"instruction": "c", "system": "G=9"}"#,
            "\n",
            r#"{"instruction": "d", "system": "G=9"}"#,
            "\n",
        )
    );
    let prefix = wd.run(&[
        "condition",
        "eval.jsonl",
        "--template",
        "G={score}",
        "--style",
        "prefix",
    ]);
    assert_eq!(prefix.code, 0, "{}", prefix.stderr);
    assert_eq!(
        prefix.stderr,
        "raug: 4 rows conditioned (field instruction)\n"
    );
    assert_eq!(
        rows(&prefix.stdout)[0],
        json!({"instruction": "G=10\n\na", "input": "", "system": "S"})
    );
    wd.write(
        "bad.jsonl",
        "{\"instruction\": \"a\", \"system\": \"S\"}\n{\"instruction\": \"b\", \"system\": 3}\n",
    );
    // axolotl-intel's `question` (and GSM8K's) is found without --prompt, its `system` too.
    wd.write(
        "intel.jsonl",
        "{\"question\": \"q\", \"system\": \"S\"}\n{\"question\": \"r\"}\n",
    );
    let intel = wd.run(&["condition", "intel.jsonl", "--template", "G={score}"]);
    assert_eq!(intel.code, 0, "{}", intel.stderr);
    assert_eq!(intel.stderr, "raug: 2 rows conditioned (field system)\n");
    assert_eq!(
        intel.stdout,
        "{\"question\": \"q\", \"system\": \"G=10\\n\\nS\"}\n{\"question\": \"r\", \"system\": \"G=10\"}\n"
    );
    wd.write("gsm.jsonl", "{\"question\": \"2+2?\", \"answer\": \"4\"}\n");
    let gsm = wd.run(&["condition", "gsm.jsonl", "--template", "G={score}", "-q"]);
    assert_eq!(gsm.code, 0, "{}", gsm.stderr);
    assert_eq!(
        gsm.stdout,
        "{\"question\": \"G=10\\n\\n2+2?\", \"answer\": \"4\"}\n"
    );
    wd.write("none.jsonl", "{\"text\": \"t\"}\n");
    let none = wd.run(&["condition", "none.jsonl"]);
    assert_eq!(none.code, 2);
    assert_eq!(
        none.stderr,
        "raug: error: none.jsonl:1: no \"prompt\", \"instruction\" or \"question\" field, nor a \"context\" message list; name it with --prompt PATH\n"
    );
    let bad = wd.run(&["condition", "bad.jsonl", "-o", "out.jsonl"]);
    assert_eq!(bad.code, 1);
    assert_eq!(
        bad.stderr,
        "raug: error: bad.jsonl:2: field \"system\": expected a string (the system prompt), got number 3\n"
    );
    assert!(!wd.path("out.jsonl").exists());
}

/// The same on Parquet, through both the column-copying path and the general one.
#[test]
fn condition_puts_the_goal_in_a_parquet_system_column() {
    use std::sync::Arc;

    use arrow_array::{Array, RecordBatch, StringArray};

    let wd = Workdir::new();
    let batch = RecordBatch::try_from_iter([
        (
            "instruction",
            Arc::new(StringArray::from(vec!["a", "b", "c"])) as _,
        ),
        (
            "system",
            Arc::new(StringArray::from(vec![Some("S"), None, Some("")])) as _,
        ),
    ])
    .unwrap();
    arrow_parquet(&wd, "eval.parquet", &batch);
    for out in ["out.parquet", "out.jsonl"] {
        let run = wd.run(&[
            "condition",
            "eval.parquet",
            "-o",
            out,
            "--template",
            "G={score}",
        ]);
        assert_eq!(run.code, 0, "{out}: {}", run.stderr);
        assert_eq!(
            run.stderr, "raug: 3 rows conditioned (field system)\n",
            "{out}"
        );
    }
    let expected = [
        json!({"instruction": "a", "system": "G=10\n\nS"}),
        json!({"instruction": "b", "system": "G=10"}),
        json!({"instruction": "c", "system": "G=10"}),
    ];
    assert_rows_eq(&rows(&wd.read("out.jsonl")), &expected);
    let out = parquet_batch(&wd, "out.parquet");
    assert_eq!(out.schema().fields(), batch.schema().fields());
    let column = |name: &str| -> Vec<Option<String>> {
        let array = out.column_by_name(name).unwrap();
        let strings = array.as_any().downcast_ref::<StringArray>().unwrap();
        (0..strings.len())
            .map(|i| (!strings.is_null(i)).then(|| strings.value(i).to_string()))
            .collect()
    };
    assert_eq!(
        column("system"),
        [
            Some("G=10\n\nS".to_string()),
            Some("G=10".to_string()),
            Some("G=10".to_string())
        ]
    );
    assert_eq!(
        column("instruction"),
        [Some("a".into()), Some("b".into()), Some("c".into())]
    );
}
