//! Writes a legacy database with every irregularity, to try an import on:
//! `cargo run -p studio-legacy-import --features fixture --example legacy-fixture -- PATH [CHARACTERS] [DOCUMENTS]`

use std::path::PathBuf;
use std::process::ExitCode;

use studio_legacy_import::fixture::{self, Shape};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: legacy-fixture PATH [CHARACTERS (100000)] [DOCUMENTS (1000)]");
        return ExitCode::from(2);
    };
    let mut count = |default: u32| args.next().and_then(|a| a.parse().ok()).unwrap_or(default);
    let shape = Shape {
        characters: count(100_000),
        documents: count(1_000),
        unimportable: false,
    };
    if path.exists() {
        eprintln!("{} exists; choose a new path", path.display());
        return ExitCode::from(2);
    }
    match fixture::write(&path, shape).await {
        Ok(()) => {
            println!(
                "wrote {} ({} characters, {} documents)",
                path.display(),
                shape.characters,
                shape.documents
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
