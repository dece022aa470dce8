"""The server limits are written once, in Rust (`Limits::default` in
src/server/config.rs); the CLI, `make_server`'s doc and docs/limits.md's table say the same."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from rswsgi import make_server
from rswsgi._rswsgi import _limits
from rswsgi.dev import build_parser

ROOT = Path(__file__).resolve().parent.parent
LIMITS = _limits()


def _readme_rows() -> list[tuple[str, int]]:
    """`(flag, default)` of each row of the limits table (docs/limits.md), in order."""
    text = (ROOT / "docs" / "limits.md").read_text(encoding="utf-8")
    table = text.split("| flag | default | past it |", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.strip().splitlines()[1:]:  # after the |---| line
        flag_cell, default_cell = (c.strip() for c in line.strip("|").split("|")[:2])
        flag = re.match(r"`(--[a-z-]+)", flag_cell)
        default = re.match(r"(\d+)", default_cell)
        assert flag and default, line
        rows.append((flag.group(1), int(default.group(1))))
    return rows


def test_rows_are_well_formed() -> None:
    assert len(LIMITS) == 11
    for flag, keyword, default, unit, text in LIMITS:
        assert flag.startswith("--") and keyword.isidentifier()
        assert isinstance(default, int) and default > 0
        assert unit in ("bytes", "fields", "seconds", "milliseconds")
        assert text
    assert dict((k, d) for _, k, d, _, _ in LIMITS)["max_header_bytes"] == 65536


def test_readme_table_matches_the_server() -> None:
    assert _readme_rows() == [(flag, default) for flag, _, default, _, _ in LIMITS]


def test_make_server_doc_and_signature_name_every_default() -> None:
    doc = make_server.__doc__ or ""
    first = " ".join(doc.split("\n\n", 1)[0].split())
    params = inspect.signature(make_server).parameters
    for _, keyword, default, _, _ in LIMITS:
        assert f"{keyword}={default}" in first, keyword
        assert params[keyword].kind is inspect.Parameter.KEYWORD_ONLY


def test_cli_flags_come_from_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for flag, keyword, default, unit, text in LIMITS:
        metavar = "SECONDS" if unit == "seconds" else "N"
        assert f"{flag} {metavar} {text} (default: {default})" in help_text, flag
        args = parser.parse_args([flag, "7"])
        assert getattr(args, keyword) == 7


@pytest.mark.parametrize("unit", ["seconds", "other"])
def test_timeout_flags_take_decimal_seconds_and_counts_do_not(
    unit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()
    for flag, keyword, _, flag_unit, _ in LIMITS:
        if (flag_unit == "seconds") != (unit == "seconds"):
            continue
        if unit == "seconds":
            assert getattr(parser.parse_args([flag, "1.5"]), keyword) == 1.5
            bad = ["-1", "nan", "inf", "soon"]
        else:
            bad = ["1.5", "-1", "many"]
        for value in bad:
            with pytest.raises(SystemExit) as exit:
                parser.parse_args([flag, value])
            assert exit.value.code == 2, (flag, value)
            assert flag in capsys.readouterr().err


def test_make_server_takes_decimal_timeouts_and_refuses_bad_ones() -> None:
    def app(environ: object, start_response: object) -> list[bytes]:
        return []

    with make_server("127.0.0.1", 0, app, read_timeout_secs=0.25, idle_timeout_secs=2):
        pass
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="read_timeout_secs=.*finite number of seconds"):
            make_server("127.0.0.1", 0, app, read_timeout_secs=bad)


@pytest.mark.parametrize("keyword", [k for _, k, _, _, _ in LIMITS[:3]])
def test_zero_is_refused_for_sizes_naming_the_keyword(keyword: str) -> None:
    def app(environ: object, start_response: object) -> list[bytes]:
        return []

    with pytest.raises(ValueError, match=f"{keyword}=0: must be positive"):
        make_server("127.0.0.1", 0, app, **{keyword: 0})  # type: ignore[arg-type]
