//! Old versions of events, and how each becomes the current version when
//! read. Stored events are never rewritten: every reader (aggregates,
//! projections, audit) upcasts on the way in, so it only ever sees current
//! types.

use serde_json::Value;

/// Event types that are no longer written, each upcast to its successor.
pub const SUPERSEDED: &[&str] = &["studio.character.created.v1"];

/// The current form of a stored event. Types without an upcaster are
/// returned as they are.
pub fn upcast(event_type: &str, data: Value) -> (String, Value) {
    let mut event_type = event_type.to_owned();
    let mut data = data;
    while let Some(next) = step(&event_type, &mut data) {
        event_type = next.to_owned();
    }
    (event_type, data)
}

/// One version forward, or `None` when `event_type` is current.
fn step(event_type: &str, data: &mut Value) -> Option<&'static str> {
    match event_type {
        // v2 records where a character came from; every character of the
        // v1 era was created by hand.
        "studio.character.created.v1" => {
            if let Value::Object(fields) = data {
                fields
                    .entry("origin")
                    .or_insert_with(|| Value::String("manual".into()));
            }
            Some("studio.character.created.v2")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn v1_creations_become_manual_v2_creations() {
        let (t, data) = upcast("studio.character.created.v1", json!({ "name": "Pip" }));
        assert_eq!(t, "studio.character.created.v2");
        assert_eq!(data, json!({ "name": "Pip", "origin": "manual" }));
    }

    #[test]
    fn current_types_pass_through() {
        let data = json!({ "title": "x" });
        assert_eq!(
            upcast("studio.document.renamed.v1", data.clone()),
            ("studio.document.renamed.v1".to_owned(), data)
        );
    }
}
