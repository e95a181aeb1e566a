//! The files made from the one table of host functions (`warren_abi::calls::CALLS`) are what
//! the table makes of them: the SDK's imports, the declarations of `include/warren.h`,
//! `tests/c/abi_check.c` and the function tables of `docs/abi.md`.
//!
//! `scripts/generate-abi` (this test with `WARREN_WRITE_GENERATED=1`) writes them; without it,
//! a file that differs fails the test with the command to run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use warren_abi::calls::{CALLS, Call, MODULES, Module, Ret};

const WIDTH: usize = 100;
const NOTE: &str = "made from crates/abi/src/calls.rs by scripts/generate-abi: do not edit";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn calls_of(module: &Module) -> impl Iterator<Item = &'static Call> + '_ {
    CALLS.iter().filter(move |c| c.module == module.name)
}

/// Writes `text` to `path` when asked to, else checks that the file holds it.
fn check(path: &str, text: &str) {
    let file = root().join(path);
    if std::env::var_os("WARREN_WRITE_GENERATED").is_some() {
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        return;
    }
    let now = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    if now != text {
        let line = now
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(now.lines().count().min(text.lines().count()));
        panic!(
            "{path} is not what crates/abi/src/calls.rs makes of it (first difference at line {}): \
             run scripts/generate-abi",
            line + 1
        );
    }
}

/// The part of `file` between the line that starts with `begin` and the line that starts with
/// `end` (both kept), replaced by `body`.
fn splice(file: &str, begin: &str, end: &str, body: &str) -> String {
    let text = std::fs::read_to_string(root().join(file)).expect(file);
    let start = text
        .find(begin)
        .unwrap_or_else(|| panic!("{file} has no line {begin:?}"));
    let start = start + text[start..].find('\n').expect("a line end") + 1;
    let stop = start
        + text[start..]
            .find(end)
            .unwrap_or_else(|| panic!("{file} has no line {end:?} after {begin:?}"));
    format!("{}{}{}", &text[..start], body, &text[stop..])
}

// ---- The SDK's imports -------------------------------------------------------------------

/// One import's declaration, on one line (rustfmt lays it out).
fn rust_signature(c: &Call) -> String {
    let params: Vec<String> = c
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, p.kind.rust()))
        .collect();
    let ret = match c.ret {
        Ret::Unit => "",
        Ret::I32 => " -> i32",
        Ret::I64 => " -> i64",
        Ret::Never => " -> !",
    };
    format!("pub fn {}({}){ret};", c.rust, params.join(", "))
}

fn sdk_imports() -> String {
    let head = format!("The raw imports of docs/abi.md, one `extern` block per module ({NOTE}).");
    let mut s = wrap(head.split_whitespace(), "//! ", "//! ", "") + "\n";
    for m in MODULES {
        let _ = write!(
            s,
            "\n#[link(wasm_import_module = \"{}\")]\nunsafe extern \"C\" {{\n",
            m.name
        );
        for c in calls_of(m) {
            if c.rust != c.name {
                let _ = writeln!(s, "    #[link_name = \"{}\"]", c.name);
            }
            let _ = writeln!(s, "    {}", rust_signature(c));
        }
        s.push_str("}\n");
    }
    s
}

