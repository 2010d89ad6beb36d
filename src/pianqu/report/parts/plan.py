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

from pianqu.report import maps
from pianqu.report.parts.core import dpi, map_epsg, width_in
from pianqu.report.sections import Figure, ReportContext, SectionContent, Table, register_section

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
            for _, row in z.iterrows():
                pt = label_at.get(str(row["centre"]))
                if pt is None:
                    pt = row.geometry.representative_point()
                spec = str(row.get("specialty_zh") or "")
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
    run = ctx.layer("plan_run", ctx.scenario)
    status = str(run["status"].iloc[0]) if run is not None else ""
    gap = float(run["gap"].iloc[0]) if run is not None else float("nan")
    townships = ctx.layer("township")
    p_min = int(options["p"].min()) if options is not None else len(zones)
    p_max = int(options["p"].max()) if options is not None else len(zones)
    from pianqu.zoning.autop import AutoP

    rule = AutoP(pd.DataFrame(), None, target=float(ctx.config["zoning.within_share_target"])).rule(ctx.lang)
    content.add_note(ctx.t("plan.section.zones.intro", n_units=len(townships) if townships is not None else 0,
                           p=len(zones), status=ctx.t(f"plan.status.{status}") if status else "—",
                           gap=f"{gap:.2%}" if np.isfinite(gap) else "—",
                           rule=rule, p_min=p_min, p_max=p_max))
    content.add_figure(zone_map(ctx, zones))
    c = lambda key: ctx.t(f"plan.col.{key}")  # noqa: E731
    table = pd.DataFrame({
        c("zone"): zones["name"], c("centre"): zones["centre_name"], c("members"): zones["members"].astype(int),
        c("population"): zones["population"].astype(int), c("mean_time"): zones["mean_time_min"],
        c("max_time"): zones["max_time_min"], c("within"): zones["within_share"],
        c("specialty"): zones.get("specialty_zh", pd.Series("", index=zones.index)),
    }).sort_values(c("population"), ascending=False)
    content.add_table(Table("zones", ctx.t("plan.section.zones.table"), table, sheet=ctx.t("plan.section.zones.table"),
                            formats={c("within"): ".0%", c("mean_time"): ",.1f", c("max_time"): ",.1f"}))
    if options is not None:
        opt = options[["p", "status", "mean_time_min", "max_time_min", "within_share", "members_min",
                       "members_max", "gap", "recommended"]].copy()
        content.add_table(Table("zone_options", ctx.t("plan.section.zones.options"), opt,
                                sheet=ctx.t("plan.section.zones.options"),
                                formats={"within_share": ".0%", "gap": ".1e", "mean_time_min": ",.1f",
                                         "max_time_min": ",.1f"}))
    names = townships.set_index(townships["code"].astype(str))["name"] if townships is not None else pd.Series(dtype=str)
    hierarchy = ctx.layer("hierarchy", ctx.scenario)
    if hierarchy is not None:
        h = hierarchy.copy()
        h["code"] = h["code"].astype(str)
        tier = h["tier"].map(lambda v: ctx.t(f"plan.tier.{v}") if v in ("county_seat", "central_town", "general_town") else v)
        ht = pd.DataFrame({c("code"): h["code"], c("name"): h["code"].map(names), c("tier"): tier,
                           c("centre"): h["zone_centre"].astype(str).map(names), c("score"): h["score"],
                           c("rank"): h["rank"]}).sort_values(c("rank"))
        content.add_table(Table("hierarchy", ctx.t("plan.section.zones.hierarchy"), ht,
                                sheet=ctx.t("plan.section.zones.hierarchy"), formats={c("score"): ".3f"}))
    scores = ctx.layer("centre_score", ctx.scenario)
    if scores is not None:
        s = scores.copy()
        s.insert(1, c("name"), s["code"].astype(str).map(names))
        content.add_table(Table("centre_scores", ctx.t("plan.section.zones.scores"), s.sort_values("rank"),
                                sheet=ctx.t("plan.section.zones.scores"), html_rows=10))
    vz = ctx.layer("village_zone", ctx.scenario)
    if vz is not None:
        content.add_note(ctx.t("plan.section.zones.villages_note", n=len(vz)))
        v = pd.DataFrame({c("zone"): vz["name"], c("members"): vz["members"].astype(int),
                          c("population"): vz["population"].astype(int), c("mean_time"): vz["mean_time_min"],
                          c("max_time"): vz["max_time_min"]})
        content.add_table(Table("village_zones", ctx.t("plan.section.zones.villages"), v,
                                sheet=ctx.t("plan.section.zones.villages"), html_rows=15,
                                formats={c("mean_time"): ",.1f", c("max_time"): ",.1f"}))
    sim = ctx.layer("zone_similarity", ctx.scenario)
    if sim is not None and len(sim):
        zname = zones.set_index(zones["zone"].astype(str))["name"]
        s = sim.copy()
        s["zone_a"] = s["zone_a"].astype(str).map(zname)
        s["zone_b"] = s["zone_b"].astype(str).map(zname)
        content.add_table(Table("similarity", ctx.t("plan.section.zones.similarity"), s,
                                sheet=ctx.t("plan.section.zones.similarity"), formats={"cosine": ".2f", "krugman": ".2f"}))
    return content


