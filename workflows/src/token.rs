//! Signed answer links. A token binds a campaign, the recipient asked (a
//! person or a group), the person the link was sent to, a machine (or all of
//! the recipient's machines in the campaign), an answer and an expiry,
//! and is signed with HMAC-SHA256 under a named key. Keys rotate: the first
//! key signs, every listed key verifies, so links already sent keep working
//! until their own expiry as long as their key stays listed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::answer::AnswerKind;

type HmacSha256 = Hmac<Sha256>;

/// A signing key: a short id carried in each token, and the secret.
#[derive(Clone)]
pub struct SigningKey {
    /// Id (letters and digits), written into tokens.
    pub id: String,
    /// The secret (at least 32 bytes).
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("secret", &"****")
            .finish()
    }
}

/// What a link says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Campaign id.
    pub campaign: i64,
    /// Who is asked about the machines (login, or `group:NAME`).
    pub recipient: String,
    /// The person the link was sent to, who answers with it (the recipient
    /// itself, or a member of the recipient group).
    pub person: String,
    /// One machine, or `None` for all of the person's open machines.
    pub machine: Option<i64>,
    /// The answer the link proposes.
    pub answer: AnswerKind,
    /// When the link stops working.
    pub expires: DateTime<Utc>,
}

/// Why a token is refused (shown to the person as a page, never recorded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of ours at all, or altered.
    #[error("this link is not valid (it may have been altered or cut)")]
    Invalid,
    /// Signed with a key that is no longer listed.
    #[error("this link was signed with a retired key; use a newer message")]
    UnknownKey,
    /// Past its expiry.
    #[error("this link expired on {0}")]
    Expired(DateTime<Utc>),
}

/// The keys of a site, newest first.
#[derive(Debug, Clone)]
pub struct Signer {
    keys: Vec<SigningKey>,
}

/// Why keys are refused at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key configured.
    #[error("no answer-link signing key is configured (set [links] keys or WINVENTORY_LINK_KEYS)")]
    None,
    /// A key too short to be safe.
    #[error("signing key {0:?} is shorter than 32 bytes")]
    TooShort(String),
    /// A key id with characters tokens cannot carry.
    #[error("signing key id {0:?} must be letters and digits only")]
    BadId(String),
}