/// `text` as `cargo fmt` leaves it (the generated Rust is checked by `cargo fmt --check` too).
fn rustfmt(text: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running rustfmt (the toolchain's component, rust-toolchain.toml)");
    child
        .stdin
        .take()
        .expect("rustfmt's stdin")
        .write_all(text.as_bytes())
        .expect("writing to rustfmt");
    let out = child.wait_with_output().expect("rustfmt's output");
    assert!(
        out.status.success(),
        "rustfmt refused the generated imports"
    );
    String::from_utf8(out.stdout).expect("rustfmt writes UTF-8")
}

#[test]
fn the_sdk_imports_are_the_table() {
    check("crates/sdk/src/abi/imports.rs", &rustfmt(&sdk_imports()));
}

// ---- include/warren.h --------------------------------------------------------------------

/// Words wrapped into lines of at most `WIDTH` columns: the first starts with `first`, the
/// others with `next`, and the last ends with `last`.
fn wrap<'a>(
    words: impl IntoIterator<Item = &'a str>,
    first: &str,
    next: &str,
    last: &str,
) -> String {
    let mut lines = vec![first.to_string()];
    let mut fresh = true;
    for word in words {
        let line = lines.last_mut().expect("a line");
        if fresh {
            line.push_str(word);
        } else if line.len() + 1 + word.len() > WIDTH {
            lines.push(format!("{next}{word}"));
        } else {
            line.push(' ');
            line.push_str(word);
        }
        fresh = false;
    }
    let end = lines.last_mut().expect("a line");
    if end.len() + last.len() > WIDTH {
        lines.push(format!(" {}", last.trim_start()));
    } else {
        end.push_str(last);
    }
    lines.join("\n")
}

fn c_declaration(c: &Call) -> String {
    let ret = match c.ret {
        Ret::Unit => "void",
        Ret::I32 => "int32_t",
        Ret::I64 => "int64_t",
        Ret::Never => "_Noreturn void",
    };
    let params: Vec<String> = if c.params.is_empty() {
        vec!["void".into()]
    } else {
        c.params.iter().map(|p| p.kind.c(p.name)).collect()
    };
    let import = format!("WARREN_IMPORT(\"{}\", \"{}\")", c.module, c.name);
    let one = format!("{import} {ret} {}({});", c.c_name(), params.join(", "));
    if one.len() <= WIDTH {
        return one;
    }
    // The import on a line of its own, the parameters wrapped under the opening parenthesis.
    let head = format!("{ret} {}(", c.c_name());
    let pad = " ".repeat(head.len());
    let pieces: Vec<String> = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i + 1 == params.len() {
                format!("{p});")
            } else {
                format!("{p},")
            }
        })
        .collect();
    format!(
        "{import}\n{}",
        wrap(pieces.iter().map(String::as_str), &head, &pad, "")
    )
}

fn c_section(title: &str) -> String {
    let mut s = format!("/* ---- {title} ");
    while s.len() < 89 {
        s.push('-');
    }
    s.push_str(" */");
    s
}

fn c_declarations() -> String {
    let note = format!("These declarations are {NOTE}, up to the end marker.");
    let mut s = wrap(note.split_whitespace(), "/* ", " * ", " */") + "\n\n";
    for m in MODULES {
        let title = if m.about.is_empty() {
            m.name.to_string()
        } else {
            format!("{} ({})", m.name, m.about)
        };
        let _ = write!(s, "{}\n\n", c_section(&title));
        for c in calls_of(m) {
            if !c.doc.is_empty() {
                let _ = writeln!(s, "{}", wrap(c.doc.split_whitespace(), "/* ", " * ", " */"));
            }
            let _ = writeln!(s, "{}", c_declaration(c));
        }
        s.push('\n');
    }
    s
}

const C_BEGIN: &str = "/* ---- Host functions (";
const C_END: &str = "/* ---- End of the host functions ";

#[test]
fn warren_h_declares_the_table() {
    let text = splice("include/warren.h", C_BEGIN, C_END, &c_declarations());
    check("include/warren.h", &text);
}

fn abi_check_c() -> String {
    let mut s = format!(
        "/*\n * Every function of include/warren.h, imported ({NOTE}): warren links a module's\n \
         * imports by module, name and wasm type, so this program starts only if the header agrees\n \
         * with the runtime on every one of them (crates/cli/tests/c_guest.rs). The calls are\n \
         * never made.\n */\n#include <stdio.h>\n\n#include \"warren.h\"\n\nWARREN_DEFINE_ENTRY()\n\n\
         /* Each function's address, so the linker keeps its import. */\n\
         __attribute__((used)) void *const IMPORTS[] = {{\n"
    );
    let names: Vec<String> = CALLS
        .iter()
        .map(|c| format!("(void *){},", c.c_name()))
        .collect();
    let _ = writeln!(
        s,
        "{}",
        wrap(names.iter().map(String::as_str), "    ", "    ", "")
    );
    s.push_str(
        "};\n\nint main(void) {\n    printf(\"warren.h: %zu functions linked\\n\", sizeof IMPORTS / sizeof IMPORTS[0]);\n    return 0;\n}\n",
    );
    s
}

