//! An ordinary wasm32-wasip1 program, not built against warren's SDK: `warren run` runs it as
//! one process with its args, env and granted directories.
//!
//! Run: `warren run --env GREETING=hi plain.wasm a b` (exits with the code in `$EXIT_CODE`).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("plain: args={:?}", &args[1..]);
    if let Ok(g) = std::env::var("GREETING") {
        println!("plain: GREETING={g}");
    }
    if let Ok(dir) = std::env::var("LIST_DIR") {
        let mut names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) => vec![format!("error: {e}")],
        };
        names.sort();
        println!("plain: {dir}: {names:?}");
    }
    if let Ok(code) = std::env::var("EXIT_CODE") {
        std::process::exit(code.parse().unwrap_or(1));
    }
}
