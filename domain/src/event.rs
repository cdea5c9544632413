use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An event as the log stores it: a versioned type name and explicit fields.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    /// For example `studio.document.uploaded.v1`.
    pub event_type: String,
    pub data: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum EventDecodeError {
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("event {event_type} does not match its schema: {source}")]
    Schema {
        event_type: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The events of one aggregate. Each is an enum whose variants carry
/// `#[serde(rename = "studio.<aggregate>.<what>.v<N>")]`, serialised
/// adjacently tagged, so the type name and the fields stay explicit.
pub trait DomainEvent: Serialize + DeserializeOwned + Sized {
    /// Every type name this enum reads and writes, for documentation checks
    /// and for routing (`docs/events.md` must list each).
    const TYPES: &'static [&'static str];

    fn encode(&self) -> EncodedEvent {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut fields)) => {
                let event_type = match fields.remove("type") {
                    Some(Value::String(t)) => t,
                    _ => unreachable_type(),
                };
                let data = fields.remove("data").unwrap_or(Value::Null);
                EncodedEvent { event_type, data }
            }
            _ => unreachable_type(),
        }
    }

    /// Reads a stored event of any version: upcast to the current version,
    /// then checked against its schema.
    fn decode(event_type: &str, data: &Value) -> Result<Self, EventDecodeError> {
        let (event_type, data) = crate::upcast::upcast(event_type, data.clone());
        if !Self::TYPES.contains(&event_type.as_str()) {
            return Err(EventDecodeError::UnknownType(event_type));
        }
        let tagged = serde_json::json!({ "type": event_type, "data": data });
        serde_json::from_value(tagged)
            .map_err(|source| EventDecodeError::Schema { event_type, source })
    }

    fn event_type(&self) -> String {
        self.encode().event_type
    }
}

/// Event enums are plain data with string keys: serialising them to a JSON
/// object cannot fail, and the adjacently tagged layout always has a `type`.
#[allow(clippy::panic)]
fn unreachable_type() -> ! {
    panic!("domain events serialise as {{\"type\", \"data\"}} objects")
}
