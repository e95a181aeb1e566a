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
    ];
    let encoded: Vec<i64> = reasons.iter().map(|r| r.encode()[0] as i64).collect();
    assert_eq!(kinds, encoded);
}
