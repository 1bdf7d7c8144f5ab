"""Every Python block in README.md and docs/*.md runs, and prints what the page shows.

The convention (also in docs/README.md):

* a ```python block is executed on its own, in a fresh namespace, in a temporary folder, so it
  must import what it uses;
* when a ```text block follows it directly (only blank lines between), what the Python block
  prints must equal that text (trailing spaces and blank lines at the ends ignored; a line that
  is just ``...`` stands for any number of lines);
* a block whose fence is preceded by the line ``<!-- norun -->`` is not executed (shell
  sessions written as Python, long trainings); ```bash and ```console blocks never run.

Files are found with a glob, so guides added to docs/ are checked without editing this file.
Relative links in the pages must point at files that exist.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
NORUN = "<!-- norun -->"
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[\w+-]*)[^\n]*$")


def blocks(text):
    """Fenced blocks of a Markdown text: dicts with lang, line (1-based, of the opening fence),
    code, norun (preceded by <!-- norun -->) and expected (the ```text block right after)."""
    lines = text.splitlines()
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m["fence"], i
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        prev = next((lines[k].strip() for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        found.append({"lang": m["info"].lower(), "line": start + 1,
                      "code": "\n".join(lines[start + 1:j]) + "\n", "norun": prev == NORUN,
                      "end": j})
        i = j + 1
    for a, b in zip(found, found[1:]):
        between = lines[a["end"] + 1:b["line"] - 1]
        if b["lang"] == "text" and not any(s.strip() for s in between):
            a["expected"] = b["code"]
    return found


def python_blocks():
    params = []
    for page in PAGES:
        for block in blocks(page.read_text(encoding="utf-8")):
            if block["lang"] in ("python", "py") and not block["norun"]:
                rel = page.relative_to(ROOT).as_posix()
                params.append(pytest.param(page, block, id=f"{rel}:{block['line']}"))
    return params


def matches(expected, got):
    """``got`` (lines) equals ``expected`` (lines), where an expected line '...' matches any
    run of lines."""
    if not expected:
        return not got
    if expected[0] == "...":
        return any(matches(expected[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and expected[0] == got[0] and matches(expected[1:], got[1:])


def _lines(text):
    return [line.rstrip() for line in text.strip("\n").splitlines()]


@pytest.mark.parametrize("page, block", python_blocks())
def test_block_runs_and_prints_what_the_page_shows(page, block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if re.search(r"^\s*(import torch\s*$|import torch\.|from torch\b)", block["code"], re.M):
        pytest.importorskip("torch")    # PyTorch itself (not minigrad as torch): import it untimed
    buf = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        exec(compile(block["code"], f"{page.name}:{block['line']}", "exec"),
             {"__name__": "__main__"})
    elapsed = time.perf_counter() - start
    if "expected" in block:
        want, got = _lines(block["expected"]), _lines(buf.getvalue())
        assert matches(want, got), (
            f"{page.name}, block at line {block['line']} printed:\n{buf.getvalue()}\n"
            f"but the page shows:\n{block['expected']}")
    assert elapsed < 10, f"a documentation block should run in about a second ({elapsed:.1f} s)"


# ---- the pages' links ------------------------------------------------------------------------------
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_at_files(page):
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)       # links inside code are not links
    text = re.sub(r"`[^`\n]+`", "", text)
    missing = []
    for m in LINK.finditer(text):
        target = m["target"].split("#")[0]
        if target and not re.match(r"^[a-z]+:", target) and not (page.parent / target).exists():
            missing.append(m["target"])
    assert not missing, f"{page.relative_to(ROOT).as_posix()} links to missing files: {missing}"


# ---- the convention itself ---------------------------------------------------------------------
SAMPLE = """\
Intro.

```python
print(1 + 1)
```

```text
2
```

<!-- norun -->
```python
raise SystemExit("not run")
```

```bash
echo never
```

```python
x = 3
```
Some words.
```text
not this block's output
```
"""


def test_block_parser_follows_the_convention():
    found = blocks(SAMPLE)
    assert [(b["lang"], b["line"], b["norun"]) for b in found] == [
        ("python", 3, False), ("text", 7, False), ("python", 12, True), ("bash", 16, False),
        ("python", 20, False), ("text", 24, False)]
    assert found[0]["expected"] == "2\n"
    assert "expected" not in found[4]              # words between: not its output


def test_output_matching():
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "b"], ["a", "b"])
    assert not matches(["a", "b"], ["a", "c"])
    assert not matches(["a"], ["a", "b"])


def test_every_page_is_found():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"README.md", "docs/README.md", "docs/convolution.md", "docs/training.md",
            "docs/gradcheck.md"} <= names
    assert len(python_blocks()) >= 10
    assert os.path.exists(ROOT / "docs" / "images")


def test_pictures_are_small_pngs():
    pictures = sorted((ROOT / "docs" / "images").glob("*.png"))
    assert pictures
    for png in pictures:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png.name
        assert png.stat().st_size < 150 * 1024, f"{png.name}: {png.stat().st_size // 1024} KB"
