//! The layering rule of docs/ARCHITECTURE.md, checked on the sources: a module imports only
//! modules on lower layers, a CLI file parses, calls and prints (no other CLI file, at most
//! 200 lines), and test files are named by one rule.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first. Modules on one line never import each other.
const LAYERS: &[&[&str]] = &[
    &["rng", "labels"],
    &["io"],
    &["device"],
    &["tensor"],
    &["ops"],
    &["nn", "data"],
    &["metrics", "reduce"],
    &["infer"],
    &["train", "probe", "faig"],
    &["reproduce", "restore"],
    &["cli"],
];

/// What the crate root re-exports, by the module that defines it.
const ROOT_REEXPORTS: &[(&str, Option<&str>)] = &[
    ("Result", None),
    ("Error", None),
    ("Rng", Some("rng")),
    ("Tensor", Some("tensor")),
    ("Device", Some("device")),
    ("DeviceSpec", Some("device")),
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` has no layer: add it to LAYERS and ARCHITECTURE.md"))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a source file belongs to (None for the crate root and the binary).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.trim_end_matches(".rs").to_string();
    (first != "lib" && first != "main").then_some(first)
}

/// The code of a file without its comments (so prose naming `crate::x` is not an import).
fn code(text: &str) -> String {
    text.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect::<Vec<_>>().join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a file's code names through `crate::`.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut name = |item: &str| {
        let item = ident_at(item.trim_start());
        match ROOT_REEXPORTS.iter().find(|(n, _)| *n == item) {
            Some((_, Some(m))) => {
                found.insert(m.to_string());
            }
            Some((_, None)) => {}
            None if !item.is_empty() => {
                found.insert(item.to_string());
            }
            None => {}
        }
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::b, c, D}`: the first name of every top-level item.
            let (mut depth, mut start) = (0usize, 0usize);
            for (j, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        name(&group[start..j]);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        name(&group[start..j]);
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            name(rest);
        }
    }
    found
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn modules_import_only_lower_layers() {
    let src = src_dir();
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    for f in &files {
        let Some(module) = module_of(&src, f) else { continue };
        let own = layer_of(&module);
        for used in crate_modules(&code(&std::fs::read_to_string(f).unwrap())) {
            if used != module && layer_of(&used) >= own {
                violations.push(format!(
                    "{} (layer {own}) imports crate::{used} (layer {})",
                    f.display(),
                    layer_of(&used)
                ));
            }
        }
    }
    assert!(violations.is_empty(), "imports against the layering rule:\n{}", violations.join("\n"));
}

/// The items a CLI file `depth` levels below `cli/mod.rs` names from outside its own command
/// through `super::` paths.
fn shared_cli_items(code: &str, depth: usize) -> Vec<String> {
    let mut items = Vec::new();
    for (i, _) in code.match_indices("super::") {
        if code[..i].ends_with("super::") {
            continue; // counted from the first `super::` of the path
        }
        let mut rest = &code[i..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
            ups += 1;
        }
        if ups >= depth {
            items.push(ident_at(rest).to_string());
        }
    }
    items
}

