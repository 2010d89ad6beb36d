"""One zone, one specialty (一片区一特色, 错位布局): location quotients by sector per zone, a
leading specialty per zone from Sichuan's controlled vocabulary ("10+3" agriculture, "5+1"
industry, "4+6" services: ``pianqu.standards.industries()``), the similarity of industrial
structure between neighbouring zones, and warnings where neighbours share a specialty.

The economy table has one row per township, sector and year: ``township_code, sector, output,
employment, year`` (sector ids from the vocabulary). Location quotient of sector s in zone z:
LQ = (e_zs / e_z) / (e_s / e), on output (default) or employment, against the whole table
(the county, or the province when several counties are given).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.findings import Finding
from pianqu.standards import industries


@dataclass
class Specialties:
    lq: pd.DataFrame  # zones × sectors, location quotients
    shares: pd.DataFrame  # zones × sectors, share of zone output
    leading: pd.DataFrame  # zone, sector, name_zh, system, lq, share, runner_up
    similarity: pd.DataFrame  # zone_a, zone_b, cosine, krugman (neighbouring pairs)
    findings: list[Finding] = field(default_factory=list)


def _check_economy(economy: pd.DataFrame, measure: str, source: str) -> pd.DataFrame:
    need = ["township_code", "sector", measure]
    miss = [c for c in need if c not in economy.columns]
    if miss:
        raise ValueError(f"economy{source}: missing column(s) {miss}; columns are {list(economy.columns)}")
    vocab = set(industries()["id"])
    eco = economy.copy()
    eco["township_code"] = eco["township_code"].astype(str)
    eco["sector"] = eco["sector"].astype(str).str.strip()
    bad = eco.loc[~eco["sector"].isin(vocab)]
    if len(bad):
        r = bad.iloc[0]
        raise ValueError(f"economy{source}: row {bad.index[0]} (township {r['township_code']}) has sector "
                         f"'{r['sector']}', not in the controlled vocabulary; use one of "
                         f"{', '.join(sorted(vocab))} (pianqu standards --table industries)")
    vals = pd.to_numeric(eco[measure], errors="coerce")
    bad = vals.isna() | (vals < 0)
    if bad.any():
        k = bad.to_numpy().nonzero()[0][0]
        raise ValueError(f"economy{source}: row {eco.index[k]} (township {eco['township_code'].iloc[k]}, sector "
                         f"{eco['sector'].iloc[k]}) field '{measure}' is {eco[measure].iloc[k]!r}; need a number ≥ 0")
    eco[measure] = vals.astype(float)
    return eco


def location_quotients(economy: pd.DataFrame, zone_of: Mapping[str, str] | pd.Series, *, measure: str = "output",
                       year: int | None = None, source: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(LQ, share) tables, zones × sectors. ``zone_of`` maps township code → zone label;
    townships without a zone are left out (with their output, also from the reference)."""
    eco = _check_economy(economy, measure, source)
    if year is None and "year" in eco.columns:
        year = int(pd.to_numeric(eco["year"], errors="coerce").max())
    if year is not None and "year" in eco.columns:
        eco = eco[pd.to_numeric(eco["year"], errors="coerce") == year]
    zmap = pd.Series(zone_of).astype(str)
    eco = eco.assign(zone=eco["township_code"].map(zmap)).dropna(subset=["zone"])
    m = eco.pivot_table(index="zone", columns="sector", values=measure, aggfunc="sum", fill_value=0.0)
    tot_z = m.sum(axis=1)
    tot_s = m.sum(axis=0)
    tot = float(tot_s.sum())
    share = m.div(tot_z.where(tot_z > 0), axis=0).fillna(0.0)
    ref = tot_s / tot if tot > 0 else tot_s * 0
    lq = share.div(ref.where(ref > 0), axis=1).fillna(0.0)
    return lq, share


