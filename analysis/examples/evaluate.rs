//! Precision, recall and F1 of proper-name person mentions on LitBank-style
//! data: `cargo run --release -p studio-analysis --example evaluate -- DIR`
//! (the committed sample: `analysis/tests/fixtures/litbank-dev`),
//! where DIR holds `entities/<id>_brat.txt` and `coref/<id>_brat.ann`.

use std::path::Path;
use std::process::ExitCode;

use studio_analysis::evaluation::{Score, gold_person_names, predicted_person_names};

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: evaluate DIR (with entities/*_brat.txt and coref/*_brat.ann)");
        return ExitCode::from(2);
    };
    match run(Path::new(&dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("evaluate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &Path) -> std::io::Result<()> {
    let mut works: Vec<String> = std::fs::read_dir(dir.join("entities"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix("_brat.txt")
                .map(str::to_owned)
        })
        .collect();
    works.sort();
    let verbose = std::env::args().any(|a| a == "--errors");
    let mut total = Score::default();
    println!(
        "{:<70} {:>5} {:>5} {:>5}  {:>6} {:>6} {:>6}",
        "work", "tp", "pred", "gold", "P", "R", "F1"
    );
    for work in &works {
        let text = std::fs::read_to_string(dir.join("entities").join(format!("{work}_brat.txt")))?;
        let ann = std::fs::read_to_string(dir.join("coref").join(format!("{work}_brat.ann")))?;
        let gold = gold_person_names(&ann);
        let predicted = predicted_person_names(&text);
        let score = Score::of(&predicted, &gold);
        println!(
            "{work:<70} {:>5} {:>5} {:>5}  {:>6.3} {:>6.3} {:>6.3}",
            score.true_positives,
            score.predicted,
            score.gold,
            score.precision(),
            score.recall(),
            score.f1()
        );
        if verbose {
            let chars: Vec<char> = text.chars().collect();
            let span = |(s, e): &(usize, usize)| chars[*s..*e].iter().collect::<String>();
            let context = |(s, e): &(usize, usize)| {
                let before: String = chars[s.saturating_sub(40)..*s].iter().collect();
                let after: String = chars[*e..(*e + 40).min(chars.len())].iter().collect();
                format!("{}[{}]{}", before, span(&(*s, *e)), after).replace('\n', " ")
            };
            for miss in gold.difference(&predicted) {
                println!("    missed   {:?}\t{}", span(miss), context(miss));
            }
            for wrong in predicted.difference(&gold) {
                println!("    spurious {:?}\t{}", span(wrong), context(wrong));
            }
        }
        total = total + score;
    }
    println!(
        "{:<70} {:>5} {:>5} {:>5}  {:>6.3} {:>6.3} {:>6.3}",
        "micro-average",
        total.true_positives,
        total.predicted,
        total.gold,
        total.precision(),
        total.recall(),
        total.f1()
    );
    Ok(())
}
