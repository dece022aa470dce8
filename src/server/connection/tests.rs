//! The connection layer driven on in-memory buffers (a [`MemoryPeer`]
//! instead of a socket), as hyper's dispatcher is tested on a mock I/O:
//! streaming, `write()`, fairness, keep-alive, 100-continue and framing,
//! each checked on the exact bytes the client receives.

use std::ffi::CStr;

use proptest::prelude::*;
use pyo3::types::PyDict;

use super::*;
use crate::server::environ::EnvironTemplate;
use crate::server::response_head::DateCache;
use crate::server::transport::MemoryPeer;
use crate::server::turn_context::HeldLog;

/// What the event loop gives every connection, for one test.
struct Rig {
    environ: EnvironTemplate,
    limits: Limits,
    date: DateCache,
    held: HeldLog,
    stopping: bool,
    live_reload: Option<String>,
}

impl Rig {
    fn new(py: Python<'_>) -> Self {
        let none = py.None().into_bound(py);
        Self {
            environ: EnvironTemplate::new(py, "localhost", 8000, &none).unwrap(),
            limits: Limits::default(),
            date: DateCache::default(),
            held: HeldLog::default(),
            stopping: false,
            live_reload: None,
        }
    }

    /// One turn of `conn` serving `app`.
    fn advance(
        &mut self,
        py: Python<'_>,
        conn: &mut Connection,
        app: &Bound<'_, PyAny>,
    ) -> AfterTurn {
        let mut ctx = TurnContext {
            app,
            environ: &self.environ,
            limits: &self.limits,
            quiet: true,
            color: false,
            stopping: self.stopping,
            date: &mut self.date,
            held: &mut self.held,
            live_reload: self.live_reload.as_deref(),
        };
        conn.advance(py, &mut ctx)
    }

    /// Turns until the connection waits or closes (at most `max`); the
    /// last `AfterTurn`.
    fn run(
        &mut self,
        py: Python<'_>,
        conn: &mut Connection,
        app: &Bound<'_, PyAny>,
        max: usize,
    ) -> AfterTurn {
        for _ in 0..max {
            match self.advance(py, conn, app) {
                AfterTurn::Yield => {}
                other => return other,
            }
        }
        AfterTurn::Yield
    }
}

/// The module namespace of Python source `code` (it defines `app`).
fn module<'py>(py: Python<'py>, code: &CStr) -> Bound<'py, PyDict> {
    let ns = PyDict::new(py);
    py.run(code, Some(&ns), None).unwrap();
    ns
}

fn app<'py>(ns: &Bound<'py, PyDict>) -> Bound<'py, PyAny> {
    ns.get_item("app").unwrap().unwrap()
}

/// A connection whose client sends `pieces`, one read each.
fn client<P: Into<Vec<u8>>>(pieces: impl IntoIterator<Item = P>) -> Connection {
    let peer = MemoryPeer::sending(pieces);
    Connection::over(Transport::memory(peer), "127.0.0.1:5000".parse().unwrap())
}

/// What the client has received so far, as text.
fn received(conn: &mut Connection) -> String {
    let peer = conn.io.memory_peer().unwrap();
    String::from_utf8_lossy(&peer.received).into_owned()
}

