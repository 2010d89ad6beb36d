"""Report sections of a plan scenario: zones and hierarchy (order 500), road diagnostics (800).

They read the layers `pianqu.plan.plan` wrote into the scenario; without a scenario (or a
scenario without those layers) the sections are left out.
"""

from __future__ import annotations

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pianqu.land.common import rule_names
from pianqu.land.stats import TOTAL
from pianqu.standards import industries, landuse_codes
from pianqu.i18n import translate_keys
from pianqu.network.diagnostics import action_keys
from pianqu.report import maps
from pianqu.report import labels
from pianqu.report.labels import report_table
from pianqu.report.parts.core import dpi, map_epsg, width_in
from pianqu.report.parts.inputs import say_derived
from pianqu.report.tables import first_level_names, join_list
from pianqu.report.sections import Figure, ReportContext, SectionContent, Table, register_section
from pianqu.land.epochs import ticket_summary
from pianqu.land.workflow import read_status
from pianqu.parcels import epochs_of
from pianqu.zoning.autop import AutoP

ZONE_FILLS = ["#f4cccc", "#d9ead3", "#cfe2f3", "#fff2cc", "#d9d2e9", "#fce5cd", "#d0e0e3", "#ead1dc"]


def _map(ctx: ReportContext, title: str):
    """A blank county map page in the GK zone, with the county outline drawn."""
    epsg = map_epsg(ctx)
    frame = ctx.layer("county")
    frame = (frame if frame is not None else ctx.layer("township")).to_crs(epsg)
    fig, ax = maps.map_figure(tuple(frame.total_bounds), title=title, width_in=width_in(ctx),
                              subtitle=ctx.t("report.map.subtitle", crs=f"EPSG:{epsg}"))
    return fig, ax, epsg


def _finish(fig, ax, ctx: ReportContext, epsg: int, handles: list, key: str, caption: str) -> Figure:
    """Legend, scale bar, north arrow and notice, then the figure as a report Figure."""
    with plt.rc_context(maps._style()):
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=True, framealpha=0.9).set_zorder(25)
        maps.add_scale_bar(ax, ctx.lang)
        cx, cy = np.mean(ax.get_xlim()), np.mean(ax.get_ylim())
        maps.add_north_arrow(ax, ctx.lang, convergence_deg=maps.grid_convergence(epsg, cx, cy))
        maps.add_notice(fig, ctx.lang, ctx.synthetic, watermark_ax=ax)
    return Figure.from_matplotlib(key, caption, fig, dpi(ctx))


def zone_map(ctx: ReportContext, zones: gpd.GeoDataFrame) -> Figure:
    fig, ax, epsg = _map(ctx, ctx.t("plan.section.zones.map_title", county=ctx.ws.meta.county_name))
    z = zones.to_crs(epsg)
    with plt.rc_context(maps._style()):
        fills = np.array(ZONE_FILLS)[maps.neighbour_colours(z.geometry, len(ZONE_FILLS))]
        z.plot(ax=ax, color=fills, edgecolor="none", zorder=1)
        tw = ctx.layer("township")
        if tw is not None:
            maps.add_lines(ax, tw.to_crs(epsg).geometry, color="#808080", linewidth=0.5, zorder=3)
        maps.add_lines(ax, z.geometry, color="#202020", linewidth=1.8, zorder=4)
        seats = ctx.layer("settlement")
        handles: list = [Patch(facecolor=ZONE_FILLS[0], edgecolor="#202020", label=ctx.t("plan.col.zone"))]
        if seats is not None:
            s = seats[seats["level"].astype(str).isin(["town_seat", "county_seat"])].to_crs(epsg)
            centres = s[s["township_code"].astype(str).isin(set(z["centre"].astype(str)))
                        & (s["level"].astype(str) == "town_seat")]
            others = s[~s.index.isin(centres.index) & (s["level"].astype(str) == "town_seat")]
            ax.scatter(others.geometry.x, others.geometry.y, s=10, c="white", edgecolors="#404040", zorder=5)
            ax.scatter(centres.geometry.x, centres.geometry.y, s=180, marker="*", c="#c00000",
                       edgecolors="white", linewidths=0.6, zorder=6)
            handles.append(Line2D([], [], marker="*", color="none", markerfacecolor="#c00000", markersize=12,
                                  label=ctx.t("plan.legend.centre")))
            label_at = centres.set_index(centres["township_code"].astype(str)).geometry
            specialty = specialty_names(ctx, z)
            for _, row in z.iterrows():
                pt = label_at.get(str(row["centre"]))
                if pt is None:
                    pt = row.geometry.representative_point()
                spec = str(specialty.get(row.name, "") or "")
                text = f"{row['name']}" + (f"\n{spec}" if spec else "")
                ax.annotate(text, (pt.x, pt.y), xytext=(0, 9), textcoords="offset points", ha="center",
                            va="bottom", fontsize=8.5, zorder=7,
                            path_effects=[maps.patheffects.withStroke(linewidth=2.5, foreground="white")])
    return _finish(fig, ax, ctx, epsg, handles, "zones", ctx.t("plan.section.zones.map_caption"))


