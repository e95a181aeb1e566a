//! docs/abi.md and `warren-abi` must agree: the error-code table lists exactly the codes the
//! host and the SDK use, with the same numbers and names, and the exit-reason table every
//! kind the encoder writes.

use warren_abi::{ErrorCode, ExitReason};

fn abi_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/abi.md");
    std::fs::read_to_string(path).expect("docs/abi.md")
}

/// The rows `| <number> | <rest>` of the table that follows `heading` in the text.
fn numbered_rows(doc: &str, heading: &str) -> Vec<(i64, String)> {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("{heading:?} in docs/abi.md"));
    doc[start..]
        .lines()
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'))
        .filter_map(|l| {
            let mut cells = l.trim().trim_matches('|').split('|').map(str::trim);
            let n = cells.next()?.parse::<i64>().ok()?;
            Some((n, cells.next()?.to_string()))
        })
        .collect()
}

#[test]
fn the_error_table_is_the_error_codes() {
    let doc = abi_md();
    let rows = numbered_rows(&doc, "| code | name | meaning |");
    let documented: Vec<(i64, String)> = rows
        .into_iter()
        .map(|(n, name)| (n, name.trim_matches('`').to_string()))
        .collect();
    let defined: Vec<(i64, String)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.code() as i64, c.name().to_string()))
        .collect();
    assert_eq!(documented, defined);
}

#[test]
fn the_exit_reason_table_has_every_kind() {
    let doc = abi_md();
    let kinds: Vec<i64> = numbered_rows(&doc, "| byte | reason | data |")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let reasons = [
        ExitReason::Normal,
        ExitReason::Panic("p".into()),
        ExitReason::Trap("t".into()),
        ExitReason::Killed,
        ExitReason::NoProc,
        ExitReason::Limit("l".into()),
        ExitReason::Exit(1),
        ExitReason::Linked(1, Box::new(ExitReason::Killed)),
        ExitReason::NoConnection,
        ExitReason::Shutdown,
        ExitReason::Upgrade("u".into()),
    ];
    let encoded: Vec<i64> = reasons.iter().map(|r| r.encode()[0] as i64).collect();
    assert_eq!(kinds, encoded);
}

/// Store data for a linker that is only listed, never run.
struct Listed;

impl warren_runtime::StoreData for Listed {
    fn warren(&mut self) -> &mut warren_runtime::ProcessData {
        unreachable!("the linker of this test only lists its functions")
    }
}

/// The runtime's linker defines exactly the host functions of `warren_abi::calls::CALLS` —
/// none missing, none more — each with the table's wasm types: the table the SDK's imports,
/// the C header, the fuzzer and docs/abi.md are made from is the runtime's.
#[test]
fn the_linker_defines_exactly_the_table_of_host_functions() {
    use std::collections::BTreeMap;
    use wasmtime::{Config, Engine, ExternType, Linker, Store, ValType};

    let engine = Engine::new(&Config::new()).expect("an engine");
    let mut linker = Linker::<Listed>::new(&engine);
    warren_runtime::add_to_linker(&mut linker).expect("warren's host modules");
    let mut store = Store::new(&engine, Listed);
    let externs: Vec<(String, String, wasmtime::Extern)> = linker
        .iter(&mut store)
        .filter(|(module, _, _)| module.starts_with("warren:"))
        .map(|(m, n, e)| (m.to_string(), n.to_string(), e))
        .collect();
    let wasm = |t: &ValType| match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        other => panic!("a host function with a {other} value"),
    };
    let linked: BTreeMap<String, (Vec<&str>, Vec<&str>)> = externs
        .iter()
        .map(|(module, name, e)| {
            let ExternType::Func(f) = e.ty(&store) else {
                panic!("{module}.{name} is not a function");
            };
            let params = f.params().map(|t| wasm(&t)).collect();
            let results = f.results().map(|t| wasm(&t)).collect();
            (format!("{module}.{name}"), (params, results))
        })
        .collect();
    let table: BTreeMap<String, (Vec<&str>, Vec<&str>)> = warren_abi::calls::CALLS
        .iter()
        .map(|c| {
            let results = c.ret.wasm().into_iter().collect();
            (c.path(), (c.wasm_params().collect(), results))
        })
        .collect();
    let missing: Vec<&String> = table.keys().filter(|k| !linked.contains_key(*k)).collect();
    let extra: Vec<&String> = linked.keys().filter(|k| !table.contains_key(*k)).collect();
    assert!(missing.is_empty(), "in the table, not linked: {missing:?}");
    assert!(extra.is_empty(), "linked, not in the table: {extra:?}");
    for (call, types) in &table {
        assert_eq!(
            &linked[call], types,
            "{call}: linked types against the table's"
        );
    }
    assert_eq!(
        table.len(),
        warren_abi::calls::CALLS.len(),
        "a call twice in the table"
    );
}
