use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Password rules and argon2id hashing. Hashing is deliberately slow, so it
/// runs on the blocking pool, never on the async executor.
#[derive(Clone, Copy, Debug, Default)]
pub struct Passwords;

pub const MIN_PASSWORD_CHARS: usize = 8;
/// Long enough for any passphrase, short enough that hashing stays cheap.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password must have at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl Passwords {
    pub fn check_policy(&self, password: &str) -> Result<(), PasswordError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        Ok(())
    }

    /// A PHC string (`$argon2id$v=19$...`) for a password that meets the policy.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        self.check_policy(&password)?;
        tokio::task::spawn_blocking(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| PasswordError::Hashing(e.to_string()))
        })
        .await
        .map_err(|e| PasswordError::Hashing(e.to_string()))?
    }

    /// Whether `password` matches `phc`; false for anything malformed.
    pub async fn verify(&self, password: String, phc: String) -> bool {
        if password.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.as_bytes(), phc.as_str())
                .is_ok()
        })
        .await
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_per_salt() {
        let passwords = Passwords;
        let a = passwords
            .hash("correct horse".into())
            .await
            .unwrap_or_default();
        let b = passwords
            .hash("correct horse".into())
            .await
            .unwrap_or_default();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(passwords.verify("correct horse".into(), a.clone()).await);
        assert!(!passwords.verify("wrong horse".into(), a).await);
        assert!(
            !passwords
                .verify("anything".into(), "not a hash".into())
                .await
        );
    }

    #[tokio::test]
    async fn policy() {
        let passwords = Passwords;
        assert_eq!(
            passwords.hash("short".into()).await,
            Err(PasswordError::TooShort)
        );
        assert_eq!(
            passwords.hash("x".repeat(MAX_PASSWORD_BYTES + 1)).await,
            Err(PasswordError::TooLong)
        );
    }
}