@register_section("zones", order=500)
def zones_section(ws, ctx: ReportContext) -> SectionContent | None:
    if ctx.scenario is None or not ws.has("zone", ctx.scenario):
        return None
    zones = ctx.layer("zone", ctx.scenario)
    options = ctx.layer("zone_count_options", ctx.scenario)
    content = SectionContent(ctx.t("plan.section.zones.title"))
    say_derived(ctx, content, "zoning")
    run = ctx.layer("plan_run", ctx.scenario)
    status = str(run["status"].iloc[0]) if run is not None else ""
    gap = float(run["gap"].iloc[0]) if run is not None else float("nan")
    townships = ctx.layer("township")
    p_min = int(options["p"].min()) if options is not None else len(zones)
    p_max = int(options["p"].max()) if options is not None else len(zones)

    rule = "".join(phrase.message(ctx.lang) for phrase in
                   AutoP(pd.DataFrame(), None, target=float(ctx.config["zoning.within_share_target"])).rule)
    content.add_note(ctx.t("plan.section.zones.intro", n_units=len(townships) if townships is not None else 0,
                           p=len(zones), status=ctx.t(f"plan.status.{status}") if status else "—",
                           gap=f"{gap:.2%}" if np.isfinite(gap) else "—",
                           rule=rule, p_min=p_min, p_max=p_max))
    content.add_figure(zone_map(ctx, zones))
    minutes = {"minutes": f"{float(ctx.config['zoning.centre_time_min']):g}"}
    zt = pd.DataFrame(zones).assign(specialty=specialty_names(ctx, zones).to_numpy(),
                                    members=zones["members"].astype(int),
                                    population=zones["population"].astype(int))
    content.add_table(report_table(
        ctx, "zones", ctx.t("plan.section.zones.table"), zt.sort_values("population", ascending=False),
        columns=["zone", "centre", "members", "population", "mean_time_min", "max_time_min", "within_share",
                 "specialty"],
        units={"centre": "township_name"}, params=minutes, formats={"within_share": ".0%"},
        headers={"centre": "centre_town", "members": "townships_n", "mean_time_min": "mean_time_centre_min",
                 "max_time_min": "max_time_centre_min"}))
    if options is not None:
        content.add_table(report_table(
            ctx, "zone_options", ctx.t("plan.section.zones.options"), pd.DataFrame(options),
            columns=["p", "recommended", "status", "mean_time_min", "max_time_min", "within_share", "members_min",
                     "members_max", "gap"],
            values={"status": "plan.status"}, params=minutes, formats={"within_share": ".0%", "gap": ".2%", "members_min": ",.0f",
                                                           "members_max": ",.0f"},
            headers={"status": "solve_status", "mean_time_min": "mean_time_centre_min",
                     "max_time_min": "max_time_centre_min"}))
    hierarchy = ctx.layer("hierarchy", ctx.scenario)
    if hierarchy is not None:
        h = pd.DataFrame(hierarchy).assign(name=lambda f: f["code"].astype(str)).sort_values("rank")
        content.add_table(report_table(
            ctx, "hierarchy", ctx.t("plan.section.zones.hierarchy"), h,
            columns=["code", "name", "tier", "zone_centre", "score", "rank"],
            units={"name": "township_name", "zone_centre": "township_name"}, values={"tier": "plan.tier"},
            formats={"score": ".3f"}))
    scores = ctx.layer("centre_score", ctx.scenario)
    if scores is not None:
        s = pd.DataFrame(scores).sort_values("rank")
        s.insert(1, "name", s["code"].astype(str))
        ratios = {c: ".2f" for c in s.columns if "_vs_" in c}
        content.add_table(report_table(
            ctx, "centre_scores", ctx.t("plan.section.zones.scores"), s, units={"name": "township_name"},
            params=minutes, html_rows=10,
            formats={"score": ".3f", "built_up_km2": ",.2f", "gdp_yi": ",.2f", "centrality": ",.1f", **ratios}))
    vz = ctx.layer("village_zone", ctx.scenario)
    if vz is not None:
        content.add_note(ctx.t("plan.section.zones.villages_note", n=len(vz)))
        villages = ctx.layer("village")
        town_of = (dict(zip(villages["code"].astype(str), villages["township_code"].astype(str)))
                   if villages is not None and "township_code" in villages else {})
        v = pd.DataFrame(vz).assign(
            villages=vz["members"].astype(int),  # a village zone's members are villages
            centre_township=[town_of.get(str(c), "") for c in vz["centre"]],
            population=vz["population"].astype(int))
        columns = ["zone", "centre", "centre_township", "villages", "population", "mean_time_min", "max_time_min",
                   "within_share"]
        if "centre_reason" in vz.columns:  # 中心村 by strength (issue 17): why each centre is one
            content.add_note(ctx.t("plan.section.zones.village_centres_note",
                                   minutes=f"{float(ctx.config['zoning.village_centre_time_min']):g}",
                                   share=f"{float(ctx.config['zoning.village_centre_top_share']):.0%}",
                                   penalty=f"{float(ctx.config['zoning.village_weak_centre_penalty_min']):g}"))
            columns.append("centre_reason")
        content.add_table(report_table(
            ctx, "village_zones", ctx.t("plan.section.zones.villages"), v,
            columns=columns, values={"centre_reason": "plan.centre_reason"},
            units={"centre": "village", "centre_township": "township_name"}, html_rows=15,
            params={"minutes": f"{float(ctx.config['zoning.village_centre_time_min']):g}"},
            formats={"within_share": ".0%"},
            headers={"centre": "centre_village", "mean_time_min": "mean_time_centre_min",
                     "max_time_min": "max_time_centre_min"}))
    sim = ctx.layer("zone_similarity", ctx.scenario)
    if sim is not None and len(sim):
        content.add_table(report_table(
            ctx, "similarity", ctx.t("plan.section.zones.similarity"), pd.DataFrame(sim),
            headers={"zone_a": "zone", "zone_b": "zone_other"}, formats={"cosine": ".2f", "krugman": ".2f"}))
    return content


