"""The documentation is tested: every ```python block of README.md, docs/*.md and bench/*.md
runs and passes `mypy --strict`, and every relative link in them leads to a file and heading.

How a python block is run (the conventions a writer of the docs relies on):

- Each block is a program of its own. It runs in a fresh interpreter, from the repository
  root (so `examples` imports), with warnings as errors and `__name__ == "docs"`; mypy checks
  it as a module of its own, with the repository's settings (`[tool.mypy]`: strict).
- A block may use names a reader already has in mind (the `app` being wrapped, a `my_app`).
  They come from a hidden setup: an HTML comment just before the block (blank lines between
  are allowed) whose first line is `<!-- setup` and whose last line is `-->`. The lines
  between are Python; they run before the block, in its namespace, and are type-checked with
  it. Markdown does not render the comment.
- A block that would not end on its own (one that serves for ever) keeps that part under
  `if __name__ == "__main__":`, which a reader who copies the block runs and the test skips.
- Line numbers in tracebacks and in mypy's messages are the Markdown file's: a block's program
  is the file with everything but the block and its setup blanked out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "bench").glob("*.md")])
FENCE = re.compile(r"^```(\S*)\s*$")
# Every info string a fence may carry: a python block cannot hide as ```py or ```python3.
FENCE_LANGUAGES = {"python", "console", "sh", ""}
SETUP_START, SETUP_END = "<!-- setup", "-->"


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # 1-based line of the block's first code line
    program: str  # the file, blanked out but for the setup and the block

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    @property
    def module(self) -> str:
        stem = re.sub(r"\W", "_", str(self.doc.relative_to(ROOT).with_suffix("")))
        return f"doc_{stem}_{self.line}"


def fences(lines: list[str]) -> list[tuple[str, int, int]]:
    """`(language, first code line, end fence line)` of each fenced block, 0-based."""
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```")
        found.append((m.group(1), i + 1, end))
        i = end + 1
    return found


def setup_lines(lines: list[str], block_start: int) -> range:
    """The 0-based lines of the hidden setup before the block that starts at `block_start`."""
    j = block_start - 2  # the line before the opening fence
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j < 0 or lines[j].strip() != SETUP_END:
        return range(0)
    start = j
    while not lines[start].startswith(SETUP_START):
        start -= 1
        assert lines[start].strip() != SETUP_END, f"setup comment not closed before line {j + 1}"
    return range(start + 1, j)


def python_blocks(doc: Path) -> list[Block]:
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks = []
    for language, start, end in fences(lines):
        if language != "python":
            continue
        keep = {*setup_lines(lines, start), *range(start, end)}
        program = "\n".join(line if i in keep else "" for i, line in enumerate(lines))
        blocks.append(Block(doc, start + 1, program + "\n"))
    return blocks


BLOCKS = [block for doc in DOCS for block in python_blocks(doc)]


def test_the_docs_have_python_blocks_and_only_known_fences() -> None:
    assert {b.doc.name for b in BLOCKS} >= {"README.md", "testing.md", "https.md"}
    for doc in DOCS:
        for language, start, _ in fences(doc.read_text(encoding="utf-8").splitlines()):
            assert language in FENCE_LANGUAGES, f"{doc.name}:{start}: fence ```{language}"


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.name)
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    program = tmp_path / f"{block.module}.py"
    program.write_text(block.program, encoding="utf-8")
    runner = (
        "import pathlib, sys, types; "
        "source = pathlib.Path(sys.argv[1]).read_text(encoding='utf-8'); "
        "sys.modules['docs'] = module = types.ModuleType('docs'); "
        "exec(compile(source, sys.argv[2], 'exec'), module.__dict__)"
    )
    # WebOb (Pyramid's) still imports `cgi`, and Pyramid imports `pkg_resources`, which
    # setuptools 80.9 and later mark deprecated (and which warns about the namespace
    # packages it finds); every other warning is an error.
    warnings = [
        "-W",
        "error",
        "-W",
        "ignore:'cgi' is deprecated:DeprecationWarning",
        "-W",
        "ignore:pkg_resources is deprecated as an API:UserWarning",
        "-W",
        "ignore::DeprecationWarning:pkg_resources",
    ]
    done = subprocess.run(
        [sys.executable, *warnings, "-c", runner, str(program), block.name.split(":")[0]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{block.name} failed:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    """One `mypy --strict` run over every block's program: its status and its messages."""
    folder = tmp_path_factory.mktemp("docs_mypy")
    for block in BLOCKS:
        (folder / f"{block.module}.py").write_text(block.program, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(folder / ".mypy_cache"),
            *sorted(str(p) for p in folder.glob("*.py")),
        ],
        cwd=folder,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.name)
def test_python_block_type_checks(block: Block, mypy_output: tuple[int, str]) -> None:
    errors = [line for line in mypy_output[1].splitlines() if f"{block.module}.py:" in line]
    assert not errors, f"{block.name}: mypy --strict:\n" + "\n".join(
        line.replace(f"{block.module}.py", block.name.split(":")[0]) for line in errors
    )


def test_mypy_passes_on_every_block(mypy_output: tuple[int, str]) -> None:
    status, output = mypy_output
    assert status == 0 and "Success" in output, output


# Links ------------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """`text` without fenced blocks and code spans, where a `[x](y)` is not a link."""
    lines = text.splitlines()
    for _, start, end in fences(lines):
        lines[start - 1 : end + 1] = [""] * (end - start + 2)
    return re.sub(r"`[^`\n]*`", "", "\n".join(lines))


def anchors(doc: Path) -> set[str]:
    """GitHub's ids for the headings of `doc`: lower case, punctuation dropped, `-` for spaces,
    `-1`, `-2`, ... after a repeated one."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    for _, start, end in fences(lines):
        lines[start - 1 : end + 1] = [""] * (end - start + 2)
    seen: dict[str, int] = {}
    ids = set()
    for line in lines:
        m = re.match(r"#{1,6} (.*)", line)
        if m is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        ids.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return ids


def links(doc: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(doc.read_text(encoding="utf-8")))
        if not re.match(r"[a-z]+:", target)  # http:, https:, mailto:
    ]


@pytest.mark.skipif(
    not (ROOT / "Cargo.toml").is_file(),
    reason="links point into the whole checkout; the interpreter matrix runs a copy of the suite",
)
@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_relative_links_lead_to_a_file_and_heading(doc: Path) -> None:
    broken = []
    for target in links(doc):
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.is_relative_to(ROOT) or not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: {dest.name} has no heading #{anchor}")
    assert not broken, f"{doc.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_the_link_check_sees_links_and_fails_on_a_broken_one(tmp_path: Path) -> None:
    assert "docs/middleware.md" in links(ROOT / "README.md")
    assert anchors(ROOT / "README.md") >= {"quick-start", "api", "dev-server", "deploying"}
    page = tmp_path / "page.md"
    page.write_text("# A `b` (c)\n\n[x](#a-b-c) [y](#nope) `[z](#in-code)`\n", encoding="utf-8")
    assert links(page) == ["#a-b-c", "#nope"]
    assert anchors(page) == {"a-b-c"}


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(ROOT / "README.md")}
    pages = set((ROOT / "docs").glob("*.md"))
    assert pages <= linked, sorted(p.name for p in pages - linked)
