//! Folder mode: a dataset folder (`data/train-00000-of-00003.parquet`, ...) is mirrored into an
//! output folder, each data file relabeled on its own, `--passthrough` files copied unchanged.
//! Everything is staged in a temporary folder beside the output and moved in only on success.

use std::fs;
use std::path::{Path, PathBuf};

use super::job::{file_name, input_format, output_format, Job, Summary};
use crate::error::{Error, Result};
use crate::io::glob_match;
use crate::io::{Format, Source, Target};
use crate::write::{common_json_schema, schema_change};

/// Files in JSON that hold no rows, kept beside the data by `datasets` (a dataset's info,
/// `save_to_disk`'s state) and by LLaMA-Factory (its dataset registry): copied like a README,
/// never read as rows.
const METADATA: [&str; 4] = [
    "dataset_info.json",
    "dataset_infos.json",
    "dataset_dict.json",
    "state.json",
];

/// Whether a file of a dataset folder holds rows: a data format's extension, and not one of
/// the [`METADATA`] files.
fn is_data(relative: &Path) -> bool {
    Format::from_path(relative).is_some() && !METADATA.contains(&file_name(relative).as_str())
}

/// Refuses a folder holding Arrow IPC files among those it would read or mirror (`save_to_disk`
/// writes its rows so): raug reads none, and a mirror with them copied as they are would pass
/// for a relabeled dataset.
fn check_no_arrow_ipc<'a>(root: &Path, files: impl IntoIterator<Item = &'a PathBuf>) -> Result<()> {
    match files.into_iter().find(|p| {
        let name = file_name(p).to_ascii_lowercase();
        name.ends_with(".arrow") || name.ends_with(".feather")
    }) {
        Some(ipc) => Err(Error::Format {
            path: root.join(ipc).display().to_string(),
            detail: crate::io::ARROW_IPC.to_string(),
        }),
        None => Ok(()),
    }
}

/// The data files (by extension) under a folder, sorted: what the commands that read a
/// folder as one dataset (`inspect`, `pairs`, `condition`) read.
pub fn data_files(root: &Path) -> Result<Vec<PathBuf>> {
    let files = walk(root)?;
    check_no_arrow_ipc(root, &files)?;
    Ok(files
        .into_iter()
        .filter(|p| is_data(p))
        .map(|p| root.join(p))
        .collect())
}

/// Forgets the staging folder's registration for signal cleanup when the run ends, whichever
/// way (the folder itself goes with its `TempDir`).
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        crate::io::forget_pending(&self.0);
    }
}

/// Every file under `root`, sorted, as paths relative to it.
fn walk(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let dir = root.join(&relative);
        let entries = fs::read_dir(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir.display().to_string(), e))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue; // .git, .cache, our own temporary files
            }
            let path = relative.join(&name);
            if entry.path().is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Where a data file at `relative` is written in the output folder: the same path, or, when
/// `format` names another format than its own, its name with that format's extension instead of
/// its own and its compression's (`data/a.jsonl.gz` -> `data/a.parquet`).
fn output_path(relative: &Path, format: Option<Format>) -> PathBuf {
    let Some(format) = format else {
        return relative.to_path_buf();
    };
    if Format::from_path(relative) == Some(format) {
        return relative.to_path_buf();
    }
    let name = file_name(relative);
    let lower = name.to_ascii_lowercase();
    let mut stem = lower.as_str();
    for suffixes in [
        &[".gz", ".zst"][..],
        &[".parquet", ".jsonl", ".ndjson", ".json"],
    ] {
        if let Some(s) = suffixes.iter().find_map(|s| stem.strip_suffix(s)) {
            stem = s;
        }
    }
    relative.with_file_name(format!("{}.{}", &name[..stem.len()], format.extension()))
}

