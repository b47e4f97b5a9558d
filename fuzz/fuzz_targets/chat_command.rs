//! `chat_command`: the chat command parser (`!winv ...` in Matrix, the
//! `/winv` slash command in Mattermost) must never panic on any `str`:
//! `winventory_workflows::commands::parse(line)` and
//! `commands::split_page(line)`. Also checks that `split_page` returns a page
//! of at least 1 and a line that is a prefix of the input. Non-UTF-8 inputs
//! are skipped: chat channels only hand over valid UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use winventory_workflows::commands;

fuzz_target!(|line: &str| {
    let (rest, page) = commands::split_page(line);
    assert!(page >= 1, "page {page} for {line:?}");
    assert!(line.starts_with(rest), "{rest:?} is not a prefix of {line:?}");
    let _ = commands::parse(line);
});