def roads_map(ctx: ReportContext, layers: dict[str, gpd.GeoDataFrame | None]) -> Figure:
    fig, ax, epsg = _map(ctx, ctx.t("plan.section.roads.map_title", county=ctx.ws.meta.county_name))
    handles: list = []
    with plt.rc_context(maps._style()):
        county = ctx.layer("county")
        if county is not None:
            maps.add_lines(ax, county.to_crs(epsg).geometry, color="#202020", linewidth=1.8, zorder=6)
        iso = layers.get("road_isochrone")
        if iso is not None and len(iso):
            iso = iso.sort_values("budget_min", ascending=False).to_crs(epsg)
            shades = plt.get_cmap("Blues")(np.linspace(0.12, 0.45, len(iso)))
            for (_, row), shade in zip(iso.iterrows(), shades):
                gpd.GeoSeries([row.geometry], crs=epsg).plot(ax=ax, color=shade, edgecolor="none", zorder=1)
                handles.append(Patch(facecolor=shade, label=ctx.t("plan.legend.isochrone",
                                                                  minutes=f"{row['budget_min']:.0f}")))
            handles.reverse()
        roads = ctx.layer("road")
        if roads is not None:
            handles += maps.add_roads(ax, roads.to_crs(epsg), ctx.lang, alpha=0.8, zorder=2)
        bn = layers.get("road_bottleneck")
        if bn is not None and len(bn):
            maps.add_lines(ax, bn.to_crs(epsg).geometry, color="#8e24aa", linewidth=1.8, zorder=3, alpha=0.85)
            handles.append(Line2D([], [], color="#8e24aa", lw=2, label=ctx.t("plan.legend.bottleneck")))
        links = layers.get("road_plan")
        if links is not None and len(links):
            maps.add_lines(ax, links.to_crs(epsg).geometry, color="#38761d", linewidth=2.0, zorder=4,
                           linestyles=(0, (3, 2)))
            handles.append(Line2D([], [], color="#38761d", lw=2, ls=(0, (3, 2)), label=ctx.t("plan.legend.link")))
        de = layers.get("road_dead_end")
        if de is not None and len(de):
            miss = de[de["kind"].astype(str) == "missing_connection"].to_crs(epsg)
            ax.scatter(miss.geometry.x, miss.geometry.y, s=14, c="#cc0000", zorder=5)
            handles.append(Line2D([], [], marker="o", color="none", markerfacecolor="#cc0000", markersize=5,
                                  label=ctx.t("plan.legend.dead_end")))
    return _finish(fig, ax, ctx, epsg, handles, "roads", ctx.t("plan.section.roads.map_caption"))


# the recommended action of a road diagnostic follows from its kind (or status); the layer keeps
# its locale key (a workspace of an older run: a text in the run's language), the report says it
# in the report's language
_ACTION_KEYS = {"dead_ends": ("network.dead_end", "kind"), "bottlenecks": ("network.bottleneck", "kind"),
                "detours": ("network.detour", "status"), "links": ("network.link", "kind")}