def roads_map(ctx: ReportContext, layers: dict[str, gpd.GeoDataFrame | None]) -> Figure:
    fig, ax, epsg = _map(ctx, ctx.t("plan.section.roads.map_title", county=ctx.ws.meta.county_name))
    handles: list = []
    with plt.rc_context(maps._style()):
        county = ctx.layer("county")
        if county is not None:
            maps.add_lines(ax, county.to_crs(epsg).geometry, color="#202020", linewidth=1.8, zorder=6)
        roads = ctx.layer("road")
        if roads is not None:
            maps.add_lines(ax, roads.to_crs(epsg).geometry, color="#9a9a9a", linewidth=0.6, zorder=2)
            handles.append(Line2D([], [], color="#9a9a9a", lw=1, label=ctx.t("plan.legend.road")))
        bn = layers.get("road_bottleneck")
        if bn is not None and len(bn):
            maps.add_lines(ax, bn.to_crs(epsg).geometry, color="#e69138", linewidth=2.0, zorder=3)
            handles.append(Line2D([], [], color="#e69138", lw=2, label=ctx.t("plan.legend.bottleneck")))
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


@register_section("roads", order=800)
def roads_section(ws, ctx: ReportContext) -> SectionContent | None:
    if ctx.scenario is None or not ws.has("road_dead_end", ctx.scenario):
        return None
    names = ("road_dead_end", "road_bottleneck", "road_detour", "road_plan", "telecom_summary")
    layers = {n: ctx.layer(n, ctx.scenario) for n in names}
    de, bn, dt, links, tel = (layers[n] for n in names)
    content = SectionContent(ctx.t("plan.section.roads.title"))
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
        title = ctx.t(f"plan.section.roads.{key}")
        content.add_table(Table(f"roads_{key}", title, f, sheet=title[:31], html_rows=15))
    if tel is not None:
        title = ctx.t("plan.section.roads.telecom")
        content.add_table(Table("telecom", title, tel, sheet=title, formats={"share": ".0%", "population_share": ".0%"}))
    return content


SPACE_COLOURS = {"agricultural": "#f6e7a1", "ecological": "#a8d5a2", "construction": "#e8908a"}


def land_map(ctx: ReportContext, spaces: gpd.GeoDataFrame, conflicts: gpd.GeoDataFrame | None,
             zones: gpd.GeoDataFrame | None) -> Figure:
    fig, ax, epsg = _map(ctx, ctx.t("plan.section.land.map_title", county=ctx.ws.meta.county_name))
    handles: list = []
    with plt.rc_context(maps._style()):
        sp = spaces.to_crs(epsg)
        for space, colour in SPACE_COLOURS.items():
            sel = sp[sp["space"].astype(str) == space]
            if len(sel):
                sel.plot(ax=ax, color=colour, edgecolor="none", zorder=1)
                handles.append(Patch(facecolor=colour, label=ctx.t(f"plan.legend.{space}")))
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
        content.add_table(Table("land_conflicts", title, pd.DataFrame(conflicts.drop(columns="geometry")),
                                sheet=title, html_rows=25))
    for key, layer in (("spaces", "space_by_zone"), ("lines", "land_control_lines_by_zone"),
                       ("landuse", "land_landuse_by_zone")):
        frame = ctx.layer(layer, ctx.scenario)
        if frame is not None and len(frame):
            title = ctx.t(f"plan.section.land.{key}")
            content.add_table(Table(f"land_{key}", title, pd.DataFrame(frame), sheet=title))
    return content
