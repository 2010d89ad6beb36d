"""Coordinate systems of imported data: recognise, check, bring to CGCS2000 (EPSG:4490).

Accepted: CGCS2000 geographic (4490), WGS 84 (4326: the same coordinates at this precision,
relabelled), the CGCS2000 Gauss–Krüger zones (3° and 6°, with and without zone prefix, EPSG
4491–4554, also when a .prj names them in the ESRI way GDAL leaves as a custom CRS), and any other
projection on the CGCS2000 or WGS 84 datum (the inverse projection is exact). Refused: other
datums (Xi'an 1980, Beijing 1954, ...), which have no exact public transformation to CGCS2000.
Data without a CRS are refused unless the user names one; ``--crs`` also overrides a declared CRS
(a .prj that is wrong), with a warning naming both. Every refusal about coordinates (no CRS,
outside China, zone mismatch) says what the numbers look like and which ``--crs`` fits them:
lon/lat → EPSG:4490; eastings with a zone prefix → that GK zone; 6-digit eastings → the county's
3° zone without prefix when the workspace or the data's division codes tell the county.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import geopandas as gpd
import numpy as np
from pyproj import CRS

from pianqu.errors import UserValueError
from pianqu.findings import Finding
from pianqu.geo import (GK3_CM, GK3_PREFIX, GK6_CM, GK6_PREFIX, STORAGE_EPSG, describe_crs, gk3_epsg,
                        guess_gk_crs)
from pianqu.i18n import t
from pianqu.ingest.errors import IngestError
from pianqu.standards import county_centre

WGS84 = 4326
_CGCS_RF = 298.257222101
_SICHUAN_ZONES = (4543, 4544, 4545)  # CM 102°, 105°, 108°E: the 3° zones Sichuan's counties lie in
_CHINA_BBOX = (73.0, 3.0, 136.0, 54.0)  # default of validate.china_bbox; callers pass the configured one


@dataclass(frozen=True)
class CrsReport:
    """What the source said and what was done to bring it to EPSG:4490."""

    declared: str  # the CRS the file declares ("none" when it has none)
    source_epsg: int | None  # the CRS used to read the coordinates (after any correction)
    action: str  # "none" | "relabel" | "reproject"
    note: str  # one line for the result (English; findings carry the translated text)

    def __str__(self) -> str:
        return self.note


def _is_cgcs2000(crs: CRS) -> bool:
    datum = (crs.datum.name if crs.datum else "").lower().replace("_", " ")
    ell = crs.ellipsoid
    ell_ok = ell is not None and abs(ell.semi_major_metre - 6378137.0) < 1e-3 and \
        abs(ell.inverse_flattening - _CGCS_RF) < 1e-6
    return ell_ok and "2000" in datum and ("china" in datum or "cgcs" in datum)


def _is_wgs84(crs: CRS) -> bool:
    geod = crs.geodetic_crs
    if geod is not None and geod.to_epsg() == WGS84:
        return True
    datum = (crs.datum.name if crs.datum else "").lower().replace("_", " ")
    return "wgs 1984" in datum or "world geodetic system 1984" in datum or datum == "wgs84"


def gk_epsg(cm: float, false_easting: float, degrees: int | None = None) -> int | None:
    """EPSG of the CGCS2000 GK zone with this central meridian and false easting, or None."""
    if not float(cm).is_integer():
        return None
    cm = int(cm)
    if false_easting == 500_000:
        if cm % 3 == 0 and degrees != 6 and 75 <= cm <= 135:
            return GK3_CM.start + (cm - 75) // 3
        if (cm - 75) % 6 == 0 and 75 <= cm <= 135:
            return GK6_CM.start + (cm - 75) // 6
        return None
    zone, rest = divmod(false_easting - 500_000, 1_000_000)
    if rest != 0:
        return None
    zone = int(zone)
    if 3 * zone == cm and zone + GK3_PREFIX.start - 25 in GK3_PREFIX and degrees != 6:
        return GK3_PREFIX.start + zone - 25
    if 6 * zone - 3 == cm and zone + GK6_PREFIX.start - 13 in GK6_PREFIX:
        return GK6_PREFIX.start + zone - 13
    return None


def _gk_params(epsg: int) -> tuple[int, int, int]:
    """(central meridian, zone or 0, degrees) of a CGCS2000 GK EPSG code."""
    if epsg in GK3_PREFIX:
        zone = 25 + epsg - GK3_PREFIX.start
        return 3 * zone, zone, 3
    if epsg in GK6_PREFIX:
        zone = 13 + epsg - GK6_PREFIX.start
        return 6 * zone - 3, zone, 6
    if epsg in GK3_CM:
        return 75 + 3 * (epsg - GK3_CM.start), 0, 3
    if epsg in GK6_CM:
        return 75 + 6 * (epsg - GK6_CM.start), 0, 6
    raise UserValueError("common.geo.not_gk_zone", epsg=epsg)


def recognise_epsg(crs: CRS | None) -> int | None:
    """EPSG code of a CRS, including CGCS2000 GK zones that a .prj describes without one."""
    if crs is None:
        return None
    epsg = crs.to_epsg()
    if epsg is not None:
        return epsg
    if crs.is_geographic:
        if _is_cgcs2000(crs):
            return STORAGE_EPSG
        return WGS84 if _is_wgs84(crs) else None
    if not crs.is_projected or not _is_cgcs2000(crs):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = crs.to_dict()
    if d.get("proj") != "tmerc" or d.get("units", "m") != "m":
        return None
    if not (math.isclose(float(d.get("k", d.get("k_0", 1.0))), 1.0) and float(d.get("lat_0", 0)) == 0
            and float(d.get("y_0", 0)) == 0):
        return None
    name = crs.name.lower()
    degrees = 3 if "3_degree" in name or "3 degree" in name or "3-degree" in name else (
        6 if "6_degree" in name or "6 degree" in name or "6-degree" in name else None)
    return gk_epsg(float(d.get("lon_0", 0)), float(d.get("x_0", 0)), degrees)


def is_gk(epsg: int | None) -> bool:
    return epsg is not None and any(epsg in r for r in (GK3_CM, GK3_PREFIX, GK6_CM, GK6_PREFIX))


def parse_crs_option(value: str | int | None) -> CRS | None:
    """The user's ``--crs`` (``EPSG:4524``, ``4524``, a WKT or PROJ string)."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    try:
        return CRS.from_user_input(int(text) if text.isdigit() else text)
    except Exception as exc:
        raise IngestError("ingest.bad_crs_option", value=text) from exc