def _actions_in(ctx: ReportContext, key: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its ``action`` column in the report's language (where the kind is known)."""
    prefix, col = _ACTION_KEYS.get(key, ("", ""))
    if not prefix or "action" not in frame or col not in frame:
        return frame
    out = frame.copy()
    out["action"] = translate_keys(action_keys(out[col].astype(str), prefix), ctx.lang)
    return out


# how each road diagnostic reads: its kind (and status) named, its road class named, order first
_ROAD_TABLES = {
    "dead_ends": dict(values={"kind": "report.value.dead_end", "class": "report.road"},
                      headers={"rank": "order", "class": "road_class"}, formats={"node": "d"}),
    "bottlenecks": dict(values={"kind": "report.value.bottleneck", "class": "report.road"},
                        headers={"rank": "order", "class": "road_class"}, formats={"edge": "d", "load": ",.0f",
                                                                                  "load_index": ".3f", "lanes": ",.0f",
                                                                                  "width_m": ",.1f"}),
    "detours": dict(values={"kind": "report.value.detour", "status": "report.value.detour_status"},
                    headers={"rank": "order", "status": "detour_status"}, formats={"population": ",.0f"}),
    "links": dict(values={"kind": "report.value.link"}, headers={"rank": "order"},
                  formats={"from_node": "d", "to_node": "d", "cost_wan": ",.1f", "saved_person_h": ",.1f", "saved_per_km": ",.1f"}),
}


@register_section("roads", order=800)
def roads_section(ws, ctx: ReportContext) -> SectionContent | None:
    if ctx.scenario is None or not ws.has("road_dead_end", ctx.scenario):
        return None
    names = ("road_dead_end", "road_bottleneck", "road_detour", "road_plan", "telecom_summary")
    layers = {n: ctx.layer(n, ctx.scenario) for n in names + ("road_isochrone",)}
    de, bn, dt, links, tel = (layers[n] for n in names)
    content = SectionContent(ctx.t("plan.section.roads.title"))
    say_derived(ctx, content, "road_diagnostics")
    share = {}
    if tel is not None:
        share = dict(zip(tel["tech"].astype(str), tel["share"].astype(float)))
    content.add_note(ctx.t(
        "plan.section.roads.intro", dead=len(de), missing=int((de["kind"] == "missing_connection").sum()),
        bottle=len(bn) if bn is not None else 0,
        detour=int((dt["status"] == "detour").sum()) if dt is not None and "status" in dt else 0,
        links=len(links) if links is not None else 0,
        km=float(links["length_m"].sum()) / 1000 if links is not None and len(links) else 0.0,
        g4=share.get("4G+", share.get("4G", 0.0)), g5=share.get("5G", 0.0)))
    content.add_figure(roads_map(ctx, layers))
    for key, frame, sel in (
            ("dead_ends", de, de["kind"].astype(str) == "missing_connection"),
            ("bottlenecks", bn, None), ("detours", dt, None), ("links", links, None)):
        if frame is None or not len(frame):
            continue
        f = pd.DataFrame(frame.drop(columns="geometry"))
        if sel is not None:
            f = f[sel.to_numpy()]
        f = _actions_in(ctx, key, f)
        title = ctx.t(f"plan.section.roads.{key}")
        content.add_table(report_table(ctx, f"roads_{key}", title, f, sheet=title[:31], html_rows=15,
                                       html_hide=("time_s",), **_ROAD_TABLES[key]))
    if tel is not None:
        title = ctx.t("plan.section.roads.telecom")
        content.add_table(report_table(ctx, "telecom", title, pd.DataFrame(tel),
                                       headers={"share": "seat_share", "target": "target_share"},
                                       formats={"share": ".0%", "population_share": ".0%", "target": ".0%"}))
    return content


SPACE_COLOURS = {"agricultural": "#f6e7a1", "ecological": "#a8d5a2", "construction": "#e8908a"}


def specialty_names(ctx: ReportContext, zones: pd.DataFrame) -> pd.Series:
    """Each zone's leading specialty named in the report's language (from its ``specialty`` key;
    the Chinese name the zone layer also keeps where the key is unknown)."""
    stored = zones.get("specialty_zh", pd.Series("", index=zones.index)).fillna("").astype(str)
    if "specialty" not in zones:
        return stored
    names = industries().set_index("id")["name_en" if ctx.lang == "en" else "name_zh"]
    return zones["specialty"].fillna("").astype(str).map(names).fillna(stored)


def _rule_names(ctx: ReportContext, table: str) -> dict[str, str]:
    """Rule → its name in the report's language, from the standards table ``table``."""
    names = rule_names(table)
    return names["name_en" if ctx.lang == "en" else "name_zh"].to_dict()


def totals_in(ctx: ReportContext, frame: pd.DataFrame) -> pd.DataFrame:
    """A land table with its totals row and column (the key ``total``,
    :data:`pianqu.land.stats.TOTAL`) named in the report's language."""
    word = ctx.t("land.stats.total")
    out = frame.rename(columns={TOTAL: word})
    if not pd.api.types.is_numeric_dtype(out.index):
        out = out.rename(index={TOTAL: word})
    for col in out.columns[:1]:  # the unit column of a stored table (its index, written)
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].mask(out[col].astype(str) == TOTAL, word)
    return out


def _m2_as_ha(frame: pd.DataFrame) -> pd.DataFrame:
    """Areas of a zone table in hectares, as planners count them (``x_m2`` → ``x_ha``)."""
    m2 = [c for c in frame.columns if str(c).endswith("_m2")]
    return frame.assign(**{c[:-3] + "_ha": frame[c].astype(float) / 1e4 for c in m2}).drop(columns=m2) \
        [[c[:-3] + "_ha" if c in m2 else c for c in frame.columns]]


