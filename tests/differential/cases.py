"""The raw requests the differential harness sends to rswsgi, gunicorn and waitress.

Every request-line and header shape of tests/test_hostile.py and
tests/test_http11.py is here (limits at each server's defaults rather than the
small ones those tests set), with methods, request-targets, versions,
Transfer-Encoding and Content-Length combinations, repeated headers, Expect,
and bodies that end early. Each case is one request on a fresh connection;
`half_close` shuts the client's sending side after it, so a server waiting
for more of the body sees it end.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One raw request: `id` names it in reports and in docs/differences.md's table."""

    id: str
    raw: bytes
    half_close: bool = False


HOST = b"Host: example.test\r\n"


def req(line: bytes | str, *headers: bytes | str, body: bytes = b"", host: bool = True) -> bytes:
    """`line` CRLF, `Host: example.test` (unless `host=False`), `headers`, CRLF, body."""
    enc = [h.encode("latin-1") if isinstance(h, str) else h for h in (line, *headers)]
    head = enc[0] + b"\r\n" + (HOST if host else b"")
    return head + b"".join(h + b"\r\n" for h in enc[1:]) + b"\r\n" + body


def post(*headers: bytes | str, body: bytes = b"") -> bytes:
    return req("POST /p HTTP/1.1", *headers, body=body)


TE = "Transfer-Encoding: chunked"
CHUNKED = b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"


