"""Report section of a plan scenario: how the central towns were chosen (order 510).

It reads what `pianqu.plan.plan` wrote: ``centre_choice`` (the access-only, strength-aware and
designated-centres divisions side by side, :func:`pianqu.zoning.choice.compare_rules`),
``centre_reason`` (why each centre is one) and ``centre_plan_member`` (each division, for its map).
"""

from __future__ import annotations

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pianqu.report import maps
from pianqu.report.parts.plan import ZONE_FILLS, _finish, _map
from pianqu.report.sections import Figure, ReportContext, SectionContent, Table, register_section
from pianqu.zoning.strength import standard_rank

RULE_KEYS = ("access", "strength", "designated")


def plan_map(ctx: ReportContext, rule: str, members: pd.DataFrame) -> Figure | None:
    """One division of ``centre_plan_member``: zones in colour, centres meeting the standard (or
    designated) as red stars, centres below it as black triangles."""
    tw = ctx.layer("township")
    if tw is None or not len(members):
        return None
    fig, ax, epsg = _map(ctx, ctx.t("centres.map.title", county=ctx.ws.meta.county_name,
                                    plan=ctx.t(f"centres.rule.{rule}")))
    t = tw.assign(code=tw["code"].astype(str)).merge(
        members.assign(township_code=members["township_code"].astype(str)),
        left_on="code", right_on="township_code").to_crs(epsg)
    zones = t.dissolve(by="centre").reset_index()
    below = members.loc[members["centre_below_standard"].astype(bool), "centre"].astype(str)
    strong = set(members["centre"].astype(str)) - set(below)
    with plt.rc_context(maps._style()):
        fills = np.array(ZONE_FILLS)[maps.neighbour_colours(zones.geometry, len(ZONE_FILLS))]
        zones.plot(ax=ax, color=fills, edgecolor="none", zorder=1)
        maps.add_lines(ax, t.geometry, color="#808080", linewidth=0.5, zorder=3)
        maps.add_lines(ax, zones.geometry, color="#202020", linewidth=1.6, zorder=4)
        pts = t.set_index("code").loc[zones["centre"].astype(str)].geometry.representative_point()
        seats = ctx.layer("settlement")
        if seats is not None:
            s = seats[seats["level"].astype(str).isin(["town_seat", "county_seat"])].to_crs(epsg)
            s = s.drop_duplicates("township_code").set_index(s.drop_duplicates("township_code")["township_code"]
                                                            .astype(str)).geometry
            pts = pd.Series([s.get(c, p) for c, p in pts.items()], index=pts.index)
        good = [c in strong for c in pts.index]
        xs, ys = np.array([p.x for p in pts]), np.array([p.y for p in pts])
        ax.scatter(xs[good], ys[good], s=170, marker="*", c="#c00000", edgecolors="white", linewidths=0.6, zorder=6)
        bad = ~np.array(good, dtype=bool)
        ax.scatter(xs[bad], ys[bad], s=80, marker="^", c="#202020", edgecolors="white", linewidths=0.6, zorder=6)
        names = tw.set_index(tw["code"].astype(str))["name"]
        for c, x, y in zip(pts.index, xs, ys):
            ax.annotate(str(names.get(c, c)), (x, y), xytext=(0, 8), textcoords="offset points", ha="center",
                        va="bottom", fontsize=8, zorder=7,
                        path_effects=[maps.patheffects.withStroke(linewidth=2.5, foreground="white")])
    handles = [Patch(facecolor=ZONE_FILLS[0], edgecolor="#202020", label=ctx.t("plan.col.zone")),
               Line2D([], [], marker="*", color="none", markerfacecolor="#c00000", markersize=12,
                      label=ctx.t("centres.legend.strong")),
               Line2D([], [], marker="^", color="none", markerfacecolor="#202020", markersize=8,
                      label=ctx.t("centres.legend.weak"))]
    return _finish(fig, ax, ctx, epsg, handles, f"centres_{rule}", ctx.t("centres.map.caption",
                                                                          plan=ctx.t(f"centres.rule.{rule}")))


