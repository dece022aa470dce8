//! Property tests run by `cargo test`: whatever bytes a client sends, the
//! server never panics receiving them, and its answer does not depend on
//! how they are split into reads. Each input goes through
//! [`Receiver::feed`], the function the connection calls, whole, split at
//! generated points and byte by byte, and the same requests (heads and
//! bodies), the same refusals (errors) and the same unfinished request must
//! come out, for refused inputs as for valid ones. Inputs are random bytes,
//! valid requests (pipelined), valid requests edited, and requests at each
//! limit's edge. Coverage-guided targets for the same code are in `fuzz/`
//! (cargo-fuzz); these run a bounded number of cases so they stay part of
//! the ordinary test run.

use std::time::Instant;

use proptest::prelude::*;
use pyo3::Python;

use super::config::Limits;
use super::error::RequestError;
use super::parse::RequestHead;
use super::receive::{Buffered, Progress, Receiver};
use super::target::{absolute_authority, is_valid_host, split_target};

/// Small limits, so the limit paths are exercised too.
fn limits() -> Limits {
    Limits {
        max_request_line_bytes: 200,
        max_header_bytes: 600,
        max_header_count: 8,
        max_body_bytes: 4096,
        max_chunk_line_bytes: 64,
        ..Limits::default()
    }
}

/// A connection's received bytes as a plain buffer.
struct Buffer {
    input: Vec<u8>,
    at: Instant,
    sent: Vec<u8>,
}

impl Buffered for Buffer {
    fn input(&self) -> &[u8] {
        &self.input
    }

    fn consume(&mut self, n: usize) {
        self.input.drain(..n);
    }

    fn last_read(&self) -> Instant {
        self.at
    }

    fn queue(&mut self, bytes: &[u8]) {
        self.sent.extend_from_slice(bytes);
    }
}

/// What came out of one connection's bytes, in order.
#[derive(Debug, PartialEq)]
enum Event {
    /// A request received whole: head, body, whether it declared a body.
    Request(RequestHead, Vec<u8>, bool),
    /// A refusal, and the head when it was parsed (the connection closes).
    Refused(RequestError, Option<RequestHead>),
    /// The input ended inside a request head.
    InHead,
    /// The input ended inside a request body.
    InBody,
}

/// Feeds `input` to a connection's [`Receiver`] as the connection does: a
/// read when it wants more, each read no longer than it asks for and
/// ending at the next of `ends` (or the end of the input); the next request
/// on a kept-alive connection, reusing the last head's buffers.
fn receive(input: &[u8], ends: &[usize]) -> Vec<Event> {
    let limits = limits();
    let mut ends: Vec<usize> = ends.iter().map(|&e| e.min(input.len())).collect();
    ends.push(input.len());
    ends.sort_unstable();
    let mut ends = ends.into_iter();
    let mut io = Buffer {
        input: Vec::new(),
        at: Instant::now(),
        sent: Vec::new(),
    };
    let (mut fed, mut stop) = (0, 0);
    let (mut receiver, mut spare) = (Receiver::default(), None);
    let mut events = Vec::new();
    Python::attach(|py| loop {
        match receiver.feed(py, &mut io, &limits, &mut spare) {
            Progress::Wants(r, want) => {
                while stop <= fed {
                    let Some(end) = ends.next() else {
                        if let Receiver::Body(_) = r {
                            events.push(Event::InBody);
                        } else if !r.is_waiting() {
                            events.push(Event::InHead);
                        }
                        return events;
                    };
                    stop = end;
                }
                let take = (stop - fed).min(want);
                io.input.extend_from_slice(&input[fed..fed + take]);
                fed += take;
                receiver = r;
            }
            Progress::Complete(request) => {
                let body = &request.body;
                assert_eq!(
                    body.len(),
                    body.mem.len() as u64,
                    "the body stays in memory"
                );
                let keep_alive = request.head.keep_alive;
                events.push(Event::Request(
                    request.head.clone(),
                    request.body.mem,
                    request.has_body,
                ));
                if !keep_alive {
                    return events;
                }
                (receiver, spare) = (Receiver::default(), Some(request.head));
            }
            Progress::Refused(e, head) => {
                events.push(Event::Refused(e, head));
                return events;
            }
        }
    })
}

