"""reverser on Unicode text: extended grapheme clusters (UAX #29), checked against `regex`'s
`\\X` (which implements the current rules, Indic conjuncts included; the `grapheme` package
stops at Unicode 13 and splits them).

The corpus covers combining marks, ZWJ emoji sequences, flags and tag sequences, Hangul
syllables and conjoining jamo, right-to-left text, CRLF, Prepend characters and Indic
conjuncts, each next to ASCII (the reverser's fast path), alone, and split across body chunks;
then hypothesis tries arbitrary text.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
import regex
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rswsgi import reverser
from support.apps import run


def reference(text: str) -> str:
    return "".join(reversed(regex.findall(r"\X", text)))


def reversed_by_rswsgi(text: str, chunks: int = 1) -> str:
    body = text.encode()
    cut = [len(body) * i // chunks for i in range(chunks + 1)]
    parts = [body[a:b] for a, b in zip(cut, cut[1:], strict=False)]  # may split a character's bytes

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return parts

    server = run(reverser(app))
    assert server.status == "200 OK"
    assert server.headers["content-length"] == str(len(body))
    return server.data.decode()


CORPUS = {
    "combining marks": "e\u0301 a\u0308\u0304 o\u0328\u0301x \u0301lead",
    "zwj family": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466!",
    "zwj profession, skin tone": "x\U0001f469\U0001f3fd\u200d\U0001f692y",
    "flags": "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea\U0001f1ef",
    "tag flag": "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f.",
    "keycap": "1\ufe0f\u20e3#\ufe0f\u20e3",
    "hangul syllables": "\ud55c\uad6d\uc5b4 \uac01",
    "hangul jamo": "\u1100\u1161\u11a8\u1100\u1161 \u1112\u1161\u11ab",
    "hebrew with points": "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd abc",
    "arabic": "\u0645\u064e\u0631\u0652\u062d\u064e\u0628\u064b\u0627 ok",
    "crlf": "a\r\nb\r\n\r\n\n\r\r\nc",
    "lone cr lf": "\r\n\r",
    "prepend": "\u0600123 \u06dd4 x\u0600y",
    "devanagari conjunct": "\u0915\u094d\u0937\u093f \u0928\u092e\u0938\u094d\u0924\u0947",
    "thai": "\u0e01\u0e33\u0e41\u0e1e\u0e07",
    "variation selectors": "\u2764\ufe0f\u263a\ufe0e\u00a9\ufe0f",
    "controls": "\x00a\x1b[0m\x7f\u0085\u200b",
    "ascii": "Hello, World!\n",
    "latin-1 then combining": "\u00fc\u0308 \u00e9\u0301\u00e9\r\n"
    + "\u00ad\u00a9\u200d\u00a9\u00ff\u0300",
    "mixed": "Hello, w\u00f6rld! \u00c7a va? \U0001f44d\U0001f3fd e\u0301 na\u00efve \u2014 ok.\n",
}


@pytest.mark.parametrize("name", CORPUS)
@pytest.mark.parametrize("chunks", [1, 3, 7])
def test_corpus_matches_regex_x(name: str, chunks: int) -> None:
    text = CORPUS[name]
    assert reversed_by_rswsgi(text, chunks) == reference(text)
    # Glued to ASCII on both sides, and repeated, so boundaries move around.
    glued = f"ab{text}cd{text}{text}\r\n"
    assert reversed_by_rswsgi(glued, chunks) == reference(glued)


def test_clusters_are_not_code_points() -> None:
    # The oracle itself is not code-point reversal.
    text = CORPUS["zwj family"] + CORPUS["combining marks"]
    assert reference(text) != text[::-1]
    assert reversed_by_rswsgi(text) == reference(text)


def test_whole_corpus_in_one_body() -> None:
    text = "".join(CORPUS.values()) * 50
    assert reversed_by_rswsgi(text, chunks=9) == reference(text)


# Characters assigned in this Python's Unicode database, so that the reference and the
# Rust segmenter (whose tables may be a version apart) agree on every property.
ASSIGNED = st.characters(blacklist_categories=("Cs", "Cn", "Co"))
INTERESTING = st.sampled_from(
    ["\r", "\n", "\u200d", "\u0301", "\ufe0f", "\U0001f3fd", "\U0001f1eb", "\u094d", "\u0600"]
    + ["\u1100", "\u1161", "\u11a8", "\uac00", "\U0001f469", "a", " "]
    + ["\u00e9", "\u00ad", "\u00a9", "\u0085", "\u00ff"]
)


@settings(max_examples=400, deadline=None)
@given(st.text(st.one_of(ASSIGNED, INTERESTING), max_size=40), st.integers(1, 4))
@example("a\u0600\r\n", 2)
@example("x\r\n\u0301\r\n\u00e9\r\r\n\U0001f44d", 1)
def test_arbitrary_text_matches_regex_x(text: str, chunks: int) -> None:
    assert all(unicodedata.category(c) != "Cn" for c in text)
    assert reversed_by_rswsgi(text, chunks) == reference(text)
