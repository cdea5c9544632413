//! Forgetting a person in an immutable log (crypto-shredding).
//!
//! Personal fields of events (the domain names them) are sealed with a
//! data key that belongs to the event's tenant and lives in a [`KeyStore`],
//! outside the log. Destroying the key makes every sealed field unreadable
//! at once, wherever it was copied, while the log and its hash chain stay
//! as they are. [`PersonalData`] seals on write and unseals on read;
//! unreadable fields read as [`ERASED`].

mod keys;
mod seal;

pub use keys::{Key, KeyStore, SqliteKeyStore};
pub use seal::{ERASED, PersonalData};

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("{0} was forgotten: nothing new is recorded about them")]
    Forgotten(uuid::Uuid),
    #[error("a sealed value cannot be opened with its subject's key: {0}")]
    Tampered(String),
    #[error("the key store failed: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("the key store is corrupt: {0}")]
    Corrupt(String),
}
