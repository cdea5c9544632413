//! Whatever text arrives, analysis ends, and every offset it reports lies
//! inside the text, on character boundaries, in order.

use proptest::prelude::*;

fn check(text: &str) -> Result<(), TestCaseError> {
    let analysis = studio_analysis::analyze(text);
    let chars = text.chars().count();
    prop_assert_eq!(analysis.chars, chars);
    for c in &analysis.chapters {
        prop_assert!(c.start <= c.end && c.end <= chars);
    }
    let mut previous = 0;
    for m in &analysis.mentions {
        prop_assert!(m.start < m.end && m.end <= chars);
        prop_assert!(m.start >= previous);
        previous = m.start;
        prop_assert!(analysis.characters.iter().any(|c| c.id == m.character_id));
    }
    let mentioned: usize = analysis.characters.iter().map(|c| c.mentions).sum();
    prop_assert_eq!(mentioned, analysis.mentions.len());
    for i in &analysis.interactions {
        prop_assert!(i.a != i.b && i.weight > 0);
    }
    prop_assert!(analysis.statistics.flesch_reading_ease.is_finite());
    prop_assert!((0.0..=1.0).contains(&analysis.statistics.dialogue_share));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn prose_like_text(text in "([A-Z][a-z]{0,8}|[a-z]{1,8}|Mr\\.|Mrs\\.|St\\.|[.,;!?'’“”\"—-]|\n\n?| ){0,400}") {
        check(&text)?;
    }
}

#[test]
fn edge_cases() -> Result<(), TestCaseError> {
    for text in [
        "",
        " ",
        "\n\n\n",
        "Mr.",
        "Mr. .",
        "’s",
        "CHAPTER I",
        "Mary",
        "É",
        "\u{feff}Anne.",
        "the the the",
    ] {
        check(text)?;
    }
    Ok(())
}
