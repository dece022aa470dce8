"""rswsgi against gunicorn and waitress, request by request; docs/differences.md keeps the score.

Every case in `cases.py` goes to the three servers (`harness.py` says how
and what is compared). Each place where rswsgi's status, environ or body
differs from both peers must be a row of the table in docs/differences.md ("Where rswsgi
differs from gunicorn and waitress"), with the same values, and every row must
still be such a difference: the table is the harness's expected output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from cases import CASES
from harness import PEERS, SERVERS, Difference, Seen, differences, observe, serving
from support import ROOT

PAGE = "docs/differences.md"
SECTION = "# Where rswsgi differs from gunicorn and waitress"
ROW = re.compile(r"^\| `(?P<case>[^`]+)` \| `(?P<field>[^`]+)` \|(?P<rest>.*)\|$")


def readme_section() -> str:
    text = (ROOT / PAGE).read_text(encoding="utf-8")
    assert text.startswith(SECTION + "\n"), f"{PAGE} does not start with {SECTION!r}"
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


def readme_rows() -> list[tuple[Difference, str]]:
    """Each table row: the difference it states and its reason tag."""
    rows = []
    for line in readme_section().splitlines():
        m = ROW.match(line)
        if m is None:
            continue
        cells = [c.strip() for c in m["rest"].split("|")]
        assert len(cells) == 4, f"a row has 6 cells: {line}"
        values = [c[1:-1] if c.startswith("`") and c.endswith("`") else c for c in cells[:3]]
        rows.append((Difference(m["case"], m["field"], *values), cells[3]))
    return rows


def as_row(d: Difference) -> str:
    """`d` as a row of the table, reason left to fill in."""
    values = " | ".join(f"`{v}`" for v in (d.rswsgi, d.gunicorn, d.waitress))
    return f"| `{d.case}` | `{d.field}` | {values} | R? |"


@pytest.fixture(scope="module")
def observed() -> Iterator[dict[str, dict[str, Seen]]]:
    for peer in PEERS:  # both are in the `test` extra (gunicorn: not on Windows)
        pytest.importorskip(peer)
    with ExitStack() as stack:
        ports = {s: stack.enter_context(serving(s)) for s in SERVERS}
        yield observe(ports, CASES)


def test_every_difference_is_in_the_readme_table(observed: dict[str, dict[str, Seen]]) -> None:
    documented = {d for d, _ in readme_rows()}
    new = [d for d in differences(observed) if d not in documented]
    assert not new, (
        f"rswsgi differs from gunicorn and waitress where {PAGE} does not say so; "
        "fix rswsgi, or add these rows (with the RFC or PEP reason) to the table:\n"
        + "\n".join(as_row(d) for d in new)
    )


def test_every_readme_row_is_still_a_difference(observed: dict[str, dict[str, Seen]]) -> None:
    found = set(differences(observed))
    stale = [d for d, _ in readme_rows() if d not in found]
    assert not stale, f"{PAGE} rows that the harness no longer sees:\n" + "\n".join(
        as_row(d) for d in stale
    )


def test_readme_rows_are_unique_and_each_reason_is_given() -> None:
    rows = readme_rows()
    assert rows, f"the table in {PAGE} has no rows"
    keys = [(d.case, d.field) for d, _ in rows]
    assert len(keys) == len(set(keys)), "a case and field appear twice"
    assert {d.case for d, _ in rows} <= {c.id for c in CASES}, "a row names no case"
    reasons = set(re.findall(r"^- \*\*(R\d+)\*\*", readme_section(), re.M))
    assert {why for _, why in rows} <= reasons, "a row's reason is not in the list under the table"
    assert reasons <= {why for _, why in rows}, "a reason that no row uses"


def test_the_harness_sees_each_server_answer(observed: dict[str, dict[str, Seen]]) -> None:
    # Not vacuous: a plain request reaches all three apps, and they agree on what it was.
    plain = observed["te-chunked"]
    for server in SERVERS:
        seen = plain[server]
        assert seen.status == "200" and seen.environ is not None, (server, seen)
        assert seen.body == "Wikipedia"
        env = seen.environ
        assert (env["REQUEST_METHOD"], env["PATH_INFO"], env["HTTP_HOST"]) == (
            "POST",
            "/p",
            "example.test",
        )
        assert env["SERVER_PORT"] == "<port>" and env["SERVER_SOFTWARE"] == "<set>"


def seen(status: str, **environ: str) -> Seen:
    return Seen(status, environ or None, "" if environ else None)


def test_a_difference_is_a_field_where_rswsgi_stands_alone() -> None:
    observed = {
        # Differs from one peer only: not a difference.
        "one": {"rswsgi": seen("400"), "gunicorn": seen("400"), "waitress": seen("200")},
        "both": {"rswsgi": seen("400"), "gunicorn": seen("200"), "waitress": seen("501")},
        "env": {
            "rswsgi": seen("200", A="1", B="x"),
            "gunicorn": seen("200", A="2", B="x"),
            "waitress": seen("200", A="3", C="y"),
        },
        # One peer refused: the environs are not compared.
        "refused": {
            "rswsgi": seen("200", A="1"),
            "gunicorn": seen("400"),
            "waitress": seen("200", A="2"),
        },
    }
    assert differences(observed) == [
        Difference("both", "status", "400", "200", "501"),
        Difference("env", "A", '"1"', '"2"', '"3"'),
    ]


@pytest.mark.parametrize(
    ("reply", "status", "malformed"),
    [
        # Well-formed, and what gunicorn 27 sends for a 400 on CPython 3.14+ (dedent
        # dropped the CR of the blank line): the same status, the fault named.
        (b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nbad", "400", ()),
        (
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\nbad",
            "400",
            ("the head ends with a bare LF",),
        ),
        (
            b"HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\r\n\r\n",
            "200",
            (),
        ),
        (
            b"HTTP/1.0 404 Not Found\nServer: x\n\n",
            "404",
            ("2 line(s) end with a bare LF", "the head ends with a bare LF"),
        ),
        # Not a response at all: named, with its bytes, never a crash.
        (b"SSH-2.0-OpenSSH\r\n\r\n", "unparsable: b'SSH-2.0-OpenSSH'", ()),
        (b"HTTP/1.1 2", "unparsable: b'HTTP/1.1 2'", ()),
        (b"", "closed", ()),
    ],
)
def test_a_peers_malformed_head_is_parsed_or_named(
    reply: bytes, status: str, malformed: tuple[str, ...]
) -> None:
    import socket
    import threading

    from cases import Case
    from harness import send

    with socket.create_server(("127.0.0.1", 0)) as listener:

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

        peer = threading.Thread(target=answer)
        peer.start()
        case = Case("probe", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = send(listener.getsockname()[1], case)
        peer.join(5)
    assert (got.status, got.malformed) == (status, malformed)
