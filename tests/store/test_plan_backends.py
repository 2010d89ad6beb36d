"""The analyses run unchanged on either backend: `plan` on 西区 (510403) into a GeoPackage and
into PostGIS gives the same layers — same columns and dtypes, same rows after sorting, geometries
equal within 1e-9 degrees."""

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.plan import plan
from pianqu.store.transfer import push
from pianqu.workspace import Workspace

# Columns that measure this run rather than the data: wall-clock seconds of a step, and the
# school assignment without zone limits, improved for a fixed time (services.schools: its
# `improve_s`), whose result depends on the machine's load, not on where the data is stored.
UNSTABLE = {"seconds", "time_s", "unassigned_free", "pupil_s_free", "mean_time_min_free"}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in frame.columns if c != "geometry" and c not in UNSTABLE]
    text = frame[keys].astype(object).map(repr)
    key = pd.Series(["\x1f".join(row) for row in text.itertuples(index=False)], index=frame.index, dtype=object)
    return frame.loc[key.sort_values(kind="stable").index].reset_index(drop=True)


@pytest.mark.slow
def test_plan_gives_the_same_layers_on_geopackage_and_postgis(xiqu_gpkg, pg_cluster, tmp_path):
    gpkg = tmp_path / "510403.gpkg"
    shutil.copy(xiqu_gpkg, gpkg)
    url = pg_cluster.schema_url("planned")
    push(xiqu_gpkg, url)
    a, b = Workspace.open(gpkg), Workspace.open(url)
    plan(a, "plan")
    plan(b, "plan")
    layers = sorted(a.layers("plan"))
    assert layers == sorted(b.layers("plan")) and len(layers) > 30
    for name in layers:
        x, y = a.read(name, "plan"), b.read(name, "plan")
        assert list(x.columns) == list(y.columns), name
        assert x.dtypes.astype(str).tolist() == y.dtypes.astype(str).tolist(), name
        assert isinstance(x, gpd.GeoDataFrame) == isinstance(y, gpd.GeoDataFrame), name
        assert len(x) == len(y), name
        x, y = _sorted(x), _sorted(y)
        attrs = [c for c in x.columns if c != "geometry" and c not in UNSTABLE]
        pd.testing.assert_frame_equal(pd.DataFrame(x[attrs]), pd.DataFrame(y[attrs]), check_exact=False,
                                      rtol=1e-12, obj=name)
        if isinstance(x, gpd.GeoDataFrame):
            gx, gy = np.asarray(x.geometry.array), np.asarray(y.geometry.array)
            same = shapely.equals_exact(gx, gy, tolerance=1e-9) | (shapely.is_missing(gx) & shapely.is_missing(gy))
            assert same.all(), f"{name}: {int((~same).sum())} geometries differ"
    assert a.scenarios()["name"].tolist() == b.scenarios()["name"].tolist()
