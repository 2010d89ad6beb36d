"""Evaluate any division of units into zones — pianqu's, or a planner's hand-made one loaded
from CSV/XLSX/GPKG — and re-evaluate it fast when one unit moves (what the web platform calls).

Checks, each a :class:`~pianqu.findings.Finding` naming the zone or unit: every unit in
exactly one zone; every zone contiguous, with exactly one centre that is its member and may be
a centre (never a 搬迁撤并 village); no zone across a county border; members and population
per zone against the bounds; compactness; the number of zones against the policy's
expectation. Figures: per zone population, members, mean and max travel time to the centre,
share of population within the centre-time standard, compactness (Polsby–Popper from the
adjacency's areas, perimeters and shared boundaries: no geometry operation, so a move is
re-evaluated from sums).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from pianqu.config import Config, load_config
from pianqu.errors import UserFileError, UserKeyError, UserValueError, check_input, layer_label
from pianqu.findings import Finding
from pianqu.i18n import t
from pianqu.zoning.contiguity import Adjacency, adjacency as build_adjacency
from pianqu.zoning.problem import RELOCATE_CLASS

TRUE_WORDS = {"1", "true", "yes", "y", "是", "√", "✓", "t", "中心", "中心镇", "中心村"}
SUMMARY_KEYS = ("zones", "zones_expected", "units", "units_unassigned", "units_in_two_zones", "population", "mean_time_min", "max_time_min", "within_share", "pop_cv",
                "members_min", "members_max", "compactness_mean", "zones_without_centre", "noncontiguous_zones",
                "errors", "warnings")


@dataclass
class Evaluation:
    """Figures and findings of one division."""

    zones: pd.DataFrame
    units: pd.DataFrame
    summary: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)


# -- reading a division ------------------------------------------------------------------------

def read_division(path: str | Path, *, layer: str | None = None, sheet: str | int | None = 0,
                  code: str = "code", zone: str = "zone", centre: str | None = None,
                  is_centre: str | None = None) -> pd.DataFrame:
    """A division table from CSV (UTF-8 or GB18030), XLSX or a GeoPackage/GeoJSON/Shapefile layer.

    The file is only read.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    layer : str, optional
        Layer of a GIS file.
    sheet : str or int, default 0
        Sheet of a workbook.
    code : str, default "code"
        Column of the unit code (e.g. ``乡镇代码``).
    zone : str, default "zone"
        Column of the zone label (e.g. ``片区``).
    centre : str, optional
        Column holding the code of the zone's centre (on any of its rows).
    is_centre : str, optional
        Column flagging the centre's row (是/否, 1/0, true/false); default a ``centre`` or
        ``is_centre`` column when present.

    Returns
    -------
    pandas.DataFrame
        ``code, zone, centre_mark`` (bool), with ``attrs["source"]`` naming the file.

    Raises
    ------
    pianqu.errors.UserFileError, pianqu.errors.UserValueError
        The file is missing, unreadable, or lacks a named column (the message lists the columns).
    """
    p = Path(path)
    if not p.exists():
        raise UserFileError("zoning.division.no_file", path=str(p))
    check_input(p, folder=p.suffix.lower() == ".gdb")  # a FIFO would block the read
    suffix = p.suffix.lower()
    if suffix == ".csv":
        for enc in ("utf-8-sig", "gb18030"):
            try:
                raw = pd.read_csv(p, dtype=str, encoding=enc, keep_default_na=False)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise UserValueError("zoning.division.encoding", path=str(p))
    else:
        import pyogrio

        try:
            if suffix in (".xlsx", ".xls"):
                raw = pd.read_excel(p, sheet_name=sheet, dtype=str).fillna("")
            else:
                raw = pd.DataFrame(pyogrio.read_dataframe(p, layer=layer, read_geometry=False)).astype(str)
        except (ValueError, KeyError, IndexError, OSError, RuntimeError, zipfile.BadZipFile) as exc:
            # pandas/openpyxl (not an Excel file, no such sheet) and GDAL (not a GeoPackage, no such layer)
            raise UserValueError("zoning.division.unreadable", path=str(p), detail=str(exc).strip()) from None
    where = f"{p}" + (f":{layer}" if layer else "")
    return normalise_division(raw, code=code, zone=zone, centre=centre, is_centre=is_centre, source=where)


def normalise_division(raw: pd.DataFrame, *, code: str = "code", zone: str = "zone", centre: str | None = None,
                       is_centre: str | None = None, source: str = "") -> pd.DataFrame:
    """``code, zone, centre_mark`` from a table holding a centre column or an is-centre flag."""
    for col in (code, zone):
        if col not in raw.columns:
            raise UserValueError("zoning.division.no_column", source=source or "-", column=col,
                                 columns=", ".join(map(str, raw.columns)))
    if centre is None and is_centre is None:
        centre = "centre" if "centre" in raw.columns else None
        is_centre = "is_centre" if "is_centre" in raw.columns else None
    df = pd.DataFrame({"code": raw[code].astype(str).str.strip(), "zone": raw[zone].astype(str).str.strip()})
    if is_centre is not None:
        if is_centre not in raw.columns:
            raise UserValueError("zoning.division.no_column", source=source or "-", column=is_centre,
                                 columns=", ".join(map(str, raw.columns)))
        df["centre_mark"] = raw[is_centre].astype(str).str.strip().str.lower().isin(TRUE_WORDS).to_numpy()
    elif centre is not None:
        if centre not in raw.columns:
            raise UserValueError("zoning.division.no_column", source=source or "-", column=centre,
                                 columns=", ".join(map(str, raw.columns)))
        named = raw[centre].astype(str).str.strip()
        marks = set(zip(df["zone"], named))
        df["centre_mark"] = [(z, c) in marks for z, c in zip(df["zone"], df["code"])]
        # a centre named on a zone's rows but not itself listed in that zone
        listed = set(zip(df["zone"], df["code"]))
        extra = [(z, c) for z, c in marks if c and c.lower() != "nan" and (z, c) not in listed]
        df.attrs["centres_not_members"] = extra
    else:
        raise UserValueError("zoning.division.no_centre_column", source=source or "-",
                             columns=", ".join(map(str, raw.columns)))
    df.attrs["source"] = source
    return df


def division_from_result(result) -> pd.DataFrame:
    """The division of a zoning result as a division table.

    Parameters
    ----------
    result : ZoningResult
        From :func:`pianqu.delineate`, :func:`pianqu.auto_p` or :func:`pianqu.run_plan`.

    Returns
    -------
    pandas.DataFrame
        ``code, zone, centre_mark`` (zones numbered 1..p), as :func:`pianqu.evaluate_division` takes it.
    """
    f = result.to_frame()
    return pd.DataFrame({"code": f["code"], "zone": f["zone"].astype(str), "centre_mark": f["is_centre"]})


# -- the evaluator -------------------------------------------------------------------------------

class Evaluator:
    """A division held as arrays, evaluated in full once and updated incrementally per move.

    ``move(code, zone)`` moves one unit and returns the new figures of the two zones
    concerned, the new summary and the findings about those zones, in O(size of the two
    zones + degree of the unit).
    """

    def __init__(self, units: pd.DataFrame, travel_s: np.ndarray, division: pd.DataFrame, *,
                 code: str = "code", population: str = "population", county: str | None = "county_code",
                 village_class: str | None = "village_class", adjacency: Adjacency | None = None,
                 layer: str = "township", member_bounds: tuple[int | None, int | None] | None = None,
                 pop_bounds: tuple[float | None, float | None] | None = None, config: Config | None = None):
        cfg = config or load_config()
        self.cfg = cfg
        self.layer = layer
        self.codes = units[code].astype(str).to_numpy()
        self.n = len(self.codes)
        self.pos = {c: k for k, c in enumerate(self.codes)}
        self.pop = pd.to_numeric(units[population], errors="coerce").fillna(0).to_numpy(float)
        self.T = np.asarray(travel_s, dtype=float)
        if self.T.shape != (self.n, self.n):
            raise ValueError(f"travel_s has shape {self.T.shape}; expected ({self.n}, {self.n}) in unit order")
        if adjacency is None:
            adjacency = build_adjacency(units, code=code, county=county, travel_s=self.T, layer=layer)
        self.adj = adjacency
        self.nbrs = [set(x.tolist()) for x in adjacency.neighbours()]
        self.shared = adjacency.shared.tocsr()
        self.perim = adjacency.perimeter_m
        self.area = adjacency.area_m2
        self.county = (units[county].astype(str).to_numpy() if county and county in units.columns
                       else np.full(self.n, ""))
        self.relocate = (units[village_class].astype(str).str.strip().eq(RELOCATE_CLASS).to_numpy()
                         if village_class and village_class in units.columns else np.zeros(self.n, bool))
        village = layer == "village"
        mb = member_bounds or ((cfg["zoning.village_members_min"], cfg["zoning.village_members_max"]) if village
                               else (cfg["zoning.members_min"], cfg["zoning.members_max"]))
        self.mem_lo, self.mem_hi = mb[0] or 1, mb[1] or 10**9
        self.pop_lo, self.pop_hi = ((pop_bounds or (None, None))[0] or 0.0,
                                    (pop_bounds or (None, None))[1] or math.inf)
        self.standard_s = float(cfg["zoning.village_centre_time_min" if village else "zoning.centre_time_min"]) * 60
        self.compact_min = float(cfg["zoning.compactness_min"])
        self.static: list[Finding] = list(adjacency.findings)
        self._load(division)

    # -- loading and full evaluation ------------------------------------------------------------
    def _load(self, division: pd.DataFrame) -> None:
        src = division.attrs.get("source", "")
        self.source = src
        d = division.reset_index(drop=True)
        unknown = sorted(set(d["code"]) - set(self.pos))
        for c in unknown:
            self.static.append(Finding("error", "zoning.eval.unknown_unit", "zone_member", c, "code", {}, src))
        d = d[d["code"].isin(self.pos)]
        self.zone_labels: list[str] = list(pd.unique(d["zone"]))
        zid = {z: k for k, z in enumerate(self.zone_labels)}
        self.zone_of = np.full(self.n, -1, dtype=np.int64)
        self.also_in: dict[int, list[str]] = {}
        for c, z in zip(d["code"], d["zone"]):
            u = self.pos[c]
            if self.zone_of[u] == -1:
                self.zone_of[u] = zid[z]
            elif self.zone_labels[self.zone_of[u]] != z:
                self.also_in.setdefault(u, []).append(z)
        nz = len(self.zone_labels)
        self.centres: list[list[int]] = [[] for _ in range(nz)]
        for c, z, m in zip(d["code"], d["zone"], d["centre_mark"]):
            if m and self.pos[c] not in self.centres[zid[z]]:
                self.centres[zid[z]].append(self.pos[c])
        self.not_members = list(division.attrs.get("centres_not_members", []))
        self.members: list[set[int]] = [set(np.flatnonzero(self.zone_of == k).tolist()) for k in range(nz)]
        self.zfig: dict[int, dict[str, Any]] = {k: self._zone_figures(k) for k in range(nz)}

    def centre_of_zone(self, k: int) -> int:
        """The centre of zone k when it has exactly one centre inside it, else -1."""
        cs = [c for c in self.centres[k] if self.zone_of[c] == k]
        return cs[0] if len(cs) == 1 and len(self.centres[k]) == 1 else -1

    def _pieces(self, members: set[int]) -> list[list[int]]:
        left = set(members)
        out = []
        while left:
            r = left.pop()
            seen, stack = [r], [r]
            while stack:
                a = stack.pop()
                for b in self.nbrs[a]:
                    if b in left:
                        left.discard(b)
                        seen.append(b)
                        stack.append(b)
            out.append(sorted(seen))
        return sorted(out, key=len, reverse=True)

    def _zone_figures(self, k: int) -> dict[str, Any]:
        mem = np.fromiter(self.members[k], dtype=np.int64, count=len(self.members[k]))
        c = self.centre_of_zone(k)
        pop = float(self.pop[mem].sum()) if len(mem) else 0.0
        area = float(self.area[mem].sum()) if len(mem) else 0.0
        inner = float(self.shared[mem][:, mem].sum()) if len(mem) else 0.0  # each pair counted twice
        perim = float(self.perim[mem].sum()) - inner
        fig: dict[str, Any] = {"members": len(mem), "population": pop, "area_m2": area, "perimeter_m": perim,
                               "compactness": 4 * math.pi * area / perim ** 2 if perim > 0 else float("nan")}
        pieces = self._pieces(self.members[k])
        fig["pieces"] = len(pieces)
        if c >= 0 and len(mem):
            tt = self.T[mem, c]
            wt = float(np.sum(self.pop[mem] * tt))
            fig.update({"centre": self.codes[c], "wtime": wt,
                        "mean_time_min": (wt / pop if pop > 0 else float(tt.mean())) / 60.0,
                        "max_time_min": float(tt.max()) / 60.0,
                        "within_pop": float(self.pop[mem][tt <= self.standard_s].sum())})
        else:
            fig.update({"centre": "", "wtime": float("nan"), "mean_time_min": float("nan"),
                        "max_time_min": float("nan"), "within_pop": float("nan")})
        fig["within_share"] = fig["within_pop"] / pop if pop > 0 else float("nan")
        fig["counties"] = sorted(set(self.county[mem].tolist())) if len(mem) else []
        fig["_pieces"] = pieces
        return fig

    # -- findings ----------------------------------------------------------------------------------
    def _zone_findings(self, k: int) -> list[Finding]:
        z = self.zone_labels[k]
        fig = self.zfig[k]
        out: list[Finding] = []
        if fig["members"] == 0:
            return out
        cs = self.centres[k]
        inside = [c for c in cs if self.zone_of[c] == k]
        if not cs and not any(zz == z for zz, _ in self.not_members):
            out.append(Finding("error", "zoning.eval.zone_without_centre", "zone", z, "centre", {}, self.source))
        elif len(cs) > 1:
            out.append(Finding("error", "zoning.eval.zone_two_centres", "zone", z, "centre",
                               {"centres": "、".join(self.codes[c] for c in cs)}, self.source))
        for c in cs:
            if c not in inside:
                out.append(Finding("error", "zoning.eval.centre_not_member", "zone", z, "centre",
                                   {"centre": self.codes[c]}, self.source))
        for zz, c in self.not_members:
            if zz == z:
                out.append(Finding("error", "zoning.eval.centre_not_member", "zone", z, "centre",
                                   {"centre": c}, self.source))
        for c in inside:
            if self.relocate[c]:
                out.append(Finding("error", "zoning.eval.centre_relocate", "zone", z, "centre",
                                   {"centre": self.codes[c]}, self.source))
        if fig["pieces"] > 1:
            main = fig["_pieces"][0]
            cen = self.centre_of_zone(k)
            if cen >= 0:
                main = next(pc for pc in fig["_pieces"] if cen in pc)
            detached = [u for pc in fig["_pieces"] if pc is not main for u in pc]
            out.append(Finding("error", "zoning.eval.zone_not_contiguous", "zone", z, "",
                               {"pieces": fig["pieces"], "units": "、".join(self.codes[detached])}, self.source))
        if len(fig["counties"]) > 1:
            out.append(Finding("error", "zoning.eval.zone_crosses_county", "zone", z, "",
                               {"counties": "、".join(fig["counties"])}, self.source))
        if not self.mem_lo <= fig["members"] <= self.mem_hi:
            out.append(Finding("warning", "zoning.eval.members_outside", "zone", z, "",
                               {"members": fig["members"], "lo": self.mem_lo, "hi": _fmt(self.mem_hi)}, self.source))
        if not self.pop_lo <= fig["population"] <= self.pop_hi:
            out.append(Finding("warning", "zoning.eval.population_outside", "zone", z, "",
                               {"population": round(fig["population"]), "lo": _fmt(self.pop_lo),
                                "hi": _fmt(self.pop_hi)}, self.source))
        if np.isfinite(fig["compactness"]) and fig["compactness"] < self.compact_min:
            out.append(Finding("warning", "zoning.eval.not_compact", "zone", z, "",
                               {"value": round(fig["compactness"], 3), "min": self.compact_min}, self.source))
        if np.isfinite(fig["within_share"]) and fig["within_share"] < 1.0:
            mem = np.fromiter(self.members[k], dtype=np.int64)
            far = mem[self.T[mem, self.centre_of_zone(k)] > self.standard_s]
            out.append(Finding("info", "zoning.eval.far_units", "zone", z, "",
                               {"count": len(far), "units": "、".join(self.codes[far][:10]),
                                "minutes": round(self.standard_s / 60)}, self.source))
        return out

    def _unit_findings(self) -> list[Finding]:
        out = []
        for u in np.flatnonzero(self.zone_of == -1):
            out.append(Finding("error", "zoning.eval.unit_unassigned", "zone_member", self.codes[u], "zone", {},
                               self.source))
        for u, others in self.also_in.items():
            zs = [self.zone_labels[self.zone_of[u]]] + others
            out.append(Finding("error", "zoning.eval.unit_in_two_zones", "zone_member", self.codes[u], "zone",
                               {"zones": "、".join(zs)}, self.source))
        return out

    def zone_count_range(self, county: str | None = None) -> tuple[int, int]:
        """The number of zones the policy expects (of one county, or summed over all):
        ceil(n / members_max) … max(1, floor(n / members_min)), what the automatic p ranges over."""
        if county is None:
            parts = [self.zone_count_range(c) for c in sorted(set(self.county.tolist()))]
            return sum(p[0] for p in parts), sum(p[1] for p in parts)
        n = int((self.county == county).sum())
        lo = math.ceil(n / self.mem_hi) if self.mem_hi < 10**9 else 1
        return lo, max(lo, n // self.mem_lo)

    def _count_findings(self) -> list[Finding]:
        nz = sum(1 for k in range(len(self.zone_labels)) if self.zfig[k]["members"] > 0)
        out = []
        for cty in sorted(set(self.county.tolist())):
            in_c = self.county == cty
            n = int(in_c.sum())
            zs = {self.zone_of[u] for u in np.flatnonzero(in_c) if self.zone_of[u] >= 0}
            lo, hi = self.zone_count_range(cty)
            if not lo <= len(zs) <= hi:
                out.append(Finding("warning", "zoning.eval.zone_count", "zone", cty, "",
                                   {"zones": len(zs), "units": n, "lo": lo, "hi": hi}, self.source))
        if nz == 0:
            out.append(Finding("error", "zoning.eval.no_zones", "zone", "", "", {}, self.source))
        return out

    # -- public ----------------------------------------------------------------------------------
    def findings(self) -> list[Finding]:
        out = list(self.static) + self._unit_findings()
        for k in range(len(self.zone_labels)):
            out += self._zone_findings(k)
        return out + self._count_findings()

    def zones_frame(self, ks: list[int] | None = None) -> pd.DataFrame:
        ks = range(len(self.zone_labels)) if ks is None else ks
        rows = []
        for k in ks:
            f = self.zfig[k]
            rows.append({"zone": self.zone_labels[k], "centre": f["centre"], "members": f["members"],
                         "population": f["population"], "mean_time_min": f["mean_time_min"],
                         "max_time_min": f["max_time_min"], "within_share": f["within_share"],
                         "compactness": f["compactness"], "area_km2": f["area_m2"] / 1e6, "pieces": f["pieces"],
                         "units": ",".join(sorted(self.codes[list(self.members[k])]))})
        return pd.DataFrame(rows)

    def units_frame(self) -> pd.DataFrame:
        cen = np.array([self.centre_of_zone(k) for k in range(len(self.zone_labels))] + [-1])
        c = cen[self.zone_of]
        tt = np.where(c >= 0, self.T[np.arange(self.n), np.maximum(c, 0)], np.nan)
        return pd.DataFrame({"code": self.codes,
                             "zone": [self.zone_labels[z] if z >= 0 else "" for z in self.zone_of],
                             "centre": np.where(c >= 0, self.codes[np.maximum(c, 0)], ""),
                             "time_min": tt / 60.0, "within": tt <= self.standard_s, "population": self.pop})

    def summary(self, findings: list[Finding] | None = None) -> dict[str, Any]:
        live = [k for k in range(len(self.zone_labels)) if self.zfig[k]["members"] > 0]
        figs = [self.zfig[k] for k in live]
        with_c = [f for f in figs if f["centre"]]
        pop_c = sum(f["population"] for f in with_c)
        zp = np.array([f["population"] for f in figs]) if figs else np.zeros(1)
        findings = self.findings() if findings is None else findings
        lo, hi = self.zone_count_range()
        return {
            "zones": len(live), "zones_expected": f"{lo}–{hi}", "units": self.n,
            "units_unassigned": int((self.zone_of == -1).sum()), "units_in_two_zones": len(self.also_in),
            "population": float(self.pop.sum()),
            "mean_time_min": (sum(f["wtime"] for f in with_c) / pop_c / 60.0) if pop_c > 0 else float("nan"),
            "max_time_min": max((f["max_time_min"] for f in with_c), default=float("nan")),
            "within_share": (sum(f["within_pop"] for f in with_c) / pop_c) if pop_c > 0 else float("nan"),
            "pop_cv": float(zp.std() / zp.mean()) if zp.mean() > 0 else float("nan"),
            "members_min": min((f["members"] for f in figs), default=0),
            "members_max": max((f["members"] for f in figs), default=0),
            "compactness_mean": float(np.nanmean([f["compactness"] for f in figs])) if figs else float("nan"),
            "zones_without_centre": sum(1 for f in figs if not f["centre"]),
            "noncontiguous_zones": sum(1 for f in figs if f["pieces"] > 1),
            "errors": sum(f.severity == "error" for f in findings),
            "warnings": sum(f.severity == "warning" for f in findings),
        }

    def evaluation(self) -> Evaluation:
        f = self.findings()
        return Evaluation(self.zones_frame(), self.units_frame(), self.summary(f), f)

    def move(self, code: str, zone: str) -> dict[str, Any]:
        """Move unit ``code`` to zone ``zone`` (a new label opens a new zone without a centre).

        Returns ``zones`` (figures of the old and new zone), ``summary`` and ``findings`` (about
        the two zones and the unit). A centre that moves out leaves its old zone without a centre.
        """
        if code not in self.pos:
            raise UserKeyError("zoning.division.unknown_unit", code=code, layer=self.layer,
                               layer_zh=layer_label(self.layer))
        u = self.pos[code]
        if zone not in self.zone_labels:
            self.zone_labels.append(zone)
            self.centres.append([])
            self.members.append(set())
            self.zfig[len(self.zone_labels) - 1] = self._zone_figures(len(self.zone_labels) - 1)
        b = self.zone_labels.index(zone)
        a = int(self.zone_of[u])
        self.also_in.pop(u, None)
        if a == b:
            ks = [b]
        else:
            if a >= 0:
                self.members[a].discard(u)
                if u in self.centres[a]:
                    self.centres[a].remove(u)
            self.members[b].add(u)
            self.zone_of[u] = b
            ks = [k for k in (a, b) if k >= 0]
            for k in ks:
                self.zfig[k] = self._update(k, u, entering=(k == b))
        found = [f for k in ks for f in self._zone_findings(k)]
        found += [f for f in self._unit_findings() if f.feature == code]
        return {"zones": self.zones_frame(ks), "summary": self.summary(), "findings": found}

    def set_centre(self, zone: str, code: str) -> dict[str, Any]:
        """Make unit ``code`` the (only) centre of ``zone``."""
        k = self.zone_labels.index(zone)
        self.centres[k] = [self.pos[code]]
        self.zfig[k] = self._zone_figures(k)
        return {"zones": self.zones_frame([k]), "summary": self.summary(), "findings": self._zone_findings(k)}

    def _update(self, k: int, u: int, entering: bool) -> dict[str, Any]:
        """Zone k's figures after unit u entered (or left), from the old sums."""
        old = self.zfig[k]
        mem = self.members[k]
        sign = 1.0 if entering else -1.0
        row = self.shared[u]
        others = [m for m in row.indices if m in mem and m != u]
        sh = float(row[0, others].sum()) if others else 0.0
        fig = dict(old)
        fig["members"] = len(mem)
        fig["population"] = old["population"] + sign * self.pop[u]
        fig["area_m2"] = old["area_m2"] + sign * self.area[u]
        fig["perimeter_m"] = old["perimeter_m"] + sign * (self.perim[u] - 2.0 * sh)
        fig["compactness"] = (4 * math.pi * fig["area_m2"] / fig["perimeter_m"] ** 2
                              if fig["perimeter_m"] > 0 else float("nan"))
        pieces = self._pieces(mem)
        fig["pieces"], fig["_pieces"] = len(pieces), pieces
        fig["counties"] = sorted(set(self.county[list(mem)].tolist())) if mem else []
        c = self.centre_of_zone(k)
        if c >= 0 and mem:
            t_u = self.T[u, c]
            fig["centre"] = self.codes[c]
            base_w = old["wtime"] if np.isfinite(old["wtime"]) else 0.0
            fig["wtime"] = base_w + sign * self.pop[u] * t_u
            fig["within_pop"] = (old["within_pop"] if np.isfinite(old["within_pop"]) else 0.0) + \
                sign * self.pop[u] * (t_u <= self.standard_s)
            mm = np.fromiter(mem, dtype=np.int64, count=len(mem))
            fig["max_time_min"] = float(self.T[mm, c].max()) / 60.0
            fig["mean_time_min"] = (fig["wtime"] / fig["population"] if fig["population"] > 0
                                    else float(self.T[mm, c].mean())) / 60.0
        else:
            fig.update({"centre": "", "wtime": float("nan"), "mean_time_min": float("nan"),
                        "max_time_min": float("nan"), "within_pop": float("nan")})
        fig["within_share"] = fig["within_pop"] / fig["population"] if fig["population"] > 0 else float("nan")
        return fig