/// Mirrors a folder of shards into the output folder.
pub(super) fn relabel(job: &Job) -> Result<Summary> {
    let Source::File(root) = &job.inputs[0] else {
        unreachable!("folder mode needs a folder input");
    };
    let Target::File(out) = &job.output else {
        return Err(Error::Usage(
            "a folder input needs an output folder: -o OUTDIR".to_string(),
        ));
    };
    if out.exists() && !out.is_dir() {
        return Err(Error::Usage(format!(
            "{} is a file; a folder input needs an output folder",
            out.display()
        )));
    }
    let (root_real, out_real) = (fs::canonicalize(root), fs::canonicalize(out));
    if let (Ok(a), Ok(b)) = (&root_real, &out_real) {
        if b.starts_with(a) || a.starts_with(b) {
            return Err(Error::Usage(format!(
                "the output folder {} and the input folder {} overlap; write elsewhere",
                out.display(),
                root.display()
            )));
        }
    }
    if job.rejects.is_some() {
        return Err(Error::Usage(
            "--rejects takes one file; with a folder input, relabel shards one by one to keep rejects"
                .to_string(),
        ));
    }
    let parent = crate::io::folder_of(out)
        .unwrap_or(Path::new("."))
        .to_path_buf();
    fs::create_dir_all(&parent).map_err(|e| Error::io(parent.display().to_string(), e))?;
    crate::io::remove_stale(&parent, &file_name(out));
    // A stop by signal removes it too; dropping it (on any error) removes it otherwise.
    let stage = crate::io::make_pending(
        || {
            tempfile::Builder::new()
                .prefix(&crate::io::temp_prefix(&file_name(out)))
                .suffix(".raug-tmp")
                .tempdir_in(&parent)
        },
        |stage| stage.path(),
    )
    .map_err(|e| Error::io(out.display().to_string(), e))?;
    let _staged = Staged(stage.path().to_path_buf());

    let mut summary = Summary::default();
    // Each file and where it goes: its own path, or for a data file relabeled into another
    // format, its name with that format's extension.
    let passthrough = |relative: &Path| {
        job.passthrough
            .iter()
            .any(|g| glob_match(g, &file_name(relative)))
    };
    let all = walk(root)?;
    check_no_arrow_ipc(root, all.iter().filter(|p| !passthrough(p)))?;
    let files: Vec<(PathBuf, PathBuf, bool)> = all
        .into_iter()
        .map(|relative| {
            let relabeled = is_data(&relative) && !passthrough(&relative);
            let to = match relabeled {
                true => output_path(&relative, job.output_format),
                false => relative.clone(),
            };
            (relative, to, relabeled)
        })
        .collect();
    let mut targets = std::collections::HashMap::new();
    for (relative, to, _) in &files {
        if let Some(other) = targets.insert(to, relative) {
            return Err(Error::Usage(format!(
                "{} and {} would both be written to {}; convert them apart",
                root.join(other).display(),
                root.join(relative).display(),
                out.join(to).display()
            )));
        }
    }
    // Each relabeled file's job and summary.
    let mut relabeled: Vec<(Job, Summary)> = Vec::new();
    for (relative, relative_to, is_relabeled) in &files {
        let from = root.join(relative);
        let to = stage.path().join(relative_to);
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        }
        if !is_relabeled {
            fs::copy(&from, &to).map_err(|e| Error::io(from.display().to_string(), e))?;
            if is_data(relative) {
                summary.passed_through += 1;
            }
            continue;
        }
        let mut file_job = job.clone();
        file_job.inputs = vec![Source::File(from)];
        // The format its name says (the asked one, by `output_path`).
        file_job.output = Target::File(to);
        file_job.output_format = None;
        let done = super::file::relabel(&file_job)?;
        relabeled.push((file_job, done));
    }
    one_schema(&mut relabeled)?;
    for (_, done) in relabeled {
        summary.merge(done);
    }
    // Move the staged files in; existing files of the same name are replaced.
    for (_, relative, _) in &files {
        let (from, to) = (stage.path().join(relative), out.join(relative));
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        }
        fs::rename(&from, &to).map_err(|e| Error::io(to.display().to_string(), e))?;
    }
    Ok(summary)
}

/// Gives the Parquet files written from JSON shards one schema. Each takes its schema from its
/// own rows, so shards whose rows differ (a field only some have, integer scores in one and
/// fractions in another, an empty shard) would differ in schema, and readers that load the
/// folder as one dataset (`datasets`, polars) refuse that. Files whose schema isn't the merge
/// of all are relabeled again with it; a file that contradicts those before it (a string
/// column where they hold numbers) keeps its own, with a note. Every split's files
/// take the one schema: `datasets`' Parquet loader reads one schema, the first file's, for all
/// splits, and casts every file to it (a test split with a column train lacks fails to load;
/// checked with `datasets` 5).
fn one_schema(relabeled: &mut [(Job, Summary)]) -> Result<()> {
    let from_json: Vec<usize> = (0..relabeled.len())
        .filter(|&i| {
            let job = &relabeled[i].0;
            output_format(job) == Format::Parquet
                && input_format(job, &job.inputs[0]) != Format::Parquet
        })
        .collect();
    if from_json.len() < 2 {
        return Ok(());
    }
    let mut schemas = Vec::with_capacity(from_json.len());
    for &i in &from_json {
        let Target::File(path) = &relabeled[i].0.output else {
            unreachable!("folder mode writes files");
        };
        let name = path.display().to_string();
        let file = fs::File::open(path).map_err(|e| Error::io(&name, e))?;
        let metadata =
            parquet::arrow::arrow_reader::ArrowReaderMetadata::load(&file, Default::default())
                .map_err(|e| Error::Internal(format!("{name}: reading back its footer: {e}")))?;
        schemas.push(std::sync::Arc::clone(metadata.schema()));
    }
    let (common, apart) = common_json_schema(&schemas);
    for &k in &apart {
        let (job, done) = &mut relabeled[from_json[k]];
        done.notes.push(format!(
            "{}: its rows' Parquet schema contradicts the other files' (a column of another \
             type), so it keeps its own; readers that load the folder as one dataset may refuse \
             it",
            job.inputs[0].name()
        ));
    }
    for (k, (&i, schema)) in from_json.iter().zip(&schemas).enumerate() {
        if schema.fields() == common.fields() || apart.contains(&k) {
            continue;
        }
        let (job, done) = &mut relabeled[i];
        job.json_schema = Some(std::sync::Arc::clone(&common));
        // Its bytes were counted the first time.
        job.progress = None;
        let mut again = super::file::relabel(job)?;
        again.notes.insert(
            0,
            format!(
                "{}: written again in the Parquet schema the folder's other files share, with {}",
                job.inputs[0].name(),
                schema_change(schema, &common)
            ),
        );
        *done = again;
    }
    Ok(())
}