def landuse_code_names(ctx: ReportContext):
    """A 用地用海 code as '0102 水浇地' (first-level classes in English too; finer codes keep the
    Chinese name only in Chinese reports)."""
    version = ctx.ws.meta.landuse_version
    zh = dict(zip(landuse_codes(version)["code"].astype(str), landuse_codes(version)["name"].astype(str)))
    l1 = first_level_names(version, ctx.lang).to_dict()

    def name(code) -> str:
        c = "" if code is None or (isinstance(code, float) and np.isnan(code)) else str(code)
        if c == TOTAL:
            return ctx.t("land.stats.total")
        label = l1.get(c) if len(c) == 2 else (zh.get(c) if ctx.lang == "zh" else None)
        return f"{c} {label}" if label else c
    return name


def _conflict_names_in(ctx: ReportContext, conflicts: pd.DataFrame) -> pd.DataFrame:
    """The conflict table with each rule's name in the report's language (from the rules table)."""
    out = pd.DataFrame(conflicts)
    if "rule" in out and "name" in out:
        out["name"] = out["rule"].map(_rule_names(ctx, "conflict_rules")).fillna(out["name"])
    return out


def _draw_spaces(ctx: ReportContext, ax, spaces: gpd.GeoDataFrame, alpha: float = 1.0) -> list:
    """Fill the three spaces (agricultural / ecological / construction); legend handles."""
    handles = []
    for space, colour in SPACE_COLOURS.items():
        sel = spaces[spaces["space"].astype(str) == space]
        if len(sel):
            sel.plot(ax=ax, color=colour, alpha=alpha, edgecolor="none", zorder=1)
            handles.append(Patch(facecolor=colour, alpha=alpha, label=ctx.t(f"plan.legend.{space}")))
    return handles


def land_map(ctx: ReportContext, spaces: gpd.GeoDataFrame, conflicts: gpd.GeoDataFrame | None,
             zones: gpd.GeoDataFrame | None) -> Figure:
    fig, ax, epsg = _map(ctx, ctx.t("plan.section.land.map_title", county=ctx.ws.meta.county_name))
    handles: list = []
    with plt.rc_context(maps._style()):
        handles += _draw_spaces(ctx, ax, spaces.to_crs(epsg))
        if zones is not None:
            maps.add_lines(ax, zones.to_crs(epsg).geometry, color="#202020", linewidth=1.2, zorder=4)
        if conflicts is not None and len(conflicts):
            c = conflicts.to_crs(epsg)
            c.plot(ax=ax, color="#7b2cbf", edgecolor="#7b2cbf", linewidth=1.5, zorder=5)
            handles.append(Patch(facecolor="#7b2cbf", label=ctx.t("plan.legend.conflict")))
    return _finish(fig, ax, ctx, epsg, handles, "land", ctx.t("plan.section.land.map_caption"))


@register_section("land", order=700)
def land_section(ws, ctx: ReportContext) -> SectionContent | None:
    if ctx.scenario is None or not ws.has("space", ctx.scenario):
        return None
    conflicts = ctx.layer("conflict", ctx.scenario)
    spaces = ctx.layer("space", ctx.scenario)
    zones = ctx.layer("zone", ctx.scenario)
    content = SectionContent(ctx.t("plan.section.land.title"))
    n = len(conflicts) if conflicts is not None else 0
    ha = float(conflicts["area_ha"].sum()) if n else 0.0
    mu = float(conflicts["area_mu"].sum()) if n else 0.0
    content.add_note(ctx.t("plan.section.land.intro", n=n, ha=ha, mu=mu))
    content.add_figure(land_map(ctx, spaces, conflicts, zones))
    if n:
        title = ctx.t("plan.section.land.conflicts")
        content.add_table(report_table(
            ctx, "land_conflicts", title, _conflict_names_in(ctx, conflicts.drop(columns="geometry")), html_rows=25,
            values={"severity": "common.severity", "left_layer": "land.line", "right_layer": "land.line",
                    "resolution": "report.value.resolution", "action": "report.value.conflict_action",
                    "state": "land.cli.state"},
            headers={"name": "rule_name"}, html_hide=("rule", "area_m2")))
    for key, layer in (("spaces", "space_by_zone"), ("lines", "land_control_lines_by_zone"),
                       ("landuse", "land_landuse_by_zone")):
        frame = ctx.layer(layer, ctx.scenario)
        if frame is not None and len(frame):
            title = ctx.t(f"plan.section.land.{key}")
            f = totals_in(ctx, _m2_as_ha(pd.DataFrame(frame)))
            code_name = landuse_code_names(ctx)  # stored as '01 耕地': named in the report's language
            f = f.rename(columns={c: code_name(str(c)[:2]) for c in f.columns if str(c)[:2].isdigit()})
            content.add_table(report_table(ctx, f"land_{key}", title, f, headers={"unit_ha": "zone_area_ha"},
                                           formats={c: ".1%" for c in f.columns if c.endswith("_share")},
                                           total_row=(f.iloc[-1, 0] == ctx.t("land.stats.total"))))
    _land_change(ctx, content)
    _land_more(ctx, content, spaces, zones)
    return content