impl Signer {
    /// Keys newest first: the first signs, all verify.
    pub fn new(keys: Vec<SigningKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::None);
        }
        for k in &keys {
            if k.id.is_empty() || !k.id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(KeyError::BadId(k.id.clone()));
            }
            if k.secret.len() < 32 {
                return Err(KeyError::TooShort(k.id.clone()));
            }
        }
        Ok(Self { keys })
    }

    /// Parse `id:secret,id:secret` (newest first), as in the environment.
    pub fn from_spec(spec: &str) -> Result<Self, KeyError> {
        let keys = spec
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                let (id, secret) = s.trim().split_once(':').unwrap_or(("", s));
                SigningKey {
                    id: id.to_string(),
                    secret: secret.as_bytes().to_vec(),
                }
            })
            .collect();
        Self::new(keys)
    }

    fn mac(key: &SigningKey, payload: &str) -> HmacSha256 {
        #[allow(clippy::expect_used)]
        let mut mac =
            HmacSha256::new_from_slice(&key.secret).expect("HMAC takes keys of any length");
        mac.update(key.id.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac
    }

    /// A token for these claims.
    pub fn sign(&self, c: &Claims) -> String {
        let key = &self.keys[0];
        let payload = B64.encode(format!(
            "2|{}|{}|{}|{}|{}|{}",
            c.campaign,
            c.recipient,
            c.machine.map(|m| m.to_string()).unwrap_or_default(),
            c.answer.as_str(),
            c.expires.timestamp(),
            c.person,
        ));
        let tag = B64.encode(Self::mac(key, &payload).finalize().into_bytes());
        format!("{}.{payload}.{tag}", key.id)
    }

    /// The claims of a token, if its signature holds and it has not expired.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(kid), Some(payload), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == kid)
            .ok_or(TokenError::UnknownKey)?;
        let tag = B64.decode(tag).map_err(|_| TokenError::Invalid)?;
        Self::mac(key, payload)
            .verify_slice(&tag)
            .map_err(|_| TokenError::Invalid)?;
        let text = B64
            .decode(payload)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(TokenError::Invalid)?;
        let f: Vec<&str> = text.split('|').collect();
        // Version 1 (links sent before groups' members answered as
        // themselves) names no person: the recipient answers.
        let (campaign, recipient, machine, answer, expires, person) = match f[..] {
            // Someone is always asked and someone always answers: a token
            // naming nobody is not one of ours (found by fuzzing: it
            // verified, and its claims signed again did not).
            ["1", c, r, m, a, e] if !r.is_empty() => (c, r, m, a, e, r),
            ["2", c, r, m, a, e, p] if !p.is_empty() && !r.is_empty() => (c, r, m, a, e, p),
            _ => return Err(TokenError::Invalid),
        };
        let claims = Claims {
            campaign: campaign.parse().map_err(|_| TokenError::Invalid)?,
            recipient: recipient.to_string(),
            person: person.to_string(),
            machine: match machine {
                "" => None,
                m => Some(m.parse().map_err(|_| TokenError::Invalid)?),
            },
            answer: AnswerKind::parse(answer).ok_or(TokenError::Invalid)?,
            expires: expires
                .parse()
                .ok()
                .and_then(|s| DateTime::from_timestamp(s, 0))
                .ok_or(TokenError::Invalid)?,
        };
        if now >= claims.expires {
            return Err(TokenError::Expired(claims.expires));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, fill: u8) -> SigningKey {
        SigningKey {
            id: id.into(),
            secret: vec![fill; 32],
        }
    }

    fn claims() -> Claims {
        Claims {
            campaign: 7,
            recipient: "jdoe".into(),
            person: "jdoe".into(),
            machine: Some(42),
            answer: AnswerKind::Upgrade,
            expires: DateTime::from_timestamp(2_000_000_000, 0).expect("t"),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("t")
    }

    #[test]
    fn a_signed_token_verifies_to_its_claims() {
        let s = Signer::new(vec![key("k1", 1)]).expect("keys");
        let t = s.sign(&claims());
        assert_eq!(s.verify(&t, now()), Ok(claims()));
        let all = Claims {
            machine: None,
            ..claims()
        };
        assert_eq!(s.verify(&s.sign(&all), now()), Ok(all));
    }

    #[test]
    fn a_group_link_names_the_member_it_was_sent_to() {
        let s = Signer::new(vec![key("k1", 1)]).expect("keys");
        let group = Claims {
            recipient: "group:it-team".into(),
            person: "asmith".into(),
            ..claims()
        };
        assert_eq!(s.verify(&s.sign(&group), now()), Ok(group));
    }

    #[test]
    fn links_signed_before_tokens_named_the_person_still_work() {
        // A version-1 token, as sent by earlier releases: no person field.
        let k = key("k1", 1);
        let payload = B64.encode("1|7|jdoe|42|upgrade|2000000000");
        let tag = B64.encode(Signer::mac(&k, &payload).finalize().into_bytes());
        let s = Signer::new(vec![k]).expect("keys");
        assert_eq!(
            s.verify(&format!("k1.{payload}.{tag}"), now()),
            Ok(claims())
        );
    }

    #[test]
    fn signed_tokens_naming_nobody_are_refused() {
        // Found by fuzzing: a version-1 payload with an empty recipient
        // verified, and its claims signed again did not.
        let k = key("k1", 1);
        let s = Signer::new(vec![k.clone()]).expect("keys");
        for text in [
            "1|7||4|upgrade|2000000000",
            "2|7||4|upgrade|2000000000|jdoe",
            "2|7|jdoe|4|upgrade|2000000000|",
        ] {
            let payload = B64.encode(text);
            let tag = B64.encode(Signer::mac(&k, &payload).finalize().into_bytes());
            assert_eq!(
                s.verify(&format!("k1.{payload}.{tag}"), now()),
                Err(TokenError::Invalid),
                "{text}"
            );
        }
    }

    #[test]
    fn altered_forged_and_expired_tokens_are_refused() {
        let s = Signer::new(vec![key("k1", 1)]).expect("keys");
        let t = s.sign(&claims());
        let (kid, rest) = t.split_once('.').expect("kid");
        let (payload, tag) = rest.split_once('.').expect("tag");
        // Another machine, same signature.
        let other = B64.encode(
            String::from_utf8(B64.decode(payload).expect("b64"))
                .expect("utf8")
                .replace("|42|", "|43|"),
        );
        assert_eq!(
            s.verify(&format!("{kid}.{other}.{tag}"), now()),
            Err(TokenError::Invalid)
        );
        // Signed with a key nobody configured.
        let forger = Signer::new(vec![key("k1", 9)]).expect("keys");
        assert_eq!(
            s.verify(&forger.sign(&claims()), now()),
            Err(TokenError::Invalid)
        );
        assert_eq!(s.verify("garbage", now()), Err(TokenError::Invalid));
        assert_eq!(s.verify("k1.%%%.###", now()), Err(TokenError::Invalid));
        let late = DateTime::from_timestamp(2_000_000_000, 0).expect("t");
        assert_eq!(s.verify(&t, late), Err(TokenError::Expired(late)));
    }

    #[test]
    fn rotating_keys_keeps_links_already_sent_working() {
        let old = Signer::new(vec![key("k1", 1)]).expect("keys");
        let sent = old.sign(&claims());
        let rotated = Signer::new(vec![key("k2", 2), key("k1", 1)]).expect("keys");
        assert_eq!(rotated.verify(&sent, now()), Ok(claims()));
        assert!(rotated.sign(&claims()).starts_with("k2."));
        let retired = Signer::new(vec![key("k2", 2)]).expect("keys");
        assert_eq!(retired.verify(&sent, now()), Err(TokenError::UnknownKey));
    }

    #[test]
    fn weak_keys_are_refused_at_start_up_and_never_printed() {
        assert_eq!(
            Signer::from_spec("k1:short").err(),
            Some(KeyError::TooShort("k1".into()))
        );
        assert_eq!(Signer::from_spec("").err(), Some(KeyError::None));
        let s = Signer::from_spec("k1:0123456789abcdef0123456789abcdef").expect("ok");
        assert!(!format!("{s:?}").contains("0123456789"));
    }
}
