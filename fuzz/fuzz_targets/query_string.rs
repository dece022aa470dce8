//! `wrap_query_params`'s parser (`parse_qsl`): never panics, and without
//! blank values it gives exactly the pairs with a value, in order.
#![no_main]

use _rswsgi::fuzzing::parse_qsl;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let qs = String::from_utf8_lossy(data);
    let all: Vec<_> = parse_qsl(&qs, true).collect();
    let valued: Vec<_> = parse_qsl(&qs, false).collect();
    let expected: Vec<_> = all.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    assert_eq!(valued, expected);
});
