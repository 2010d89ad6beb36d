"""Fixtures of the zoning tests: a synthetic county and its villages (session-scoped)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # zoning_helpers, zoning_brute

from pianqu.testing.zoning import synthetic_county, synthetic_villages  # noqa: E402


@pytest.fixture(scope="session")
def county():
    """A 24-township county (Voronoi geometry, road-graph travel times)."""
    return synthetic_county(24, seed=11)


@pytest.fixture(scope="session")
def villages():
    """~480 villages of a 24-township county."""
    return synthetic_villages(synthetic_county(24, seed=5), villages_per_township=20, seed=6)


@pytest.fixture(scope="session")
def planned_workspace(tmp_path_factory):
    """A small workspace (real 简阳市 codes, zoning_workspace) planned by pianqu.plan with the
    default thresholds: (workspace, PlanResult, the arguments plan passed to village_zones)."""
    import zoning_workspace as zw

    import pianqu.zoning.villages as villages_mod
    from pianqu.plan import plan

    ws = zw.build(tmp_path_factory.mktemp("planned") / "ws.gpkg")
    calls = []
    real = villages_mod.village_zones

    def spy(*a, **kw):
        calls.append({k: kw[k] for k in ("method", "time_limit")})
        return real(*a, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(villages_mod, "village_zones", spy)
        result = plan(ws, "plan", services_step=False, land_step=False)
    return ws, result, calls
