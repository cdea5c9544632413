//! Measuring name detection against LitBank-style annotations: mention
//! precision, recall and F1 of proper names of people (`PROP_PER` spans),
//! exact span match, micro-averaged over works.

use std::collections::BTreeSet;

/// The gold `PROP_PER` spans of a brat annotation file (LitBank's
/// `coref/<id>_brat.ann`), as character offsets.
pub fn gold_person_names(annotations: &str) -> BTreeSet<(usize, usize)> {
    annotations
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let id = fields.next()?;
            let spec = fields.next()?;
            if !id.starts_with('T') {
                return None;
            }
            let mut spec = spec.split(' ');
            if spec.next()? != "PROP_PER" {
                return None;
            }
            let start = spec.next()?.parse().ok()?;
            let end = spec.next()?.parse().ok()?;
            Some((start, end))
        })
        .collect()
}

/// Counts of one comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Score {
    pub true_positives: usize,
    pub predicted: usize,
    pub gold: usize,
}

impl Score {
    pub fn of(predicted: &BTreeSet<(usize, usize)>, gold: &BTreeSet<(usize, usize)>) -> Self {
        Self {
            true_positives: predicted.intersection(gold).count(),
            predicted: predicted.len(),
            gold: gold.len(),
        }
    }

    pub fn precision(&self) -> f64 {
        ratio(self.true_positives, self.predicted)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.gold)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

impl std::ops::Add for Score {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            true_positives: self.true_positives + other.true_positives,
            predicted: self.predicted + other.predicted,
            gold: self.gold + other.gold,
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The analyser's mentions of `text` as spans.
pub fn predicted_person_names(text: &str) -> BTreeSet<(usize, usize)> {
    crate::analyze(text)
        .mentions
        .iter()
        .map(|m| (m.start, m.end))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_proper_person_spans() {
        let ann = "T1\tPROP_PER 0 5\tEmily\nT2\tNOM_PER 10 20\tthe sister\nT3\tPROP_GPE 30 36\tLondon\nR1\tCOP Arg1:T1 Arg2:T2\nT4\tPROP_PER 40 52\tMr. Rochester\n";
        assert_eq!(gold_person_names(ann), BTreeSet::from([(0, 5), (40, 52)]));
    }

    #[test]
    fn micro_averaged_scores() {
        let gold = BTreeSet::from([(0, 5), (10, 15)]);
        let predicted = BTreeSet::from([(0, 5), (20, 25), (30, 35)]);
        let s = Score::of(&predicted, &gold);
        assert_eq!((s.true_positives, s.predicted, s.gold), (1, 3, 2));
        assert!((s.f1() - 0.4).abs() < 1e-9);
    }
}
