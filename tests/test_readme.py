"""The README's commands are the ones that CI and users run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _console_blocks(section: str = "Quick start") -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```console\n(.*?)```", body, re.S)]


def test_quick_start_is_exactly_two_commands() -> None:
    blocks = _console_blocks()
    assert len(blocks) == 2
    assert all("\n" not in b for b in blocks)
    assert "examples.composed:app" in blocks[0]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = _console_blocks()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci
    assert "cargo test" in test_command and "pytest" in test_command


def test_ci_runs_the_readme_matrix_command_verbatim() -> None:
    (matrix_command,) = _console_blocks("Development")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert matrix_command in ci
    assert "nox" in matrix_command


def test_the_readme_is_a_front_door() -> None:
    # What to start and to look things up; the reference lives in docs/, linked from it.
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 250, f"README.md has {len(lines)} lines; move reference to docs/"