#[test]
fn cli_files_parse_call_and_print() {
    let cli = src_dir().join("cli");
    let mut files = Vec::new();
    sources(&cli, &mut files);
    let mut problems = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines = text.lines().count();
        if lines > 200 {
            problems.push(format!("{} has {lines} lines (at most 200)", f.display()));
        }
        // How many `super::` lead out of this file's command: cli/x.rs and cli/x/mod.rs are one
        // level below cli/mod.rs, cli/x/y.rs two (its first `super::` is its own command).
        let rel = f.strip_prefix(&cli).unwrap();
        let mut depth = rel.components().count();
        if f.file_name().unwrap() == "mod.rs" {
            depth -= 1;
        }
        if depth == 0 {
            continue; // cli/mod.rs itself
        }
        let code = code(&text);
        for used in shared_cli_items(&code, depth) {
            if used != "GlobalArgs" {
                problems.push(format!("{} imports super::{used} (only GlobalArgs is shared)", f.display()));
            }
        }
        if code.contains("crate::cli::") {
            problems.push(format!("{} imports another CLI file through crate::cli", f.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_cli_files_reaching_into_other_commands() {
    assert_eq!(shared_cli_items("use super::GlobalArgs;\nuse super::probe::x;", 1), ["GlobalArgs", "probe"]);
    // cli/data/pack.rs: `super::` is its own command, `super::super::` the CLI root.
    assert!(shared_cli_items("super::progress(1, \"x\")", 2).is_empty());
    assert_eq!(shared_cli_items("use super::super::faig::run;", 2), ["faig"]);
}

/// The peers whose committed fixtures the `<peer>_parity_<subject>` tests compare against.
const PEERS: &[&str] = &["pytorch", "sklearn"];

#[test]
fn test_files_are_named_by_one_rule() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut bad = Vec::new();
    for e in std::fs::read_dir(&tests).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let prefixed =
            |p: &str| stem.strip_prefix(p).is_some_and(|rest| rest.len() > 1 && rest.starts_with('_'));
        let named = stem == "arch_layering"
            || prefixed("cli")
            || prefixed("gpu_parity")
            || PEERS.iter().any(|peer| prefixed(&format!("{peer}_parity")))
            || LAYERS.iter().flat_map(|l| l.iter()).any(|m| prefixed(m));
        if !named {
            bad.push(stem);
        }
    }
    assert!(
        bad.is_empty(),
        "test files not named <module>_<subject>, cli_<command>, gpu_parity_<family> or <peer>_parity_<subject>: {bad:?}"
    );
}

#[test]
fn the_checker_sees_imports() {
    let found = crate_modules(&code(
        "use crate::{ops, Result, Rng};\nuse crate::nn::{a, b};\n// use crate::cli::x;\nlet t: crate::Tensor;",
    ));
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["nn", "ops", "rng", "tensor"]);
}

/// Calls that write a file in place, where a crash or a full disk leaves it half-written.
const IN_PLACE_WRITES: &[&str] =
    &["File::create(", "fs::write(", "save_with_format(", ".save(", "OpenOptions"];

/// Where the calls of [`IN_PLACE_WRITES`] are found in `code`, outside its `#[cfg(test)]` module.
fn in_place_writes(code: &str) -> Vec<&'static str> {
    let shipped = code.split("#[cfg(test)]").next().unwrap_or_default();
    let starts_a_name = |w: &str, at: usize| {
        w.starts_with('.') || !shipped[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
    };
    IN_PLACE_WRITES
        .iter()
        .copied()
        .filter(|w| shipped.match_indices(w).any(|(at, _)| starts_a_name(w, at)))
        .collect()
}

#[test]
fn every_output_file_is_written_through_the_atomic_writer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    // The atomic writer itself; a run folder's lock file (its content does not matter) and its
    // append-only metrics log (a resume drops a torn last line).
    let exempt = [src.join("io/atomic.rs"), src.join("train/run.rs")];
    let bad: Vec<String> = files
        .iter()
        .filter(|f| !exempt.contains(f))
        .filter_map(|f| {
            let found = in_place_writes(&code(&std::fs::read_to_string(f).unwrap()));
            (!found.is_empty()).then(|| format!("{}: {found:?}", f.strip_prefix(&src).unwrap().display()))
        })
        .collect();
    assert!(bad.is_empty(), "files written in place instead of through io::write_atomic: {bad:?}");
}

#[test]
fn the_checker_sees_in_place_writes() {
    assert_eq!(in_place_writes("std::fs::write(p, b)?;\n#[cfg(test)]\nFile::create(x)"), ["fs::write("]);
    assert_eq!(in_place_writes("img.save_with_format(p, Png)"), ["save_with_format("]);
    assert!(in_place_writes("AtomicFile::create(p)?; io::write_atomic(p, |w| Ok(()))").is_empty());
}
