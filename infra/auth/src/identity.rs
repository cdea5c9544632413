use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use studio_domain::UserId;

/// Derives a user's id from their e-mail address with a keyed hash, so that
/// registering an address twice meets the same aggregate (uniqueness by
/// optimistic concurrency) while the id reveals nothing about the address
/// to anyone without the key. The key must never change once users exist.
#[derive(Clone)]
pub struct UserIdDeriver {
    key: Vec<u8>,
}

impl UserIdDeriver {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// `email` must already be normalised (trimmed, lower-case).
    pub fn user_id(&self, email: &str) -> UserId {
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable_key(),
        };
        mac.update(b"literaryai-studio/user/");
        mac.update(email.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        UserId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

/// HMAC accepts keys of any length.
#[allow(clippy::panic)]
fn unreachable_key() -> ! {
    panic!("HMAC-SHA256 takes keys of any length")
}

impl std::fmt::Debug for UserIdDeriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserIdDeriver(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_address_same_id_other_key_other_id() {
        let a = UserIdDeriver::new(b"key one");
        let b = UserIdDeriver::new(b"key two");
        assert_eq!(a.user_id("ada@example.org"), a.user_id("ada@example.org"));
        assert_ne!(a.user_id("ada@example.org"), a.user_id("bob@example.org"));
        assert_ne!(a.user_id("ada@example.org"), b.user_id("ada@example.org"));
        assert_eq!(a.user_id("ada@example.org").as_uuid().get_version_num(), 8);
    }
}
