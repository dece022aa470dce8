//! Property tests (a fuzz target run by `cargo test`): request parsing and
//! body framing never panic, whatever the bytes and however they are split
//! across reads, and a valid request decodes the same whole or in pieces.
//! Models: httparse and matchit `fuzz/` targets, run here with proptest and
//! a bounded case count so it stays part of the ordinary test run.

use proptest::prelude::*;

use super::body::{framing, BodyDecoder, Framing};
use super::config::Limits;
use super::parse::parse_head;
use super::target::{absolute_authority, is_valid_host, split_target};

/// Small limits, so the limit paths are exercised too.
fn limits() -> Limits {
    Limits {
        max_request_line_bytes: 200,
        max_header_bytes: 600,
        max_header_count: 8,
        max_body_bytes: 4096,
        ..Limits::default()
    }
}

/// Feeds `input` to a parser in pieces cut at `cuts`, as reads would, and
/// decodes the body that follows; returns the body on success.
fn feed(input: &[u8], cuts: &[usize]) -> Option<Vec<u8>> {
    let limits = limits();
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    ends.push(input.len());
    ends.sort_unstable();
    let mut head = None;
    let mut start = 0;
    for &end in &ends {
        match parse_head(&input[..end], &limits) {
            Ok(Some(h)) => {
                assert!(h.head_len <= end);
                let _ = (h.method(), h.target(), h.headers().count(), h.is_head());
                start = h.head_len;
                head = Some(h);
                break;
            }
            Ok(None) => {}
            Err(_) => return None,
        }
    }
    let head = head?;
    let mut decoder = BodyDecoder::new(framing(&head, &limits).ok()?);
    let mut body = Vec::new();
    let mut pending = Vec::new();
    let mut fed = start;
    for &end in ends.iter().filter(|&&e| e > start) {
        pending.extend_from_slice(&input[fed..end]);
        fed = end;
        let used = decoder.decode(&pending, &mut body, &limits).ok()?;
        assert!(used <= pending.len());
        assert!(body.len() as u64 <= limits.max_body_bytes);
        pending.drain(..used);
        if decoder.is_done() {
            break;
        }
    }
    decoder.is_done().then_some(body)
}

/// A valid request with `body`, chunked (in pieces of `chunk` bytes, with an
/// extension and a trailer) or with a `Content-Length`.
fn valid_request(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    chunked: Option<usize>,
) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: example.com:8080\r\n").into_bytes();
    for (n, v) in headers {
        req.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    #[allow(clippy::single_match_else)] // two framings, side by side
    match chunked {
        Some(size) => {
            req.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for piece in body.chunks(size.max(1)) {
                req.extend_from_slice(format!("{:X};ext=\"v\"\r\n", piece.len()).as_bytes());
                req.extend_from_slice(piece);
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
        }
        None => {
            req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            req.extend_from_slice(body);
        }
    }
    req
}

fn token() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(b"abcXYZ019-!#$%&'*+.^_`|~".to_vec()),
        1..12,
    )
    .prop_map(|v| String::from_utf8(v).unwrap_or_default())
}

fn field_value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(b"abc XYZ 019,;=\"/\\:()\t".to_vec()),
        0..30,
    )
    .prop_map(|v| String::from_utf8(v).unwrap_or_default().trim().to_owned())
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(b"/ab%20?=&:.~".to_vec()), 0..40)
        .prop_map(|v| format!("/{}", String::from_utf8(v).unwrap_or_default()))
}

/// A valid request's parts: method, path, headers, body, chunk size.
type Parts = (
    String,
    String,
    Vec<(String, String)>,
    Vec<u8>,
    Option<usize>,
);

/// A strategy for [`Parts`].
fn parts() -> impl Strategy<Value = Parts> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "OPTIONS", "X-CUSTOM"]),
        path(),
        prop::collection::vec((token(), field_value()), 0..5),
        prop::collection::vec(any::<u8>(), 0..600),
        prop::option::of(1usize..200),
    )
        .prop_map(|(m, p, mut h, b, c)| {
            // Framing headers are the generator's job.
            h.retain(|(n, _)| {
                !["content-length", "transfer-encoding", "host"]
                    .contains(&n.to_ascii_lowercase().as_str())
            });
            (m.to_owned(), p, h, b, c)
        })
}

/// One edit of a valid request.
#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Dup(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(b"\r\n\0 :;,-0123456789aAfFxX\t\x7f\xff".to_vec());
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Dup(i, n)),
    ]
}

fn mutate(mut req: Vec<u8>, edits: &[Mutation]) -> Vec<u8> {
    for edit in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match *edit {
            Mutation::Set(i, b) if !req.is_empty() => {
                let i = at(i, req.len());
                req[i] = b;
            }
            Mutation::Insert(i, b) => {
                let i = at(i, req.len() + 1);
                req.insert(i, b);
            }
            Mutation::Delete(i) if !req.is_empty() => {
                let i = at(i, req.len());
                req.remove(i);
            }
            Mutation::Dup(i, n) if !req.is_empty() => {
                let i = at(i, req.len());
                let piece: Vec<u8> = req[i..(i + n).min(req.len())].to_vec();
                req.splice(i..i, piece);
            }
            _ => {}
        }
    }
    req
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..1200),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let _ = feed(&input, &cuts);
        let _ = (split_target(&input), absolute_authority(&input), is_valid_host(&input));
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_head_never_panic(
        te in prop::bool::ANY,
        body in prop::collection::vec(any::<u8>(), 0..800),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let head: &[u8] = if te {
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        } else {
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 300\r\n\r\n"
        };
        let _ = feed(&[head, &body].concat(), &cuts);
    }

    #[test]
    fn valid_requests_decode_the_same_in_any_pieces(
        (method, path, headers, body, chunked) in parts(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        tail in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let req = valid_request(&method, &path, &headers, &body, chunked);
        prop_assert_eq!(feed(&req, &[]), Some(body.clone()));
        prop_assert_eq!(feed(&req, &cuts), Some(body.clone()));
        // Whatever follows (a pipelined request) is not part of the body.
        let with_tail = [req.as_slice(), &tail].concat();
        prop_assert_eq!(feed(&with_tail, &cuts), Some(body));
        let framing_kind = parse_head(&req, &limits()).ok().flatten().map(|h| framing(&h, &limits()));
        prop_assert!(matches!(framing_kind, Some(Ok(Framing::Chunked | Framing::Length(_)))));
    }

    #[test]
    fn mutated_valid_requests_never_panic(
        (method, path, headers, body, chunked) in parts(),
        edits in prop::collection::vec(mutation(), 1..6),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let req = mutate(valid_request(&method, &path, &headers, &body, chunked), &edits);
        let _ = feed(&req, &cuts);
    }
}
