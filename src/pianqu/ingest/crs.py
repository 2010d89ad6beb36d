"""Coordinate systems of imported data: recognise, check, bring to CGCS2000 (EPSG:4490).

Accepted: CGCS2000 geographic (4490), WGS 84 (4326: the same coordinates at this precision,
relabelled), the CGCS2000 Gauss–Krüger zones (3° and 6°, with and without zone prefix, EPSG
4491–4554, also when a .prj names them in the ESRI way GDAL leaves as a custom CRS), and any other
projection on the CGCS2000 or WGS 84 datum (the inverse projection is exact). Refused: other
datums (Xi'an 1980, Beijing 1954, ...), which have no exact public transformation to CGCS2000.
Data without a CRS are refused unless the user names one; the refusal says what the coordinates
look like and which ``--crs`` fits.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from pyproj import CRS

from pianqu.findings import Finding
from pianqu.geo import GK3_CM, GK3_PREFIX, GK6_CM, GK6_PREFIX, STORAGE_EPSG, describe_crs, guess_gk_crs
from pianqu.ingest.errors import IngestError

WGS84 = 4326
_CGCS_RF = 298.257222101
_SICHUAN_ZONES = "EPSG:4543 (CM 102°E), EPSG:4544 (CM 105°E), EPSG:4545 (CM 108°E)"


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
    raise ValueError(f"EPSG:{epsg} is not a CGCS2000 Gauss–Krüger zone")


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


def describe_coordinates(bounds: tuple[float, float, float, float] | None) -> tuple[str, str]:
    """(what the coordinates look like, the ``--crs`` to suggest) for data that came without a CRS."""
    if bounds is None:
        return "no coordinates", "EPSG:4490"
    x0, y0, x1, y1 = bounds
    if 73 <= x0 <= x1 <= 136 and 3 <= y0 <= y1 <= 54:
        return (f"longitude/latitude in degrees ({x0:.4f}–{x1:.4f}°E, {y0:.4f}–{y1:.4f}°N)",
                "EPSG:4490")
    guess = guess_gk_crs(np.array([x0, x1]), np.array([y0, y1]))
    if guess is not None:
        cm, zone, deg = _gk_params(guess)
        return (f"Gauss–Krüger metres with zone prefix {zone} ({deg}° zone, CM {cm}°E; "
                f"x {x0:.0f}–{x1:.0f}, y {y0:.0f}–{y1:.0f})", f"EPSG:{guess}")
    if 100_000 <= x0 <= x1 <= 900_000 and 0 < y0 <= y1 < 6_500_000:
        return (f"Gauss–Krüger metres without a zone prefix (x {x0:.0f}–{x1:.0f}, y {y0:.0f}–{y1:.0f}); "
                "the zone cannot be read from the coordinates",
                f"the 3° zone of the county's central meridian, in Sichuan one of {_SICHUAN_ZONES}")
    return (f"unrecognised coordinates (x {x0:.3f}–{x1:.3f}, y {y0:.3f}–{y1:.3f})",
            "the CRS the data was produced in (ask the provider)")


def to_storage(frame: gpd.GeoDataFrame, *, override: CRS | None, source: str, source_layer: str,
               layer: str, china_bbox: tuple[float, float, float, float]
               ) -> tuple[gpd.GeoDataFrame, CrsReport, list[Finding]]:
    """Bring ``frame`` to EPSG:4490, refusing what cannot be brought there exactly."""
    findings: list[Finding] = []
    declared_crs = frame.crs
    bounds = tuple(float(b) for b in frame.total_bounds) if len(frame) and frame.geometry.notna().any() else None
    where = {"source": source, "source_layer": source_layer}
    if declared_crs is None:
        if override is None:
            looks, suggest = describe_coordinates(bounds)
            raise IngestError("ingest.no_crs", looks=looks, suggest=suggest, **where)
        crs = override
        findings.append(Finding("info", "ingest.crs_assigned", layer, params={"crs": describe_crs(crs),
                                                                              "source_layer": source_layer},
                                source=source))
    else:
        crs = declared_crs
        if override is not None and not override.equals(declared_crs):
            findings.append(Finding("warning", "ingest.crs_override_ignored", layer,
                                    params={"declared": describe_crs(declared_crs), "crs": describe_crs(override),
                                            "source_layer": source_layer}, source=source))
    epsg = recognise_epsg(crs)
    declared = describe_crs(declared_crs)
    if epsg is None or not (epsg in (STORAGE_EPSG, WGS84) or is_gk(epsg)):
        if not (_is_cgcs2000(crs) or _is_wgs84(crs)):
            datum = crs.datum.name if crs.datum else "unknown"
            raise IngestError("ingest.crs_unsupported", crs=describe_crs(crs), datum=datum, **where)
    if is_gk(epsg) and bounds is not None:
        epsg = _fix_prefix(epsg, bounds, findings, layer=layer, source=source, source_layer=source_layer)
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
            raise IngestError("ingest.crs_out_of_china", crs=describe_crs(crs),
                              bounds=f"{x0:.4f}, {y0:.4f}, {x1:.4f}, {y1:.4f}", **where)
    return out, CrsReport(declared, epsg, action, note), findings


def _fix_prefix(epsg: int, bounds: tuple[float, float, float, float], findings: list[Finding], *,
                layer: str, source: str, source_layer: str) -> int:
    """Correct a GK CRS whose zone prefix disagrees with the eastings (common in exchanged data)."""
    cm, zone, deg = _gk_params(epsg)
    x0, _, x1, _ = bounds
    prefixed = x0 >= 1_000_000
    if prefixed == (zone != 0):
        if zone and int(x0 // 1_000_000) != zone or zone and int(x1 // 1_000_000) != zone:
            raise IngestError("ingest.crs_zone_mismatch", crs=f"EPSG:{epsg}", zone=zone,
                              found=int(x0 // 1_000_000), source=source, source_layer=source_layer)
        return epsg
    if prefixed:  # CRS without prefix, eastings with one
        found = int(x0 // 1_000_000)
        if int(x1 // 1_000_000) != found:
            raise IngestError("ingest.crs_zone_mismatch", crs=f"EPSG:{epsg}", zone=0, found=found,
                              source=source, source_layer=source_layer)
        fixed = gk_epsg(cm, found * 1_000_000 + 500_000, deg)
        if fixed is None:
            raise IngestError("ingest.crs_zone_mismatch", crs=f"EPSG:{epsg}", zone=0, found=found,
                              source=source, source_layer=source_layer)
    else:  # CRS with prefix, eastings without
        fixed = gk_epsg(cm, 500_000, deg)
        if fixed is None:  # pragma: no cover - every GK CM has a no-prefix code
            return epsg
    findings.append(Finding("warning", "ingest.crs_prefix_fixed", layer,
                            params={"declared": f"EPSG:{epsg}", "used": f"EPSG:{fixed}",
                                    "source_layer": source_layer}, source=source))
    return fixed