@register_section("centres", order=510)
def centres_section(ws, ctx: ReportContext) -> SectionContent | None:
    if ctx.scenario is None or not ws.has("centre_choice", ctx.scenario):
        return None
    choice = ctx.layer("centre_choice", ctx.scenario)
    reasons = ctx.layer("centre_reason", ctx.scenario)
    members = ctx.layer("centre_plan_member", ctx.scenario)
    scores = ctx.layer("centre_score", ctx.scenario)
    run = ctx.layer("plan_run", ctx.scenario)
    rule = str(run["centre_rule"].iloc[0]) if run is not None and "centre_rule" in run.columns else "strength"
    n = len(scores) if scores is not None else 0
    std = standard_rank(n, ctx.config) if n else 0
    content = SectionContent(ctx.t("centres.title"))
    content.add_note(ctx.t("centres.intro", plan=ctx.t(f"centres.rule.{rule}")))
    content.add_note(ctx.t("centres.formulation", share=f"{float(ctx.config['zoning.centre_strength_top_share']):.0%}",
                           n=n, rank=std, lam=f"{float(ctx.config['zoning.centre_weakness_min']):g}"))
    content.add_note(ctx.t("centres.number"))
    c = lambda key: ctx.t(f"centres.col.{key}")  # noqa: E731
    ch = choice.copy()
    missing = ch["status"].astype(str) == "missing"
    if missing.any():
        content.add_note(ctx.t("centres.no_list"), kind="warning")
    table = pd.DataFrame({
        c("plan"): ch["rule"].map(lambda r: ctx.t(f"centres.rule.{r}")),
        c("zones"): ch["p"],
        c("mean_time"): ch["mean_time_min"], c("extra_time"): ch["extra_mean_time_min"],
        c("max_time"): ch["max_time_min"], c("within"): ch["within_share"],
        c("mean_score"): ch["mean_score"], c("mean_rank"): ch["mean_rank"],
        c("weak"): ch["weak_centres"],
        c("weak_names"): ch["weak_names"].fillna("").where(~missing, ctx.t("centres.missing")),
        c("centres"): ch["centre_names"].fillna("").where(~missing, ctx.t("centres.missing")),
    })
    content.add_table(Table("centre_choice", ctx.t("centres.table"), table, sheet=ctx.t("centres.sheet"),
                            formats={c("mean_time"): ",.1f", c("extra_time"): "+,.1f", c("max_time"): ",.1f",
                                     c("within"): ".0%", c("mean_score"): ".3f", c("mean_rank"): ",.1f",
                                     c("zones"): ",.0f", c("weak"): ",.0f"}))
    if members is not None:
        for r in RULE_KEYS:
            m = members[members["rule"].astype(str) == r]
            if len(m):
                fig = plan_map(ctx, r, m)
                if fig is not None:
                    content.add_figure(fig)
    if reasons is not None and len(reasons):
        rs = reasons.copy()
        why = [ctx.t(f"centres.reason.{k}", category=cat or "", stronger=st or "")
               for k, cat, st in zip(rs["reason"].astype(str), rs["category"].fillna("").astype(str),
                                     rs["stronger"].fillna("").astype(str))]
        rt = pd.DataFrame({c("centre"): rs["name"], c("code"): rs["code"].astype(str), c("score"): rs["score"],
                           c("rank"): rs["rank"], c("meets"): rs["meets_standard"].map(
                               lambda v: ctx.t("centres.yes") if bool(v) else ctx.t("centres.no")),
                           c("category"): rs["category"].fillna(""), c("members"): rs["members"],
                           c("reason"): why})
        content.add_table(Table("centre_reason", ctx.t("centres.reasons", plan=ctx.t(f"centres.rule.{rule}")),
                                rt.sort_values(c("rank")), sheet=ctx.t("centres.reason_sheet"),
                                formats={c("score"): ".3f", c("rank"): ",.0f", c("members"): ",.0f"}))
    return content
