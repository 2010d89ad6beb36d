"""docs/quickstart.md runs as written: its ```python blocks, in order, in one namespace, in an
empty folder. A block that raises (its own ``assert``s included) fails the test and names the
block and its first line."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a county synthesised, planned or run through the CLI end to end

QUICKSTART = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every ```python block of a Markdown text, in order."""
    return [(text.count("\n", 0, m.start()) + 1, textwrap.dedent(m.group(1))) for m in FENCE.finditer(text)]


def test_blocks_are_found():
    blocks = python_blocks("intro\n```python\nx = 1\n```\ntext\n```sh\nls\n```\n```python\ny = x + 1\n```\n")
    assert [code for _, code in blocks] == ["x = 1\n", "y = x + 1\n"]
    assert [line for line, _ in blocks] == [2, 9]


def test_quickstart_runs(tmp_path, monkeypatch):
    blocks = python_blocks(QUICKSTART.read_text(encoding="utf-8"))
    assert len(blocks) >= 8, "the quickstart lost its code blocks"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__quickstart__"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{QUICKSTART.name}:{line}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - say which block failed, then fail
            pytest.fail(f"docs/quickstart.md block at line {line} raised {type(exc).__name__}: {exc}\n"
                        f"{code.splitlines()[0]} …")
    # what the walk-through leaves behind: a workspace with the plan scenario and a map
    assert (tmp_path / "zones.png").exists()
    ws = namespace["pianqu"].open(tmp_path / "xiqu.gpkg")
    assert "plan" in set(ws.scenarios()["name"])