/// The response heads received so far, without their `Date` lines.
fn heads(text: &str) -> Vec<String> {
    text.split("HTTP/1.1 ")
        .skip(1)
        .map(|r| {
            let head = r.split("\r\n\r\n").next().unwrap_or("");
            head.lines()
                .filter(|l| !l.starts_with("Date:"))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";

const STREAM: &CStr = c"
asked = []
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    def body():
        asked.append(1)
        yield b'first'
        asked.append(2)
        yield b'second'
        asked.append(3)
    return body()
";

#[test]
fn the_first_block_goes_out_before_the_second_is_asked_for() {
    Python::attach(|py| {
        let ns = module(py, STREAM);
        let mut rig = Rig::new(py);
        let mut conn = client([GET]);
        // The turn ends after the first block, which is on the wire.
        assert!(matches!(
            rig.advance(py, &mut conn, &app(&ns)),
            AfterTurn::Yield
        ));
        let text = received(&mut conn);
        assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n5\r\nfirst\r\n"), "{text:?}");
        assert_eq!(ns.get_item("asked").unwrap().unwrap().len().unwrap(), 1);
        // Each further block is its own turn.
        assert!(matches!(
            rig.advance(py, &mut conn, &app(&ns)),
            AfterTurn::Yield
        ));
        assert!(received(&mut conn).ends_with("6\r\nsecond\r\n"));
        assert!(matches!(
            rig.run(py, &mut conn, &app(&ns), 5),
            AfterTurn::Wait
        ));
        assert!(received(&mut conn).ends_with("6\r\nsecond\r\n0\r\n\r\n"));
        assert_eq!(ns.get_item("asked").unwrap().unwrap().len().unwrap(), 3);
    });
}

const WRITE_THEN_FAIL: &CStr = c"
def app(environ, start_response):
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    write(b'sent at once')
    raise RuntimeError('after write')
";

#[test]
fn write_sends_before_it_returns() {
    Python::attach(|py| {
        let ns = module(py, WRITE_THEN_FAIL);
        let mut rig = Rig::new(py);
        let mut conn = client([GET]);
        // The bytes were on the wire when the app raised: the head cannot
        // become a 500 any more, the connection is aborted.
        assert!(matches!(
            rig.run(py, &mut conn, &app(&ns), 5),
            AfterTurn::Close
        ));
        let text = received(&mut conn);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nc\r\nsent at once\r\n"), "{text:?}");
    });
}

const WRITE_TO_A_STALLED_CLIENT: &CStr = c"
raised = []
def app(environ, start_response):
    write = start_response('200 OK', [('Content-Length', '3')])
    try:
        write(b'abc')
    except OSError as e:
        raised.append(type(e).__name__)
        raise
    return []
";

#[test]
fn write_to_a_client_that_does_not_read_raises_timeout_error() {
    Python::attach(|py| {
        let ns = module(py, WRITE_TO_A_STALLED_CLIENT);
        let mut rig = Rig::new(py);
        let mut conn = client([GET]);
        conn.io.memory_peer().unwrap().room = Some(0);
        assert!(matches!(
            rig.run(py, &mut conn, &app(&ns), 5),
            AfterTurn::Close
        ));
        let raised = ns.get_item("raised").unwrap().unwrap();
        assert_eq!(raised.str().unwrap().to_string(), "['TimeoutError']");
    });
}

const FRAMINGS: &CStr = c"
class One:
    def __len__(self): return 1
    def __iter__(self): return iter([b'', b'single'])
def app(environ, start_response):
    path = environ['PATH_INFO']
    start_response('200 OK', [])
    if path == '/list':
        return [b'ab', b'cd']
    if path == '/one':
        return One()
    if path == '/ended':
        return (b for b in [b'', b''])
    return (b for b in [b'x', b'y'])
";

fn get(path: &str, version: &str) -> Vec<u8> {
    format!("GET {path} HTTP/{version}\r\nHost: h\r\n\r\n").into_bytes()
}

#[test]
fn framing_is_decided_without_pulling_a_second_block() {
    Python::attach(|py| {
        let ns = module(py, FRAMINGS);
        let mut rig = Rig::new(py);
        for (path, version, expect) in [
            ("/list", "1.1", "Content-Length: 4"),
            ("/one", "1.1", "Content-Length: 6"),
            ("/ended", "1.1", "Content-Length: 0"),
            ("/gen", "1.1", "Transfer-Encoding: chunked"),
            ("/gen", "1.0", "Connection: close"),
        ] {
            let mut conn = client([get(path, version)]);
            rig.run(py, &mut conn, &app(&ns), 10);
            let text = received(&mut conn);
            assert!(
                text.contains(&format!("{expect}\r\n")),
                "{path} {version}: {text}"
            );
        }
        // Close-delimited: the body is all that follows, and the server
        // closes its side.
        let mut conn = client([get("/gen", "1.0")]);
        rig.run(py, &mut conn, &app(&ns), 10);
        assert!(received(&mut conn).ends_with("\r\n\r\nxy"));
        assert!(conn.io.memory_peer().unwrap().write_closed);
    });
}

const HELLO: &CStr = c"
def app(environ, start_response):
    headers = [('Content-Type', 'text/plain')]
    if environ['PATH_INFO'] == '/bye':
        headers.append(('Connection', 'close'))
    if environ['PATH_INFO'] == '/short':
        headers.append(('Content-Length', '10'))
    start_response('200 OK', headers)
    body = environ['wsgi.input'].read()
    return [b'hello ' + body]
";

#[test]
fn keep_alive_is_decided_in_one_place() {
    Python::attach(|py| {
        let ns = module(py, HELLO);
        let mut rig = Rig::new(py);
        // Two pipelined requests: both answered, the connection kept.
        let mut two = GET.to_vec();
        two.extend_from_slice(GET);
        let mut conn = client([two]);
        assert!(matches!(
            rig.run(py, &mut conn, &app(&ns), 10),
            AfterTurn::Wait
        ));
        let text = received(&mut conn);
        assert_eq!(heads(&text).len(), 2, "{text}");
        assert!(!text.contains("Connection: close"));
        for (request, reason) in [
            (
                &b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"[..],
                "asked",
            ),
            (b"GET / HTTP/1.0\r\n\r\n", "1.0"),
            (b"GET /bye HTTP/1.1\r\nHost: h\r\n\r\n", "app"),
        ] {
            let mut conn = client([request]);
            rig.run(py, &mut conn, &app(&ns), 10);
            let text = received(&mut conn);
            assert!(text.contains("Connection: close\r\n"), "{reason}: {text}");
            assert!(conn.io.memory_peer().unwrap().write_closed, "{reason}");
        }
        // A body short of its Content-Length is found after the head went
        // out: the connection closes all the same.
        let mut conn = client([&b"GET /short HTTP/1.1\r\nHost: h\r\n\r\n"[..]]);
        rig.run(py, &mut conn, &app(&ns), 10);
        assert!(conn.io.memory_peer().unwrap().write_closed);
        // HTTP/1.0 asking for keep-alive gets it, and says so.
        let mut conn = client([&b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"[..]]);
        assert!(matches!(
            rig.run(py, &mut conn, &app(&ns), 10),
            AfterTurn::Wait
        ));
        assert!(received(&mut conn).contains("Connection: keep-alive\r\n"));
        // A server that stops while a response is in flight finishes it,
        // then closes.
        let stream = module(py, STREAM);
        let mut conn = client([GET]);
        assert!(matches!(
            rig.advance(py, &mut conn, &app(&stream)),
            AfterTurn::Yield
        ));
        rig.stopping = true;
        assert!(matches!(
            rig.run(py, &mut conn, &app(&stream), 10),
            AfterTurn::Wait
        ));
        assert!(received(&mut conn).ends_with("6\r\nsecond\r\n0\r\n\r\n"));
        assert!(conn.io.memory_peer().unwrap().write_closed);
        // A request that has arrived by then is answered, and the
        // connection closed: on a new connection...
        let mut conn = client([GET]);
        rig.run(py, &mut conn, &app(&ns), 10);
        let text = received(&mut conn);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(conn.io.memory_peer().unwrap().write_closed);
        // ...and on a kept-alive one.
        rig.stopping = false;
        let mut conn = client([GET]);
        rig.run(py, &mut conn, &app(&ns), 10);
        rig.stopping = true;
        let peer = conn.io.memory_peer().unwrap();
        peer.received.clear();
        peer.incoming.push_back(GET.to_vec());
        conn.ready(true, false, false);
        rig.run(py, &mut conn, &app(&ns), 10);
        assert!(received(&mut conn).contains("Connection: close\r\n"));
        // With nothing arrived, a kept-alive connection closes at once...
        rig.stopping = false;
        let mut conn = client([GET]);
        rig.run(py, &mut conn, &app(&ns), 10);
        rig.stopping = true;
        assert!(matches!(
            rig.advance(py, &mut conn, &app(&ns)),
            AfterTurn::Close
        ));
        // ...and so does a new one silent since long before the stop (a
        // browser's speculative connection)...
        let mut conn = client(Vec::<Vec<u8>>::new());
        conn.opened -= FIRST_BYTES_WAIT;
        assert!(matches!(
            rig.advance(py, &mut conn, &app(&ns)),
            AfterTurn::Close
        ));
        // ...while one just accepted waits for the request its client is
        // sending, and answers it when it comes.
        let mut conn = client(Vec::<Vec<u8>>::new());
        assert!(matches!(
            rig.advance(py, &mut conn, &app(&ns)),
            AfterTurn::Wait
        ));
        assert!(conn.has_work_in_flight());
        conn.io
            .memory_peer()
            .unwrap()
            .incoming
            .push_back(GET.to_vec());
        conn.ready(true, false, false);
        rig.run(py, &mut conn, &app(&ns), 10);
        assert!(received(&mut conn).contains("Connection: close\r\n"));
    });
}

#[test]
fn continue_goes_out_before_the_body_is_read() {
    Python::attach(|py| {
        let ns = module(py, HELLO);
        let mut rig = Rig::new(py);
        let head =
            b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
        let mut conn = client([&head[..]]);
        assert!(matches!(
            rig.advance(py, &mut conn, &app(&ns)),
            AfterTurn::Wait
        ));
        assert_eq!(received(&mut conn), "HTTP/1.1 100 Continue\r\n\r\n");
        conn.io
            .memory_peer()
            .unwrap()
            .incoming
            .push_back(b"world".to_vec());
        conn.ready(true, true, false);
        assert!(matches!(
            rig.run(py, &mut conn, &app(&ns), 10),
            AfterTurn::Wait
        ));
        assert!(received(&mut conn).ends_with("\r\n\r\nhello world"));
    });
}

const FAILS: &CStr = c"
def app(environ, start_response):
    raise ValueError('before the head')
";

#[test]
fn an_exception_before_the_head_is_the_servers_500() {
    Python::attach(|py| {
        let ns = module(py, FAILS);
        let mut rig = Rig::new(py);
        let mut conn = client([GET, GET]);
        // The 500 keeps the connection: the next request is answered too.
        rig.run(py, &mut conn, &app(&ns), 10);
        conn.ready(true, true, false);
        rig.run(py, &mut conn, &app(&ns), 10);
        let text = received(&mut conn);
        let heads = heads(&text);
        assert_eq!(heads.len(), 2, "{text}");
        assert!(
            heads[0].starts_with("500 Internal Server Error|"),
            "{heads:?}"
        );
        assert!(text.ends_with("\r\n\r\n500 Internal Server Error\n"));
    });
}

#[test]
fn a_stalled_reader_stops_the_stream_until_it_reads() {
    Python::attach(|py| {
        let ns = module(py, STREAM);
        let mut rig = Rig::new(py);
        let mut conn = client([GET]);
        conn.io.memory_peer().unwrap().room = Some(10);
        // The head does not fit: wait for the client, and ask the app for
        // nothing more meanwhile.
        assert!(matches!(
            rig.run(py, &mut conn, &app(&ns), 10),
            AfterTurn::Wait
        ));
        assert_eq!(ns.get_item("asked").unwrap().unwrap().len().unwrap(), 1);
        conn.io.memory_peer().unwrap().room = None;
        conn.ready(false, true, false);
        assert!(matches!(
            rig.run(py, &mut conn, &app(&ns), 10),
            AfterTurn::Wait
        ));
        assert!(received(&mut conn).ends_with("6\r\nsecond\r\n0\r\n\r\n"));
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// However the client's bytes are split into reads, the same
    /// responses come out.
    #[test]
    fn responses_do_not_depend_on_read_boundaries(cuts in proptest::collection::vec(0usize..200, 0..8)) {
        let mut input = b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n".to_vec();
        input.extend_from_slice(b"GET /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nzz");
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % input.len()).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut pieces = Vec::new();
        let mut from = 0;
        for c in cuts.into_iter().chain([input.len()]) {
            if c > from {
                pieces.push(input[from..c].to_vec());
                from = c;
            }
        }
        Python::attach(|py| {
            let ns = module(py, HELLO);
            let mut rig = Rig::new(py);
            let whole = {
                let mut conn = client([input.clone()]);
                rig.run(py, &mut conn, &app(&ns), 20);
                heads(&received(&mut conn))
            };
            let mut conn = client(pieces.clone());
            for _ in 0..pieces.len() + 2 {
                conn.ready(true, true, false);
                rig.run(py, &mut conn, &app(&ns), 20);
            }
            prop_assert_eq!(whole.len(), 2);
            prop_assert_eq!(heads(&received(&mut conn)), whole);
            Ok(())
        })?;
    }
}
