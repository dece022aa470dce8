//! The chunked body decoder: never panics, never decodes more than the body
//! limit, and gives the same body, bytes used and error whole, in two reads
//! (cut where the first byte says) and byte by byte, unused bytes kept for
//! the next read as the connection keeps them.
#![no_main]

use _rswsgi::fuzzing::{BodyDecoder, Framing};
use _rswsgi::fuzzing::Limits;
use _rswsgi::fuzzing::RequestError;
use libfuzzer_sys::fuzz_target;

/// Small limits, so that fuzzed inputs reach them.
fn limits() -> Limits {
    Limits {
        max_body_bytes: 4096,
        max_chunk_line_bytes: 64,
        ..Limits::default()
    }
}

/// Decodes `input` in reads ending at `ends`: the body, the bytes used and
/// whether the body is complete, or the error.
fn decode(
    input: &[u8],
    ends: impl Iterator<Item = usize>,
    limits: &Limits,
) -> Result<(Vec<u8>, usize, bool), RequestError> {
    let mut decoder = BodyDecoder::new(Framing::Chunked);
    let (mut body, mut pending, mut fed) = (Vec::new(), Vec::new(), 0);
    for end in ends.chain([input.len()]) {
        let end = end.clamp(fed, input.len());
        pending.extend_from_slice(&input[fed..end]);
        fed = end;
        let used = decoder.decode(&pending, &mut body, limits)?;
        assert!(used <= pending.len());
        assert!(body.len() as u64 <= limits.max_body_bytes);
        pending.drain(..used);
        if decoder.is_done() {
            break;
        }
    }
    Ok((body, fed - pending.len(), decoder.is_done()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let limits = limits();
    let whole = decode(input, std::iter::empty(), &limits);
    let cut = usize::from(cut) * input.len() / 255;
    assert_eq!(
        decode(input, [cut].into_iter(), &limits),
        whole,
        "split at {cut}"
    );
    assert_eq!(
        decode(input, 0..input.len(), &limits),
        whole,
        "byte by byte"
    );
});
