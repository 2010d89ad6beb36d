"""Report section 体检评估 (order 850): every indicator against its target with a traffic light,
a chart of the lights by dimension, each red light explained by the features behind it, and the
full table (every level) in the workbook. It calls :func:`pianqu.evaluation.evaluate`, the same
function as ``pianqu evaluate`` and the web platform.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pianqu.evaluation import evaluate
from pianqu.evaluation.engine import LIGHTS, format_value
from pianqu.report import maps
from pianqu.report.labels import report_table
from pianqu.report.parts.core import dpi
from pianqu.report.sections import Figure, ReportContext, SectionContent, register_section

COLOURS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828", "none": "#bdbdbd"}
MAX_DRIVER_NAMES = 8


def _value_text(ctx: ReportContext, value, unit: str) -> str:
    text = format_value(value, unit)
    if text == "—" or unit in ("ratio", "count", "index"):
        return text
    return f"{text} {ctx.t('evaluation.unit.' + unit)}"


def _light_text(ctx: ReportContext, row) -> str:
    if row["light"] == "none" and row["status"] == "ok":
        return ctx.t("evaluation.light.no_target")
    return ctx.t(f"evaluation.light.{row['light']}")


def _trend_text(ctx: ReportContext, row) -> str:
    text = format_value(row["trend"], row["unit"])
    if text == "—":
        return ""
    sign = "+" if float(row["trend"]) >= 0 else ""
    return f"{sign}{text}（{ctx.t('report.evaluation.since', epoch=int(row['previous_epoch']))}）" \
        if ctx.lang == "zh" else f"{sign}{text} ({ctx.t('report.evaluation.since', epoch=int(row['previous_epoch']))})"


def _target_source(ctx: ReportContext, source: str, direction: str = "higher") -> str:
    kind, _, arg = str(source).partition(":")
    if not kind:
        return ""
    if kind == "base_epoch":
        kind = f"base_epoch_{direction}"
    return ctx.t(f"report.evaluation.target.{kind}", arg=arg)


def chart(ctx: ReportContext, county: pd.DataFrame) -> Figure:
    """Lights counted by dimension, as stacked bars."""
    dims = list(dict.fromkeys(county["dimension"]))
    counts = county.groupby(["dimension", "light"]).size().unstack(fill_value=0).reindex(index=dims, columns=LIGHTS,
                                                                                        fill_value=0)
    with plt.rc_context(maps._style()):
        fig, ax = plt.subplots(figsize=(7.5, 0.5 + 0.45 * len(dims)))
        left = np.zeros(len(dims))
        for lt in LIGHTS:
            ax.barh(dims, counts[lt].to_numpy(), left=left, color=COLOURS[lt], label=ctx.t(f"evaluation.light.{lt}"))
            left += counts[lt].to_numpy()
        ax.invert_yaxis()
        ax.set_xlabel(ctx.t("report.evaluation.chart_x"))
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
    return Figure.from_matplotlib("evaluation_lights", ctx.t("report.evaluation.chart_caption"), fig, dpi(ctx))


def _frame(ctx: ReportContext, rows: pd.DataFrame) -> pd.DataFrame:
    name = "name_zh" if ctx.lang == "zh" else "name_en"
    return pd.DataFrame({
        "ev_indicator": rows[name].to_numpy(), "ev_dimension": rows["dimension"].to_numpy(),
        "ev_kind": rows["kind"].to_numpy(),
        "ev_level": [ctx.t(f"evaluation.level.{v}") for v in rows["level"]],
        "ev_unit_name": rows["unit_name"].to_numpy(),
        "ev_value": [_value_text(ctx, v, u) for v, u in zip(rows["value"], rows["unit"])],
        "ev_target": [_value_text(ctx, v, u) for v, u in zip(rows["target"], rows["unit"])],
        "ev_target_source": [_target_source(ctx, s, d) for s, d in zip(rows["target_source"], rows["direction"])],
        "ev_light": [_light_text(ctx, r) for r in rows.to_dict("records")],
        "ev_trend": [_trend_text(ctx, r) for r in rows.to_dict("records")],
        "ev_drivers": rows["drivers"].astype(int).to_numpy(),
        "ev_source": rows["source"].to_numpy(), "ev_sureness": rows["sureness"].to_numpy(),
    })


@register_section("evaluation", order=850)
def evaluation_section(ws, ctx: ReportContext) -> SectionContent | None:
    if not ws.has("township"):
        return None
    ev = ctx.cached("evaluation", lambda: evaluate(ws, ctx.scenario, config=ctx.config))
    county = ev.county()
    c = ev.counts()
    content = SectionContent(ctx.t("report.evaluation.title"))
    content.add_note(ctx.t("report.evaluation.intro", epoch=ev.epoch or "—", n=len(county), green=c["green"],
                           yellow=c["yellow"], red=c["red"], none=c["none"]))
    content.add_figure(chart(ctx, county))
    content.add_table(report_table(ctx, "evaluation", ctx.t("report.evaluation.table"), _frame(ctx, county),
                                   columns=["ev_indicator", "ev_dimension", "ev_kind", "ev_value", "ev_target",
                                            "ev_light", "ev_trend", "ev_drivers", "ev_target_source"],
                                   sheet=ctx.t("report.evaluation.sheet")))
    red = county[county["light"] == "red"]
    for r in red.to_dict("records"):
        d = ev.drivers(r["indicator"])
        names = [str(n) if isinstance(n, str) and n else str(f) for n, f in zip(d["name"], d["feature"])]
        listed = "、".join(names[:MAX_DRIVER_NAMES]) + ("……" if len(names) > MAX_DRIVER_NAMES else "") \
            if ctx.lang == "zh" else ", ".join(names[:MAX_DRIVER_NAMES]) + (" …" if len(names) > MAX_DRIVER_NAMES else "")
        content.add_note(ctx.t("report.evaluation.red", indicator=r["name_zh"] if ctx.lang == "zh" else r["name_en"],
                               value=_value_text(ctx, r["value"], r["unit"]),
                               target=_value_text(ctx, r["target"], r["unit"]),
                               source=_target_source(ctx, r["target_source"], r["direction"]), n=len(d),
                               drivers=listed or ctx.t("report.evaluation.no_drivers")), kind="warning")
    missing = county[county["status"] == "missing"]
    if len(missing):
        content.add_note(ctx.t("report.evaluation.no_data", names="、".join(missing["name_zh"]) if ctx.lang == "zh"
                               else ", ".join(missing["name_en"])))
    content.add_table(report_table(ctx, "evaluation_all", ctx.t("report.evaluation.table_all"), _frame(ctx, ev.table),
                                   sheet=ctx.t("report.evaluation.sheet_all"), in_html=False))
    return content
