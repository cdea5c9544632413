//! Semantic search: the local embedding model's throughput, and search
//! latency over 100,000 passages in LanceDB without and with the ANN
//! index, with the index's recall at 10 against exact search.
//!
//!     MINILM_MODEL_DIR=data/models/all-MiniLM-L6-v2 \
//!     BENCH_NOVEL=path/to/novel.txt cargo bench --bench vectors
//!
//! The novel (default: the test fixture) is cut into passages as the
//! platform cuts them and embedded with all-MiniLM-L6-v2 (release build,
//! both cores): that is the throughput figure. The 100,000 rows are
//! those real vectors and blends of them (one real vector, part of
//! another, a little Gaussian noise, renormalised), so the table spreads
//! over the region real embeddings take; queries are 200 further blends. Exact search is the
//! table before its index is built; recall@10 is the share of the exact
//! top ten the index also returns.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use studio_embedder::Embedder;
use studio_embedder_minilm::MiniLmEmbedder;
use studio_projections::vectors::{PassageRecord, VectorStore};
use studio_vectors_lancedb::{LanceVectors, Location};
use uuid::Uuid;

const ROWS: usize = 100_000;
const QUERIES: usize = 200;
const WRITE_BATCH: usize = 5_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A new point among real embeddings: one real vector, part of another
/// (a passage between two subjects), and a little noise, renormalised.
/// Copies of one vector with noise alone would make a table of tight
/// clusters, whose exact top ten is a coin toss among near-equals.
fn blended(real: &[Vec<f32>], noise: &Normal<f32>, rng: &mut StdRng) -> Vec<f32> {
    let (a, b) = (
        &real[rng.random_range(0..real.len())],
        &real[rng.random_range(0..real.len())],
    );
    let share: f32 = rng.random_range(0.0..1.0);
    let v: Vec<f32> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x + share * y + noise.sample(rng))
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

async fn search_all(
    store: &LanceVectors,
    owner: Uuid,
    queries: &[Vec<f32>],
) -> (Vec<Vec<Uuid>>, f64, f64) {
    let mut latencies = Vec::with_capacity(queries.len());
    let mut results = Vec::with_capacity(queries.len());
    for query in queries {
        let started = Instant::now();
        let hits = store
            .search_passages(owner, query, None, 10)
            .await
            .expect("search");
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        results.push(hits.into_iter().map(|h| h.id).collect());
    }
    latencies.sort_by(f64::total_cmp);
    (
        results,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
    )
}

#[tokio::main]
async fn main() {
    let path = std::env::var("BENCH_NOVEL").unwrap_or_else(|_| {
        format!(
            "{}/tests/fixtures/books/call-of-the-wild.txt",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let text = std::fs::read_to_string(&path).expect("the novel");
    let model = std::env::var("MINILM_MODEL_DIR").expect("MINILM_MODEL_DIR: the model folder");
    let embedder = MiniLmEmbedder::load(std::path::Path::new(&model)).expect("model");
    let passages: Vec<String> = studio_analysis::passages(&text)
        .iter()
        .map(|p| text.chars().skip(p.start).take(p.end - p.start).collect())
        .collect();
    println!(
        "Semantic search benchmark ({} passages of {path})",
        passages.len()
    );

    embedder
        .embed(&passages[..8.min(passages.len())])
        .await
        .expect("warm up");
    let started = Instant::now();
    let real = embedder.embed(&passages).await.expect("embed");
    let seconds = started.elapsed().as_secs_f64();
    let chars: usize = passages.iter().map(|p| p.chars().count()).sum();
    println!(
        "embedding (all-MiniLM-L6-v2, batches of {}): {:.1} passages/s ({} passages, {:.0} characters on average, {:.1} s)",
        studio_embedder_minilm::DEFAULT_BATCH,
        passages.len() as f64 / seconds,
        passages.len(),
        chars as f64 / passages.len() as f64,
        seconds
    );

    let mut rng = StdRng::seed_from_u64(7);
    let noise = Normal::new(0.0f32, 0.005).expect("noise");
    let owner = Uuid::new_v4();
    let document = Uuid::new_v4();
    let dir = tempfile::tempdir().expect("dir");
    let store = LanceVectors::open(
        &Location::folder(dir.path()),
        embedder.model(),
        embedder.dimension(),
        ROWS,
    )
    .await
    .expect("open");
    let started = Instant::now();
    let mut written = 0;
    while written < ROWS {
        let batch: Vec<PassageRecord> = (written..(written + WRITE_BATCH).min(ROWS))
            .map(|n| PassageRecord {
                id: Uuid::new_v5(&document, &(n as u64).to_be_bytes()),
                owner,
                document_id: document,
                chapter: None,
                start: n as u64,
                end: n as u64 + 1,
                text: passages[n % passages.len()].clone(),
                vector: if n < real.len() {
                    real[n].clone()
                } else {
                    blended(&real, &noise, &mut rng)
                },
            })
            .collect();
        written += batch.len();
        store.upsert_passages(batch).await.expect("write");
    }
    println!(
        "writing {ROWS} rows (upserts of {WRITE_BATCH}): {:.0} rows/s",
        ROWS as f64 / started.elapsed().as_secs_f64()
    );
    let queries: Vec<Vec<f32>> = (0..QUERIES)
        .map(|_| blended(&real, &noise, &mut rng))
        .collect();
    let (exact, p50, p99) = search_all(&store, owner, &queries).await;
    println!("search, exact (no index), top 10: p50 {p50:.2} ms, p99 {p99:.2} ms");

    let started = Instant::now();
    store.maintain().await.expect("index");
    println!(
        "building the index: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (approximate, p50, p99) = search_all(&store, owner, &queries).await;
    println!("search, through the index, top 10: p50 {p50:.2} ms, p99 {p99:.2} ms");
    let found: usize = exact
        .iter()
        .zip(&approximate)
        .map(|(e, a)| e.iter().filter(|id| a.contains(id)).count())
        .sum();
    let wanted: usize = exact.iter().map(Vec::len).sum();
    println!(
        "recall@10 of the index against exact search: {:.3}",
        found as f64 / wanted as f64
    );
}
