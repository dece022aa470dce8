//! The request-target: its checks and its split into path and query never
//! panic, and a target accepted for GET has a path that starts with `/`
//! and, in absolute form, a valid host (it becomes `HTTP_HOST`).
#![no_main]

use _rswsgi::fuzzing::{absolute_authority, check_target, is_valid_host, split_target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|target: &[u8]| {
    for method in ["GET", "POST", "CONNECT", "OPTIONS"] {
        let _ = check_target(method, target);
    }
    let (path, _query) = split_target(target);
    let authority = absolute_authority(target);
    let _ = is_valid_host(target);
    if check_target("GET", target).is_ok() {
        assert_eq!(path.first(), Some(&b'/'), "{target:?}");
        if target.first() != Some(&b'/') {
            assert!(authority.is_some_and(is_valid_host), "{target:?}");
        }
    }
});
