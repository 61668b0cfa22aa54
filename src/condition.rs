//! Eval-time goals: the goal text put into prompt-only rows (AlpacaEval, MT-Bench, ...) with the
//! same template, style, scale and attributes as training, so the two prompts match exactly.

use serde::Serialize;

use arrow_array::RecordBatch;

use crate::arrow::{put_goal_at, system_facts_at, text_facts_at, SchemaShape};
use crate::error::{Error, Location, Position, Reason, Result, RowError, Skips, SpecError};
use crate::fields::{context_prompt, system_field, FieldPath, RowShape, LAYOUTS};
use crate::json::object::{lookup, Object};
use crate::json::row::{escape, splice, system_edit, system_fact, Edit, Shape};
use crate::json::text::read_text;
use crate::plan::{check_text, insert, system_insert, text_kind, Insert, TextFact};
use crate::relabel::{resolve_style, Style, Template, TextKind};
use crate::rows::Row;

/// The goal value asked for (`--target`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetScore {
    /// The top of the scale (what the paper asks for at inference).
    Max,
    /// A given value on the goal's scale.
    Value(f64),
}

/// How prompts are conditioned.
#[derive(Debug, Clone)]
pub struct ConditionSpec {
    /// The goal text (its `--from-scale` is not applied: targets are on the goal's scale).
    pub template: Template,
    /// Where the goal goes in message lists; strings always take a prefix.
    pub style: Option<Style>,
    /// The prompt field; by default `prompt`, else `instruction`.
    pub prompt: Option<FieldPath>,
    /// The goal value.
    pub target: TargetScore,
    /// Skip rows whose prompt can't take the goal (counted, the first named) instead of
    /// stopping at the first (`--on-error skip`).
    pub skip_bad: bool,
}

/// What `condition` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConditionSummary {
    /// Rows conditioned.
    pub rows: u64,
    /// The field that took the goal: the prompt, or a system prompt field beside it.
    pub prompt: String,
    /// Rows skipped as bad (under [`ConditionSpec::skip_bad`]).
    #[serde(flatten)]
    pub skips: Skips,
}

impl ConditionSummary {
    /// Adds the counts of another file's run.
    pub fn add(&mut self, other: ConditionSummary) {
        self.rows += other.rows;
        self.skips.add(other.skips);
        if !other.prompt.is_empty() {
            self.prompt = other.prompt;
        }
    }

    /// The error of a run that skipped every row it read: its output would be empty, which
    /// is no success. `None` when a row was conditioned, or nothing was read.
    pub fn nothing_kept(&self) -> Option<Error> {
        (self.rows == 0 && self.skips.skipped > 0)
            .then(|| self.skips.nothing_kept(self.skips.skipped))
    }
}

/// The goal text a spec states: the target on every attribute, on the goal's own scale; a
/// target the scale doesn't have is a usage error.
fn goal_text(spec: &ConditionSpec) -> Result<String> {
    let value = match spec.target {
        TargetScore::Max => spec.template.scale().hi,
        TargetScore::Value(v) => v,
    };
    spec.template
        .check_target(value)
        .map_err(|e| Error::Usage(format!("--target: {e}")))?;
    Ok(spec
        .template
        .clone()
        .with_from_scale(None)
        .render(&vec![value; spec.template.attributes()]))
}

/// The prompt field: the one given, else the first of `prompt`, `instruction` (alpaca) and
/// `question` (axolotl-intel, GSM8K) the row has, else a `context` message list (see
/// [`context_prompt`]).
fn prompt_field(spec: &ConditionSpec, row: &dyn RowShape) -> Option<FieldPath> {
    // A named path may be a flattened column's name (see [`FieldPath::in_row`]).
    spec.prompt.clone().map(|p| p.in_row(row)).or_else(|| {
        ["prompt", "instruction", "question"]
            .into_iter()
            .map(|k| FieldPath::parse(k).expect("valid"))
            .find(|p| row.has(p))
            .or_else(|| context_prompt(row))
    })
}

/// The field that takes the goal: the prompt, or, as `relabel` decides it, the system prompt
/// field of a layout whose trainer reads one (`system` beside alpaca's `instruction` and
/// axolotl-intel's `question`) when the row has it as a string and --style isn't prefix. So an
/// eval prompt holds the goal where the training rows did.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GoalField {
    Prompt(FieldPath),
    System(FieldPath),
}

impl GoalField {
    fn path(&self) -> &FieldPath {
        match self {
            GoalField::Prompt(path) | GoalField::System(path) => path,
        }
    }
}

