"""Fixtures of the report tests: the small county of ``report_fixture`` as a workspace."""

from __future__ import annotations

import geopandas as gpd
import pytest

from pianqu.workspace import Workspace
from report_fixture import build_layers, make_workspace


@pytest.fixture(scope="package")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return build_layers()


@pytest.fixture(scope="package")
def workspace(tmp_path_factory, layers) -> Workspace:
    return make_workspace(tmp_path_factory.mktemp("ws") / "tongjiang.gpkg", layers)


@pytest.fixture(scope="package")
def catalogue_with_test_rules():
    """Messages for the test findings' rules (the validation rules are not written yet)."""
    from pianqu.i18n import catalogue

    cat = catalogue()
    extra = {
        "test.parcel_overlap.msg": {"zh": "图斑 {feature} 与相邻图斑重叠 {area} 平方米",
                                    "en": "parcel {feature} overlaps a neighbour by {area} m²"},
        "test.parcel_overlap.do": {"zh": "在 ArcGIS 中修改图斑边界", "en": "fix the parcel boundary"},
    }
    cat.update(extra)
    yield
    for key in extra:
        cat.pop(key, None)


