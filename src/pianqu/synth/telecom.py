"""Mobile coverage (4G/5G) with the holes mountain counties really have.

Sites: 4G and 5G at the county seat and every town seat, 4G at a share of village seats
(``synth.village_tower_share``) and every few kilometres along
national and provincial roads. An atom is covered when a site is within its radius
(``synth.tower_radius_4g_m``/``synth.tower_radius_5g_m``) and the terrain does not block the
line of sight (sampled on the DEM between an antenna 35 m above the site and a handset 2 m
above the atom). Coverage polygons are unions of covered atoms, so holes fall in remote high
valleys and behind ridges.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree

from pianqu.config import Config
from pianqu.synth._util import union_coverage
from pianqu.synth.admin import Atoms
from pianqu.synth.terrain import Terrain

ANTENNA_M = 35.0
HANDSET_M = 2.0


def covered(atoms: Atoms, t: Terrain, sites: np.ndarray, radius: float, samples: int = 10) -> np.ndarray:
    """Atoms in line of sight of some site within ``radius``."""
    if len(sites) == 0:
        return np.zeros(atoms.n, dtype=bool)
    tree = cKDTree(sites)
    pairs = tree.query_ball_point(atoms.xy, r=radius)
    ai = np.repeat(np.arange(atoms.n), [len(p) for p in pairs])
    si = np.concatenate([np.asarray(p, dtype=np.int64) for p in pairs]) if len(ai) else np.zeros(0, dtype=np.int64)
    out = np.zeros(atoms.n, dtype=bool)
    if len(ai) == 0:
        return out
    z_site = t.grid.sample(t.elev, sites[:, 0], sites[:, 1]) + ANTENNA_M
    z_atom = atoms.elev + HANDSET_M
    a = atoms.xy[ai]
    s = sites[si]
    za, zs = z_atom[ai], z_site[si]
    ok = np.ones(len(ai), dtype=bool)
    for f in np.linspace(0.1, 0.9, samples):
        x = s[:, 0] + f * (a[:, 0] - s[:, 0])
        y = s[:, 1] + f * (a[:, 1] - s[:, 1])
        ground = t.grid.sample(t.elev, x, y)
        ok &= ground <= zs + f * (za - zs)
    np.logical_or.at(out, ai[ok], True)
    return out


def coverage(atoms: Atoms, t: Terrain, town_xy: np.ndarray, village_xy: np.ndarray, village_pop: np.ndarray,
             road_lines: list[shapely.LineString], road_cls: list[str], cfg: Config,
             gen: np.random.Generator) -> list[tuple[shapely.Polygon, str]]:
    """Coverage polygons as (polygon, tech)."""
    share = float(cfg["synth.village_tower_share"])
    has = gen.random(len(village_xy)) < share
    along = []
    for line, c in zip(road_lines, road_cls):
        if c in ("national", "provincial") and line.length > 3000:
            s = np.arange(2000.0, line.length, 5000.0)
            along.append(shapely.get_coordinates(shapely.line_interpolate_point(line, s)))
    sites4 = np.vstack([town_xy, village_xy[has]] + along)
    r4 = float(cfg["synth.tower_radius_4g_m"])
    r5 = float(cfg["synth.tower_radius_5g_m"])
    c4 = covered(atoms, t, sites4, r4)
    c5 = covered(atoms, t, town_xy, r5) & c4
    out = []
    for tech, mask in (("4G", c4), ("5G", c5)):
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            continue
        for part in shapely.get_parts(union_coverage(atoms.geom[idx])):
            if part.geom_type == "Polygon" and part.area > 1000:
                out.append((part, tech))
    return out
