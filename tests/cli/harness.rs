//! A small harness: a temporary work folder, the `raug` binary run in it, the real data beside the
//! checkout, and an independent model of the paper's relabeling to compare outputs with.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

/// The paper's default goal text for a score, written independently of the library.
pub fn goal(score: f64) -> String {
    let printed = if score.fract() == 0.0 {
        format!("{}", score as i64)
    } else {
        format!("{score}")
    };
    format!("You are an assistant that generates responses for the instruction while implicitly achieving the following target scores (on a scale of 1-10, where 1 is lowest and 10 is highest):\nOverall score: {printed}.")
}

/// A temporary folder to run `raug` in.
pub struct Workdir {
    dir: tempfile::TempDir,
}

/// What a run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, data).expect("write fixture");
        path
    }

    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// Names of the files in the folder, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Asserts that no temporary output (`*.raug-tmp`, staged or interrupted) is left behind.
    pub fn assert_no_temporary_files(&self) {
        let files = self.files();
        assert!(
            !files.iter().any(|f| f.contains("raug-tmp")),
            "temporary files left: {files:?}"
        );
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_raug"));
        cmd.args(args).current_dir(self.dir.path());
        cmd
    }

    /// Runs raug with no standard input.
    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run raug")
            .into()
    }

    /// Runs raug with bytes on standard input.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn raug");
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait raug");
        writer.join().unwrap();
        out.into()
    }

    /// Runs raug and returns its peak resident memory in KiB, read from the kernel's high-water
    /// mark (`VmHWM` in `/proc/PID/status`, Linux) while it runs.
    pub fn run_peak_rss(&self, args: &[&str]) -> (Run, u64) {
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn raug");
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = drain(Box::new(child.stdout.take().unwrap()));
        let stderr = drain(Box::new(child.stderr.take().unwrap()));
        let status = format!("/proc/{}/status", child.id());
        let mut peak = 0u64;
        let code = loop {
            // The high-water mark only grows: the last reading before exit is the peak but for
            // the last few milliseconds.
            if let Ok(text) = fs::read_to_string(&status) {
                if let Some(kib) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak = peak.max(kib);
                }
            }
            if let Some(status) = child.try_wait().expect("wait raug") {
                break status.code().unwrap_or(-1);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let run = Run {
            code,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        };
        assert!(
            peak > 0,
            "no VmHWM read from {status}: this test needs Linux's /proc"
        );
        (run, peak)
    }
}

/// Whether the real data beside the checkout (`../shared/data/real/`) is there. Missing, it is
/// a failure under CI (`CI=true`); elsewhere the test that asks says on the terminal (past the
/// test harness's capture) that it is skipped and why, and returns early.
pub fn real_data_present() -> bool {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real");
    if dir.is_dir() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "missing real data folder {} (the shared folder sits beside the checkout)",
        dir.display()
    );
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: it needs the real data in {}, which is missing",
        dir.display()
    );
    false
}

/// A file of the real data beside the checkout (`../shared/data/real/`).
pub fn real(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/real")
        .join(name);
    assert!(
        path.exists(),
        "missing real data file {} (the shared folder sits beside the checkout)",
        path.display()
    );
    path
}

pub const H4: &str = "1.5-Pints__ultrafeedback_binarized_test.jsonl";
pub const NOISE: &str = "ultrafeedback-dpo-noise-study__train_clean.jsonl";
pub const ARGILLA: &str = "finetunelab.ai__ultrafeedback_sample_1k.jsonl";

/// Reads JSON Lines into values, keeping key order.
pub fn rows(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// Follows a dotted path.
pub fn at<'a>(row: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(row, |v, k| &v[k])
}

fn at_mut<'a>(row: &'a mut Value, path: &str) -> &'a mut Value {
    path.split('.').fold(row, |v, k| &mut v[k])
}

/// Where the model puts the goal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Site {
    /// System message (or prefix, with `prefix`) in the chosen/rejected lists.
    ResponseLists,
    /// System message at the head of the prompt list.
    PromptList,
    /// Prefix of the prompt string.
    PromptText,
    /// Prefix of both response strings.
    ResponseTexts,
    /// The `system` string field: in front of its text, or alone where it is missing, null or
    /// empty (added last when missing).
    SystemField,
}

