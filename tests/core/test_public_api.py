"""The public API: ``pianqu.open`` and the main analyses at ``pianqu.*``, ``import pianqu``
cheap, names that do not shadow modules, numpydoc docstrings on every exported function."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys

import pytest

import pianqu


def test_import_is_cheap():
    """``import pianqu`` loads neither geopandas nor numba; the first use of a name does."""
    code = ("import sys, pianqu; heavy = [m for m in ('geopandas', 'numba', 'highspy', 'pandas') "
            "if m in sys.modules]; print(','.join(heavy)); pianqu.delineate; "
            "print('geopandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == ""
    assert out[1] == "True"


@pytest.mark.parametrize("name", pianqu.__all__)
def test_every_name_is_its_home_object(name):
    module, attr = pianqu._EXPORTS[name]
    assert getattr(pianqu, name) is getattr(importlib.import_module(module), attr)
    assert name in dir(pianqu)


def test_names_do_not_shadow_modules():
    assert not set(pianqu.__all__) & pianqu._SUBMODULES
    assert "open" not in pianqu.__all__  # `from pianqu import *` keeps the built-in open


def test_plan_module_and_function():
    from pianqu.plan import PlanResult, plan

    assert plan is pianqu.run_plan
    assert inspect.ismodule(pianqu.plan) and pianqu.plan.plan is plan and pianqu.PlanResult is PlanResult
    assert inspect.ismodule(pianqu.validate) and pianqu.validate.validate_workspace is pianqu.validate_workspace
    assert inspect.ismodule(pianqu.zoning) and inspect.ismodule(pianqu.report)
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        pianqu.nonesuch  # noqa: B018


def test_open(tmp_path):
    ws = pianqu.Workspace.create(tmp_path / "w.gpkg", county_code="510403", county_name="西区", synthetic=True)
    opened = pianqu.open(tmp_path / "w.gpkg")
    assert isinstance(opened, pianqu.Workspace) and opened.meta.county_name == "西区"
    assert pianqu.open(str(tmp_path / "w.gpkg")).url == ws.url
    with pytest.raises(pianqu.WorkspaceError) as missing:
        pianqu.open(tmp_path / "none.gpkg")
    assert "none.gpkg" in missing.value.message("en")


@pytest.mark.parametrize("url", ["postgresql://planner@db/county", "postgres://db/511921"])
def test_open_postgis_without_a_schema_says_to_name_one(url):
    with pytest.raises(pianqu.WorkspaceError) as err:  # said before any connection is tried
        pianqu.open(url)
    assert isinstance(err.value, pianqu.PianquError)
    assert "?schema=" in err.value.message("en") and url.split("://")[1] in err.value.message("en")
    assert "?schema=c511921" in err.value.message("zh") and "模式" in err.value.message("zh")


# -- numpydoc ---------------------------------------------------------------------------------

HEADER = re.compile(r"^(\w[\w ]*)\n-+$", re.M)


def sections(doc: str) -> dict[str, str]:
    """Section title → body of a numpydoc docstring (``""`` → the text before the first)."""
    doc = inspect.cleandoc(doc)
    marks = list(HEADER.finditer(doc))
    out = {"": doc[:marks[0].start()] if marks else doc}
    for k, m in enumerate(marks):
        end = marks[k + 1].start() if k + 1 < len(marks) else len(doc)
        out[m.group(1)] = doc[m.end():end]
    return out


def documented_parameters(body: str) -> list[str]:
    """Names of a Parameters section: unindented lines ``name : type`` (``a, b : type`` too)."""
    names = []
    for line in body.splitlines():
        if line and not line[0].isspace():
            names += [n.strip() for n in line.split(" : ")[0].split(",")]
    return names


def signature_parameters(func) -> list[str]:
    out = []
    for p in inspect.signature(func).parameters.values():
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        out.append(prefix + p.name)
    return out


def test_sections_parser():
    doc = """Do a thing.

    Parameters
    ----------
    a, b : int
        Two numbers.
    **kw
        More.

    Returns
    -------
    int
    """
    s = sections(doc)
    assert s[""].strip() == "Do a thing." and set(s) == {"", "Parameters", "Returns"}
    assert documented_parameters(s["Parameters"]) == ["a", "b", "**kw"]


FUNCTIONS = [n for n in pianqu.__all__ if inspect.isfunction(getattr(pianqu, n))] + ["open"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_numpydoc(name):
    func = getattr(pianqu, name)
    doc = func.__doc__ or ""
    s = sections(doc)
    summary = s[""].strip().split("\n\n")[0]
    assert summary and len(summary.splitlines()) <= 2, f"{name}: a short summary first"
    assert "Parameters" in s and "Returns" in s, f"{name}: Parameters and Returns sections"
    assert documented_parameters(s["Parameters"]) == signature_parameters(func), \
        f"{name}: every parameter documented, in signature order"
    assert s["Returns"].strip(), f"{name}: what it returns"


@pytest.mark.parametrize("name", [n for n in pianqu.__all__ if inspect.isclass(getattr(pianqu, n))])
def test_classes_documented(name):
    assert inspect.getdoc(getattr(pianqu, name)).strip()
