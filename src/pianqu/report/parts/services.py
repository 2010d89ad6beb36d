"""The public-services section: what is missing where, coverage against the standards, unserved
villages, school districts, shelters, fire jurisdictions and proposed sites.

It draws what :func:`pianqu.services.write_services` stored in the scenario (``facility_gap``,
``facility_plan`` and the ``service_*`` tables); without them the section is left out, so a
report never runs the analysis itself.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pianqu.report import maps
from pianqu.report.parts.core import dpi, map_epsg, width_in
from pianqu.report.parts.inputs import say_derived
from pianqu.report.labels import report_table, unit_names
from pianqu.report.tables import join_list
from pianqu.report.sections import Figure, ReportContext, SectionContent, register_section
from pianqu.services.common import KindName, kind_table
from pianqu.services.coverage import coverage_standards
from pianqu.i18n import t

MAP_SERVICES = ("health_centre", "primary_school", "elderly_daycare", "fire")
WITHIN, OUTSIDE = "#66bb6a", "#e53935"


def _c(ctx: ReportContext, key: str) -> str:
    return ctx.t(f"report.section.services.{key}")


def _scenario_table(ws, ctx: ReportContext, name: str) -> pd.DataFrame | None:
    return ctx.layer(name, ctx.scenario) if ctx.scenario else None


def _limit_text(std: pd.DataFrame, service: str, lang: str, values=None) -> str:
    """"车行30分钟" / "30 min by road"; ``values``: the standards actually applied (per terrain),
    shown as a range when they differ."""
    row = std[(std["service"] == service) & (std["terrain"] == "*")]
    if row.empty:
        return ""
    r = row.iloc[0]
    mode = {"drive": "车行" if lang == "zh" else "by road", "walk": "步行" if lang == "zh" else "walking",
            "straight": "直线" if lang == "zh" else "straight"}[r["mode"]]
    unit = {"min": "分钟" if lang == "zh" else "min", "m": "米" if lang == "zh" else "m"}.get(r["unit"], r["unit"])
    vals = sorted({float(x) for x in values if np.isfinite(float(x))}) if values is not None else []
    value = (f"{vals[0]:g}" if len(vals) == 1 else f"{vals[0]:g}–{vals[-1]:g}") if vals else f"{r['value']:g}"
    return f"{mode}{value}{unit}" if lang == "zh" else f"{value} {unit} {mode}"


def kind_name(kind: str, lang: str) -> str:
    """A facility kind's name in the report's language (the analyses keep the kind)."""
    return KindName(kind).message(lang)


def _service_label(service: str, lang: str) -> str:
    return kind_name(service, lang) if service in kind_table().index else (
        ("消防" if lang == "zh" else "fire") if service == "fire" else service)


def coverage_maps(villages, townships, facilities, gaps, std, *, epsg: int, lang: str, synthetic: bool,
                  width: float, services=MAP_SERVICES):
    """2 × 2 maps: villages within (green) or outside (red) each service's standard, facilities as dots."""
    v = villages.to_crs(epsg)
    t = townships.to_crs(epsg)
    f = facilities.to_crs(epsg) if facilities is not None and len(facilities) else None
    services = [s for s in services if s in set(std["service"])][:4]
    x0, y0, x1, y1 = t.total_bounds
    aspect = (y1 - y0) / max(x1 - x0, 1e-9)
    with plt.rc_context(maps._style()):
        fig, axes = plt.subplots(2, 2, figsize=(width, width * min(max(aspect, 0.7), 1.3)))
        for ax, service in zip(axes.ravel(), services):
            out = set(gaps.loc[(gaps["gap"] == "coverage") & (gaps["service"] == service), "unit"])
            colour = np.where(v["code"].astype(str).isin(out), OUTSIDE, WITHIN)
            v.plot(ax=ax, color=colour, edgecolor="white", linewidth=0.1)
            maps.add_lines(ax, t.geometry, color="#404040", linewidth=0.6, zorder=5)
            if f is not None:
                kinds = std.loc[std["service"] == service, "kinds"].iloc[0]
                sel = f[f["kind"].isin(kinds)]
                ax.scatter(sel.geometry.x, sel.geometry.y, s=6, c="#212121", zorder=6)
            applied = gaps.loc[(gaps["gap"] == "coverage") & (gaps["service"] == service), "limit_value"]
            ax.set_title(t_("report.section.services.map_coverage", lang, service=_service_label(service, lang),
                            limit=_limit_text(std, service, lang, applied if len(applied) else None)), fontsize=10)
            ax.set_aspect("equal")
            ax.set_xlabel("")
            ax.set_ylabel("")
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in axes.ravel()[len(services):]:
            ax.axis("off")
        handles = [Patch(color=WITHIN, label=t_("report.section.services.legend_within", lang)),
                   Patch(color=OUTSIDE, label=t_("report.section.services.legend_outside", lang)),
                   Line2D([], [], marker="o", ls="", color="#212121", markersize=4,
                          label=t_("report.section.services.legend_facility", lang))]
        h = fig.get_size_inches()[1]
        fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9, frameon=False,
                   bbox_to_anchor=(0.5, 0.42 / h))
        fig.subplots_adjust(left=0.02, right=0.98, top=0.95, bottom=0.85 / h, wspace=0.04, hspace=0.12)
        maps.add_notice(fig, lang, synthetic)
    return fig