/// The model's view of a dataset.
#[derive(Clone, Debug)]
pub struct Model {
    pub site: Site,
    pub prefix: bool,
    pub chosen_score: &'static str,
    pub rejected_score: &'static str,
}

impl Model {
    /// The standard layout with string prompts (`prompt`, `chosen`, `rejected`,
    /// `score_chosen`/`score_rejected`): the goal prefixed to the prompt.
    pub fn standard() -> Model {
        Model {
            site: Site::PromptText,
            prefix: true,
            chosen_score: "score_chosen",
            rejected_score: "score_rejected",
        }
    }
}

fn put_goal_in_list(list: &mut Value, goal: &str, prefix: bool) {
    let messages = list.as_array_mut().unwrap();
    let first = &mut messages[0];
    // Multimodal content: a list of typed parts.
    let parts = first["content"].is_array();
    if (first["role"] == "system" || prefix) && parts {
        let part = first["content"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|p| p["type"] == "text" && p["text"].is_string())
            .unwrap();
        let text = part["text"].as_str().unwrap();
        part["text"] = Value::String(format!("{goal}\n\n{text}"));
    } else if first["role"] == "system" || prefix {
        let content = first["content"].as_str().unwrap();
        first["content"] = Value::String(format!("{goal}\n\n{content}"));
    } else {
        let content_first = {
            let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
            keys.iter().position(|k| *k == "content") < keys.iter().position(|k| *k == "role")
        };
        let content = if parts {
            json!([{"type": "text", "text": goal}])
        } else {
            json!(goal)
        };
        let system = if content_first {
            json!({"content": content, "role": "system"})
        } else {
            json!({"role": "system", "content": content})
        };
        messages.insert(0, system);
    }
}

fn prefix_text(text: &mut Value, goal: &str) {
    *text = Value::String(format!("{goal}\n\n{}", text.as_str().unwrap()));
}

/// Trades the values of every other pair of fields that belong to one response each (named
/// `X_chosen`/`X_rejected`, `chosen_X`/`rejected_X` or `chosen-X`/`rejected-X`), at the top
/// level and one level down, where both hold a value.
fn swap_response_fields(row: &mut Value, skip: &[&str]) {
    fn swap_in(object: &mut serde_json::Map<String, Value>, prefix: &str, skip: &[&str]) {
        let keys: Vec<String> = object.keys().cloned().collect();
        for key in &keys {
            let partner = if let Some(x) = key.strip_suffix("_chosen") {
                format!("{x}_rejected")
            } else if let Some(x) = key.strip_prefix("chosen_") {
                format!("rejected_{x}")
            } else if let Some(x) = key.strip_prefix("chosen-") {
                format!("rejected-{x}")
            } else {
                continue;
            };
            if skip.contains(&format!("{prefix}{key}").as_str()) || !object.contains_key(&partner) {
                continue;
            }
            if object[key].is_null() || object[&partner].is_null() {
                continue;
            }
            let c = object[key].clone();
            object[key] = object[&partner].clone();
            object[&partner] = c;
        }
    }
    let object = row.as_object_mut().unwrap();
    swap_in(object, "", skip);
    let keys: Vec<String> = object.keys().cloned().collect();
    for key in keys {
        if let Some(inner) = object[&key].as_object_mut() {
            swap_in(inner, &format!("{key}."), skip);
        }
    }
}

impl Model {
    /// The two rows the paper makes of one pair: goal s_w (as is), goal s_l (swapped).
    pub fn relabel(&self, row: &Value) -> Vec<Value> {
        self.relabel_fields(row, ["prompt", "chosen", "rejected"])
    }

