"""What a report table shows a planner: headers, unit names, coded values and yes/no, in one place.

Analyses keep stable English column ids (``mean_time_min``, ``township_code``) and codes
(``511921105``, ``missing_connection``, ``True``); the report turns them into what a planner
reads, here and nowhere else:

- :func:`header` — a column id's header in the report's language, with its unit
  (``report.col.<id>`` in ``locales/report.toml``: "平均用时（分钟）" / "Mean time (min)");
- :class:`UnitNames` (:func:`unit_names` for a report) — a zone id as the zone's name
  ("泥溪镇片区"), a township or village code as its name with the code beside it
  ("诺水河镇（511921105）");
- :func:`yes_no` — booleans as 是/否 (Yes/No);
- :func:`localise` — a whole frame: keep and order columns, codes to names, coded values to
  names (``report.value.<kind>.<value>`` or any other locale prefix), booleans to 是/否,
  headers; :func:`report_table` — the same as a :class:`~pianqu.report.sections.Table` with
  number formats that follow the column ids (minutes ``,.1f``, hectares ``,.2f``, metres
  ``,.0f``, shares ``.1%``, head counts ``,.0f``).

A column id without a ``report.col`` key stays as it is (the report still renders), and
``tests/report/test_report_headers.py`` fails on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from pianqu.i18n import catalogue, t
from pianqu.report.sections import ReportContext, Table

COL = "report.col."
VALUE = "report.value."

# columns that hold a unit's code, by the kind of unit (a table may name more with ``units=``)
ZONE_COLUMNS = ("zone", "zone_a", "zone_b")
TOWNSHIP_COLUMNS = ("township_code",)
VILLAGE_COLUMNS = ("village_code",)

# head counts stored as floats (shares of a population, summed) are shown without decimals
COUNT_COLUMNS = {"population", "population_within", "population_covered", "isolated_population",
                 "fixed_capacity", "required", "required_capacity", "capacity", "pupils",
                 "pupils_without_place", "gain_population", "accessibility", "load", "facilities"}


def header(column: str, lang: str, **params: object) -> str:
    """The header of the stable column id ``column`` (``report.col.<column>``) in ``lang``;
    ``params`` fill placeholders such as ``{minutes}``. An id without a key is returned as it is."""
    key = COL + column
    if key not in catalogue():
        return column
    return t(key, lang, **params)


def is_missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, (float, np.floating)) and math.isnan(value))


def yes_no(value, lang: str):
    """True → 是 / Yes, False → 否 / No (also the strings "True"/"False" a GeoPackage may give
    back); anything else unchanged, a missing value as ""."""
    if is_missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return t("report.yes" if value else "report.no", lang)
    if isinstance(value, str) and value in ("True", "False", "true", "false"):
        return t("report.yes" if value.lower() == "true" else "report.no", lang)
    return value


def with_code(name: str, code: str, lang: str) -> str:
    """'诺水河镇（511921105）' / '诺水河镇 (511921105)'."""
    return f"{name}（{code}）" if lang == "zh" else f"{name} ({code})"


def _text(value) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass
class UnitNames:
    """Names of the county's units for the report: zones (township-level and village-level)
    by id, townships and villages by code."""

    lang: str = "zh"
    townships: Mapping[str, str] = field(default_factory=dict)
    villages: Mapping[str, str] = field(default_factory=dict)
    zones: Mapping[str, str] = field(default_factory=dict)

    def township(self, code, *, code_beside: bool = True) -> str:
        """'诺水河镇（511921105）' (the code alone when the township is unknown)."""
        c = _text(code)
        name = self.townships.get(c)
        if not name:
            return c
        return with_code(name, c, self.lang) if code_beside else name

    def village(self, code, *, code_beside: bool = True) -> str:
        """'两河口村（511921116200）' (the code alone when the village is unknown)."""
        c = _text(code)
        name = self.villages.get(c)
        if not name:
            return c
        return with_code(name, c, self.lang) if code_beside else name

    def zone(self, zone) -> str:
        """A zone's name ('泥溪镇片区'); a zone the scenario does not know, named by its centre
        ('泥溪镇片区' again, from the township or village of that code); else the id."""
        z = _text(zone)
        if z in self.zones:
            return self.zones[z]
        centre = self.townships.get(z) or self.villages.get(z)
        return t("report.zone_of", self.lang, centre=centre) if centre else z

    def of(self, kind: str) -> Callable[[object], str]:
        """The naming function of a kind of unit: ``zone``, ``township``, ``village``,
        ``township_name`` / ``village_name`` (the name without its code)."""
        return {"zone": self.zone, "township": self.township, "village": self.village,
                "township_name": lambda c: self.township(c, code_beside=False),
                "village_name": lambda c: self.village(c, code_beside=False)}[kind]


def _names(frame, code: str = "code", name: str = "name") -> dict[str, str]:
    if frame is None or code not in frame or name not in frame:
        return {}
    return {_text(c): str(n) for c, n in zip(frame[code], frame[name]) if not is_missing(n)}


def unit_names(ctx: ReportContext) -> UnitNames:
    """The unit names of the report's workspace and scenario (read once per report)."""
    def build() -> UnitNames:
        zones: dict[str, str] = {}
        if ctx.scenario:
            for layer in ("village_zone", "zone"):  # township-level zones win on a shared id
                zones.update(_names(ctx.layer(layer, ctx.scenario), "zone", "name"))
        return UnitNames(ctx.lang, _names(ctx.layer("township")), _names(ctx.layer("village")), zones)
    return ctx.cached("unit_names", build)