fn goal_field(spec: &ConditionSpec, row: &dyn RowShape) -> Option<GoalField> {
    let prompt = prompt_field(spec, row)?;
    // The named layout whose prompt this is and whose trainer reads a system prompt field.
    let layout = LAYOUTS
        .iter()
        .find(|l| l.prompt == Some(prompt.as_str()) && l.system.is_some());
    let string_prompt = matches!(row.kind(&prompt), Some(Ok(TextKind::Text)));
    Some(match system_field(layout, row, string_prompt, spec.style) {
        Some(system) => GoalField::System(system),
        None => GoalField::Prompt(prompt),
    })
}

/// What a command says when no prompt field is found.
const NO_PROMPT: &str = "no \"prompt\", \"instruction\" or \"question\" field, nor a \"context\" \
     message list; name it with --prompt PATH";

/// The edit that puts the goal into one row's prompt, by relabel's rules: the field's kind, the
/// style it takes, whether the goal fits. A style that can't apply is a usage error.
fn plan_prompt(fact: &TextFact, spec: &ConditionSpec, path: &FieldPath) -> Result<Insert, Misfit> {
    let kind = text_kind(fact, path.as_str()).map_err(Misfit::Row)?;
    let style = resolve_style(kind, spec.style, &format!("field {:?}", path.as_str()))
        .map_err(Misfit::Usage)?;
    check_text(fact, path.as_str(), kind, "prompt-only").map_err(Misfit::Row)?;
    insert(fact, style, path.as_str()).map_err(Misfit::Row)
}

/// Why a prompt can't take the goal.
enum Misfit {
    /// The row is bad.
    Row(RowError),
    /// The options can't apply to the data.
    Usage(SpecError),
}

impl Misfit {
    fn at(self, location: &Location) -> Error {
        match self {
            Misfit::Row(problem) => Error::Row {
                location: location.clone(),
                problem,
            },
            Misfit::Usage(problem) => Error::Spec {
                at: location.to_string(),
                problem,
            },
        }
    }
}

/// Puts the goal into every JSON row's prompt, writing each row through `emit`.
pub fn condition(
    rows: impl Iterator<Item = Result<Row>>,
    spec: &ConditionSpec,
    mut emit: impl FnMut(&[u8], &Location) -> Result<()>,
) -> Result<ConditionSummary> {
    let goal = escape(&goal_text(spec)?);
    let mut summary = ConditionSummary::default();
    let mut field: Option<GoalField> = None;
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        match condition_row(&row, spec, &goal, &mut field, &mut out) {
            Ok(()) => {
                emit(&out, &row.location)?;
                summary.rows += 1;
            }
            Err(e @ Error::Row { .. }) if spec.skip_bad => summary.skips.skip(&e),
            Err(e) => return Err(e),
        }
    }
    summary.prompt = field.map(|f| f.path().to_string()).unwrap_or_default();
    Ok(summary)
}

/// Puts the goal into one JSON row's prompt, the row written to `out`; the goal field is found
/// in the first row that is an object.
fn condition_row(
    row: &Row,
    spec: &ConditionSpec,
    goal: &str,
    field: &mut Option<GoalField>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let fail = |problem: RowError| Error::Row {
        location: row.location.clone(),
        problem,
    };
    let line = crate::io::utf8(&row.data)
        .map_err(|e| {
            fail(RowError::row(
                Reason::InvalidUtf8,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            ))
        })?
        .trim_end();
    let object = Object::parse(line).map_err(fail)?;
    let field = match field {
        Some(f) => f,
        None => field.insert(
            goal_field(spec, &Shape(&object))
                .ok_or_else(|| Error::Usage(format!("{}: {NO_PROMPT}", row.location)))?,
        ),
    };
    out.clear();
    match field {
        GoalField::Prompt(path) => {
            let (fact, text) = read_text(line, &object, path).map_err(fail)?;
            let insert = plan_prompt(&fact, spec, path).map_err(|m| m.at(&row.location))?;
            let text = text.expect("a checked text is found");
            let mut edits = [(text.span.clone(), Edit::Goal(&text, Some(insert)))];
            splice(line, &mut edits, goal, out);
        }
        GoalField::System(path) => {
            let raw = lookup(&object, path).map_err(fail)?;
            let insert = system_insert(&system_fact(raw), path.as_str()).map_err(fail)?;
            let mut edits = [system_edit(line, path.as_str(), raw, insert, goal)];
            splice(line, &mut edits, goal, out);
        }
    }
    Ok(())
}