def _land_change(ctx: ReportContext, content: SectionContent) -> None:
    """Change between two survey epochs: transition matrix (ha), farmland outflow, violation tickets."""
    matrix = ctx.layer("land_transition", ctx.scenario)
    if matrix is None:
        return
    tickets = ctx.layer("land_tickets", ctx.scenario)
    outflow = ctx.layer("land_outflow", ctx.scenario)

    # the survey years the workspace records (reading them off the parcels only when it records none)
    years = sorted(ctx.ws.meta.epochs) or epochs_of(ctx.ws.read("landuse", columns=["epoch"]))
    s = ticket_summary(tickets if tickets is not None else pd.DataFrame())
    out_ha = float(outflow["area_ha"].sum()) if outflow is not None and len(outflow) else 0.0
    content.add_note(ctx.t("land.report.change_intro", before=years[0] if years else "", after=years[-1] if years else "",
                           out_ha=out_ha, n=s["n"], n_pbf=s["n_pbf"], ha=s["ha"], mu=s["mu"]))
    code_name = landuse_code_names(ctx)
    m = pd.DataFrame(matrix).round(4)
    if "before" in m.columns:
        m["before"] = [code_name(c) for c in m["before"]]
    m = m.rename(columns={c: code_name(c) for c in m.columns if c != "before"})
    content.add_table(report_table(ctx, "land_transition", ctx.t("land.report.matrix"), m,
                                   sheet=ctx.t("land.report.matrix_sheet"), headers={"before": "class_before"},
                                   formats={c: ",.2f" for c in m.columns if c != "before"}))
    classes = {"code_before": code_name, "code_after": code_name, "class_after": "report.broad"}
    if outflow is not None and len(outflow):
        title = ctx.t("land.report.outflow")
        content.add_table(report_table(
            ctx, "land_outflow", title, pd.DataFrame(outflow), html_rows=25, values=classes, html_hide=("area_m2",),
            columns=["bsm_before", "code_before", "bsm_after", "code_after", "class_after", "village_code",
                     "area_m2", "area_ha", "area_mu"]))
    title = ctx.t("land.report.tickets")
    if tickets is not None and len(tickets):
        content.add_table(report_table(
            ctx, "land_tickets", title, pd.DataFrame(tickets), html_rows=50, values=classes,
            columns=["ticket_id", "bsm_before", "code_before", "bsm_after", "code_after", "in_pbf", "village_code",
                     "area_m2", "area_mu", "approved_area_m2", "approval_ids"], formats={"area_mu": ",.2f"}))


VERDICT_COLOURS = {"prohibited": "#c00000", "restricted": "#ff9900", "allowed": "#2e7d32"}


