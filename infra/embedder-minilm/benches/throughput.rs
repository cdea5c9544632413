//! Embedding throughput of the local model: a novel's passages (as the
//! platform cuts them) through all-MiniLM-L6-v2, release build, every
//! core, at a few batch sizes.
//!
//!     MINILM_MODEL_DIR=data/models/all-MiniLM-L6-v2 cargo bench -p studio-embedder-minilm
//!     BENCH_NOVEL=path/to/novel.txt BENCH_PASSAGES=2000 cargo bench -p studio-embedder-minilm

use std::path::PathBuf;
use std::time::Instant;

use studio_embedder::Embedder;
use studio_embedder_minilm::MiniLmEmbedder;

#[tokio::main]
async fn main() {
    let novel = std::env::var("BENCH_NOVEL").unwrap_or_else(|_| {
        format!(
            "{}/../../tests/fixtures/books/call-of-the-wild.txt",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let limit: usize = std::env::var("BENCH_PASSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let text = std::fs::read_to_string(&novel).expect("the novel");
    let passages: Vec<String> = studio_analysis::passages(&text)
        .iter()
        .take(limit)
        .map(|p| text.chars().skip(p.start).take(p.end - p.start).collect())
        .collect();
    let chars: usize = passages.iter().map(|p| p.chars().count()).sum();
    let dir = PathBuf::from(
        std::env::var("MINILM_MODEL_DIR").expect("MINILM_MODEL_DIR: the model folder"),
    );
    let embedder = MiniLmEmbedder::load(&dir).expect("model");
    println!(
        "all-MiniLM-L6-v2 on {} passages of {novel} ({:.0} characters on average), {} threads",
        passages.len(),
        chars as f64 / passages.len().max(1) as f64,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    embedder
        .embed(&passages[..passages.len().min(16)])
        .await
        .expect("warm up");
    for batch in [1, 8, 32, 64] {
        let embedder = embedder.clone().with_batch(batch);
        let started = Instant::now();
        let vectors = embedder.embed(&passages).await.expect("embed");
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(vectors.len(), passages.len());
        println!(
            "batch {batch:>2}: {:.1} passages/s ({:.1} s)",
            passages.len() as f64 / seconds,
            seconds
        );
    }
}