@dataclass(frozen=True)
class CrsHint:
    """What is known about where the data should be: the county (division codes, ``--county``,
    the workspace) and the workspace's computing zone. Used only to narrow a suggestion."""

    county_code: str | None = None
    zone_epsg: int | None = None  # a CGCS2000 3° GK zone without prefix (the workspace's compute_epsg)


def county_zones(code: str | None) -> tuple[int, ...]:
    """The 3° GK zones (EPSG, no prefix) a county's data is likely in: its centre's zone, and the
    neighbouring one when the centre lies within 0.5° of the zone edge; () when unknown."""
    if not code:
        return ()
    row = county_centre(str(code))  # approximate county centres (recalled, 183 counties)
    if row is None:
        return ()
    lon = float(row["lon"])
    zone = gk3_epsg(lon)
    cm = 75 + 3 * (zone - GK3_CM.start)
    if abs(lon - cm) > 1.0:
        other = zone + (1 if lon > cm else -1)
        if other in GK3_CM:
            return (zone, other)
    return (zone,)


@dataclass(frozen=True)
class Suggestion:
    """What coordinates look like and the ``--crs`` that fits them, in both languages."""

    kind: str  # lonlat | gk_prefix | gk_workspace | gk_county | gk_plain | none | unknown
    epsg: tuple[int, ...]  # the fitting EPSG codes, best first (empty when nothing fits)
    params: dict

    @property
    def suggest(self) -> str:
        """``EPSG:4490`` for one fitting code; ``EPSG:4543 / EPSG:4544 / …`` for several; "" for none."""
        return " / ".join(f"EPSG:{e}" for e in self.epsg)

    def looks(self, lang: str | None = None) -> str:
        return t(f"ingest.coords.{self.kind}", lang, **self.params)

    def advice(self, lang: str | None = None) -> str:
        if not self.epsg:
            return t("ingest.coords.ask_provider", lang)
        return t("ingest.coords.try_crs", lang, suggest=self.suggest)

    def error_params(self) -> dict:
        """The parameters every coordinate refusal renders: looks_/advice_ in zh and en, suggest."""
        return {"looks_zh": self.looks("zh"), "looks_en": self.looks("en"), "advice_zh": self.advice("zh"),
                "advice_en": self.advice("en"), "suggest": self.suggest}


