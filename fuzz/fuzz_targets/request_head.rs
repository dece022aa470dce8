//! The request head parser: never panics, and gives the same answer
//! whole, in two reads (cut where the first byte says) and byte by byte,
//! each read parsing every byte so far as the connection does.
#![no_main]

use _rswsgi::fuzzing::framing;
use _rswsgi::fuzzing::Limits;
use _rswsgi::fuzzing::RequestError;
use _rswsgi::fuzzing::{parse_head, RequestHead};
use libfuzzer_sys::fuzz_target;

type Parsed = Result<Option<RequestHead>, RequestError>;

/// Small limits, so that fuzzed inputs reach them.
fn limits() -> Limits {
    Limits {
        max_request_line_bytes: 256,
        max_header_bytes: 1024,
        max_header_count: 16,
        ..Limits::default()
    }
}

/// The first answer that is not "read more", reads ending at `ends`.
fn in_reads(input: &[u8], ends: impl Iterator<Item = usize>, limits: &Limits) -> Parsed {
    for end in ends.chain([input.len()]) {
        match parse_head(&input[..end.min(input.len())], limits) {
            Ok(None) => {}
            decided => return decided,
        }
    }
    Ok(None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let limits = limits();
    let whole = parse_head(input, &limits);
    let cut = usize::from(cut) * input.len() / 255;
    assert_eq!(
        in_reads(input, [cut].into_iter(), &limits),
        whole,
        "split at {cut}"
    );
    assert_eq!(
        in_reads(input, 0..input.len(), &limits),
        whole,
        "byte by byte"
    );
    if let Ok(Some(head)) = whole {
        assert!(head.head_len <= input.len());
        let _ = (
            head.method(),
            head.target(),
            head.protocol(),
            head.is_head(),
        );
        assert!(head.headers().count() <= limits.max_header_count);
        let _ = framing(&head, &limits);
    }
});