/// Receives `input` whole, in reads ending at `cuts`, and byte by byte;
/// every way must give the same events, which are returned.
fn same_every_way(input: &[u8], cuts: &[usize]) -> Vec<Event> {
    let whole = receive(input, &[]);
    let cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    assert_eq!(receive(input, &cuts), whole, "split at {cuts:?}");
    let every: Vec<usize> = (0..input.len()).collect();
    assert_eq!(receive(input, &every), whole, "byte by byte");
    whole
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

/// A limit whose edge [`at_edge`] builds a request on.
#[derive(Debug, Clone, Copy)]
enum Edge {
    RequestLine,
    Head,
    ChunkLine,
    TrailerLine,
}

/// A request whose part limited by `edge` is `delta` bytes longer than the
/// limit (its CRLF not counted), followed by a plain `GET`; and the offset
/// of the first byte past the limit.
fn at_edge(edge: Edge, delta: isize) -> (Vec<u8>, usize) {
    let l = limits();
    let len = |max: usize| max.saturating_add_signed(delta);
    let chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (req, edge_at) = match edge {
        Edge::RequestLine => {
            let n = len(l.max_request_line_bytes);
            let path = "a".repeat(n - "GET / HTTP/1.1".len());
            (
                format!("GET /{path} HTTP/1.1\r\nHost: h\r\n\r\n"),
                l.max_request_line_bytes,
            )
        }
        Edge::Head => {
            let empty = "GET / HTTP/1.1\r\nHost: h\r\nA: \r\n\r\n";
            let pad = "x".repeat(len(l.max_header_bytes) - empty.len());
            (
                format!("GET / HTTP/1.1\r\nHost: h\r\nA: {pad}\r\n\r\n"),
                l.max_header_bytes,
            )
        }
        Edge::ChunkLine => {
            let ext = "e".repeat(len(l.max_chunk_line_bytes) - 2);
            let body = format!("2;{ext}\r\naa\r\n0\r\n\r\n");
            (
                format!("{chunked}{body}"),
                chunked.len() + l.max_chunk_line_bytes,
            )
        }
        Edge::TrailerLine => {
            let value = "v".repeat(len(l.max_chunk_line_bytes) - 2);
            let body = format!("2\r\naa\r\n0\r\nX:{value}\r\n\r\n");
            let at = chunked.len() + "2\r\naa\r\n0\r\n".len() + l.max_chunk_line_bytes;
            (format!("{chunked}{body}"), at)
        }
    };
    let next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    (format!("{req}{next}").into_bytes(), edge_at)
}

fn edge() -> impl Strategy<Value = Edge> {
    prop::sample::select(vec![
        Edge::RequestLine,
        Edge::Head,
        Edge::ChunkLine,
        Edge::TrailerLine,
    ])
}

/// A byte that framing treats specially, for edits.
fn special() -> impl Strategy<Value = u8> {
    prop::sample::select(b"\r\n\0 \t:;=\"\\\x7f\xffaZ0".to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_answered_the_same_however_split(
        input in prop::collection::vec(any::<u8>(), 0..1200),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        same_every_way(&input, &cuts);
        let _ = (split_target(&input), absolute_authority(&input), is_valid_host(&input));
    }

    #[test]
    fn arbitrary_bodies_are_answered_the_same_however_split(
        te in prop::bool::ANY,
        body in prop::collection::vec(any::<u8>(), 0..800),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let head: &[u8] = if te {
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        } else {
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 300\r\n\r\n"
        };
        same_every_way(&[head, &body].concat(), &cuts);
    }

    #[test]
    fn pipelined_valid_requests_come_out_whole_however_split(
        requests in prop::collection::vec(parts(), 1..4),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        tail in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let raw: Vec<Vec<u8>> = requests
            .iter()
            .map(|(m, p, h, b, c)| valid_request(m, p, h, b, *c))
            .collect();
        let input = raw.concat();
        let events = same_every_way(&input, &cuts);
        prop_assert_eq!(events.len(), requests.len());
        for (event, (method, path, _, body, _)) in events.iter().zip(&requests) {
            let Event::Request(head, got, _) = event else {
                return Err(TestCaseError::fail(format!("{event:?}")));
            };
            prop_assert_eq!((head.method(), head.target()), (method.as_str(), path.as_bytes()));
            prop_assert_eq!(got, body);
        }
        // Whatever follows (the start of another request, or garbage) does
        // not change the requests before it.
        let more = same_every_way(&[input.as_slice(), &tail].concat(), &cuts);
        prop_assert_eq!(&more[..events.len()], &events[..]);
    }

    #[test]
    fn edited_valid_requests_are_answered_the_same_however_split(
        (method, path, headers, body, chunked) in parts(),
        edits in prop::collection::vec(mutation(), 1..6),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let req = mutate(valid_request(&method, &path, &headers, &body, chunked), &edits);
        same_every_way(&req, &cuts);
    }

    #[test]
    fn limits_are_exact_and_the_same_however_split(
        edge in edge(),
        delta in -3isize..=3,
        poke in prop::option::of((-3isize..=3, special(), prop::bool::ANY)),
        cuts in prop::collection::vec(any::<usize>(), 0..4),
    ) {
        let (mut req, edge_at) = at_edge(edge, delta);
        if let Some((offset, byte, insert)) = poke {
            // A special byte just before, at or after the edge.
            let at = edge_at.saturating_add_signed(offset).min(req.len() - 1);
            if insert {
                req.insert(at, byte);
            } else {
                req[at] = byte;
            }
            same_every_way(&req, &cuts);
            return Ok(());
        }
        let events = same_every_way(&req, &cuts);
        // Untouched: up to the limit the request and the next one are
        // served; past it, the request is refused with the limit's status.
        let codes: Vec<Result<(), u16>> = events
            .iter()
            .map(|e| match e {
                Event::Request(..) => Ok(()),
                Event::Refused(e, _) => Err(e.code()),
                other => panic!("{other:?}"),
            })
            .collect();
        let refused = match edge {
            Edge::RequestLine => 414,
            Edge::Head => 431,
            Edge::ChunkLine | Edge::TrailerLine => 400,
        };
        let want = if delta <= 0 { vec![Ok(()), Ok(())] } else { vec![Err(refused)] };
        prop_assert_eq!(codes, want, "{:?} {}", edge, delta);
    }
}
