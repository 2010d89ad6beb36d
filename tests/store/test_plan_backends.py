"""The analyses run unchanged on either backend: `plan` into a GeoPackage and into PostGIS (after
`db push` of the same unplanned workspace) gives the same layers — same columns and dtypes, same
rows after sorting, geometries equal within 1e-9 degrees. On 西区 (510403, fast) and on the
default county 通江县 (511921, slow: the county is built once per session)."""

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.plan import plan
from pianqu.store.transfer import push
from pianqu.workspace import Workspace

# (layer, column) pairs that measure this run rather than the data, left out of the comparison
# of values (still compared for presence and dtype). Measured: 通江县 planned twice into two
# GeoPackages differs in exactly these columns, and a GeoPackage and a PostGIS run in no others.
# - wall-clock seconds: plan_run.time_s and zone_count_options.time_s (the zoning solver's time,
#   pianqu.zoning.delineate/autop), land_steps.seconds (each land step's time);
# - the school districts (services.schools.school_districts): the single-source assignment is a
#   time-limited search (`services.school_time_limit_s`, half within zones, half free, each
#   stopped at its time with a certified gap), so on a loaded machine the pupils left without a
#   place and their mean travel time move by a few pupils / a fraction of a minute in a zone not
#   proven optimal in time (511921: one zone 1094.6 vs 1092.1 pupils in two GeoPackage runs):
#   service_school_district.pupils_without_place, .mean_time_min, .mean_time_min_free.
# Nothing else: every other column — road_detour.time_s, a travel time, included — must agree.
UNSTABLE = {("plan_run", "time_s"), ("zone_count_options", "time_s"), ("land_steps", "seconds"),
            ("service_school_district", "pupils_without_place"), ("service_school_district", "mean_time_min"),
            ("service_school_district", "mean_time_min_free")}


def _stable(layer: str, frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c != "geometry" and (layer, c) not in UNSTABLE]


def _sorted(layer: str, frame: pd.DataFrame) -> pd.DataFrame:
    keys = _stable(layer, frame)
    text = frame[keys].astype(object).map(repr)
    key = pd.Series(["\x1f".join(row) for row in text.itertuples(index=False)], index=frame.index, dtype=object)
    return frame.loc[key.sort_values(kind="stable").index].reset_index(drop=True)


def assert_same_layers(a: Workspace, b: Workspace, scenario: str) -> list[str]:
    """Every layer of ``scenario`` in ``a`` equals that in ``b`` (columns, dtypes, rows sorted by
    their stable columns, geometries within 1e-9); the layers compared."""
    layers = sorted(a.layers(scenario))
    assert layers == sorted(b.layers(scenario))
    for name in layers:
        x, y = a.read(name, scenario), b.read(name, scenario)
        assert list(x.columns) == list(y.columns), name
        assert x.dtypes.astype(str).tolist() == y.dtypes.astype(str).tolist(), name
        assert isinstance(x, gpd.GeoDataFrame) == isinstance(y, gpd.GeoDataFrame), name
        assert len(x) == len(y), name
        x, y = _sorted(name, x), _sorted(name, y)
        attrs = _stable(name, x)
        pd.testing.assert_frame_equal(pd.DataFrame(x[attrs]), pd.DataFrame(y[attrs]), check_exact=False,
                                      rtol=1e-12, obj=name)
        if isinstance(x, gpd.GeoDataFrame):
            gx, gy = np.asarray(x.geometry.array), np.asarray(y.geometry.array)
            same = shapely.equals_exact(gx, gy, tolerance=1e-9) | (shapely.is_missing(gx) & shapely.is_missing(gy))
            assert same.all(), f"{name}: {int((~same).sum())} geometries differ"
    assert a.scenarios()["name"].tolist() == b.scenarios()["name"].tolist()
    return layers


def _plan_on_both(source: Path, url: str, tmp_path: Path) -> tuple[Workspace, Workspace]:
    """``source`` (unplanned) copied to a GeoPackage and pushed to ``url``, planned on both."""
    gpkg = tmp_path / source.name
    shutil.copy(source, gpkg)
    if (source.parent / "pianqu.toml").exists():
        shutil.copy(source.parent / "pianqu.toml", tmp_path / "pianqu.toml")
    push(source, url)
    a, b = Workspace.open(gpkg), Workspace.open(url)
    plan(a, "plan")
    plan(b, "plan")
    return a, b


@pytest.mark.slow
def test_plan_gives_the_same_layers_on_geopackage_and_postgis(xiqu_gpkg, pg_cluster, tmp_path):
    a, b = _plan_on_both(xiqu_gpkg, pg_cluster.schema_url("planned"), tmp_path)
    assert len(assert_same_layers(a, b, "plan")) > 30


@pytest.mark.slow
def test_the_default_county_planned_into_postgis_gives_the_same_layers(tongjiang_ws, pg_cluster, tmp_path):
    a, b = _plan_on_both(tongjiang_ws.path, pg_cluster.schema_url("c511921"), tmp_path)
    assert len(assert_same_layers(a, b, "plan")) > 30