    /// [`Model::relabel`] for a layout whose prompt, chosen and rejected fields have other names.
    pub fn relabel_fields(&self, row: &Value, [prompt, chosen, rejected]: [&str; 3]) -> Vec<Value> {
        let s_w = at(row, self.chosen_score).as_f64().unwrap();
        let s_l = at(row, self.rejected_score).as_f64().unwrap();
        let mut out = Vec::new();
        for (swap, score) in [(false, s_w), (true, s_l)] {
            let mut r = row.clone();
            if swap {
                let c = r[chosen].clone();
                r[chosen] = r[rejected].clone();
                r[rejected] = c;
                let sc = at(&r, self.chosen_score).clone();
                *at_mut(&mut r, self.chosen_score) = at(&r, self.rejected_score).clone();
                *at_mut(&mut r, self.rejected_score) = sc;
                swap_response_fields(
                    &mut r,
                    &[self.chosen_score, self.rejected_score, chosen, rejected],
                );
            }
            let g = goal(score);
            match self.site {
                Site::ResponseLists => {
                    put_goal_in_list(&mut r[chosen], &g, self.prefix);
                    put_goal_in_list(&mut r[rejected], &g, self.prefix);
                }
                Site::PromptList => put_goal_in_list(&mut r[prompt], &g, self.prefix),
                Site::PromptText => prefix_text(&mut r[prompt], &g),
                Site::ResponseTexts => {
                    prefix_text(&mut r[chosen], &g);
                    prefix_text(&mut r[rejected], &g);
                }
                Site::SystemField => match r.get("system").and_then(Value::as_str) {
                    Some(text) if !text.is_empty() => prefix_text(&mut r["system"], &g),
                    _ => r["system"] = Value::String(g.clone()),
                },
            }
            out.push(r);
        }
        out
    }

    /// The whole expected output of an input, interleaved.
    pub fn relabel_all(&self, input: &str) -> Vec<Value> {
        rows(input).iter().flat_map(|r| self.relabel(r)).collect()
    }
}

/// Compares rows as text (key order included) and prints the first difference readably.
pub fn assert_rows_eq(actual: &[Value], expected: &[Value]) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "row counts differ: got {}, expected {}",
        actual.len(),
        expected.len()
    );
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let (a, e) = (a.to_string(), e.to_string());
        if a != e {
            let at = a
                .bytes()
                .zip(e.bytes())
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(e.len()));
            let from = at.saturating_sub(80);
            let cut = |s: &str| {
                String::from_utf8_lossy(&s.as_bytes()[from..(at + 120).min(s.len())]).into_owned()
            };
            panic!(
                "row {i} differs at byte {at}:\n  got:      ...{}\n  expected: ...{}",
                cut(&a),
                cut(&e)
            );
        }
    }
}

/// Writes `source` (JSON Lines) as Parquet with pyarrow into `wd`'s `name`, with `rows` rows per
/// row group (and its default codec, snappy), and returns the path.
pub fn pyarrow_parquet(wd: &Workdir, source: &Path, name: &str, rows: usize) -> PathBuf {
    let path = wd.path(name);
    py(&[
        "pyarrow-parquet",
        source.to_str().unwrap(),
        path.to_str().unwrap(),
        &rows.to_string(),
    ]);
    path
}