def _land_more(ctx: ReportContext, content: SectionContent, spaces: gpd.GeoDataFrame,
               zones: gpd.GeoDataFrame | None) -> None:
    """Sizing, siting, consolidation, grain bases, quota allocation and the control-line status
    (the layers :func:`pianqu.land.pipeline.run_land` wrote), with one map of what is where."""
    sc = ctx.scenario
    L = {n: ctx.layer(n, sc) for n in ("land_sizing", "land_siting", "land_siting_detail", "land_consolidation",
                                      "land_grain_base", "land_quota_targets", "land_quota_zone",
                                      "land_quota_township", "land_line_status", "land_steps")}
    tx = lambda key, **kw: ctx.t(f"plan.section.land.{key}", **kw)  # noqa: E731
    _land_sizing(ctx, content, L["land_sizing"], tx)
    siting, grain, cons = L["land_siting"], L["land_grain_base"], L["land_consolidation"]
    if any(f is not None for f in (siting, grain, cons)):
        content.add_figure(land_siting_map(ctx, spaces, siting, grain, cons, zones))
    if siting is not None and len(siting):
        n = siting["verdict"].astype(str).value_counts()
        content.add_note(tx("siting_note", n=len(siting), prohibited=int(n.get("prohibited", 0)),
                            restricted=int(n.get("restricted", 0)), allowed=int(n.get("allowed", 0))),
                         "warning" if n.get("prohibited", 0) else "info")
        names = _rule_names(ctx, "siting_rules")
        v = pd.DataFrame(siting).assign(area_ha=siting["area_m2"].astype(float) / 1e4)
        content.add_table(report_table(
            ctx, "land_siting", tx("siting"), v, sheet=tx("siting_sheet"), html_rows=30,
            columns=["id", "name", "kind", "verdict", "worst_rule", "rules", "area_ha"],
            values={"kind": "report.value.project_kind", "verdict": "land.verdict",
                    "worst_rule": lambda r: names.get(r, r),
                    "rules": lambda rs: join_list([names.get(r, r) for r in str(rs or "").split(",") if r],
                                                  ctx.lang)},
            headers={"verdict": "siting_verdict"}))
        d = L["land_siting_detail"]
        if d is not None and len(d):
            content.add_table(report_table(
                ctx, "land_siting_detail", tx("siting_detail"), pd.DataFrame(d), sheet=tx("siting_detail_sheet"),
                in_html=False, columns=["project_id", "name", "verdict", "layer", "relation", "area_ha", "area_mu",
                                        "share", "sureness", "source"],
                values={"verdict": "land.verdict", "relation": "report.value.relation",
                        "sureness": "report.value.sureness",
                        "layer": lambda v: labels.coded("land.line", ctx.lang)(
                            labels.coded("report.value.layer", ctx.lang)(v))},
                headers={"name": "rule_name", "source": "basis"}))
    if cons is not None and len(cons):
        c = pd.DataFrame(cons.drop(columns="geometry"))
        tot = c[["fragmented_ha", "steep_farmland_ha", "scattered_homestead_ha", "idle_homestead_ha",
                 "potential_ha"]].fillna(0.0).sum()
        hot = c[c["hotspot"].astype(bool)]
        content.add_note(tx("consolidation_note", villages=int((c["potential_m2"] > 0).sum()), total=tot["potential_ha"],
                            fragmented=tot["fragmented_ha"], steep=tot["steep_farmland_ha"],
                            scattered=tot["scattered_homestead_ha"], idle=tot["idle_homestead_ha"],
                            hot=len(hot), hot_ha=float(hot["potential_ha"].sum()),
                            excess=float(c["homestead_excess_m2"].fillna(0).sum()) / 1e4
                            if "homestead_excess_m2" in c else 0.0))
        content.add_table(report_table(
            ctx, "land_consolidation", tx("consolidation"), c, sheet=tx("consolidation_sheet"),
            html_rows=max(len(hot), 10),
            columns=["code", "fragmented_ha", "steep_farmland_ha", "scattered_homestead_ha", "idle_homestead_ha",
                     "potential_ha", "rank"],
            units={"code": "village"}, headers={"code": "village_code", "rank": "order"}))
    if grain is not None:
        content.add_note(tx("grain_note" if len(grain) else "grain_none", n=len(grain), ha=float(grain["area_ha"].sum()) if len(grain) else 0.0,
                            mu=float(grain["area_mu"].sum()) if len(grain) else 0.0,
                            zones=int(grain["zone"].nunique()) if len(grain) else 0,
                            min_mu=float(ctx.config["land.grain_base_min_mu"])))
        if len(grain):
            g = pd.DataFrame(grain).assign(parcels=grain["parcels"].astype(int))
            content.add_table(report_table(
                ctx, "land_grain", tx("grain"), g, sheet=tx("grain_sheet"), html_rows=20,
                columns=["zone", "cluster_id", "parcels", "area_ha", "area_mu", "paddy_share", "mean_slope_deg"],
                formats={"paddy_share": ".0%", "mean_slope_deg": ",.1f", "area_mu": ",.0f"}))
    _land_quota(ctx, content, L, zones, tx)
    status = L["land_line_status"]
    if status is not None and len(status):

        live = read_status(ctx.ws, sc)  # the workflow's own table, if the lines were finalised since the run
        parts = [tx("status_item", line=ctx.t(f"land.line.{r.line}"), status=ctx.t(f"land.status.{r.status}"))
                 for r in live.itertuples(index=False)]
        content.add_note(tx("status_note", items="；".join(parts) if ctx.lang == "zh" else "; ".join(parts)))
    steps = L["land_steps"]
    if steps is not None and (steps["status"] == "skipped").any():
        sk = steps[steps["status"] == "skipped"]
        content.add_note(tx("skipped_note", items=", ".join(
            f"{ctx.t(f'land.plan.step.{r.step}')} ({r.layer})" for r in sk.itertuples(index=False))))


def _land_sizing(ctx: ReportContext, content: SectionContent, sizing: pd.DataFrame | None, tx) -> None:
    if sizing is None or not len(sizing):
        return
    for r in sizing.itertuples(index=False):
        ok = bool(r.ok)
        verdict = tx("ok") if ok else tx("exceeded")
        if r.rule == "expansion_ratio":
            text = tx("sizing_expansion", udb=r.numerator_ha, base=r.denominator_ha, ratio=r.value, limit=r.limit,
                      verdict=verdict)
        else:
            text = tx("sizing_reserve", reserve=r.numerator_ha, planned=r.denominator_ha, share=r.value,
                      limit=r.limit, verdict=verdict, basis=tx(f"basis_{r.basis}"))
        content.add_note(text, "info" if ok else "warning")


