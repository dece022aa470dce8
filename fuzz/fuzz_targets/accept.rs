//! `Accept` negotiation (`handle_error(debug=True)`'s HTML or text): never
//! panics, and a list that ranks `text/html` above everything else (an
//! element in front of the fuzzed ones, at full weight, with the fuzzed
//! ones at most q=0.5) prefers HTML.
#![no_main]

use _rswsgi::fuzzing::prefers_html;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let accept = String::from_utf8_lossy(data);
    let _ = prefers_html(Some(&accept));
    // Every element the fuzzer wrote, capped below text/html's weight.
    if !accept.contains(['"', ';', '\\']) {
        let capped: Vec<String> = accept.split(',').map(|e| format!("{e};q=0.5")).collect();
        let list = format!("text/html, {}", capped.join(","));
        assert!(prefers_html(Some(&list)), "{list:?}");
    }
});