def coded(prefix: str, lang: str) -> Callable[[object], object]:
    """The name of a coded value under a locale ``prefix`` (``report.value.dead_end`` or
    ``land.verdict``); a value without a key is kept."""
    cat = catalogue()

    def name(value):
        if is_missing(value):
            return ""
        key = f"{prefix}.{value}"
        return t(key, lang) if key in cat else value
    return name


def _is_boolean(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series.dtype):
        return True
    if series.dtype != object:
        return False
    values = {v for v in series.dropna().unique()}
    return bool(values) and values <= {True, False, "True", "False", "true", "false"} and all(
        isinstance(v, (bool, np.bool_, str)) for v in values)


def localise(frame: pd.DataFrame, ctx: ReportContext, *, columns: Sequence[str] | None = None,
             units: Mapping[str, str] | None = None, values: Mapping[str, str | Callable] | None = None,
             headers: Mapping[str, str] | None = None, params: Mapping[str, object] | None = None) -> pd.DataFrame:
    """``frame`` as a planner reads it, in the report's language.

    ``columns``: the column ids to keep, in order (default: all but ``geometry``).
    ``units``: column id → ``zone`` / ``township`` / ``village`` (added to the defaults
    :data:`ZONE_COLUMNS`, :data:`TOWNSHIP_COLUMNS`, :data:`VILLAGE_COLUMNS`); the column's codes
    become names (townships and villages with their code beside).
    ``values``: column id → a locale prefix (each value ``v`` named by ``<prefix>.<v>``) or a
    function of the value.
    ``headers``: column id → the ``report.col`` id of its header, where a column's meaning in
    this table differs from its id's usual one (``status`` of a zone count → ``solve_status``).
    ``params``: placeholders of the headers (``minutes`` of "{minutes}分钟内人口占比").
    Boolean columns become 是/否. The returned frame keeps ``attrs['columns']`` (id → header).
    """
    lang = ctx.lang
    keep = [c for c in (columns if columns is not None else frame.columns) if c in frame.columns and c != "geometry"]
    out = pd.DataFrame(frame[keep]).copy()
    kinds = {**{c: "zone" for c in ZONE_COLUMNS}, **{c: "township" for c in TOWNSHIP_COLUMNS},
             **{c: "village" for c in VILLAGE_COLUMNS}, **(units or {})}
    names = unit_names(ctx) if any(c in kinds for c in keep) else None
    for col in keep:
        if col in kinds and names is not None:
            fn = names.of(kinds[col])
            out[col] = [fn(v) if not is_missing(v) else "" for v in out[col]]
        elif values and col in values:
            fn = values[col] if callable(values[col]) else coded(str(values[col]), lang)
            out[col] = [fn(v) for v in out[col]]
        elif _is_boolean(out[col]):
            out[col] = [yes_no(v, lang) for v in out[col]]
    ids = {c: (headers or {}).get(c, c) for c in keep}
    labels = {c: header(ids[c], lang, **(params or {})) for c in keep}
    out = out.rename(columns=labels)
    out.attrs["columns"] = labels
    out.attrs["ids"] = ids
    return out


def format_for(column: str, series: pd.Series) -> str | None:
    """The number format a column id implies (None: the table's default for its dtype)."""
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return None
    if column.endswith("share") or column == "gap":
        return ".1%"
    if column.endswith("_min"):
        return ",.1f"
    if column.endswith(("_ha", "_km2")):
        return ",.2f"
    if column.endswith(("_m", "_m2")) and not column.startswith(("area_per", "shelter_area")):
        return ",.0f"
    if column in COUNT_COLUMNS:
        return ",.0f"
    return None


def report_table(ctx: ReportContext, key: str, title: str, frame: pd.DataFrame, *,
                 sheet: str | None = None, formats: Mapping[str, str] | None = None,
                 html_hide: Sequence[str] = (), columns: Sequence[str] | None = None,
                 units: Mapping[str, str] | None = None, values: Mapping[str, str | Callable] | None = None,
                 headers: Mapping[str, str] | None = None, params: Mapping[str, object] | None = None,
                 **table_kw) -> Table:
    """A report :class:`~pianqu.report.sections.Table` of ``frame`` put through :func:`localise`;
    ``formats`` and ``html_hide`` name column ids, number formats follow the ids otherwise
    (:func:`format_for`). ``sheet`` defaults to ``title``; other keywords go to ``Table``."""
    shown = localise(frame, ctx, columns=columns, units=units, values=values, headers=headers, params=params)
    labels = shown.attrs["columns"]
    fmt: dict[str, str] = {}
    for col, label in labels.items():
        spec = (formats or {}).get(col) or format_for(headers.get(col, col) if headers else col, frame[col])
        if spec and pd.api.types.is_numeric_dtype(shown[label].dtype):
            fmt[label] = spec
    return Table(key, title, shown, sheet=title if sheet is None else sheet, formats=fmt,
                 html_hide=tuple(labels[c] for c in html_hide if c in labels), **table_kw)
