//! The library's layers read top-down: each module imports only from layers below its own, so
//! there are no import circles and the rules never learn about formats or drivers.

use std::path::Path;

/// Each top-level module of the library and its layer, lowest first.
const LAYERS: &[(&str, u32)] = &[
    ("error", 0),
    ("io", 1),
    ("relabel", 1),
    ("shard", 1),
    ("reshape", 1),
    ("fields", 2),
    ("plan", 3),
    ("json", 4),
    ("arrow", 4),
    ("write", 5),
    ("rows", 5),
    ("condition", 6),
    ("inspect", 6),
    ("pairs", 6),
    ("driver", 7),
    ("table", 8),
];

fn layer(module: &str) -> u32 {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .unwrap_or_else(|| panic!("module {module} has no layer in tests/cli/layers.rs"))
        .1
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn library_modules_import_only_from_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let module = relative.split(['/', '.']).next().unwrap().to_string();
        if ["lib", "main", "cmd"].contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Tests may reach anywhere.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if name.is_empty() || name == module || matches!(name.as_str(), "Error" | "Result") {
                continue;
            }
            if layer(&name) >= layer(&module) {
                wrong.push(format!("{relative} imports crate::{name}"));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports that go up or across the layers:\n{}",
        wrong.join("\n")
    );
}