def unserved_map(villages, townships, gaps, *, epsg: int, lang: str, synthetic: bool, width: float, title: str):
    """Villages shaded by the number of services whose standard they miss."""
    v = villages.to_crs(epsg)
    t = townships.to_crs(epsg)
    counts = gaps[gaps["gap"] == "coverage"].groupby("unit").size()
    n = v["code"].astype(str).map(counts).fillna(0).to_numpy()
    fig, ax = maps.map_figure(tuple(t.total_bounds), title=title, width_in=width)
    with plt.rc_context(maps._style()):
        cax = ax.inset_axes((0.03, 0.05, 0.025, 0.3))  # inside the frame: the map keeps its size
        v.assign(n=n).plot(ax=ax, column="n", cmap="YlOrRd", edgecolor="white", linewidth=0.1, legend=True,
                           cax=cax)
        cax.tick_params(labelsize=8)
        ax.set_xlabel("")
        ax.set_ylabel("")
        maps.add_lines(ax, t.geometry, color="#404040", linewidth=0.8, zorder=5)
        maps.add_scale_bar(ax, lang)
        maps.add_notice(fig, lang, synthetic, watermark_ax=ax)
    return fig


def plan_map(townships, facilities, plan, *, epsg: int, lang: str, synthetic: bool, width: float, title: str):
    """Existing facilities (grey) and the sites proposed to close coverage gaps (coloured by group)."""
    t = townships.to_crs(epsg)
    fig, ax = maps.map_figure(tuple(t.total_bounds), title=title, width_in=width)
    groups = kind_table()["group"]
    with plt.rc_context(maps._style()):
        t.plot(ax=ax, color="#f5f5f5", edgecolor="#404040", linewidth=0.8)
        if facilities is not None and len(facilities):
            f = facilities.to_crs(epsg)
            ax.scatter(f.geometry.x, f.geometry.y, s=3, c="#9e9e9e", zorder=4)
        p = plan[plan["reason"].isin(["coverage", "presence+coverage"])].to_crs(epsg)
        cmap = plt.get_cmap("tab20")
        handles = [Line2D([], [], marker="o", ls="", color="#9e9e9e", markersize=3,
                          label=t_("report.section.services.legend_facility", lang))]
        for k, g in enumerate(sorted(set(p["kind"].map(groups).fillna("")))):
            sel = p[p["kind"].map(groups).fillna("") == g]
            colour = cmap((2 * k) % 20 + (2 * k) // 20)
            ax.scatter(sel.geometry.x, sel.geometry.y, s=28, marker="^", color=colour, edgecolor="black",
                       linewidth=0.4, zorder=6)
            label = t_(f"report.section.services.group.{g}", lang) if g else "—"
            handles.append(Line2D([], [], marker="^", ls="", color=colour, markersize=7, label=label))
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.legend(handles=handles, loc="lower left", fontsize=8, title=t_("report.section.services.legend_proposed", lang))
        maps.add_scale_bar(ax, lang)
        maps.add_notice(fig, lang, synthetic, watermark_ax=ax)
    return fig


def t_(key: str, lang: str, **kw) -> str:

    return t(key, lang, **kw)


def _SERVICE_TABLES(ctx: ReportContext) -> dict[str, dict]:
    """How the stored school, shelter, fire and supply tables read (``report_table`` keywords)."""
    names = unit_names(ctx)
    kinds = lambda k: kind_name(str(k), ctx.lang) if str(k) in kind_table().index else k  # noqa: E731
    return {
        "service_school_district": dict(
            values={"split_villages": lambda v: join_list([names.village(c) for c in str(v or "").split(",") if c],
                                                          ctx.lang)},
            formats={"pupils": ",.0f", "pupils_without_place": ",.0f", "capacity": ",.0f",
                     "mean_time_min_free": ",.1f"}),
        "service_shelter": dict(headers={"required": "required_capacity"},
                                formats={"shelter_area_m2": ",.0f", "area_per_person_m2": ",.2f"}),
        "service_fire": dict(values={"kind": kinds, "class": "report.value.fire_class"},
                             headers={"class": "station_class"}, formats={"max_area_km2": ",.0f"}),
        "service_fca": dict(values={"service": lambda s: _service_label(str(s), ctx.lang),
                                    "method": "report.value.method"},
                            units={"code": "village"}, headers={"code": "village_code"},
                            formats={"access": ".5f", "per_1000": ",.2f"}),
    }


@register_section("services", order=650)
def services(ws, ctx: ReportContext) -> SectionContent | None:
    if not ctx.scenario or not ws.has("facility_gap", ctx.scenario):
        return None
    lang = ctx.lang
    gaps = ctx.layer("facility_gap", ctx.scenario)
    plan = ctx.layer("facility_plan", ctx.scenario) if ws.has("facility_plan", ctx.scenario) else None
    villages, townships, facilities = ctx.layer("village"), ctx.layer("township"), ctx.layer("facility")
    std = coverage_standards(ctx.config)
    content = SectionContent(_c(ctx, "title"))
    say_derived(ctx, content, "services")
    pres = _scenario_table(ws, ctx, "service_presence")
    zones_note = ""
    if pres is not None and len(pres):
        zones = pres.loc[pres["level"] == "zone", "unit"].nunique()
        zones_note = ctx.t("report.section.services.zones_given", n=zones)
    content.add_note(ctx.t("report.section.services.intro", zones=zones_note))
    # presence
    if pres is not None and len(pres):
        pres = pres.assign(ok=pres["ok"].astype(str).isin(["True", "true", "1"]),
                           kind_name=[kind_name(k, lang) for k in pres["kind"].astype(str)])
        summ = pres.assign(missing=~pres["ok"]).groupby(["level", "kind_name"], sort=False).agg(
            units=("ok", "size"), missing=("missing", "sum")).reset_index()
        summ["level"] = summ["level"].map(lambda x: ctx.t(f"report.section.services.level.{x}"))
        content.add_table(report_table(ctx, "services_presence", _c(ctx, "presence_title"), summ,
                                       sheet=_c(ctx, "sheet_presence"),
                                       headers={"kind_name": "facility", "missing": "missing_units"}))
        miss = pres[~pres["ok"]]
        content.add_table(report_table(
            ctx, "services_missing", _c(ctx, "presence_title"), miss, sheet=_c(ctx, "sheet_presence") + "2",
            in_html=False, columns=["level", "unit", "unit_name", "zone", "kind_name", "required", "present", "source"],
            values={"level": "report.section.services.level"},
            headers={"unit_name": "name", "kind_name": "facility", "required": "required_count",
                     "present": "present_count", "source": "basis"}))
    cov = _scenario_table(ws, ctx, "service_coverage")
    if cov is not None and len(cov):
        cov = cov.assign(name=[_service_label(s, lang) for s in cov["service"]],
                         standard=[_limit_text(std, s, lang, [lo, hi]) for s, lo, hi in
                                   zip(cov["service"], cov["limit_min"], cov["limit_max"])])
        content.add_table(report_table(ctx, "services_coverage", _c(ctx, "coverage_title"), cov,
                                       sheet=_c(ctx, "sheet_coverage"),
                                       columns=["name", "standard", "population", "population_within", "share",
                                                "points_unserved"], headers={"name": "service", "share": "coverage_share"}))
    if villages is not None and townships is not None:
        epsg = map_epsg(ctx)
        fig = coverage_maps(villages, townships, facilities, gaps, std, epsg=epsg, lang=lang,
                            synthetic=ctx.synthetic, width=width_in(ctx))
        content.add_figure(Figure.from_matplotlib("services_coverage", _c(ctx, "map_coverage_caption"), fig, dpi(ctx)))
        fig = unserved_map(villages, townships, gaps, epsg=epsg, lang=lang, synthetic=ctx.synthetic,
                           width=width_in(ctx), title=_c(ctx, "map_unserved_caption"))
        content.add_figure(Figure.from_matplotlib("services_unserved", _c(ctx, "map_unserved_caption"), fig, dpi(ctx)))
        if plan is not None and len(plan):
            fig = plan_map(townships, facilities, plan, epsg=epsg, lang=lang, synthetic=ctx.synthetic,
                           width=width_in(ctx), title=_c(ctx, "map_plan_caption"))
            content.add_figure(Figure.from_matplotlib("services_plan", _c(ctx, "map_plan_caption"), fig, dpi(ctx)))
    unserved = gaps[gaps["gap"] == "coverage"].copy()
    if len(unserved):
        unserved["service"] = [_service_label(s, lang) for s in unserved["service"]]
        content.add_table(report_table(
            ctx, "services_unserved", _c(ctx, "unserved_title"), pd.DataFrame(unserved.drop(columns="geometry")),
            sheet=_c(ctx, "sheet_unserved"), html_rows=30,
            columns=["zone", "township_code", "unit", "unit_name", "service", "population", "time_min", "distance_m",
                     "limit_value", "limit_unit"],
            units={"township_code": "township_name"}, values={"limit_unit": "report.value.unit"},
            headers={"unit_name": "name"}, formats={"limit_value": ",.0f"}))
    std_table = std[["service", "terrain", "mode", "value", "unit", "sureness", "source"]].copy()
    std_table["service"] = [_service_label(s, lang) for s in std_table["service"]]
    content.add_table(report_table(
        ctx, "services_standards", _c(ctx, "standards_title"), std_table, sheet=_c(ctx, "sheet_standards"),
        in_html=False, values={"terrain": "report.value.terrain", "mode": "report.value.mode",
                               "unit": "report.value.unit", "sureness": "report.value.sureness"},
        headers={"value": "limit_value", "unit": "limit_unit", "source": "basis"}, formats={"value": ",.0f"}))
    for name, key, sheet in (("service_school_district", "school_title", "sheet_school"),
                             ("service_shelter", "shelter_title", "sheet_shelter"),
                             ("service_fire", "fire_title", "sheet_fire"),
                             ("service_fca", "fca_title", "sheet_fca")):
        tbl = _scenario_table(ws, ctx, name)
        if tbl is not None and len(tbl):
            content.add_table(report_table(ctx, name, _c(ctx, key), pd.DataFrame(tbl), sheet=_c(ctx, sheet),
                                           in_html=name != "service_fca", html_rows=40, **_SERVICE_TABLES(ctx)[name]))
    if plan is not None and len(plan):
        p = pd.DataFrame(plan.drop(columns="geometry"))
        p["kind_name"] = [kind_name(k, lang) for k in p["kind"]]
        p["reason"] = [ctx.t(f"report.section.services.reason.{r.replace('+', '_')}") for r in p["reason"]]
        content.add_table(report_table(
            ctx, "services_plan", _c(ctx, "plan_title"), p, sheet=_c(ctx, "sheet_plan"), html_rows=30,
            columns=["id", "kind_name", "name", "zone", "township_code", "reason", "gain_population", "rank"],
            units={"township_code": "township_name"}, headers={"kind_name": "facility", "rank": "order"}))
    return content
