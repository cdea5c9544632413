use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use uuid::Uuid;

use crate::{Key, KeyStore, PrivacyError};

/// What a sealed field reads as once its subject is forgotten.
pub const ERASED: &str = "[erased]";

const ALGORITHM: &str = "XChaCha20-Poly1305";
const SEALED: &str = "$sealed";
const CACHED_KEYS: usize = 4096;

/// Seals the personal fields of events on the way into the log and opens
/// them on the way out.
pub struct PersonalData {
    keys: Arc<dyn KeyStore>,
    cache: Mutex<lru::LruCache<Uuid, Key>>,
    changes: Mutex<watch::Receiver<u64>>,
}

impl PersonalData {
    pub fn new(keys: Arc<dyn KeyStore>) -> Self {
        let changes = keys.changes();
        Self {
            keys,
            cache: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(CACHED_KEYS).unwrap_or(NonZeroUsize::MIN),
            )),
            changes: Mutex::new(changes),
        }
    }

    /// Forgets `subject` for good: destroys their key.
    pub async fn forget(&self, subject: Uuid) -> Result<bool, PrivacyError> {
        let destroyed = self.keys.forget(subject).await;
        self.drop_cached();
        destroyed
    }

    fn drop_cached(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    /// Drops cached keys when the store says keys may have been destroyed.
    fn refresh(&self) {
        let changed = self
            .changes
            .lock()
            .map(|mut c| {
                let changed = c.has_changed().unwrap_or(false);
                c.mark_unchanged();
                changed
            })
            .unwrap_or(true);
        if changed {
            self.drop_cached();
        }
    }

    async fn key(&self, subject: Uuid, for_sealing: bool) -> Result<Option<Key>, PrivacyError> {
        self.refresh();
        if let Some(key) = self
            .cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(&subject).cloned())
        {
            return Ok(Some(key));
        }
        let key = if for_sealing {
            Some(self.keys.key_for_sealing(subject).await?)
        } else {
            self.keys.key(subject).await?
        };
        if let (Some(key), Ok(mut cache)) = (&key, self.cache.lock()) {
            cache.put(subject, key.clone());
        }
        Ok(key)
    }

    /// Replaces each of `fields` present in `data` by its sealed form.
    pub async fn seal(
        &self,
        subject: Uuid,
        event_type: &str,
        fields: &[&str],
        data: Value,
    ) -> Result<Value, PrivacyError> {
        let Value::Object(mut object) = data else {
            return Ok(data);
        };
        if !fields.iter().any(|f| object.contains_key(*f)) {
            return Ok(Value::Object(object));
        }
        let Some(key) = self.key(subject, true).await? else {
            return Err(PrivacyError::Forgotten(subject));
        };
        let cipher = cipher(&key)?;
        for field in fields {
            if let Some(value) = object.remove(*field) {
                let nonce = XNonce::try_generate().map_err(|e| {
                    PrivacyError::Corrupt(format!("no randomness for a nonce: {e}"))
                })?;
                let plaintext = value.to_string();
                let ciphertext = cipher
                    .encrypt(
                        &nonce,
                        Payload {
                            msg: plaintext.as_bytes(),
                            aad: associated_data(subject, event_type, field).as_bytes(),
                        },
                    )
                    .map_err(|_| PrivacyError::Corrupt("encryption failed".into()))?;
                object.insert(
                    (*field).to_owned(),
                    json!({ SEALED: {
                        "alg": ALGORITHM,
                        "nonce": STANDARD.encode(nonce.as_slice()),
                        "ciphertext": STANDARD.encode(ciphertext),
                    }}),
                );
            }
        }
        Ok(Value::Object(object))
    }

    /// Opens every sealed field of `data`; with the subject forgotten,
    /// each reads as [`ERASED`]. A sealed value that does not open with
    /// the subject's key is an error, never silently erased.
    pub async fn unseal(
        &self,
        subject: Uuid,
        event_type: &str,
        data: &Value,
    ) -> Result<Value, PrivacyError> {
        let Value::Object(object) = data else {
            return Ok(data.clone());
        };
        if !object.values().any(is_sealed) {
            return Ok(data.clone());
        }
        let key = self.key(subject, false).await?;
        let mut opened = Map::with_capacity(object.len());
        for (field, value) in object {
            let value = match (is_sealed(value), &key) {
                (false, _) => value.clone(),
                (true, None) => Value::String(ERASED.to_owned()),
                (true, Some(key)) => open(key, subject, event_type, field, value)?,
            };
            opened.insert(field.clone(), value);
        }
        Ok(Value::Object(opened))
    }
}

fn is_sealed(value: &Value) -> bool {
    value.get(SEALED).is_some()
}

fn cipher(key: &Key) -> Result<XChaCha20Poly1305, PrivacyError> {
    XChaCha20Poly1305::new_from_slice(&key.0)
        .map_err(|_| PrivacyError::Corrupt("a key of the wrong length".into()))
}

/// Binds a sealed value to its place: it opens only as this field of this
/// event type of this subject.
fn associated_data(subject: Uuid, event_type: &str, field: &str) -> String {
    format!("{subject}/{event_type}/{field}")
}

