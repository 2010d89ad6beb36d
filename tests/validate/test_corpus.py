"""The broken-input corpus: each case gives its precise findings and changes nothing on disk."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from pianqu.findings import has_errors
from pianqu.validate import validate_workspace
from pianqu.workspace import Workspace
from validate_cases import CASES
from validate_fixture import clean_layers, write_workspace


def snapshot(folder) -> dict[str, tuple[str, int, int]]:
    """Every file in the folder with its hash, size and modification time."""
    out = {}
    for path in sorted(folder.iterdir()):
        if path.is_file():
            st = path.stat()
            out[path.name] = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
    return out


def _same(a, b) -> bool:
    return type(a) is type(b) and list(a.columns) == list(b.columns) and a.equals(b)


def broken_workspace(case, clean_path, path):
    """The clean workspace copied to ``path`` with the case's changes written through
    ``Workspace.write`` (changed layers replaced, removed layers dropped, metadata updated)."""
    clean = clean_layers()
    layers = clean_layers()
    result = case.breaks(layers)
    expected, params = result if isinstance(result, tuple) else (result, {})
    shutil.copy2(clean_path, path)
    changed = {n: f for n, f in layers.items() if n not in clean or not _same(f, clean[n])}
    dropped = [n for n in clean if n not in layers]
    if changed or dropped or case.meta:
        Workspace.open(path).write(changed, command="test", reason=f"corpus case {case.name}",
                                   drop=dropped, meta_updates=case.meta or None)
    return expected, params


def run_case(name: str, tmp_path, clean_path):
    case = CASES[name]
    path = tmp_path / "ws.gpkg"
    expected, params = broken_workspace(case, clean_path, path)
    if case.toml:
        (tmp_path / "pianqu.toml").write_text(case.toml, encoding="utf-8")
    before = snapshot(tmp_path)
    findings = validate_workspace(Workspace.open(path))
    after = snapshot(tmp_path)
    return findings, expected, params, before, after


@pytest.fixture(scope="session")
def clean_path(tmp_path_factory):
    """The clean fixture written once as a workspace (as `pianqu synth`/`import` would)."""
    path = tmp_path_factory.mktemp("clean") / "clean.gpkg"
    write_workspace(path, clean_layers())
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_case(name, tmp_path, clean_path):
    findings, expected, params, before, after = run_case(name, tmp_path, clean_path)
    assert after == before, "validation changed the workspace folder"
    got = [(f.severity, f.rule, f.layer, f.feature, f.field) for f in findings]
    assert set(got) == expected
    assert len(got) == len(set(got)), "a finding is reported twice"
    assert has_errors(findings) == any(e[0] == "error" for e in expected)
    for (rule, feature), want in params.items():
        hits = [f for f in findings if f.rule == rule and f.feature == feature]
        assert hits, (rule, feature)
        for key, value in want.items():
            assert hits[0].params[key] == value, (rule, feature, key, hits[0].params[key])
    for f in findings:  # every finding renders, in both languages, naming its feature
        for lang in ("zh", "en"):
            assert f.feature in f.message(lang)
            assert f.action(lang)
        json.dumps(f.as_dict("en"), ensure_ascii=False)


def test_readme_lists_every_case():
    from pathlib import Path

    text = (Path(__file__).parent / "README.md").read_text(encoding="utf-8")
    assert len(CASES) >= 25
    missing = [name for name in CASES if f"| `{name}` |" not in text]
    assert not missing, f"add these cases to tests/validate/README.md: {missing}"