#[test]
fn abi_check_c_imports_the_table() {
    check("tests/c/abi_check.c", &abi_check_c());
}

// ---- docs/abi.md -------------------------------------------------------------------------

fn doc_row(c: &Call) -> String {
    let params: Vec<String> = c
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, p.kind.wasm()))
        .collect();
    let ret = c.ret.wasm().map(|r| format!(" -> {r}")).unwrap_or_default();
    format!(
        "| `{}` | `({}){ret}` | {} |",
        c.name,
        params.join(", "),
        c.result
    )
}

const TABLE_HEAD: &str = "| function | signature | result |\n| --- | --- | --- |\n";

#[test]
fn docs_abi_md_tables_are_the_table() {
    let path = root().join("docs/abi.md");
    let mut text = std::fs::read_to_string(&path).expect("docs/abi.md");
    for m in MODULES {
        let heading = format!("`{}`\n", m.name);
        let at = text
            .find(&heading)
            .unwrap_or_else(|| panic!("docs/abi.md has no heading for {}", m.name));
        let start = at
            + text[at..]
                .find(TABLE_HEAD)
                .unwrap_or_else(|| panic!("docs/abi.md has no table under {}", m.name))
            + TABLE_HEAD.len();
        let mut stop = start;
        while text[stop..].starts_with('|') {
            stop += text[stop..].find('\n').map_or(text.len() - stop, |n| n + 1);
        }
        let rows: String = calls_of(m).map(|c| doc_row(c) + "\n").collect();
        text.replace_range(start..stop, &rows);
    }
    check("docs/abi.md", &text);
}

#[test]
fn every_call_is_in_a_module_and_named_once() {
    let mut seen = std::collections::BTreeSet::new();
    for c in CALLS {
        assert!(
            MODULES.iter().any(|m| m.name == c.module),
            "{} is in no module of MODULES",
            c.path()
        );
        assert!(seen.insert((c.module, c.name)), "{} twice", c.path());
        assert!(!c.result.is_empty(), "{} has no result text", c.path());
    }
    let c_names: std::collections::BTreeSet<String> = CALLS.iter().map(Call::c_name).collect();
    assert_eq!(c_names.len(), CALLS.len(), "two calls share a C name");
}

/// include/warren.h's `WARREN_REASON_*` constants are the kind bytes `ExitReason::encode`
/// writes, one for every kind.
#[test]
fn warren_h_reason_kinds_are_the_encoding() {
    use warren_abi::ExitReason;
    let header = std::fs::read_to_string(root().join("include/warren.h")).unwrap();
    let text = || "t".to_string();
    let kinds = [
        ("NORMAL", ExitReason::Normal),
        ("PANIC", ExitReason::Panic(text())),
        ("TRAP", ExitReason::Trap(text())),
        ("KILLED", ExitReason::Killed),
        ("NOPROC", ExitReason::NoProc),
        ("LIMIT", ExitReason::Limit(text())),
        ("EXIT", ExitReason::Exit(1)),
        (
            "LINKED",
            ExitReason::Linked(1, Box::new(ExitReason::Killed)),
        ),
        ("NOCONNECTION", ExitReason::NoConnection),
        ("SHUTDOWN", ExitReason::Shutdown),
        ("UPGRADE", ExitReason::Upgrade(text())),
    ];
    let defined = header
        .lines()
        .filter(|l| l.starts_with("#define WARREN_REASON_"))
        .count();
    assert_eq!(defined, kinds.len(), "a WARREN_REASON_ constant per kind");
    for (name, reason) in kinds {
        let line = format!("#define WARREN_REASON_{name} {}", reason.encode()[0]);
        assert!(
            header.lines().any(|l| l == line),
            "include/warren.h lacks {line:?}"
        );
    }
}
