//! Which characters a document records, and who they are: the analysis'
//! characters, the minor ones left out, each joined to a character the
//! owner already has under one of its names, or to a detected character of
//! the document's own. Pure: the pipeline gathers the inputs.

use std::collections::{BTreeMap, HashMap};

use studio_analysis::Analysis;
use studio_domain::document::processing::{
    DetectedCharacter, Interaction, MAX_DETECTED_CHARACTERS, MAX_INTERACTIONS,
};
use studio_domain::{CharacterId, DocumentId, rules};
use uuid::Uuid;

/// A character the owner already has, found by one of its names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownCharacter {
    pub character_id: CharacterId,
    /// The name or alias, as `rules::name_key` spells it, that matched.
    pub name_key: String,
}

/// A detected character to create: the document's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCharacter {
    pub character_id: CharacterId,
    pub name: String,
    pub aliases: Vec<String>,
}

/// The characters the document records, and those to create first.
#[derive(Clone, Debug, PartialEq)]
pub struct Cast {
    pub create: Vec<NewCharacter>,
    pub characters: Vec<DetectedCharacter>,
}

/// The id of a detected character: derived from the document and the
/// name, so every run over the same document meets the same character;
/// `nth` tells apart characters of one name ("Mr. Micawber" and "Mrs.
/// Micawber" are both "Micawber").
pub fn detected_character_id(document: DocumentId, name: &str, nth: usize) -> CharacterId {
    let key = format!("character:{}#{nth}", rules::name_key(name));
    CharacterId::from_uuid(Uuid::new_v5(document.as_uuid(), key.as_bytes()))
}