def _cases() -> list[Case]:
    c: list[Case] = []

    def add(id: str, raw: bytes, half_close: bool = False) -> None:
        c.append(Case(id, raw, half_close))

    # --- methods (RFC 9110 section 9; any token is a method) ---------------------------
    for method in ["GET", "HEAD", "DELETE", "TRACE", "PURGE", "M-SEARCH", "get"]:
        add(f"method-{method}", req(f"{method} / HTTP/1.1"))
    for method in ["POST", "PUT", "PATCH"]:
        add(f"method-{method}", req(f"{method} / HTTP/1.1", "Content-Length: 3", body=b"abc"))
    add("method-OPTIONS", req("OPTIONS / HTTP/1.1"))
    add("method-not-a-token", req("G@T / HTTP/1.1"))
    add("method-brace-post", req("{}POST / HTTP/1.1"))

    # --- request-targets (RFC 9112 section 3.2) ----------------------------------------
    targets = {
        "root": "/",
        "pct-encoded": "/a%20b?x=1&y=%20",
        "pct-utf8": "/caf%C3%A9",
        "pct-slash": "/a%2Fb",
        "pct-bad": "/bad%zz",
        "empty-query": "/x?",
        "double-slash": "//a//b",
        "dot-segments": "/a/../b/./c",
        "query-only-slash": "/?q=1",
        "fragment": "/p#frag",
    }
    for name, target in targets.items():
        add(f"target-{name}", req(f"GET {target} HTTP/1.1"))
    add("target-raw-utf8", req("GET /caf\u00e9 HTTP/1.1".encode()))
    add("target-raw-latin1", req(b"GET /caf\xe9 HTTP/1.1"))
    add("target-absolute", req("GET http://example.com:81/p/q?x=1 HTTP/1.1"))
    add("target-absolute-no-path", req("GET http://example.com HTTP/1.1"))
    add("target-absolute-https", req("GET https://example.com/p HTTP/1.1"))
    add("target-absolute-userinfo", req("GET http://user@example.com/p HTTP/1.1"))
    add("target-absolute-upper-scheme", req("GET HTTP://EXAMPLE.COM/p HTTP/1.1"))
    add("target-absolute-no-authority", req("GET http:/p HTTP/1.1"))
    add("target-asterisk-options", req("OPTIONS * HTTP/1.1"))
    add("target-asterisk-get", req("GET * HTTP/1.1"))
    add(
        "target-authority-connect",
        req("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443", host=False),
    )
    add("target-authority-get", req("GET example.com:443 HTTP/1.1"))
    add("target-origin-connect", req("CONNECT / HTTP/1.1"))
    add("target-no-form", req("GET foo HTTP/1.1"))
    add("target-query-no-path", req("GET ?x=1 HTTP/1.1"))
    add("target-with-space", req("GET /a b HTTP/1.1"))

    # --- HTTP-version (RFC 9112 section 2.3) -------------------------------------------
    add("version-1.0", req("GET / HTTP/1.0", host=False))
    add("version-1.0-host", req("GET / HTTP/1.0"))
    add("version-1.2", req("GET / HTTP/1.2"))
    add("version-2.0", req("GET / HTTP/2.0"))
    add("version-3.0", req("GET / HTTP/3.0", host=False))
    add("version-0.9", req("GET / HTTP/0.9", host=False))
    add("version-h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    for name, version in [
        ("lower-case", "http/1.1"),
        ("minor-x", "HTTP/1.x"),
        ("no-dot", "HTTP/11"),
        ("two-digit-minor", "HTTP/1.10"),
        ("major-only", "HTTP/1"),
        ("two-dots", "HTTP/1.1.1"),
    ]:
        add(f"version-{name}", req(f"GET / {version}"))
    add("version-missing", req("GET /"))
    add("version-trailing-space", req("GET / HTTP/1.1 "))

    # --- request-line and line-ending shapes (RFC 9112 sections 2.2, 3) ----------------
    add("line-bare-lf", b"GET / HTTP/1.1\nHost: example.test\n\n", half_close=True)
    add(
        "line-bare-lf-in-a-field",
        b"GET / HTTP/1.1\r\nHost: example.test\r\nDummy: x\nContent-Length: 23\r\n\r\n"
        b"GET / HTTP/1.1\r\nDummy: GET /admin HTTP/1.1\r\nHost: example.test\r\n\r\n",
    )
    add("line-leading-crlf", b"\r\n" + req("GET / HTTP/1.1"))
    add("line-double-space", req("GET  / HTTP/1.1"))
    add("line-tab-separator", req("GET\t/\tHTTP/1.1"))
    add("line-garbage", b"garbage\r\n\r\n")
    add("line-too-long", req("GET /" + "a" * 9000 + " HTTP/1.1"))

    # --- header fields (RFC 9112 section 5, RFC 9110 section 5) ------------------------
    get = "GET / HTTP/1.1"
    add("header-no-host", req(get, host=False))
    add("header-two-hosts", req(get, "Host: example.test"))
    add("header-host-invalid", req(get, "Host: a b/c", host=False))
    add("header-host-userinfo", req(get, "Host: user@a", host=False))
    add("header-host-empty", req(get, "Host:", host=False))
    add("header-host-ipv6", req(get, "Host: [::1]:8080", host=False))
    add("header-host-upper-name", req(get, "HOST: example.test", host=False))
    add("header-obs-fold", req(get, "X-A: 1", "  folded"))
    add("header-space-before-colon", req(get, "X-A : 1"))
    add("header-nul", req(get, b"X-A: a\x00b"))
    add("header-bare-cr", req(get, b"X-A: a\rb"))
    add("header-no-colon", req(get, "X-A"))
    add("header-empty-name", req(get, ": x"))
    add("header-name-with-space", req(get, "Bad Header: x"))
    add("header-name-not-token", req(get, "X(A): 1"))
    add("header-underscore", req(get, "X_Forwarded_For: spoofed", "X-Forwarded-For: real"))
    add("header-repeated", req(get, "X-Dup: a", "x-dup: b"))
    add("header-repeated-cookie", req(get, "Cookie: a=1", "Cookie: b=2"))
    add("header-repeated-content-type", req(get, "Content-Type: a/b", "Content-Type: c/d"))
    add("header-content-type", req(get, "Content-Type: text/plain; charset=utf-8"))
    add("header-latin1-value", req(get, b"X-Latin: caf\xe9"))
    add("header-utf8-value", req(get, "X-Utf8: caf\u00e9".encode()))
    add("header-ows", req(get, "X-Pad: \t padded \t "))
    add("header-empty-value", req(get, "X-Empty:"))
    add("header-connection-close", req(get, "Connection: close"))
    add("header-keep-alive-1.0", req("GET / HTTP/1.0", "Connection: keep-alive"))
    add("header-authorization", req(get, "Authorization: Basic dXNlcjpwYXNz"))
    add("header-long-value", req(get, "X-Long: " + "v" * 4000))
    add("header-too-large", req(get, "X: " + "a" * 70000))
    add("header-too-many", req(get, *(f"X-{i}: 1" for i in range(101))))

    # --- Expect (RFC 9110 section 10.1.1) ----------------------------------------------
    add("expect-100-continue", post("Expect: 100-continue", "Content-Length: 3", body=b"abc"))
    add("expect-100-continue-case", post("Expect: 100-Continue", "Content-Length: 3", body=b"abc"))
    add(
        "expect-100-continue-chunked",
        post("Expect: 100-continue", TE, body=CHUNKED),
    )
    add("expect-100-continue-no-body", req(get, "Expect: 100-continue"), half_close=True)
    add(
        "expect-100-continue-1.0",
        req("POST /p HTTP/1.0", "Expect: 100-continue", "Content-Length: 3", body=b"abc"),
    )
    add("expect-unknown", post("Expect: something-else", "Content-Length: 3", body=b"abc"))

    # --- Content-Length (RFC 9112 section 6.3, RFC 9110 section 8.6) -------------------
    add("cl-body", post("Content-Length: 5", body=b"hello"))
    add("cl-zero", post("Content-Length: 0"))
    add("cl-none", post())
    add("cl-get-with-body", req(get, "Content-Length: 3", body=b"abc"))
    add("cl-two-same", post("Content-Length: 3", "Content-Length: 3", body=b"abc"))
    add("cl-two-different", post("Content-Length: 3", "Content-Length: 4", body=b"abcd"))
    add("cl-list-same", post("Content-Length: 3, 3", body=b"abc"))
    add("cl-list-different", post("Content-Length: 3, 4", body=b"abcd"))
    add("cl-plus", post("Content-Length: +3", body=b"abc"))
    add("cl-negative", post("Content-Length: -1"))
    add("cl-hex", post("Content-Length: 0x3", body=b"abc"))
    add("cl-empty", post("Content-Length:"))
    add("cl-inner-space", post("Content-Length: 1 2", body=b"a" * 12))
    add("cl-leading-zeros", post("Content-Length: 003", body=b"abc"))
    add("cl-overflow", post("Content-Length: 99999999999999999999999"), half_close=True)
    add("cl-over-the-limit", post("Content-Length: 2147483648"), half_close=True)
    add("cl-http10", req("POST /p HTTP/1.0", "Content-Length: 3", body=b"abc", host=False))

    # --- Transfer-Encoding (RFC 9112 sections 6.1, 7.1) --------------------------------
    add("te-chunked", post(TE, body=CHUNKED))
    add("te-chunked-upper", post("Transfer-Encoding: CHUNKED", body=CHUNKED))
    add("te-chunked-padded", post("Transfer-Encoding:  chunked ", body=CHUNKED))
    add("te-chunked-empty-body", post(TE, body=b"0\r\n\r\n"))
    add("te-chunked-extensions", post(TE, body=b'4;a=1;b="x;y"\r\nWiki\r\n0;last\r\n\r\n'))
    add("te-chunked-trailers", post(TE, body=b"4\r\nWiki\r\n0\r\nX-Check: abc\r\n\r\n"))
    add("te-chunked-upper-hex", post(TE, body=b"A\r\n0123456789\r\n0\r\n\r\n"))
    add("te-chunked-leading-zeros", post(TE, body=b"0004\r\nWiki\r\n0\r\n\r\n"))
    add("te-chunked-size-space", post(TE, body=b"4 \r\nWiki\r\n0\r\n\r\n"))
    add("te-chunked-bws-before-ext", post(TE, body=b"4 ;a=1\r\nWiki\r\n0\r\n\r\n"))
    add("te-chunked-ext-bare-lf", post(TE, body=b"4;a\nb\r\nWiki\r\n0\r\n\r\n"))
    for name, line in [
        ("empty", b"2;"),
        ("no-name", b"2;=x"),
        ("no-value", b"2;a="),
        ("space-in-name", b"2;a b"),
        ("open-quote", b'2;a="b'),
    ]:
        add(f"te-chunk-ext-{name}", post(TE, body=line + b"\r\naa\r\n0\r\n\r\n"))
    add("te-chunk-ext-no-value-no-data", post(TE, body=b"20;invalid=\r\n"), half_close=True)
    add(
        "te-trailer-bare-lf",
        post(TE, body=b"0\r\nX: a\n\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"),
        half_close=True,
    )
    add("te-trailer-nul", post(TE, body=b"0\r\nX: a\x00\r\n\r\n"))
    add("te-trailer-no-colon", post(TE, body=b"0\r\nX\r\n\r\n"))
    add("te-trailer-bad-name", post(TE, body=b"0\r\nX Y: a\r\n\r\n"))
    add("te-chunked-fragment-target", req("POST /p?q=1#f HTTP/1.1", TE, body=CHUNKED))
    add("te-chunked-lf-only", post(TE, body=b"4\nWiki\n0\n\n"), half_close=True)
    add("te-chunked-twice", post("Transfer-Encoding: chunked, chunked", body=CHUNKED))
    add("te-gzip-chunked", post("Transfer-Encoding: gzip, chunked", body=CHUNKED))
    add("te-chunked-gzip", post("Transfer-Encoding: chunked, gzip", body=CHUNKED))
    add("te-gzip", post("Transfer-Encoding: gzip", body=b"abc"), half_close=True)
    add("te-identity", post("Transfer-Encoding: identity", body=b"abc"), half_close=True)
    add("te-empty", post("Transfer-Encoding:"))
    add(
        "te-two-fields-chunked-gzip",
        post(TE, "Transfer-Encoding: gzip", body=CHUNKED),
    )
    add(
        "te-two-fields-gzip-chunked",
        post("Transfer-Encoding: gzip", TE, body=CHUNKED),
    )
    add("te-http10", req("POST /p HTTP/1.0", TE, body=CHUNKED, host=False))
    add("te-and-cl", post("Content-Length: 3", TE, body=CHUNKED))
    add("cl-and-te", post(TE, "Content-Length: 3", body=CHUNKED))
    add("te-bad-chunk-size", post(TE, body=b"-1\r\n"), half_close=True)
    add("te-chunk-size-not-hex", post(TE, body=b"zz\r\n"), half_close=True)
    add("te-chunk-size-overflow", post(TE, body=b"f" * 20 + b"\r\n"), half_close=True)
    add("te-chunk-data-no-crlf", post(TE, body=b"1\r\nab0\r\n\r\n"), half_close=True)
    add("te-chunk-over-the-limit", post(TE, body=b"50000000\r\n"), half_close=True)

    # --- bodies that end early ---------------------------------------------------------
    add("early-cl", post("Content-Length: 10", body=b"hello"), half_close=True)
    add("early-chunk-data", post(TE, body=b"a\r\nhello"), half_close=True)
    add("early-no-last-chunk", post(TE, body=b"5\r\nhello\r\n"), half_close=True)
    add("early-in-trailers", post(TE, body=b"0\r\nX-T: 1\r\n"), half_close=True)
    add("early-head", b"GET / HTTP/1.1\r\nHost: example.test\r\n", half_close=True)
    return c


CASES = _cases()
