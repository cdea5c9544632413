use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use studio_domain::{Role, UserId};
use uuid::Uuid;

use crate::Principal;

const ISSUER: &str = "literaryai-studio";
const AUDIENCE: &str = "literaryai-studio-api";
pub const MIN_SECRET_BYTES: usize = 32;

/// Issues and checks HS256 access tokens. Only HS256 with our key is
/// accepted: `alg: none`, other algorithms and other keys are refused.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_seconds: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    jti: String,
}

/// The body of a successful login.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token secret must have at least {MIN_SECRET_BYTES} bytes")]
    WeakSecret,
    #[error("the access token is expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
    #[error("could not sign a token: {0}")]
    Signing(String),
}

impl Tokens {
    pub fn new(secret: &[u8], ttl_seconds: u64) -> Result<Self, TokenError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(TokenError::WeakSecret);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_seconds,
        })
    }

    pub fn issue(&self, principal: Principal, now_unix: u64) -> Result<AccessToken, TokenError> {
        let claims = Claims {
            sub: principal.user_id.to_string(),
            role: principal.role,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now_unix,
            exp: now_unix + self.ttl_seconds,
            jti: Uuid::now_v7().to_string(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(AccessToken {
            access_token: token,
            token_type: "Bearer".into(),
            expires_in: self.ttl_seconds,
        })
    }

    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        if token.len() > 8192 {
            return Err(TokenError::Invalid);
        }
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        let user_id = data
            .claims
            .sub
            .parse::<UserId>()
            .map_err(|_| TokenError::Invalid)?;
        Ok(Principal {
            user_id,
            role: data.claims.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn principal() -> Principal {
        Principal {
            user_id: UserId::from_uuid(Uuid::from_u128(42)),
            role: Role::Editor,
        }
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn issued_tokens_verify() {
        let tokens = Tokens::new(SECRET, 3600).expect("tokens");
        let token = tokens.issue(principal(), now()).expect("issue");
        assert_eq!(token.token_type, "Bearer");
        assert_eq!(token.expires_in, 3600);
        assert_eq!(tokens.verify(&token.access_token), Ok(principal()));
    }

    #[test]
    fn weak_secrets_are_refused() {
        assert!(matches!(
            Tokens::new(b"short", 60),
            Err(TokenError::WeakSecret)
        ));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let tokens = Tokens::new(SECRET, 60).expect("tokens");
        let token = tokens.issue(principal(), now() - 3600).expect("issue");
        assert_eq!(tokens.verify(&token.access_token), Err(TokenError::Expired));
    }

    #[test]
    fn another_key_is_refused() {
        let ours = Tokens::new(SECRET, 60).expect("tokens");
        let theirs = Tokens::new(b"another secret of thirty-two bytes!", 60).expect("tokens");
        let token = theirs.issue(principal(), now()).expect("issue");
        assert_eq!(ours.verify(&token.access_token), Err(TokenError::Invalid));
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        let tokens = Tokens::new(SECRET, 60).expect("tokens");
        let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "sub": Uuid::from_u128(42).to_string(), "role": "admin",
            "iss": ISSUER, "aud": AUDIENCE, "iat": now(), "exp": now() + 60, "jti": "x"
        });
        let body = b64(claims.to_string().as_bytes());
        for forged in [format!("{header}.{body}."), format!("{header}.{body}")] {
            assert_eq!(tokens.verify(&forged), Err(TokenError::Invalid));
        }
        for garbage in ["", "a.b.c", "Bearer x", &"a".repeat(10_000)] {
            assert_eq!(tokens.verify(garbage), Err(TokenError::Invalid));
        }
    }
}