/// Every name key the analysis gives a character: its name and aliases.
pub fn name_keys(character: &studio_analysis::Character) -> Vec<String> {
    let mut keys: Vec<String> = std::iter::once(&character.name)
        .chain(&character.aliases)
        .map(|n| rules::name_key(n))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Chooses the cast of `analysis`: characters mentioned at least
/// `min_mentions` times (every character of a text too short to say),
/// the most mentioned first, at most [`MAX_DETECTED_CHARACTERS`]; each
/// joined to the one known character bearing one of its names, if exactly
/// one does.
pub fn choose_cast(
    document: DocumentId,
    analysis: &Analysis,
    known: &[KnownCharacter],
    min_mentions: usize,
) -> Cast {
    let short_text = analysis.mentions.len() < 50;
    let mut ranked: Vec<&studio_analysis::Character> = analysis
        .characters
        .iter()
        .filter(|c| short_text || c.mentions >= min_mentions)
        .filter(|c| rules::name(&c.name).is_ok())
        .collect();
    ranked.sort_by(|a, b| {
        b.mentions
            .cmp(&a.mentions)
            .then(a.first_mention.cmp(&b.first_mention))
    });
    ranked.truncate(MAX_DETECTED_CHARACTERS);

    let mut known_by_key: HashMap<&str, Vec<CharacterId>> = HashMap::new();
    for k in known {
        let ids = known_by_key.entry(k.name_key.as_str()).or_default();
        if !ids.contains(&k.character_id) {
            ids.push(k.character_id);
        }
    }

    let mut same_name: HashMap<String, usize> = HashMap::new();
    let mut create = Vec::new();
    // Target character -> (the detected entry, its position in the list).
    let mut entries: Vec<DetectedCharacter> = Vec::new();
    let mut entry_of: HashMap<CharacterId, usize> = HashMap::new();
    let mut character_of_local: HashMap<&str, CharacterId> = HashMap::new();
    for c in ranked {
        let keys = name_keys(c);
        let full = rules::name_key(&c.name);
        let linked = match known_by_key.get(full.as_str()).map(Vec::as_slice) {
            Some([only]) => Some(*only),
            Some(_) => None,
            None => {
                let mut matches: Vec<CharacterId> = keys
                    .iter()
                    .filter_map(|k| known_by_key.get(k.as_str()))
                    .flatten()
                    .copied()
                    .collect();
                matches.sort();
                matches.dedup();
                match matches.as_slice() {
                    [only] => Some(*only),
                    _ => None,
                }
            }
        };
        let character_id = match linked {
            Some(id) => id,
            None => {
                let nth = same_name.entry(full.clone()).or_insert(0);
                let id = detected_character_id(document, &c.name, *nth);
                *nth += 1;
                create.push(NewCharacter {
                    character_id: id,
                    name: c.name.clone(),
                    aliases: aliases_of(c),
                });
                id
            }
        };
        character_of_local.insert(c.id.as_str(), character_id);
        match entry_of.get(&character_id) {
            Some(&i) => {
                let entry = &mut entries[i];
                entry.local_ids.push(c.id.clone());
                entry.mentions += c.mentions as u64;
                entry.first_mention = entry.first_mention.min(c.first_mention as u64);
            }
            None => {
                entry_of.insert(character_id, entries.len());
                entries.push(DetectedCharacter {
                    character_id,
                    local_ids: vec![c.id.clone()],
                    name: c.name.clone(),
                    mentions: c.mentions as u64,
                    first_mention: c.first_mention as u64,
                    linked: linked.is_some(),
                });
            }
        }
    }

    Cast {
        create,
        characters: entries,
    }
}

/// The analysis' interactions between the characters the document
/// recorded: weights of analysis characters that are one recorded
/// character added up, pairs with an unrecorded character left out, the
/// heaviest first, at most [`MAX_INTERACTIONS`].
pub fn interactions(analysis: &Analysis, characters: &[DetectedCharacter]) -> Vec<Interaction> {
    let character_of: HashMap<&str, CharacterId> = characters
        .iter()
        .flat_map(|c| {
            c.local_ids
                .iter()
                .map(move |l| (l.as_str(), c.character_id))
        })
        .collect();
    let mut weights: BTreeMap<(CharacterId, CharacterId), u64> = BTreeMap::new();
    for i in &analysis.interactions {
        if let (Some(&a), Some(&b)) = (
            character_of.get(i.a.as_str()),
            character_of.get(i.b.as_str()),
        ) && a != b
        {
            *weights.entry((a.min(b), a.max(b))).or_insert(0) += i.weight;
        }
    }
    let mut interactions: Vec<Interaction> = weights
        .into_iter()
        .map(|((a, b), weight)| Interaction { a, b, weight })
        .collect();
    interactions.sort_by(|x, y| {
        y.weight
            .cmp(&x.weight)
            .then(x.a.cmp(&y.a))
            .then(x.b.cmp(&y.b))
    });
    interactions.truncate(MAX_INTERACTIONS);
    interactions
}

/// The analysis' other names for a character, as the domain accepts them:
/// valid, distinct from the name and from each other, at most the limit.
fn aliases_of(c: &studio_analysis::Character) -> Vec<String> {
    let mut aliases: Vec<String> = Vec::new();
    for alias in &c.aliases {
        let Ok(alias) = rules::alias(alias) else {
            continue;
        };
        if rules::same_alias(&alias, &c.name)
            || aliases.iter().any(|a| rules::same_alias(a, &alias))
        {
            continue;
        }
        aliases.push(alias);
        if aliases.len() == rules::MAX_ALIASES {
            break;
        }
    }
    aliases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis() -> Analysis {
        studio_analysis::analyze(
            "Elizabeth Bennet smiled. \"Lizzy,\" said Mr. Darcy, \"you are right.\" Elizabeth \
             laughed. Mr. Darcy bowed to Elizabeth. Mrs. Bennet cried. Mrs. Bennet fainted.\n\n\
             Mr. Wickham arrived once.",
        )
    }

    fn document() -> DocumentId {
        DocumentId::from_uuid(Uuid::from_u128(5))
    }

    #[test]
    fn new_characters_get_ids_of_the_document_and_name() {
        let cast = choose_cast(document(), &analysis(), &[], 2);
        let names: Vec<&str> = cast.characters.iter().map(|c| c.name.as_str()).collect();
        assert!(
            names.contains(&"Elizabeth Bennet") && names.contains(&"Darcy"),
            "{names:?}"
        );
        assert!(cast.characters.iter().all(|c| !c.linked));
        assert_eq!(cast.create.len(), cast.characters.len());
        let elizabeth = cast
            .create
            .iter()
            .find(|c| c.name == "Elizabeth Bennet")
            .map(|c| c.character_id);
        assert_eq!(
            elizabeth,
            Some(detected_character_id(document(), "Elizabeth Bennet", 0))
        );
        let interactions = interactions(&analysis(), &cast.characters);
        assert!(!interactions.is_empty());
        assert!(interactions.iter().all(|i| i.a < i.b && i.weight > 0));
    }

    #[test]
    fn characters_the_owner_has_are_joined_not_created() {
        let mine = CharacterId::from_uuid(Uuid::from_u128(77));
        let known = vec![KnownCharacter {
            character_id: mine,
            name_key: "lizzy".into(),
        }];
        let cast = choose_cast(document(), &analysis(), &known, 2);
        let joined = cast
            .characters
            .iter()
            .find(|c| c.character_id == mine)
            .map(|c| (c.linked, c.name.clone()));
        assert_eq!(joined, Some((true, "Elizabeth Bennet".to_owned())));
        assert!(cast.create.iter().all(|c| c.character_id != mine));
    }

    #[test]
    fn two_known_characters_of_one_name_are_not_guessed_between() {
        let known = vec![
            KnownCharacter {
                character_id: CharacterId::from_uuid(Uuid::from_u128(1)),
                name_key: "elizabeth bennet".into(),
            },
            KnownCharacter {
                character_id: CharacterId::from_uuid(Uuid::from_u128(2)),
                name_key: "elizabeth bennet".into(),
            },
        ];
        let cast = choose_cast(document(), &analysis(), &known, 2);
        assert!(cast.characters.iter().all(|c| !c.linked));
    }
}
