//! `signed_token`: `Signer::verify(token, now)` must never panic, whatever a
//! link's query string carries, and whatever verifies must round-trip:
//! signing its claims again gives a token that verifies to the same claims.
//!
//! Each input is used three times, with one fixed key (`k1`, as in the tests):
//! 1. as the token itself (bytes made UTF-8 lossily), which exercises the
//!    splitting, key lookup and base64 in front of the signature or seal;
//! 2. as the payload of a version-2 token signed with the real key (base64
//!    of the raw bytes, HMAC-SHA256 over `k1.` + payload, as earlier
//!    releases signed), so the fuzzer also reaches the claims parser behind
//!    the signature, which random tokens never get past;
//! 3. as the plaintext of a version-3 token sealed with the real key
//!    (`Signer::seal_plaintext`), which reaches the parser behind the seal.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use std::sync::LazyLock;
use winventory_workflows::token::Signer;

const KID: &str = "k1";
const SECRET: &str = "0123456789abcdef0123456789abcdef";

static SIGNER: LazyLock<Signer> = LazyLock::new(|| {
    Signer::from_spec(&format!("{KID}:{SECRET}")).expect("a valid key spec")
});

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time")
}

/// Verify, and if it verifies, check that re-signing round-trips.
fn check(token: &str) {
    let now = now();
    if let Ok(claims) = SIGNER.verify(token, now) {
        let again = SIGNER.sign(&claims);
        assert_eq!(
            SIGNER.verify(&again, now),
            Ok(claims.clone()),
            "token {token:?} verified to {claims:?}, but its re-signed token {again:?} does not"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. The input as a token.
    check(&String::from_utf8_lossy(data));

    // 2. The input as a payload, signed with the real key.
    let payload = B64.encode(data);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(KID.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    let tag = B64.encode(mac.finalize().into_bytes());
    check(&format!("{KID}.{payload}.{tag}"));

    // 3. The input as a version-3 plaintext, sealed with the real key.
    check(&SIGNER.seal_plaintext(data));
});
