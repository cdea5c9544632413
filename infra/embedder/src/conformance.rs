//! What every embedder must do, run against each adapter by its tests.

use crate::{Embedder, cosine};

fn texts(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
}

/// Runs the whole suite; panics with the first property that fails.
pub async fn run(embedder: &dyn Embedder) {
    one_unit_vector_per_text_in_order(embedder).await;
    the_same_text_gives_the_same_vector_alone_or_in_a_batch(embedder).await;
    no_texts_no_vectors(embedder).await;
    hostile_texts_are_embedded_not_refused(embedder).await;
}

async fn one_unit_vector_per_text_in_order(embedder: &dyn Embedder) {
    let input = texts(&[
        "Buck did not read the newspapers.",
        "The dog pulled the sled across the frozen river.",
        "Elizabeth walked to Netherfield through the mud.",
    ]);
    let vectors = embedder.embed(&input).await.expect("embed");
    assert_eq!(
        vectors.len(),
        input.len(),
        "{}: one vector per text",
        embedder.model()
    );
    for v in &vectors {
        assert_eq!(
            v.len(),
            embedder.dimension(),
            "{}: dimension",
            embedder.model()
        );
        assert!(
            (norm(v) - 1.0).abs() < 1e-4,
            "{}: unit length, got {}",
            embedder.model(),
            norm(v)
        );
    }
    // Order kept: each text's vector is its own, not a neighbour's.
    for (i, text) in input.iter().enumerate() {
        let alone = embedder
            .embed(std::slice::from_ref(text))
            .await
            .expect("embed");
        assert!(
            cosine(&alone[0], &vectors[i]) > 0.999,
            "{}: text {i} kept its place",
            embedder.model()
        );
    }
}

async fn the_same_text_gives_the_same_vector_alone_or_in_a_batch(embedder: &dyn Embedder) {
    let short = "A dog.".to_owned();
    let long = "The call of the wild sounded through the forest, again and again. ".repeat(30);
    let batch = embedder
        .embed(&[short.clone(), long.clone()])
        .await
        .expect("embed");
    let again = embedder.embed(&[long, short]).await.expect("embed");
    assert!(
        cosine(&batch[0], &again[1]) > 0.9999,
        "{}: padding must not change a vector",
        embedder.model()
    );
    assert!(
        cosine(&batch[1], &again[0]) > 0.9999,
        "{}: deterministic",
        embedder.model()
    );
}

async fn no_texts_no_vectors(embedder: &dyn Embedder) {
    assert!(embedder.embed(&[]).await.expect("embed").is_empty());
}

async fn hostile_texts_are_embedded_not_refused(embedder: &dyn Embedder) {
    let input = texts(&[
        "",
        "   \t\n  ",
        "\u{0}\u{1}\u{7f}",
        "🦀🦀🦀 ￿ \u{202e}reversed",
        "《红楼梦》是中国古典小说",
    ]);
    let mut long = "antidisestablishmentarianism ".repeat(5_000);
    long.push('é');
    let mut all = input.clone();
    all.push(long);
    let vectors = embedder.embed(&all).await.expect("hostile text embedded");
    assert_eq!(vectors.len(), all.len());
    for v in &vectors {
        assert_eq!(v.len(), embedder.dimension());
        assert!(
            v.iter().all(|x| x.is_finite()),
            "{}: finite",
            embedder.model()
        );
        let n = norm(v);
        assert!(
            n < 1e-6 || (n - 1.0).abs() < 1e-4,
            "{}: unit or zero, got {n}",
            embedder.model()
        );
    }
}