def leading_specialties(economy: pd.DataFrame, zone_of: Mapping[str, str] | pd.Series, *,
                        neighbours: Iterable[tuple[str, str]] = (), measure: str = "output",
                        year: int | None = None, stagger: bool = True, config: Config | None = None,
                        source: str = "") -> Specialties:
    """A leading specialty per zone, staggered between neighbours where the data allow.

    A sector qualifies in a zone when LQ ≥ ``zoning.industry_lq_min`` and its share of the zone's
    output ≥ ``zoning.industry_share_min``; the leading one has the highest LQ × share (strong
    relative to the county and large in the zone). With ``stagger``, when two neighbouring
    zones lead with the same sector, the zone for which the sector matters less switches to
    its next qualifying sector, if any (greedy, strongest zone first); pairs left sharing a
    specialty get a warning. ``neighbours``: pairs of zone labels that touch.
    """
    cfg = config or load_config()
    lq_min = float(cfg["zoning.industry_lq_min"])
    share_min = float(cfg["zoning.industry_share_min"])
    sim_max = float(cfg["zoning.industry_similarity_max"])
    lq, share = location_quotients(economy, zone_of, measure=measure, year=year, source=source)
    vocab = industries().set_index("id")
    strength = (lq * share).where((lq >= lq_min) & (share >= share_min))
    ranked = {z: [s for s in strength.loc[z].sort_values(ascending=False).dropna().index] for z in strength.index}
    choice = {z: (r[0] if r else None) for z, r in ranked.items()}
    nb_pairs = sorted({tuple(sorted((str(a), str(b)))) for a, b in neighbours if str(a) != str(b)})
    nb_pairs = [(a, b) for a, b in nb_pairs if a in choice and b in choice]
    if stagger:
        order = sorted(choice, key=lambda z: -(strength.loc[z].max() if choice[z] else 0.0))
        taken: dict[str, str] = {}
        adj = {z: set() for z in choice}
        for a, b in nb_pairs:
            adj[a].add(b)
            adj[b].add(a)
        for z in order:
            opts = ranked[z]
            used = {taken[y] for y in adj[z] if y in taken}
            pick = next((s for s in opts if s not in used), opts[0] if opts else None)
            if pick is not None:
                taken[z] = pick
            choice[z] = pick
    findings: list[Finding] = []
    rows = []
    for z in lq.index:
        s = choice.get(z)
        if s is None:
            findings.append(Finding("warning", "zoning.industry.no_specialty", "zone", str(z), "sector",
                                    {"lq_min": lq_min, "share_min": share_min}))
            rows.append({"zone": z, "sector": "", "name_zh": "", "name_en": "", "system": "", "lq": np.nan,
                         "share": np.nan, "runner_up": ""})
            continue
        alt = [x for x in ranked[z] if x != s]
        rows.append({"zone": z, "sector": s, "name_zh": vocab.loc[s, "name_zh"], "name_en": vocab.loc[s, "name_en"],
                     "system": vocab.loc[s, "system"], "lq": float(lq.loc[z, s]), "share": float(share.loc[z, s]),
                     "runner_up": alt[0] if alt else ""})
    sim_rows = []
    for a, b in nb_pairs:
        va, vb = share.loc[a].to_numpy(), share.loc[b].to_numpy()
        na, nb_ = np.linalg.norm(va), np.linalg.norm(vb)
        cos = float(va @ vb / (na * nb_)) if na > 0 and nb_ > 0 else np.nan
        krug = float(np.abs(va - vb).sum())
        sim_rows.append({"zone_a": a, "zone_b": b, "cosine": cos, "krugman": krug,
                         "same_specialty": choice.get(a) is not None and choice.get(a) == choice.get(b)})
        if choice.get(a) is not None and choice.get(a) == choice.get(b):
            findings.append(Finding("warning", "zoning.industry.same_specialty", "zone", a, "sector",
                                    {"other": b, "sector": vocab.loc[choice[a], "name_zh"]}))
        if np.isfinite(cos) and cos > sim_max:
            findings.append(Finding("info", "zoning.industry.similar_structure", "zone", a, "",
                                    {"other": b, "cosine": round(cos, 3), "max": sim_max}))
    return Specialties(lq, share, pd.DataFrame(rows), pd.DataFrame(sim_rows, columns=[
        "zone_a", "zone_b", "cosine", "krugman", "same_specialty"]), findings)


def zone_neighbours(assignment: pd.Series, edges: pd.DataFrame) -> list[tuple[str, str]]:
    """Pairs of zones (labelled by their centre code) that touch, from unit-level adjacency
    edges (``code_i, code_j`` as in :class:`pianqu.zoning.Adjacency`)."""
    za = edges["code_i"].map(assignment)
    zb = edges["code_j"].map(assignment)
    ok = za.notna() & zb.notna() & (za != zb)
    return sorted({tuple(sorted((a, b))) for a, b in zip(za[ok], zb[ok])})