fn open(
    key: &Key,
    subject: Uuid,
    event_type: &str,
    field: &str,
    sealed: &Value,
) -> Result<Value, PrivacyError> {
    let tampered = |what: &str| PrivacyError::Tampered(format!("{field} of {event_type}: {what}"));
    let inner = &sealed[SEALED];
    if inner["alg"] != ALGORITHM {
        return Err(tampered("unknown algorithm"));
    }
    let decode = |name: &str| {
        inner[name]
            .as_str()
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(|| tampered(&format!("{name} is not base64")))
    };
    let nonce_bytes = decode("nonce")?;
    let nonce = XNonce::try_from(nonce_bytes.as_slice())
        .map_err(|_| tampered("a nonce of the wrong length"))?;
    let ciphertext = decode("ciphertext")?;
    let plaintext = cipher(key)?
        .decrypt(
            &nonce,
            Payload {
                msg: &ciphertext,
                aad: associated_data(subject, event_type, field).as_bytes(),
            },
        )
        .map_err(|_| tampered("it does not decrypt"))?;
    serde_json::from_slice(&plaintext).map_err(|_| tampered("the plaintext is not JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteKeyStore;

    async fn personal_data() -> (tempfile::TempDir, PersonalData) {
        let dir = tempfile::tempdir().expect("temp dir");
        let keys = SqliteKeyStore::open(&dir.path().join("keys.db"))
            .await
            .expect("keys");
        (dir, PersonalData::new(Arc::new(keys)))
    }

    const TYPE: &str = "studio.user.registered.v1";
    const FIELDS: &[&str] = &["email", "display_name"];

    #[tokio::test]
    async fn sealed_fields_round_trip_and_others_stay_clear() {
        let (_dir, pd) = personal_data().await;
        let subject = Uuid::now_v7();
        let data = json!({ "email": "ada@example.org", "display_name": null, "role": "editor" });
        let sealed = pd
            .seal(subject, TYPE, FIELDS, data.clone())
            .await
            .expect("seal");
        assert_eq!(sealed["role"], "editor");
        assert!(is_sealed(&sealed["email"]) && is_sealed(&sealed["display_name"]));
        assert!(!sealed.to_string().contains("ada@example.org"));
        assert_eq!(
            pd.unseal(subject, TYPE, &sealed).await.expect("unseal"),
            data
        );
    }

    #[tokio::test]
    async fn forgetting_erases_and_refuses_new_sealing() {
        let (_dir, pd) = personal_data().await;
        let subject = Uuid::now_v7();
        let sealed = pd
            .seal(
                subject,
                TYPE,
                FIELDS,
                json!({ "email": "ada@example.org", "role": "editor" }),
            )
            .await
            .expect("seal");
        assert!(pd.forget(subject).await.expect("forget"));
        let erased = pd.unseal(subject, TYPE, &sealed).await.expect("unseal");
        assert_eq!(erased, json!({ "email": ERASED, "role": "editor" }));
        assert!(matches!(
            pd.seal(
                subject,
                TYPE,
                FIELDS,
                json!({ "email": "again@example.org" })
            )
            .await,
            Err(PrivacyError::Forgotten(_))
        ));
        assert!(!pd.forget(subject).await.expect("forget again"));
    }

    #[tokio::test]
    async fn sealed_values_do_not_move_and_tampering_is_an_error() {
        let (_dir, pd) = personal_data().await;
        let ada = Uuid::now_v7();
        let bob = Uuid::now_v7();
        let sealed = pd
            .seal(
                ada,
                TYPE,
                FIELDS,
                json!({ "email": "ada@example.org", "display_name": "Ada" }),
            )
            .await
            .expect("seal");
        pd.seal(bob, TYPE, FIELDS, json!({ "email": "bob@example.org" }))
            .await
            .expect("bob's key");
        // Under another subject, another field, another event type: refused.
        assert!(matches!(
            pd.unseal(bob, TYPE, &sealed).await,
            Err(PrivacyError::Tampered(_))
        ));
        let swapped = json!({ "email": sealed["display_name"], "display_name": sealed["email"] });
        assert!(matches!(
            pd.unseal(ada, TYPE, &swapped).await,
            Err(PrivacyError::Tampered(_))
        ));
        assert!(matches!(
            pd.unseal(ada, "studio.other.v1", &sealed).await,
            Err(PrivacyError::Tampered(_))
        ));
        let mut flipped = sealed.clone();
        flipped["email"]["$sealed"]["ciphertext"] = json!("AAAA");
        assert!(matches!(
            pd.unseal(ada, TYPE, &flipped).await,
            Err(PrivacyError::Tampered(_))
        ));
    }

    #[tokio::test]
    async fn another_process_forgetting_reaches_cached_keys() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("keys.db");
        let here = PersonalData::new(Arc::new(SqliteKeyStore::open(&path).await.expect("keys")));
        let there = PersonalData::new(Arc::new(SqliteKeyStore::open(&path).await.expect("keys")));
        let subject = Uuid::now_v7();
        let sealed = here
            .seal(subject, TYPE, FIELDS, json!({ "email": "ada@example.org" }))
            .await
            .expect("seal");
        assert_eq!(
            here.unseal(subject, TYPE, &sealed).await.expect("open")["email"],
            "ada@example.org"
        );
        there.forget(subject).await.expect("forget elsewhere");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let now = here.unseal(subject, TYPE, &sealed).await.expect("unseal");
            if now["email"] == ERASED {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the forgetting never reached this process"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