def _land_quota(ctx: ReportContext, content: SectionContent, L: dict, zones: gpd.GeoDataFrame | None, tx) -> None:
    targets = L["land_quota_targets"]
    if targets is None or not len(targets):
        return
    short = targets["shortfall_ha"].abs() > 1e-9
    src = str(targets["source"].iloc[0])
    source = tx(f"quota_source_{src}", farmland=float(ctx.config["land.quota_farmland_keep_share"]),
                construction=float(ctx.config["land.quota_construction_keep_share"]))
    content.add_note(tx("quota_note", n=len(targets), source=source,
                     zones=len(L["land_quota_zone"]) if L["land_quota_zone"] is not None else 0,
                     townships=len(L["land_quota_township"]) if L["land_quota_township"] is not None else 0,
                     feasible=tx("quota_feasible") if not short.any() else tx("quota_infeasible", n=int(short.sum()))),
                     "info" if not short.any() else "warning")
    tt = pd.DataFrame({tx("col.indicator"): targets["indicator"].astype(str).map(
                           lambda ind: ctx.t(f"land.quota.indicator.{ind}")), tx("col.present_ha"): targets["present_ha"],
                       tx("col.target_ha"): targets["target_ha"], tx("col.allocated_ha"): targets["allocated_ha"],
                       tx("col.shortfall_ha"): targets["shortfall_ha"]})
    content.add_table(Table("land_quota_targets", tx("quota_targets"), tt, sheet=tx("quota_targets_sheet")))
    names = {ind: ctx.t(f"land.quota.indicator.{ind}") for ind in ("farmland", "pbf", "redline", "construction",
                                                                   "urban_rural", "village")}

    def wide(frame: pd.DataFrame, key: str, label: str, unit_names) -> pd.DataFrame:
        f = pd.DataFrame(frame).copy()
        f[key] = f[key].astype(str)
        out = pd.DataFrame({label: f[key].map(lambda u: unit_names.get(u, u))})
        for ind, name in names.items():
            if f"{ind}_ha" in f.columns:
                out[f"{name}（公顷）" if ctx.lang == "zh" else f"{name} (ha)"] = f[f"{ind}_ha"].to_numpy()
        num = [c for c in out.columns if c != label]
        total = pd.DataFrame([{label: ctx.t("land.stats.total"), **out[num].sum().to_dict()}])
        out = pd.concat([out, total], ignore_index=True)
        out[num] = out[num].astype(float)
        return out

    qz = L["land_quota_zone"]
    if qz is not None and len(qz):
        zname = dict(zip(zones["zone"].astype(str), zones["name"].astype(str))) if zones is not None and "name" in zones \
            else {}
        content.add_table(Table("land_quota_zone", tx("quota_zone"), wide(qz, "zone", tx("col.zone"), zname),
                                sheet=tx("quota_zone_sheet"), total_row=True))
    qt = L["land_quota_township"]
    if qt is not None and len(qt):
        tw = ctx.layer("township")
        tname = dict(zip(tw["code"].astype(str), tw["name"].astype(str))) if tw is not None else {}
        content.add_table(Table("land_quota_township", tx("quota_township"),
                                wide(qt, "township_code", tx("col.township"), tname),
                                sheet=tx("quota_township_sheet"), total_row=True, html_rows=40))


def land_siting_map(ctx: ReportContext, spaces: gpd.GeoDataFrame, siting: gpd.GeoDataFrame | None,
                    grain: gpd.GeoDataFrame | None, cons: gpd.GeoDataFrame | None,
                    zones: gpd.GeoDataFrame | None) -> Figure:
    """Projects by siting verdict, grain base candidates and consolidation hot spots over the
    three spaces (pale, for orientation)."""
    fig, ax, epsg = _map(ctx, ctx.t("plan.section.land.map2_title", county=ctx.ws.meta.county_name))
    handles: list = []
    with plt.rc_context(maps._style()):
        handles += _draw_spaces(ctx, ax, spaces.to_crs(epsg), alpha=0.35)
        if cons is not None and len(cons):
            hot = cons[cons["hotspot"].astype(bool)].to_crs(epsg)
            if len(hot):
                hot.plot(ax=ax, facecolor="#b39ddb", edgecolor="#5e35b1", linewidth=0.8, alpha=0.7, zorder=2)
                handles.append(Patch(facecolor="#b39ddb", edgecolor="#5e35b1",
                                     label=ctx.t("plan.section.land.legend_hotspot")))
        if grain is not None and len(grain):
            grain.to_crs(epsg).plot(ax=ax, facecolor="#8d6e00", edgecolor="#5c4700", linewidth=0.4, zorder=3)
            handles.append(Patch(facecolor="#8d6e00", label=ctx.t("plan.section.land.legend_grain")))
        if zones is not None:
            maps.add_lines(ax, zones.to_crs(epsg).geometry, color="#202020", linewidth=1.2, zorder=4)
        if siting is not None and len(siting):
            s = siting.to_crs(epsg)
            for verdict, colour in VERDICT_COLOURS.items():
                sel = s[s["verdict"].astype(str) == verdict]
                if not len(sel):
                    continue
                sel.plot(ax=ax, facecolor="none", edgecolor=colour, linewidth=2.0, zorder=5)
                small = sel[sel.area < 4e6]  # small projects: a marker too
                if len(small):
                    pts = small.geometry.representative_point()
                    ax.scatter(pts.x, pts.y, s=36, c=colour, edgecolors="white", linewidths=0.8, zorder=6)
                handles.append(Line2D([], [], color=colour, lw=2.5,
                                      label=ctx.t("plan.section.land.legend_verdict",
                                                  verdict=ctx.t(f"land.verdict.{verdict}"))))
                for _, row in sel.iterrows():
                    pt = row.geometry.representative_point()
                    ax.annotate(str(row["name"] or row["id"]), (pt.x, pt.y), fontsize=7.5, ha="center", va="center",
                                color=colour, zorder=6,
                                path_effects=[maps.patheffects.withStroke(linewidth=2.2, foreground="white")])
    return _finish(fig, ax, ctx, epsg, handles, "land_siting", ctx.t("plan.section.land.map2_caption"))
