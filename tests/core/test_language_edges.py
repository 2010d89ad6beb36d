"""Language at the edges only (issue 12): the analyses take no ``lang`` and return codes, numbers
and English keys; the report, the command line, the export and the QC writers translate."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.i18n import catalogue, t, translate_keys

# the packages below the edges: every public function of every module in them
ANALYSIS = ("pianqu.network", "pianqu.services", "pianqu.land", "pianqu.zoning", "pianqu.derive",
            "pianqu.inputs", "pianqu.plan", "pianqu.validate", "pianqu.evaluation")
# writers of a file for a person (an edge like the report): they say it in the reader's language
EDGE_WRITERS = {"pianqu.validate.qc"}
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _modules():
    for name in ANALYSIS:
        mod = importlib.import_module(name)
        yield mod
        for info in pkgutil.walk_packages(getattr(mod, "__path__", []), prefix=name + "."):
            if info.name not in EDGE_WRITERS:
                yield importlib.import_module(info.name)


def _public_functions():
    """(qualified name, function) of each public function and public method of a public class
    defined in the analysis modules (re-exports counted once, where they are defined)."""
    seen = set()
    for mod in _modules():
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj):
                items = [(f"{mod.__name__}.{name}", obj)]
            elif inspect.isclass(obj):
                items = [(f"{mod.__name__}.{name}.{m}", f) for m, f in vars(obj).items()
                         if not m.startswith("_") and inspect.isfunction(f)]
            else:
                continue
            for qual, fn in items:
                if qual not in seen:
                    seen.add(qual)
                    yield qual, fn


# a part of a message said in the reader's language renders itself (like Finding.message):
# ``message(lang)`` of a Phrase-like parameter is the edge's call, not an analysis
# (``to_dict(lang)`` of pianqu.zoning.edit.EditCheck: a check rendered for the web client)
RENDERERS = {"message", "action", "as_dict", "to_dict"}


def test_no_analysis_function_takes_lang():
    functions = list(_public_functions())
    assert len(functions) > 200  # the walk found the packages' functions
    with_lang = [q for q, fn in functions if "lang" in inspect.signature(fn).parameters
                 and q.rsplit(".", 1)[-1] not in RENDERERS]
    assert with_lang == [], with_lang


def test_the_walk_would_catch_one():
    """The check is not vacuous: a function of an analysis module with ``lang`` is found."""
    import pianqu.network.travel as travel

    def leaky(graph, lang: str | None = None):  # pragma: no cover - never called
        return graph

    leaky.__module__ = travel.__name__
    travel.leaky = leaky
    try:
        assert "pianqu.network.travel.leaky" in {q for q, fn in _public_functions()
                                                 if "lang" in inspect.signature(fn).parameters}
    finally:
        del travel.leaky


def _cjk_cells(frame: pd.DataFrame, allowed) -> dict[str, list]:
    """Columns (not the data's own names) holding Chinese text, with examples."""
    out = {}
    cols = [c for c in frame.columns if c != "geometry" and not allowed(str(c))]
    for c in cols:
        vals = [v for v in frame[c].tolist() if isinstance(v, str) and CJK.search(v)]
        if vals:
            out[c] = vals[:3]
    for part in (list(frame.columns), list(frame.index)):
        bad = [v for v in part if isinstance(v, str) and CJK.search(v)]
        if bad:
            out["<labels>"] = bad[:3]
    return out


def _names(col: str) -> bool:
    return col == "name" or col.endswith("_name") or col.startswith("name_")


@pytest.fixture(scope="module")
def small_county():
    from pianqu.testing.network import sample_county

    return sample_county(n_villages=60, n_towns=6, size_km=15, n_hamlets=40, seed=5)


def test_road_diagnostics_hold_keys_not_text(small_county):
    from pianqu.network import analyse_network

    c = small_county
    x0, y0, x1, y1 = c.boundary.total_bounds
    half = shapely.box(x0, y0, (x0 + x1) / 2, y1)
    telecom = gpd.GeoDataFrame({"id": ["T1", "T2"], "tech": ["4G", "5G"]},
                               geometry=[half, shapely.box(x0, y0, (x0 + x1) / 2, (y0 + y1) / 2)],
                               crs=c.boundary.crs)
    net = analyse_network(c.roads, c.settlements, boundary=c.boundary, telecom=telecom)
    layers = net.layers()
    assert sum(len(v) for v in layers.values()) > 0
    for name, frame in layers.items():
        assert _cjk_cells(pd.DataFrame(frame), _names) == {}, name
    # the recommended action is a locale key; the edges say it in either language
    acts = pd.concat([pd.DataFrame(layers[n])["action"] for n in ("road_dead_end", "telecom_uncovered")
                      if "action" in layers[n] and len(layers[n])])
    assert len(acts) and set(acts) <= set(catalogue())
    zh, en = translate_keys(acts, "zh"), translate_keys(acts, "en")
    assert all(CJK.search(s) for s in zh) and not any(CJK.search(s) for s in en)
    # findings: a rule and parameters, said at the edges
    assert net.findings and all(f.message("en") for f in net.findings)


def test_land_tables_hold_keys_not_text():
    from pianqu.land import detect_conflicts
    from pianqu.land.stats import TOTAL, conflict_summary, control_line_table
    from pianqu.testing.land import blob

    epsg = 4544
    zones = gpd.GeoDataFrame({"zone": ["Z1", "Z2"]}, geometry=[shapely.box(500_000, 3_300_000, 502_000, 3_302_000),
                                                               shapely.box(502_000, 3_300_000, 504_000, 3_302_000)],
                             crs=epsg)
    lines = {"farmland_pbf": gpd.GeoDataFrame({"id": ["P1"]}, geometry=[blob(501_200, 3_301_000, 600, seed=1)], crs=epsg),
             "eco_redline": gpd.GeoDataFrame({"id": ["R1"]}, geometry=[blob(502_000, 3_301_000, 700, seed=2)], crs=epsg),
             "urban_boundary": gpd.GeoDataFrame({"id": ["U1"]}, geometry=[blob(503_000, 3_301_200, 500, seed=3)],
                                                crs=epsg)}
    table = control_line_table(lines, zones, epsg=epsg)
    assert table.index[-1] == TOTAL == "total"
    assert table.loc[TOTAL, "unit_ha"] == pytest.approx(800.0, rel=1e-3)  # 2 × 2 km × 2 km, ellipsoidal
    assert _cjk_cells(table.reset_index(), _names) == {}
    conflicts = detect_conflicts(lines, epsg=epsg)
    assert len(conflicts)  # the farmland and the red line overlap
    summary = conflict_summary(conflicts)
    assert _cjk_cells(summary, _names) == {}
    assert set(summary["rule"]) <= set(conflicts["rule"])
    assert t("land.stats.total", "zh") == "合计"  # what the report puts in place of the key