def suggest_crs(bounds: tuple[float, float, float, float] | None, hint: CrsHint | None = None,
                china_bbox: tuple[float, float, float, float] = _CHINA_BBOX) -> Suggestion:
    """The CRS the raw coordinate numbers fit, whatever the file declares.

    Numbers within China's lon/lat box → EPSG:4490; eastings ``ZZxxxxxx`` with a zone prefix →
    that CGCS2000 GK zone (3° zones 25–45: EPSG 4513–4533; 6° zones 13–23: 4491–4501); 6-digit
    eastings (100 000–900 000 m) → the 3° zone without prefix of the county (``hint``: the
    workspace's zone, else the county's centre), else the zones Sichuan lies in.
    """
    if bounds is None:
        return Suggestion("none", (STORAGE_EPSG,), {})
    x0, y0, x1, y1 = bounds
    box = {"x0": f"{x0:.3f}", "x1": f"{x1:.3f}", "y0": f"{y0:.3f}", "y1": f"{y1:.3f}"}
    bx0, by0, bx1, by1 = china_bbox
    if bx0 <= x0 <= x1 <= bx1 and by0 <= y0 <= y1 <= by1:
        return Suggestion("lonlat", (STORAGE_EPSG,), {"x0": f"{x0:.4f}", "x1": f"{x1:.4f}",
                                                       "y0": f"{y0:.4f}", "y1": f"{y1:.4f}"})
    metres = {"x0": f"{x0:.0f}", "x1": f"{x1:.0f}", "y0": f"{y0:.0f}", "y1": f"{y1:.0f}"}
    guess = guess_gk_crs(np.array([x0, x1]), np.array([y0, y1]))
    if guess is not None:
        cm, zone, deg = _gk_params(guess)
        return Suggestion("gk_prefix", (guess,), {**metres, "zone": zone, "deg": deg, "cm": cm})
    if 100_000 <= x0 <= x1 <= 900_000 and 0 < y0 <= y1 < 6_500_000:
        hint = hint or CrsHint()
        if hint.zone_epsg is not None and hint.zone_epsg in GK3_CM:
            zones: tuple[int, ...] = (hint.zone_epsg,)
            by = "workspace"
        else:
            zones = county_zones(hint.county_code)
            by = "county"
        if zones:
            cms = "、".join(f"{_gk_params(z)[0]}°E" for z in zones)
            return Suggestion(f"gk_{by}", zones, {**metres, "cm": cms, "county": hint.county_code or ""})
        cms = "、".join(f"{_gk_params(z)[0]}°E" for z in _SICHUAN_ZONES)
        return Suggestion("gk_plain", _SICHUAN_ZONES, {**metres, "cm": cms})
    return Suggestion("unknown", (), box)


def describe_coordinates(bounds: tuple[float, float, float, float] | None, hint: CrsHint | None = None,
                         lang: str | None = None) -> tuple[str, str]:
    """(what the coordinates look like in ``lang``, the ``--crs`` to suggest or "" when none fits)."""
    s = suggest_crs(bounds, hint)
    return s.looks(lang), s.suggest


