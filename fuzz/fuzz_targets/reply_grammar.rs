//! `reply_grammar`: `winventory_workflows::reply::parse` must never panic on
//! any line a chat user can type (any `str`, including non-ASCII, control
//! characters and odd whitespace). Non-UTF-8 inputs are skipped: chat
//! channels only ever hand the parser valid UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use winventory_workflows::reply;

fuzz_target!(|line: &str| {
    let _ = reply::parse(line);
});