/// Writes one Arrow batch as `wd`'s Parquet file `name` with arrow-rs (the Arrow schema kept
/// in the file, so types such as int32, float16 or dictionaries come back as they were).
pub fn arrow_parquet(wd: &Workdir, name: &str, batch: &arrow_array::RecordBatch) {
    let file = fs::File::create(wd.path(name)).expect("create the Parquet file");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// Writes `text` as `wd`'s `STEM.jsonl` and, with pyarrow, as `STEM.parquet`: the same rows in
/// both formats.
pub fn jsonl_and_parquet(wd: &Workdir, stem: &str, text: impl AsRef<[u8]>) {
    let jsonl = wd.write(&format!("{stem}.jsonl"), text);
    pyarrow_parquet(wd, &jsonl, &format!("{stem}.parquet"), 100);
}

/// Runs `tests/py/tool.py` in the test venv (made once by `tests/py/setup.sh`) and returns stdout.
pub fn py(args: &[&str]) -> String {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = PYTHON.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root.join("tests/py/setup.sh"))
            .output()
            .expect("run tests/py/setup.sh");
        assert!(
            out.status.success(),
            "tests/py/setup.sh failed (it needs python3 and PyPI):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    });
    let out = Command::new(python)
        .arg(root.join("tests/py/tool.py"))
        .args(args)
        .output()
        .expect("run tool.py");
    assert!(
        out.status.success(),
        "tool.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The rows of `wd`'s Parquet file `name`, read with arrow-rs, as JSON values (nulls written out).
pub fn parquet_file_rows(wd: &Workdir, name: &str) -> Vec<Value> {
    let file = fs::File::open(wd.path(name)).expect("open the Parquet file");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file")
        .build()
        .expect("a reader");
    let mut out = Vec::new();
    for batch in reader {
        let json = raug::json::rows_of_batch(&batch.expect("a batch")).expect("JSON rows");
        out.extend(rows(std::str::from_utf8(&json).expect("UTF-8")));
    }
    out
}

/// The model of `--to trl`: a row of any layout as TRL's preference layout, before relabeling.
/// Full conversations split where they stop sharing messages (each response keeps at least its
/// last message): the shared ones become the prompt list, in place of a prompt string or in
/// front of the other fields; other layouts' fields are renamed, alpaca's input joined onto
/// the instruction with a newline; `messages`, `completion` and `label` are dropped.
pub fn to_trl(row: &Value, fields: [&str; 3], input: Option<&str>) -> Value {
    to_canonical(row, fields, input, false)
}

/// [`to_trl`], and with `messages` string texts become message lists: the prompt a user message
/// after a system message holding the `system` field (when the row has a non-empty one), each
/// response an assistant message (`--to sharegpt` and `--to openai` relabel rows so). String
/// responses to a message-list prompt become assistant messages with or without `messages`.
pub fn to_canonical(
    row: &Value,
    [prompt, chosen, rejected]: [&str; 3],
    input: Option<&str>,
    messages: bool,
) -> Value {
    let old = row.as_object().unwrap();
    let mut out = serde_json::Map::new();
    // Full conversations: the prompt is split off them, unless it is a message list already.
    let conversations = old[chosen].is_array() && !old.get(prompt).is_some_and(Value::is_array);
    let (mut new_prompt, mut new_chosen, mut new_rejected) = (
        old.get(prompt).cloned(),
        old[chosen].clone(),
        old[rejected].clone(),
    );
    if conversations {
        let (c, r) = (
            old[chosen].as_array().unwrap(),
            old[rejected].as_array().unwrap(),
        );
        let shared = c.iter().zip(r).take_while(|(a, b)| a == b).count();
        let k = shared.min(c.len() - 1).min(r.len() - 1);
        new_prompt = Some(Value::Array(c[..k].to_vec()));
        new_chosen = Value::Array(c[k..].to_vec());
        new_rejected = Value::Array(r[k..].to_vec());
        if !old.contains_key(prompt) {
            out.insert("prompt".into(), new_prompt.clone().unwrap());
        }
    } else if let (Some(Value::String(input)), Some(Value::String(p))) =
        (input.and_then(|i| old.get(i)), &new_prompt)
    {
        if !input.is_empty() {
            new_prompt = Some(Value::String(format!("{p}\n{input}")));
        }
    }
    // String responses to a message-list prompt (HelpSteer3) become assistant messages for
    // every target, TRL's too.
    let prompt_list = old.get(prompt).is_some_and(Value::is_array);
    if prompt_list && old[chosen].is_string() {
        let message = |content: &Value| json!([{"role": "assistant", "content": content}]);
        new_chosen = message(&new_chosen);
        new_rejected = message(&new_rejected);
    }
    let strings = messages && old[chosen].is_string() && !prompt_list;
    if strings {
        let message = |role: &str, content: &Value| json!({"role": role, "content": content});
        let mut list = Vec::new();
        if let Some(Value::String(system)) = old.get("system").filter(|s| *s != "") {
            list.push(message("system", &json!(system)));
        }
        list.push(message("user", new_prompt.as_ref().unwrap()));
        new_prompt = Some(Value::Array(list));
        new_chosen = Value::Array(vec![message("assistant", &new_chosen)]);
        new_rejected = Value::Array(vec![message("assistant", &new_rejected)]);
    }
    for (key, value) in old {
        let key = key.as_str();
        if ["messages", "completion", "label"].contains(&key)
            || Some(key) == input
            || (strings && key == "system")
        {
            continue;
        }
        if key == prompt {
            out.insert("prompt".into(), new_prompt.clone().unwrap());
        } else if key == chosen {
            out.insert("chosen".into(), new_chosen.clone());
        } else if key == rejected {
            out.insert("rejected".into(), new_rejected.clone());
        } else {
            out.insert(key.to_string(), value.clone());
        }
    }
    Value::Object(out)
}

/// The model of writing a relabeled TRL conversational row as `target` (`sharegpt`, `openai`).
pub fn emit(row: &Value, target: &str) -> Value {
    let old = row.as_object().unwrap();
    if target == "openai" {
        // The rest of an OpenAI row's input (tools, ...) after its messages.
        let mut input = serde_json::Map::new();
        input.insert("messages".into(), old["prompt"].clone());
        if let Some(rest) = old.get("input").and_then(Value::as_object) {
            input.extend(rest.clone());
        }
        return json!({"input": input, "preferred_output": old["chosen"],
                      "non_preferred_output": old["rejected"]});
    }
    let message = |m: &Value| sharegpt_message(m, true);
    let mut out = serde_json::Map::new();
    for (key, value) in old {
        match key.as_str() {
            "prompt" => {
                let mut list = value.as_array().unwrap().clone();
                if !old.contains_key("system") && list[0]["role"] == "system" {
                    out.insert("system".into(), list.remove(0)["content"].clone());
                }
                out.insert("conversations".into(), list.iter().map(message).collect());
            }
            "chosen" | "rejected" => {
                let list = value.as_array().unwrap();
                assert_eq!(list.len(), 1);
                out.insert(key.clone(), message(&list[0]));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

/// The model of a message in ShareGPT's shape (`to_sharegpt`) or back: `role`/`from` and
/// `content`/`value` renamed in place, roles by LLaMA-Factory's tags.
pub fn sharegpt_message(m: &Value, to_sharegpt: bool) -> Value {
    const TAGS: [(&str, &str); 4] = [
        ("user", "human"),
        ("assistant", "gpt"),
        ("tool", "observation"),
        ("function", "function_call"),
    ];
    let (role, text, to_role, to_text) = if to_sharegpt {
        ("role", "content", "from", "value")
    } else {
        ("from", "value", "role", "content")
    };
    let mut out = serde_json::Map::new();
    for (k, v) in m.as_object().unwrap() {
        if k == role {
            let name = v.as_str().unwrap();
            let renamed = TAGS
                .iter()
                .find(|(r, t)| name == if to_sharegpt { *r } else { *t })
                .map_or(name, |(r, t)| if to_sharegpt { t } else { r });
            out.insert(to_role.into(), json!(renamed));
        } else if k == text {
            out.insert(to_text.into(), v.clone());
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// `wd`'s Parquet file `name`, read with arrow-rs, as one record batch (its batches joined).
pub fn parquet_batch(wd: &Workdir, name: &str) -> arrow_array::RecordBatch {
    let file = fs::File::open(wd.path(name)).expect("open the Parquet file");
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file");
    let schema = std::sync::Arc::clone(builder.schema());
    let batches: Vec<_> = builder
        .build()
        .expect("a reader")
        .collect::<Result<_, _>>()
        .expect("its batches");
    arrow_select::concat::concat_batches(&schema, &batches).expect("batches of one schema")
}

/// The Arrow schema of a Parquet file, as `name: type` lines.
pub fn arrow_types(wd: &Workdir, name: &str) -> Vec<String> {
    let file = fs::File::open(wd.path(name)).expect("open the Parquet file");
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file");
    builder
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect()
}
