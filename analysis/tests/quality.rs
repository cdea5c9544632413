//! Name detection measured against LitBank's annotations (the development
//! sample in `fixtures/litbank-dev`, CC BY 4.0): the same figures as
//! `cargo run --release -p studio-analysis --example evaluate --
//! analysis/tests/fixtures/litbank-dev`, held to the target.

use std::path::Path;

use studio_analysis::evaluation::{Score, gold_person_names, predicted_person_names};

#[test]
fn proper_name_person_mentions_reach_f1_080() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/litbank-dev");
    let mut total = Score::default();
    let mut works = 0;
    for entry in std::fs::read_dir(dir.join("entities")).expect("the fixture folder") {
        let path = entry.expect("a fixture").path();
        let Some(work) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix("_brat.txt"))
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("the excerpt");
        let ann = std::fs::read_to_string(dir.join("coref").join(format!("{work}_brat.ann")))
            .expect("its annotations");
        total = total + Score::of(&predicted_person_names(&text), &gold_person_names(&ann));
        works += 1;
    }
    assert_eq!(works, 20);
    assert!(total.gold > 500, "the gold mentions were not read");
    assert!(
        total.f1() >= 0.80,
        "F1 {:.3} (precision {:.3}, recall {:.3})",
        total.f1(),
        total.precision(),
        total.recall()
    );
}
