"""Public-service facilities of the kinds the policy names (``standards.facility_kinds()``), with
realistic gaps.

Each kind has a presence probability per unit of its level (``synth.facility_presence``):
village kinds per village, township kinds per township, zone kinds per town (more likely in
bigger towns). The county seat has every kind; its township gets more schools as its
population grows. Facilities stand a short random walk from the seat of their unit, inside
its village; capacities scale with the population served (beds, places, staff or m³/d, as
the kind suggests) and site areas with capacity.

Each facility's ``level`` (the level it serves) follows its kind and where it stands: village
kinds serve their village, township kinds their township, and zone kinds their zone (片区)
only in a central town — the county seat's township and the towns with the most urban
people (``synth.central_town_share`` of the townships); elsewhere a zone kind (a 派出所 in a
small 乡, say) serves its own township.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import shapely

from pianqu import standards
from pianqu.config import Config

# capacity per person served (or a fixed range when per-person makes no sense) and m² per unit
CAPACITY = {
    "regional_school": ("pop", 0.05, 25.0), "middle_school": ("pop", 0.035, 25.0),
    "primary_school": ("pop", 0.06, 20.0), "kindergarten": ("pop", 0.025, 12.0),
    "health_centre": ("pop", 0.0012, 80.0), "central_health_centre": ("pop", 0.0025, 90.0),
    "village_clinic": ("fixed", (1, 3), 60.0), "regional_elderly_centre": ("fixed", (60, 150), 45.0),
    "elderly_home": ("old", 0.02, 40.0), "elderly_daycare": ("fixed", (20, 40), 15.0),
    "village_elderly_facility": ("fixed", (8, 20), 15.0), "minor_protection_station": ("fixed", (20, 50), 6.0),
    "minor_protection_point": ("fixed", (10, 30), 6.0), "children_home": ("fixed", (10, 40), 6.0),
    "culture_station": ("fixed", (100, 300), 4.0), "village_culture_centre": ("fixed", (50, 150), 4.0),
    "fire_station": ("fixed", (15, 30), 200.0), "township_fire_brigade": ("fixed", (8, 15), 120.0),
    "shelter_emergency": ("pop", 0.3, 1.5), "shelter_fixed": ("pop", 0.15, 2.0),
    "supply_reserve": ("pop", 0.05, 0.3), "police_station": ("fixed", (15, 40), 60.0),
    "judicial_office": ("fixed", (3, 6), 60.0), "court": ("fixed", (8, 20), 120.0),
    "governance_centre": ("fixed", (8, 20), 60.0), "bus_station": ("pop", 0.02, 10.0),
    "bus_stop": ("fixed", (20, 60), 0.5), "postal_office": ("fixed", (3, 8), 50.0),
    "express_station": ("fixed", (1, 3), 40.0), "logistics_centre": ("fixed", (10, 40), 150.0),
    "sewage_plant": ("urban", 0.15, 5.0), "refuse_transfer": ("pop", 0.0008, 800.0),
    "refuse_point": ("fixed", (1, 4), 10.0), "water_plant": ("pop", 0.15, 1.5),
    "market": ("fixed", (50, 300), 25.0),
}


@dataclass
class FacilityRow:
    kind: str
    level: str
    township: int
    village: int
    x: float
    y: float
    capacity: float
    area_m2: float
    name: str


def _capacity(kind: str, pop: float, urban: float, old: float, gen: np.random.Generator) -> tuple[float, float]:
    how, val, per_unit = CAPACITY[kind]
    if how == "fixed":
        cap = float(gen.integers(val[0], val[1] + 1))
    else:
        base = {"pop": pop, "urban": max(urban, 0.2 * pop), "old": old}[how]
        cap = max(1.0, round(base * val * gen.uniform(0.7, 1.2)))
    return cap, float(round(max(20.0, cap * per_unit * gen.uniform(0.8, 1.3)), 0))


def _short(name_zh: str) -> str:
    return re.sub(r"（.*?）", "", name_zh)


def central_towns(township_urban: np.ndarray, seat_township: int, share: float) -> np.ndarray:
    """Boolean per township: a central town of a zone — the county seat's township and the
    ``round(share × n)`` others with the most urban people (ties: lower row first)."""
    n = len(township_urban)
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    out[seat_township] = True
    others = np.delete(np.arange(n), seat_township)
    k = int(round(share * n))
    out[others[np.argsort(-np.asarray(township_urban, dtype=float)[others], kind="stable")[:k]]] = True
    return out


def service_level(kind_level: str, central: bool) -> str:
    """The level a facility serves: its kind's level, except that a zone kind outside a
    central town serves its township."""
    return "township" if kind_level == "zone" and not central else kind_level


def place(village_geom: np.ndarray, village_seat: np.ndarray, village_township: np.ndarray,
          village_names: list[str], village_pop: np.ndarray, township_names: list[str],
          town_seat_village: np.ndarray, township_pop: np.ndarray, township_urban: np.ndarray,
          seat_township: int, share_65: float, cfg: Config, gen: np.random.Generator) -> list[FacilityRow]:
    """All facilities (see module doc). Positions are GK metres."""
    kinds = standards.facility_kinds()
    presence = cfg["synth.facility_presence"]
    rows: list[FacilityRow] = []
    nt = len(township_pop)
    big = np.median(np.delete(township_urban, seat_township)) if nt > 1 else 1.0
    big = max(float(big), 1.0)
    central = central_towns(township_urban, seat_township, float(cfg["synth.central_town_share"]))

    def spot(v: int, spread: float) -> tuple[float, float]:
        sx, sy = village_seat[v]
        poly = village_geom[v]
        for _ in range(8):
            ang = gen.uniform(0, 2 * np.pi)
            d = gen.uniform(0.2, 1.0) * spread
            x, y = sx + d * np.cos(ang), sy + d * np.sin(ang)
            if shapely.contains_xy(poly, x, y):
                return float(x), float(y)
        return float(sx), float(sy)

    for _, k in kinds.iterrows():
        kind, level = k["kind"], k["level"]
        p = float(presence.get(kind, 0.5))
        label = _short(k["name_zh"])
        if level == "village":
            for v in range(len(village_geom)):
                if gen.random() < p:
                    cap, area = _capacity(kind, village_pop[v], 0, village_pop[v] * share_65, gen)
                    x, y = spot(v, 150.0)
                    rows.append(FacilityRow(kind, level, int(village_township[v]), v, x, y, cap, area,
                                            f"{village_names[v]}{label}"))
            continue
        for ti in range(nt):
            if level == "zone":
                pt = 1.0 if ti == seat_township else min(0.95, p * np.sqrt(max(township_urban[ti], 1) / big))
            else:
                pt = 1.0 if ti == seat_township else p
            count = 1 if gen.random() < pt else 0
            if ti == seat_township and kind in ("primary_school", "kindergarten", "middle_school"):
                count = max(1, int(np.ceil(township_pop[ti] / 40000)))
            for c in range(count):
                v = int(town_seat_village[ti])
                cap, area = _capacity(kind, township_pop[ti] / count, township_urban[ti] / count,
                                      township_pop[ti] * share_65 / count, gen)
                x, y = spot(v, 400.0 if ti == seat_township else 250.0)
                suffix = "" if count == 1 else f"（{c + 1}）"
                rows.append(FacilityRow(kind, service_level(level, bool(central[ti])), ti, v, x, y, cap, area,
                                        f"{township_names[ti]}{label}{suffix}"))
    return rows
