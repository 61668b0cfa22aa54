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

/// Every source file of the library, as its path under `src/` (`/`-separated) and its code
/// before its tests (tests may reach anywhere).
fn library_code() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files
        .iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).unwrap().to_string_lossy();
            let text = std::fs::read_to_string(file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap().to_string();
            (relative.replace('\\', "/"), code)
        })
        .collect()
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
    let mut wrong = Vec::new();
    for (relative, code) in library_code() {
        let module = relative.split(['/', '.']).next().unwrap().to_string();
        if ["lib", "main", "cmd"].contains(&module.as_str()) {
            continue;
        }
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

/// A source file's module path (`driver::json`; `driver` for `driver/mod.rs`; empty for
/// `lib.rs`).
fn module_of(relative: &str) -> String {
    let path = relative.trim_end_matches(".rs");
    let path = path.strip_suffix("/mod").unwrap_or(path);
    if path == "lib" {
        String::new()
    } else {
        path.replace('/', "::")
    }
}

/// `module::name`, or `name` at the crate's root.
fn child(module: &str, name: &str) -> String {
    match module {
        "" => name.to_string(),
        _ => format!("{module}::{name}"),
    }
}

/// The identifiers at the start of `text` joined by `::` (`a::b::`), and what follows.
fn path_at(text: &str) -> (Vec<&str>, &str) {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        parts.push(&rest[..end]);
        match rest[end..].strip_prefix("::") {
            Some(after) => rest = after,
            None => {
                rest = &rest[end..];
                break;
            }
        }
    }
    (parts, rest)
}

/// The modules a path names from `base`: the deepest module along it, or, for a group
/// (`base::{a, b}`), each member that is a module (else `base`).
fn named(modules: &std::collections::BTreeSet<String>, base: &str, text: &str) -> Vec<String> {
    let (parts, rest) = path_at(text);
    let mut module = base.to_string();
    for part in &parts {
        let deeper = child(&module, part);
        if !modules.contains(&deeper) {
            return vec![module];
        }
        module = deeper;
    }
    match rest.strip_prefix('{') {
        Some(group) => group[..group.find('}').unwrap_or(group.len())]
            .split(',')
            .map(|member| {
                let (parts, _) = path_at(member.trim());
                match parts.first() {
                    Some(first) if modules.contains(&child(&module, first)) => {
                        child(&module, first)
                    }
                    _ => module.clone(),
                }
            })
            .collect(),
        None => vec![module],
    }
}

/// No import circle between files: a module's file never imports, directly or through others,
/// from a file that imports it, parent and child modules included (a parent that dispatches to
/// its children keeps what they share in a sibling they import).
#[test]
fn no_file_imports_from_a_file_that_imports_it() {
    use std::collections::{BTreeMap, BTreeSet};
    let mut code = BTreeMap::new();
    for (relative, text) in library_code() {
        if relative == "main.rs" {
            continue;
        }
        // Comments name items without importing them.
        let text: Vec<&str> = text
            .lines()
            .map(|l| l.split("//").next().unwrap())
            .collect();
        code.insert(
            module_of(&relative),
            (
                relative.ends_with("mod.rs") || relative == "lib.rs",
                text.join("\n"),
            ),
        );
    }
    let modules: BTreeSet<String> = code.keys().cloned().collect();
    let mut imports: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (module, (is_parent, text)) in &code {
        let parent = match module.rfind("::") {
            Some(at) => &module[..at],
            None => "",
        };
        let mut found = BTreeSet::new();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + 7..];
            if rest.starts_with("Error") || rest.starts_with("Result") {
                found.insert("error".to_string());
            } else {
                found.extend(named(&modules, "", rest));
            }
        }
        for (at, _) in text.match_indices("super::") {
            found.extend(named(&modules, parent, &text[at + 7..]));
        }
        if *is_parent {
            // A parent names its children by their names alone.
            for (at, _) in text.match_indices("::") {
                let before = &text[..at];
                let start = before
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(0, |i| i + 1);
                let name = &before[start..];
                let bare = !before[..start].ends_with("::");
                if bare && modules.contains(&child(module, name)) {
                    found.insert(child(module, name));
                }
            }
        }
        found.remove(module);
        imports.insert(module, found);
    }
    // Depth-first: a module met again on the current path closes a circle.
    fn visit<'m>(
        module: &'m str,
        imports: &'m BTreeMap<&'m str, BTreeSet<String>>,
        path: &mut Vec<&'m str>,
        done: &mut BTreeSet<&'m str>,
        circles: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|m| *m == module) {
            let mut circle: Vec<&str> = path[at..].to_vec();
            circle.push(module);
            circles.push(circle.join(" -> "));
            return;
        }
        if !done.insert(module) {
            return;
        }
        path.push(module);
        for next in imports.get(module).into_iter().flatten() {
            if let Some((key, _)) = imports.get_key_value(next.as_str()) {
                visit(key, imports, path, done, circles);
            }
        }
        path.pop();
    }
    let mut circles = Vec::new();
    let mut done = BTreeSet::new();
    for module in imports.keys() {
        visit(module, &imports, &mut Vec::new(), &mut done, &mut circles);
    }
    assert!(
        circles.is_empty(),
        "import circles between files (lib.rs is the empty name):\n{}",
        circles.join("\n")
    );
}