/// Puts the goal into the prompts of Arrow record batches of one schema.
pub struct BatchConditioner {
    field: GoalField,
    goal: String,
    spec: ConditionSpec,
}

impl BatchConditioner {
    /// A conditioner for batches of `schema`; `name` is the file, for messages.
    pub fn new(
        schema: &arrow_schema::Schema,
        name: &str,
        spec: &ConditionSpec,
    ) -> Result<BatchConditioner> {
        let shape = SchemaShape(schema);
        let field =
            goal_field(spec, &shape).ok_or_else(|| Error::Usage(format!("{name}: {NO_PROMPT}")))?;
        // A column no row of which can take the goal (pyarrow types a column of nulls Null).
        if let Some(Err(what)) = shape.kind(field.path()) {
            return Err(Error::Usage(format!(
                "{name}: field {:?} is {what}; expected a string or a message list",
                field.path().as_str()
            )));
        }
        Ok(BatchConditioner {
            field,
            goal: goal_text(spec)?,
            spec: spec.clone(),
        })
    }

    /// The field that takes the goal: the prompt, or a system prompt field beside it.
    pub fn prompt(&self) -> &FieldPath {
        self.field.path()
    }

    /// The batch with the goal in every prompt; `first_row` is its first row's index in the
    /// file `name`, for the location of a prompt that can't take it. Under
    /// [`ConditionSpec::skip_bad`], rows whose prompt can't take it are left out of the batch
    /// and their errors returned beside it (otherwise the first is the error).
    pub fn condition(
        &self,
        batch: &RecordBatch,
        first_row: u64,
        name: &str,
    ) -> Result<(RecordBatch, Vec<Error>)> {
        let arrow = |e: arrow_schema::ArrowError| Error::format(name, e);
        let location = |i: usize| Location {
            file: name.into(),
            position: Position::Row(first_row + i as u64),
        };
        let inserts = match &self.field {
            GoalField::Prompt(path) => text_facts_at(batch, path)
                .map_err(arrow)?
                .iter()
                .enumerate()
                .map(|(i, fact)| {
                    plan_prompt(fact, &self.spec, path)
                        .map(Some)
                        .map_err(|m| m.at(&location(i)))
                })
                .collect::<Vec<_>>(),
            GoalField::System(path) => system_facts_at(batch, path)
                .map_err(arrow)?
                .iter()
                .enumerate()
                .map(|(i, fact)| {
                    system_insert(fact, path.as_str())
                        .map(Some)
                        .map_err(|problem| Error::Row {
                            location: location(i),
                            problem,
                        })
                })
                .collect::<Vec<_>>(),
        };
        if !inserts.iter().any(|i| i.is_err()) {
            let inserts: Vec<_> = inserts.into_iter().flatten().collect();
            let batch = put_goal_at(batch, self.field.path(), &self.goal, &inserts);
            return Ok((batch.map_err(arrow)?, Vec::new()));
        }
        let keep: arrow_array::BooleanArray = inserts.iter().map(|i| Some(i.is_ok())).collect();
        let (mut kept, mut skipped) = (Vec::new(), Vec::new());
        for insert in inserts {
            match insert {
                Ok(insert) => kept.push(insert),
                Err(e @ Error::Row { .. }) if self.spec.skip_bad => skipped.push(e),
                Err(e) => return Err(e),
            }
        }
        let batch = arrow_select::filter::filter_record_batch(batch, &keep).map_err(arrow)?;
        let batch = put_goal_at(&batch, self.field.path(), &self.goal, &kept).map_err(arrow)?;
        Ok((batch, skipped))
    }
}

/// Puts the goal into every record's prompt through the Arrow applier, so Parquet stays typed;
/// each conditioned batch goes to `emit`. `name` is the file, for locations.
pub fn condition_batches(
    schema: &arrow_schema::Schema,
    batches: impl Iterator<Item = Result<RecordBatch>>,
    name: &str,
    spec: &ConditionSpec,
    mut emit: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<ConditionSummary> {
    let conditioner = BatchConditioner::new(schema, name, spec)?;
    let mut summary = ConditionSummary {
        prompt: conditioner.prompt().to_string(),
        ..ConditionSummary::default()
    };
    // The index in the file of the next batch's first row.
    let mut row = 0;
    for batch in batches {
        let batch = batch?;
        let (conditioned, skipped) = conditioner.condition(&batch, row, name)?;
        emit(&conditioned)?;
        row += batch.num_rows() as u64;
        summary.rows += conditioned.num_rows() as u64;
        for e in &skipped {
            summary.skips.skip(e);
        }
    }
    Ok(summary)
}
