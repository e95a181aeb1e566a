//! The layer list in `src/lib.rs` ("Layers, bottom up") holds: no module uses a module of a
//! higher layer. Modules of one layer may use each other.

use std::collections::BTreeMap;
use std::path::Path;

/// The runtime's top-level modules by layer, bottom up (as `src/lib.rs` lists them).
const LAYERS: &[&[&str]] = &[
    &["sync", "resources", "sched"],
    &["actor"],
    &["io"],
    &["cluster"],
    &["engine"],
    &["config"],
    &["context"],
    &["host"],
    &["process", "version"],
    &["observe"],
    &[
        "runtime",
        "shutdown",
        "upgrade",
        "builder",
        "host_mailbox",
        "embed",
        "error",
    ],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `crate::NAME` in `text` (outside comments).
fn crate_uses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().last();
            rest = &rest[i + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue; // `$crate::` (macros) or another crate's path
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.chars().next().is_some_and(|c| c.is_lowercase()) {
                out.push(name);
            }
        }
        // `use crate::{a, b}`
        if let Some(i) = code.find("use crate::{") {
            let list = &code[i + "use crate::{".len()..];
            for part in list.split([',', '}']) {
                let name = part.trim().split("::").next().unwrap_or("").to_string();
                if name.chars().next().is_some_and(|c| c.is_lowercase()) {
                    out.push(name);
                }
            }
        }
    }
    out
}

fn visit(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            visit(&p, files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        }
    }
}

#[test]
fn no_module_uses_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&src, &mut files);
    let mut violations = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = top.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            panic!(
                "src/{} is in no layer: add `{module}` to LAYERS and src/lib.rs",
                rel.display()
            );
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for used in crate_uses(&text) {
            match layer_of(&used) {
                Some(l) if l > own => {
                    violations
                        .entry(format!("src/{}", rel.display()))
                        .or_insert_with(Vec::new)
                        .push(used);
                }
                _ => {}
            }
        }
    }
    assert!(
        violations.is_empty(),
        "modules using a higher layer (see \"Layers, bottom up\" in src/lib.rs): {violations:#?}"
    );
}

#[test]
fn lib_rs_lists_the_layers_in_this_order() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let list = lib
        .split("Layers, bottom up")
        .nth(1)
        .expect("src/lib.rs has a \"Layers, bottom up\" list");
    let mut at = 0;
    for layer in LAYERS {
        for module in *layer {
            let needle = format!("`{module}`");
            let i = list
                .find(&needle)
                .unwrap_or_else(|| panic!("src/lib.rs's layer list does not name {needle}"));
            assert!(
                i >= at || layer.len() > 1,
                "{module} is out of order in src/lib.rs"
            );
            at = at.max(i);
        }
    }
}
