//! `action_context`: what comes back from a Mattermost click or dialog
//! (`workflows::buttons`) must never panic the parsers, whatever the body:
//! the integration request's `context` (`parse_context`, after the body is
//! read as JSON the way the HTTP edge reads it) and a dialog's `state`
//! (`parse_state`). What a state parser accepts must round-trip through
//! `dialog_state`, and what a context parser accepts must be a token of
//! token characters only and at most `MAX_TOKEN_LEN` long.
#![no_main]

use libfuzzer_sys::fuzz_target;
use winventory_workflows::buttons::{MAX_TOKEN_LEN, dialog_state, parse_context, parse_state};

fuzz_target!(|data: &[u8]| {
    // The body of a click, as the edge reads it.
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) {
        for context in [body.get("context").cloned().unwrap_or_default(), body] {
            if let Ok(pick) = parse_context(&context) {
                assert!(!pick.token.is_empty() && pick.token.len() <= MAX_TOKEN_LEN);
                assert!(
                    pick.token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                    "{:?}",
                    pick.token
                );
            }
        }
    }
    // A dialog's state.
    let text = String::from_utf8_lossy(data);
    if let Ok((pick, post)) = parse_state(&text) {
        let again = dialog_state(&pick, post.as_deref());
        assert_eq!(parse_state(&again), Ok((pick, post)), "{text:?} -> {again:?}");
    }
});
