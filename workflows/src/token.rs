//! Signed answer links. A token binds a campaign, the recipient asked (a
//! person or a group), the person the link was sent to, a machine (or all
//! the machines of the message it was sent in), an answer and an expiry,
//! under a named key. Keys rotate: the first key signs, every listed key
//! verifies, so links already sent keep working until their own expiry as
//! long as their key stays listed.
//!
//! Tokens of version 3 (`KID.SEALED`) carry their claims encrypted and
//! authenticated with ChaCha20-Poly1305, under a key derived with HKDF-SHA256
//! from the named key: a URL carries no login, address or host name in
//! clear, and a token is checked with the key alone, without reading the
//! database. The nonce is derived from the claims (HMAC-SHA256 under a second
//! derived key, 96 bits), so the same claims always give the same token and
//! no random source is needed. Versions 1 and 2 (`KID.PAYLOAD.TAG`, the
//! claims in base64 with an HMAC-SHA256 tag) are still verified, so links
//! sent before keep working until they expire; nothing signs them any more.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
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
    /// One machine, or `None` for all the machines of the message.
    pub machine: Option<i64>,
    /// For an answer for all machines: the message it was sent in (its
    /// outbox key), whose listed machines it answers, and none other.
    /// `None` in links signed before version 3, which answer the machines
    /// of the campaign already listed in some message.
    pub message: Option<String>,
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

/// The keys a version-3 token is sealed with, derived from one named key.
#[derive(Clone)]
struct Derived {
    /// ChaCha20-Poly1305 key.
    seal: Key,
    /// HMAC-SHA256 key of the nonce.
    nonce: [u8; 32],
}

impl Derived {
    fn of(key: &SigningKey) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"winventory answer links"), &key.secret);
        let mut seal = [0u8; 32];
        let mut nonce = [0u8; 32];
        // 32 bytes are far below HKDF-SHA256's 8,160-byte limit.
        let _ = hk.expand(b"v3 seal", &mut seal);
        let _ = hk.expand(b"v3 nonce", &mut nonce);
        Self {
            seal: seal.into(),
            nonce,
        }
    }
}

/// The keys of a site, newest first.
#[derive(Clone)]
pub struct Signer {
    keys: Vec<SigningKey>,
    derived: Vec<Derived>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("keys", &self.keys).finish()
    }
}

/// The version-3 plaintext's first field: an answer link (other kinds of
/// link can take other letters).
const ANSWER_LINK: &str = "a";
/// First field of a sealed personal page link (an owner's "my machines").
const PERSONAL_PAGE: &str = "p";

