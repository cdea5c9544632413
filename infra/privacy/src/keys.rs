use std::path::Path;

use async_trait::async_trait;
use chacha20poly1305::aead::Generate;
use chrono::Utc;
use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use studio_sqlite::{Durability, FileChanges};
use tokio::sync::watch;
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

use crate::PrivacyError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/keys/sqlite");

/// A 256-bit data key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(pub(crate) [u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Where data keys live, one per subject.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The subject's key, made on first use. Refused for a forgotten subject.
    async fn key_for_sealing(&self, subject: Uuid) -> Result<Key, PrivacyError>;

    /// The subject's key, if it exists (never for a forgotten subject).
    async fn key(&self, subject: Uuid) -> Result<Option<Key>, PrivacyError>;

    /// Destroys the subject's key, forever. False if it was already gone.
    async fn forget(&self, subject: Uuid) -> Result<bool, PrivacyError>;

    /// Changes whenever keys may have been destroyed, by this process or
    /// another: holders of cached keys drop them.
    fn changes(&self) -> watch::Receiver<u64>;
}

/// Keys in a SQLite file of their own (`keys.db`). Deleted keys are
/// overwritten on disk (`secure_delete`) and the write-ahead log is
/// truncated after each destruction, so no copy of a destroyed key remains.
pub struct SqliteKeyStore {
    pool: SqlitePool,
    changes: watch::Receiver<u64>,
    _watch: FileChanges,
    _follower: AbortOnDropHandle<()>,
    local: watch::Sender<u64>,
}

impl SqliteKeyStore {
    pub async fn open(path: &Path) -> Result<Self, PrivacyError> {
        let options =
            studio_sqlite::options(path, Durability::EveryCommit).pragma("secure_delete", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| PrivacyError::Corrupt(format!("key store schema: {e}")))?;
        let watch = FileChanges::watch(path)
            .map_err(|e| PrivacyError::Corrupt(format!("cannot watch {}: {e}", path.display())))?;
        let (local, changes) = watch::channel(0u64);
        let mut files = watch.subscribe();
        let forward = local.clone();
        let follower = tokio::spawn(async move {
            while files.changed().await.is_ok() {
                forward.send_modify(|n| *n = n.wrapping_add(1));
            }
        });
        Ok(Self {
            pool,
            changes,
            _watch: watch,
            _follower: AbortOnDropHandle::new(follower),
            local,
        })
    }

    async fn forgotten(&self, subject: Uuid) -> Result<bool, PrivacyError> {
        let row = sqlx::query("SELECT 1 AS gone FROM forgotten_subjects WHERE subject = $1")
            .bind(subject.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

fn key_from(bytes: &[u8]) -> Result<Key, PrivacyError> {
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| PrivacyError::Corrupt(format!("a key of {} bytes", bytes.len())))?;
    Ok(Key(array))
}

#[async_trait]
impl KeyStore for SqliteKeyStore {
    async fn key_for_sealing(&self, subject: Uuid) -> Result<Key, PrivacyError> {
        if let Some(key) = self.key(subject).await? {
            return Ok(key);
        }
        if self.forgotten(subject).await? {
            return Err(PrivacyError::Forgotten(subject));
        }
        let fresh = chacha20poly1305::Key::try_generate()
            .map_err(|e| PrivacyError::Corrupt(format!("no randomness for a key: {e}")))?;
        // Two processes may race to make the first key: the first insert
        // wins and both read it back.
        sqlx::query(
            "INSERT INTO subject_keys (subject, key, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (subject) DO NOTHING",
        )
        .bind(subject.to_string())
        .bind(fresh.to_vec())
        .bind(Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        self.key(subject)
            .await?
            .ok_or(PrivacyError::Forgotten(subject))
    }

    async fn key(&self, subject: Uuid) -> Result<Option<Key>, PrivacyError> {
        let row = sqlx::query("SELECT key FROM subject_keys WHERE subject = $1")
            .bind(subject.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| key_from(&row.try_get::<Vec<u8>, _>("key")?))
            .transpose()
    }

    async fn forget(&self, subject: Uuid) -> Result<bool, PrivacyError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM subject_keys WHERE subject = $1")
            .bind(subject.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "INSERT INTO forgotten_subjects (subject, forgotten_at) VALUES ($1, $2)
             ON CONFLICT (subject) DO NOTHING",
        )
        .bind(subject.to_string())
        .bind(Utc::now().to_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // No copy of the key may survive in the write-ahead log.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        self.local.send_modify(|n| *n = n.wrapping_add(1));
        Ok(deleted > 0)
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }
}