def to_storage(frame: gpd.GeoDataFrame, *, override: CRS | None, source: str, source_layer: str,
               layer: str, china_bbox: tuple[float, float, float, float], hint: CrsHint | None = None
               ) -> tuple[gpd.GeoDataFrame, CrsReport, list[Finding]]:
    """Bring ``frame`` to EPSG:4490, refusing what cannot be brought there exactly.

    ``override`` (the user's ``--crs``) wins over the CRS the file declares, with a warning naming
    both. A refusal suggests the CRS the numbers fit (``suggest_crs``, narrowed by ``hint``).
    """
    findings: list[Finding] = []
    declared_crs = frame.crs
    bounds = tuple(float(b) for b in frame.total_bounds) if len(frame) and frame.geometry.notna().any() else None
    where = {"source": source, "source_layer": source_layer}

    def fits(used: int | None = None) -> dict:
        found = suggest_crs(bounds, hint, china_bbox)
        if used is not None and found.epsg == (used,):  # the numbers fit what was used: something else is off
            found = Suggestion("unknown", (), {k: f"{v:.3f}" for k, v in zip(("x0", "y0", "x1", "y1"), bounds)})
        return found.error_params()

    if declared_crs is None:
        if override is None:
            raise IngestError("ingest.no_crs", **fits(), **where)
        crs = override
        findings.append(Finding("info", "ingest.crs_assigned", layer, params={"crs": describe_crs(crs),
                                                                              "source_layer": source_layer},
                                source=source))
    elif override is not None and not override.equals(declared_crs):
        crs = override
        findings.append(Finding("warning", "ingest.crs_overridden", layer,
                                params={"declared": describe_crs(declared_crs), "crs": describe_crs(override),
                                        "source_layer": source_layer}, source=source))
    else:
        crs = declared_crs
    epsg = recognise_epsg(crs)
    declared = describe_crs(declared_crs)
    if epsg is None or not (epsg in (STORAGE_EPSG, WGS84) or is_gk(epsg)):
        if not (_is_cgcs2000(crs) or _is_wgs84(crs)):
            datum = crs.datum.name if crs.datum else "unknown"
            raise IngestError("ingest.crs_unsupported", crs=describe_crs(crs), datum=datum, **where)
    if is_gk(epsg) and bounds is not None:
        epsg = _fix_prefix(epsg, bounds, findings, layer=layer, source=source, source_layer=source_layer,
                           fits=fits)
        crs = CRS.from_epsg(epsg)
    frame = frame.set_crs(crs, allow_override=True)
    if epsg == STORAGE_EPSG:
        out, action = frame, "none"
        note = "EPSG:4490 CGCS2000: stored as is"
    elif epsg == WGS84:
        out, action = frame.set_crs(STORAGE_EPSG, allow_override=True), "relabel"
        note = ("EPSG:4326 WGS 84 → EPSG:4490: coordinates unchanged (WGS 84 and CGCS2000 agree to a few "
                "centimetres, below the precision of planning data); CRS relabelled")
        findings.append(Finding("info", "ingest.crs_relabelled", layer, params={"source_layer": source_layer},
                                source=source))
    else:
        out, action = frame.to_crs(STORAGE_EPSG), "reproject"
        note = f"{describe_crs(crs)} → EPSG:4490 (exact inverse projection on the same datum)"
        findings.append(Finding("info", "ingest.crs_reprojected", layer,
                                params={"crs": describe_crs(crs), "source_layer": source_layer}, source=source))
    if len(out) and out.geometry.notna().any():
        x0, y0, x1, y1 = out.total_bounds
        bx0, by0, bx1, by1 = china_bbox
        if not (bx0 <= x0 and x1 <= bx1 and by0 <= y0 and y1 <= by1):
            raise IngestError("ingest.crs_out_of_china", crs=describe_crs(crs), declared=describe_crs(declared_crs),
                              bounds=f"{x0:.4f}, {y0:.4f}, {x1:.4f}, {y1:.4f}", **fits(epsg), **where)
    return out, CrsReport(declared, epsg, action, note), findings


def _fix_prefix(epsg: int, bounds: tuple[float, float, float, float], findings: list[Finding], *,
                layer: str, source: str, source_layer: str, fits: Callable[[], dict]) -> int:
    """Correct a GK CRS whose zone prefix disagrees with the eastings (common in exchanged data);
    ``fits()`` (``Suggestion.error_params``) goes into a refusal."""
    cm, zone, deg = _gk_params(epsg)
    x0, _, x1, _ = bounds
    prefixed = x0 >= 1_000_000
    if prefixed == (zone != 0):
        if zone and int(x0 // 1_000_000) != zone or zone and int(x1 // 1_000_000) != zone:
            raise IngestError("ingest.crs_zone_mismatch", crs=f"EPSG:{epsg}", zone=zone,
                              found=int(x0 // 1_000_000), source=source, source_layer=source_layer, **fits())
        return epsg
    if prefixed:  # CRS without prefix, eastings with one
        found = int(x0 // 1_000_000)
        if int(x1 // 1_000_000) != found:
            raise IngestError("ingest.crs_zone_mismatch", crs=f"EPSG:{epsg}", zone=0, found=found,
                              source=source, source_layer=source_layer, **fits())
        fixed = gk_epsg(cm, found * 1_000_000 + 500_000, deg)
        if fixed is None:
            raise IngestError("ingest.crs_zone_mismatch", crs=f"EPSG:{epsg}", zone=0, found=found,
                              source=source, source_layer=source_layer, **fits())
    else:  # CRS with prefix, eastings without
        fixed = gk_epsg(cm, 500_000, deg)
        if fixed is None:  # pragma: no cover - every GK CM has a no-prefix code
            return epsg
    findings.append(Finding("warning", "ingest.crs_prefix_fixed", layer,
                            params={"declared": f"EPSG:{epsg}", "used": f"EPSG:{fixed}",
                                    "source_layer": source_layer}, source=source))
    return fixed