/// Bytes of the nonce in front of a version-3 token's ciphertext.
const NONCE_LEN: usize = 12;
/// Bytes of the Poly1305 tag.
const TAG_LEN: usize = 16;

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
        let derived = keys.iter().map(Derived::of).collect();
        Ok(Self { keys, derived })
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
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&key.secret)
            .expect("HMAC takes keys of any length");
        mac.update(key.id.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac
    }

    /// The additional data a version-3 token is authenticated with.
    fn aad(kid: &str) -> String {
        format!("{kid}.3")
    }

    /// A token for these claims (version 3: sealed, see the module).
    pub fn sign(&self, c: &Claims) -> String {
        // The person is left out when it is the recipient (most links).
        let person = if c.person == c.recipient {
            ""
        } else {
            c.person.as_str()
        };
        let plain = format!(
            "{ANSWER_LINK}|{}|{}|{}|{}|{}|{person}|{}",
            c.campaign,
            c.recipient,
            c.machine.map(|m| m.to_string()).unwrap_or_default(),
            c.answer.as_str(),
            c.expires.timestamp(),
            // Only an answer for all machines names its message.
            c.message
                .as_deref()
                .filter(|_| c.machine.is_none())
                .unwrap_or_default(),
        );
        self.seal_plaintext(plain.as_bytes())
    }

    /// A personal link to an owner's page ("my machines", `/me`): the
    /// login and an expiry, sealed like an answer link. It opens that
    /// person's own machines and nothing else; an answer link is never
    /// taken for one, nor one for an answer link (their first fields
    /// differ, under the same seal).
    pub fn sign_personal(&self, login: &str, expires: DateTime<Utc>) -> String {
        self.seal_plaintext(format!("{PERSONAL_PAGE}|{}|{login}", expires.timestamp()).as_bytes())
    }

    /// The login of a personal link, if it holds and has not expired.
    pub fn verify_personal(&self, token: &str, now: DateTime<Utc>) -> Result<String, TokenError> {
        let mut parts = token.split('.');
        let text = match (parts.next(), parts.next(), parts.next()) {
            (Some(kid), Some(sealed), None) => self.open_v3(kid, sealed)?,
            _ => return Err(TokenError::Invalid),
        };
        let mut f = text.splitn(3, '|');
        let (Some(PERSONAL_PAGE), Some(expires), Some(login)) = (f.next(), f.next(), f.next())
        else {
            return Err(TokenError::Invalid);
        };
        if login.is_empty() {
            return Err(TokenError::Invalid);
        }
        let expires = expires
            .parse()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or(TokenError::Invalid)?;
        if now >= expires {
            return Err(TokenError::Expired(expires));
        }
        Ok(login.to_string())
    }

    /// A version-3 token sealing `plain` as it is (for the fuzz target,
    /// which reaches the claims parser behind the seal with it).
    #[doc(hidden)]
    pub fn seal_plaintext(&self, plain: &[u8]) -> String {
        let key = &self.keys[0];
        let derived = &self.derived[0];
        #[allow(clippy::expect_used)]
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&derived.nonce)
            .expect("HMAC takes keys of any length");
        mac.update(plain);
        let digest = mac.finalize().into_bytes();
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&digest[..NONCE_LEN]);
        let nonce = Nonce::from(nonce);
        let aad = Self::aad(&key.id);
        // Encryption fails only past 256 GiB of plaintext.
        let sealed = ChaCha20Poly1305::new(&derived.seal)
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        format!("{}.{}", key.id, B64.encode(bytes))
    }

    /// The plaintext of a version-3 token (`KID.SEALED`).
    fn open_v3(&self, kid: &str, sealed: &str) -> Result<String, TokenError> {
        let i = self
            .keys
            .iter()
            .position(|k| k.id == kid)
            .ok_or(TokenError::UnknownKey)?;
        let bytes = B64.decode(sealed).map_err(|_| TokenError::Invalid)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(TokenError::Invalid);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| TokenError::Invalid)?;
        let aad = Self::aad(kid);
        let plain = ChaCha20Poly1305::new(&self.derived[i].seal)
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| TokenError::Invalid)?;
        String::from_utf8(plain).map_err(|_| TokenError::Invalid)
    }

    /// The plaintext of a version-1 or 2 token (`KID.PAYLOAD.TAG`).
    fn open_v2(&self, kid: &str, payload: &str, tag: &str) -> Result<String, TokenError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == kid)
            .ok_or(TokenError::UnknownKey)?;
        let tag = B64.decode(tag).map_err(|_| TokenError::Invalid)?;
        Self::mac(key, payload)
            .verify_slice(&tag)
            .map_err(|_| TokenError::Invalid)?;
        B64.decode(payload)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(TokenError::Invalid)
    }

    /// The claims of a token, if its signature holds and it has not expired.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (text, sealed) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(kid), Some(sealed), None, None) => (self.open_v3(kid, sealed)?, true),
            (Some(kid), Some(payload), Some(tag), None) => {
                (self.open_v2(kid, payload, tag)?, false)
            }
            _ => return Err(TokenError::Invalid),
        };
        // Version 3 keeps the outbox key last, whole, whatever it holds;
        // its plaintext is accepted only sealed, the older ones only signed.
        let f: Vec<&str> = if sealed {
            text.splitn(8, '|').collect()
        } else {
            text.split('|').collect()
        };
        // Version 1 (links sent before groups' members answered as
        // themselves) names no person: the recipient answers.
        let (campaign, recipient, machine, answer, expires, person, message) = match f[..] {
            // Someone is always asked and someone always answers: a token
            // naming nobody is not one of ours (found by fuzzing: it
            // verified, and its claims signed again did not).
            ["1", c, r, m, a, e] if !sealed && !r.is_empty() => (c, r, m, a, e, r, ""),
            ["2", c, r, m, a, e, p] if !sealed && !p.is_empty() && !r.is_empty() => {
                (c, r, m, a, e, p, "")
            }
            [ANSWER_LINK, c, r, m, a, e, p, msg] if sealed && !r.is_empty() => {
                (c, r, m, a, e, if p.is_empty() { r } else { p }, msg)
            }
            _ => return Err(TokenError::Invalid),
        };
        let machine = match machine {
            "" => None,
            m => Some(m.parse().map_err(|_| TokenError::Invalid)?),
        };
        let claims = Claims {
            campaign: campaign.parse().map_err(|_| TokenError::Invalid)?,
            recipient: recipient.to_string(),
            person: person.to_string(),
            // Only an answer for all machines names its message.
            message: (machine.is_none() && !message.is_empty()).then(|| message.to_string()),
            machine,
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

    #[test]
    fn a_personal_link_opens_its_owner_only_until_it_expires_and_is_no_answer_link() {
        let signer = Signer::new(vec![key("k1", 7)]).expect("signer");
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let t = signer.sign_personal("alice", now + chrono::Duration::days(30));
        assert_eq!(signer.verify_personal(&t, now).as_deref(), Ok("alice"));
        assert!(matches!(
            signer.verify_personal(&t, now + chrono::Duration::days(30)),
            Err(TokenError::Expired(_))
        ));
        assert_eq!(
            signer.verify(&t, now),
            Err(TokenError::Invalid),
            "not an answer link"
        );
        let answer = signer.sign(&claims());
        assert_eq!(
            signer.verify_personal(&answer, now),
            Err(TokenError::Invalid),
            "an answer link opens no page"
        );
        let mut altered = t.clone();
        altered.push('A');
        assert!(signer.verify_personal(&altered, now).is_err());
        let other = Signer::new(vec![key("k1", 8)]).expect("signer");
        assert_eq!(
            other.verify_personal(&t, now),
            Err(TokenError::Invalid),
            "another site's key"
        );
    }

    fn claims() -> Claims {
        Claims {
            campaign: 7,
            recipient: "jdoe".into(),
            person: "jdoe".into(),
            machine: Some(42),
            message: None,
            answer: AnswerKind::Upgrade,
            expires: DateTime::from_timestamp(2_000_000_000, 0).expect("t"),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("t")
    }

    /// A version-2 token, as earlier releases signed them.
    fn sign_v2(k: &SigningKey, c: &Claims) -> String {
        let payload = B64.encode(format!(
            "2|{}|{}|{}|{}|{}|{}",
            c.campaign,
            c.recipient,
            c.machine.map(|m| m.to_string()).unwrap_or_default(),
            c.answer.as_str(),
            c.expires.timestamp(),
            c.person,
        ));
        let tag = B64.encode(Signer::mac(k, &payload).finalize().into_bytes());
        format!("{}.{payload}.{tag}", k.id)
    }

    #[test]
    fn a_signed_token_verifies_to_its_claims() {
        let s = Signer::new(vec![key("k1", 1)]).expect("keys");
        let t = s.sign(&claims());
        assert_eq!(s.verify(&t, now()), Ok(claims()));
        let all = Claims {
            machine: None,
            message: Some("digest:jdoe:2026-12-02:email".into()),
            ..claims()
        };
        assert_eq!(s.verify(&s.sign(&all), now()), Ok(all));
        // The same claims give the same token (the nonce is derived).
        assert_eq!(s.sign(&claims()), t);
    }

    #[test]
    fn a_token_carries_no_login_host_or_message_in_clear() {
        let s = Signer::new(vec![key("k1", 1)]).expect("keys");
        let c = Claims {
            recipient: "group:it-team".into(),
            person: "asmith".into(),
            machine: None,
            message: Some("digest:asmith:2026-12-02:email".into()),
            ..claims()
        };
        let t = s.sign(&c);
        let (kid, sealed) = t.split_once('.').expect("two parts");
        assert_eq!(kid, "k1");
        let bytes = B64.decode(sealed).expect("base64");
        let seen = String::from_utf8_lossy(&bytes).to_lowercase();
        for clear in ["asmith", "it-team", "digest", "upgrade", "2000000000"] {
            assert!(!seen.contains(clear), "{clear} in clear in {t}");
            assert!(!t.to_lowercase().contains(clear), "{clear} in {t}");
        }
        // Short enough for any URL, chat button or dialog state.
        assert!(t.len() <= 160, "{} characters: {t}", t.len());
        assert_eq!(s.verify(&t, now()), Ok(c));
    }

    #[test]
    fn links_signed_as_version_2_still_work_until_they_expire() {
        let k = key("k1", 1);
        let group = Claims {
            recipient: "group:it-team".into(),
            person: "asmith".into(),
            ..claims()
        };
        let sent = sign_v2(&k, &group);
        let s = Signer::new(vec![key("k2", 2), k]).expect("keys");
        assert_eq!(s.verify(&sent, now()), Ok(group.clone()));
        let late = DateTime::from_timestamp(2_000_000_000, 0).expect("t");
        assert_eq!(s.verify(&sent, late), Err(TokenError::Expired(late)));
        // A version-3 plaintext is not accepted under a version-2 signature.
        let payload = B64.encode("a|7|jdoe|42|upgrade|2000000000||");
        let tag = B64.encode(Signer::mac(&key("k1", 1), &payload).finalize().into_bytes());
        assert_eq!(
            s.verify(&format!("k1.{payload}.{tag}"), now()),
            Err(TokenError::Invalid)
        );
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
        // Any bit of a sealed token changed.
        let (kid, sealed) = t.split_once('.').expect("kid");
        let mut bytes = B64.decode(sealed).expect("b64");
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let altered = format!("{kid}.{}", B64.encode(&bytes));
            assert_eq!(s.verify(&altered, now()), Err(TokenError::Invalid));
            bytes[i] ^= 1;
        }
        assert_eq!(
            s.verify(&format!("{kid}.{}", B64.encode(&bytes[..20])), now()),
            Err(TokenError::Invalid)
        );
        // Sealed under another key id than its own.
        let both = Signer::new(vec![key("k2", 1), key("k1", 1)]).expect("keys");
        assert_eq!(
            both.verify(&format!("k2.{sealed}"), now()),
            Err(TokenError::Invalid)
        );
        let t = sign_v2(&key("k1", 1), &claims());
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
        assert_eq!(
            s.verify(&s.sign(&claims()), late),
            Err(TokenError::Expired(late))
        );
    }

    #[test]
    fn rotating_keys_keeps_links_already_sent_working() {
        let old = Signer::new(vec![key("k1", 1)]).expect("keys");
        let sent = old.sign(&claims());
        let rotated = Signer::new(vec![key("k2", 2), key("k1", 1)]).expect("keys");
        assert_eq!(rotated.verify(&sent, now()), Ok(claims()));
        assert!(rotated.sign(&claims()).starts_with("k2."));
        let sent_v2 = sign_v2(&key("k1", 1), &claims());
        assert_eq!(rotated.verify(&sent_v2, now()), Ok(claims()));
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
        assert!(!format!("{s:?}").contains("seal"));
    }
}