def _fmt(x: float) -> str:
    return "∞" if not np.isfinite(x) or x >= 10**9 else f"{x:g}"


def evaluate(units: pd.DataFrame, division: pd.DataFrame, travel_s: np.ndarray, **kw) -> Evaluation:
    """Evaluate a division of units into zones in full (pianqu's, or a planner's hand-made one).

    Checks: every unit in exactly one zone; every zone contiguous with exactly one centre that is
    its member and may be a centre; no zone across a county border; members and population per
    zone against the bounds; the number of zones against the policy's expectation.

    Parameters
    ----------
    units : DataFrame
        As for :func:`pianqu.delineate` (polygons, or give ``adjacency=``).
    division : DataFrame
        ``code, zone, centre_mark`` rows (:func:`pianqu.read_division`,
        :func:`pianqu.division_from_result`).
    travel_s : numpy.ndarray
        Seat-to-seat seconds in the order of ``units``.
    **kw
        Options of :class:`Evaluator`: ``code``, ``population``, ``county``, ``village_class``,
        ``adjacency``, ``layer``, ``member_bounds``, ``pop_bounds``, ``config``.

    Returns
    -------
    Evaluation
        ``zones`` (per zone: centre, members, population, mean/max time to the centre, share
        within the standard, compactness), ``units``, ``summary`` (the measures of
        :func:`pianqu.compare`) and ``findings`` (each naming the zone or unit).
    """
    return Evaluator(units, travel_s, division, **kw).evaluation()


def compare(evaluations: Mapping[str, Evaluation]) -> pd.DataFrame:
    """The summaries of several divisions side by side.

    Parameters
    ----------
    evaluations : mapping of str to Evaluation
        Division name → :func:`pianqu.evaluate_division` result, e.g. ``{"规划师方案": hand, "pianqu": plan}``.

    Returns
    -------
    pandas.DataFrame
        Rows: the measures by key (zones, population, mean and maximum time to the centre, share
        within the standard, compactness, errors …; ``t(f"zoning.metric.{key}", lang)`` names
        one); columns: the divisions.
    """
    rows = []
    for key in SUMMARY_KEYS:
        row = {"measure": key}
        for name, ev in evaluations.items():
            row[name] = ev.summary.get(key)
        rows.append(row)
    return pd.DataFrame(rows).set_index("measure")
