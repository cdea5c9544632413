use studio_embedder::{EmbedError, Embedder, HashingEmbedder, cosine};

#[tokio::test]
async fn the_hashing_embedder_passes_the_conformance_suite() {
    let embedder = HashingEmbedder::new(384).expect("embedder");
    assert_eq!(embedder.model(), "hashing-384");
    studio_embedder::conformance::run(&embedder).await;
}

#[tokio::test]
async fn texts_sharing_words_are_closer_than_texts_that_do_not() {
    let embedder = HashingEmbedder::new(384).expect("embedder");
    let texts: Vec<String> = [
        "The sled dogs ran across the frozen river.",
        "Across the frozen river ran the dogs of the sled.",
        "Mrs Bennet spoke of nothing but the ball at Netherfield.",
    ]
    .map(String::from)
    .to_vec();
    let v = embedder.embed(&texts).await.expect("embed");
    assert!(cosine(&v[0], &v[1]) > 0.8, "{}", cosine(&v[0], &v[1]));
    assert!(cosine(&v[0], &v[2]) < 0.3, "{}", cosine(&v[0], &v[2]));
}

#[tokio::test]
async fn vectors_do_not_change_between_runs_or_versions() {
    // Pinned: the vectors are stored, so the function must never drift.
    let embedder = HashingEmbedder::new(8).expect("embedder");
    let v = embedder
        .embed(&["Call me Ishmael.".to_owned()])
        .await
        .expect("embed");
    let rounded: Vec<i32> = v[0].iter().map(|x| (x * 1000.0).round() as i32).collect();
    assert_eq!(rounded, PINNED);
}

const PINNED: [i32; 8] = [-577, -289, 577, 289, 289, 0, 289, 0];

#[tokio::test]
async fn the_same_text_gives_the_same_bits_every_time() {
    // Stored vectors are compared exactly (a rebuild equals the live
    // store): many features on few indexes make the order of the sums
    // show in the last bits.
    let embedder = HashingEmbedder::new(8).expect("embedder");
    let text = "Buck did not read the newspapers, or he would have known that trouble \
                was brewing, not alone for himself, but for every tide-water dog."
        .to_owned();
    let first = embedder
        .embed(std::slice::from_ref(&text))
        .await
        .expect("embed");
    for _ in 0..50 {
        let again = embedder
            .embed(std::slice::from_ref(&text))
            .await
            .expect("embed");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&again[0]), bits(&first[0]));
    }
}

#[test]
fn a_dimension_out_of_range_is_refused() {
    for dimension in [0, HashingEmbedder::MAX_DIMENSION + 1] {
        assert!(matches!(
            HashingEmbedder::new(dimension),
            Err(EmbedError::Model(_))
        ));
    }
}
