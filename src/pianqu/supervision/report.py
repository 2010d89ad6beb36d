"""The 通报 of a supervision: one self-contained HTML page (the choropleth embedded as PNG) and
its PDF (WeasyPrint, with the CJK font), in Chinese by default, English with ``lang="en"``."""

from __future__ import annotations

import base64
import math
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from pianqu.i18n import t
from pianqu.supervision.core import Supervision

LIGHT_COLOURS = {"green": "#c8e6c9", "yellow": "#fff59d", "red": "#ffcdd2", "none": "#eeeeee"}
MAX_LIGHT_COLUMNS = 12  # counties shown indicator by indicator; more: counts only
CSS_FONTS = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Serif CJK SC", sans-serif'

TEMPLATE = """<!DOCTYPE html>
<html lang="{{ 'zh-CN' if lang == 'zh' else 'en' }}"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
@page { size: A4; margin: 16mm 14mm; }
body { font-family: {{ fonts|safe }}; font-size: 10.5pt; color: #222; }
h1 { text-align: center; color: #b00020; font-size: 19pt; margin-bottom: 2mm; }
.sub { text-align: center; color: #555; margin-top: 0; }
h2 { font-size: 13pt; border-bottom: 1px solid #b00020; padding-bottom: 1mm; margin-top: 7mm; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm; font-size: 9pt; }
th, td { border: 1px solid #999; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; }
td.green { background: {{ colours.green }}; } td.yellow { background: {{ colours.yellow }}; }
td.red { background: {{ colours.red }}; } td.none { background: {{ colours.none }}; color: #777; }
img.map { display: block; margin: 0 auto; max-width: 100%; max-height: 150mm; }
.note { color: #b00020; font-size: 9pt; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="sub">{{ subtitle }}</p>
{% if synthetic %}<p class="note">{{ synthetic }}</p>{% endif %}

<h2>{{ t('supervision.section.summary') }}</h2>
<p>{{ summary }}</p>

<h2>{{ t('supervision.section.ranking') }}</h2>
{% if map_png %}<img class="map" src="data:image/png;base64,{{ map_png }}" alt="{{ t('supervision.map_title') }}">{% endif %}
<table><tr>{% for h in card_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in card_rows %}<tr>{% for c in r %}<td class="{{ c[1] }}">{{ c[0] }}</td>{% endfor %}</tr>{% endfor %}
</table>

<h2>{{ t('supervision.section.lights') }}</h2>
{% if light_rows %}
<table><tr><th>{{ t('supervision.col.indicator') }}</th>{% for h in light_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in light_rows %}<tr><td>{{ r[0] }}</td>{% for c in r[1] %}<td class="{{ c[1] }}">{{ c[0] }}</td>{% endfor %}</tr>{% endfor %}
</table>
{% else %}<p>{{ t('supervision.lights_counts_only') }}</p>{% endif %}

<h2>{{ t('supervision.section.overdue') }}</h2>
<p>{{ deadlines }}</p>
{% if overdue_rows is none %}<p>{{ t('supervision.no_registry') }}</p>
{% elif overdue_rows %}
<h3>{{ t('supervision.overdue_title') }}</h3>
<table><tr>{% for h in overdue_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in overdue_rows %}<tr>{% for c in r %}<td class="{{ c[1] }}">{{ c[0] }}</td>{% endfor %}</tr>{% endfor %}
</table>
{% else %}<p>{{ no_overdue }}</p>{% endif %}
{% if late_rows %}<h3>{{ t('supervision.late_title') }}</h3>
<table><tr>{% for h in late_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in late_rows %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}

<h2>{{ t('supervision.section.worst') }}</h2>
{% if worst_rows %}
<table><tr>{% for h in worst_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in worst_rows %}<tr>{% for c in r %}<td class="{{ c[1] }}">{{ c[0] }}</td>{% endfor %}</tr>{% endfor %}
</table>
{% else %}<p>{{ t('supervision.no_worst') }}</p>{% endif %}

<h2>{{ t('supervision.section.towns') }}</h2>
{% if town_rows %}<p>{{ towns_note }}</p>
<table><tr>{% for h in town_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in town_rows %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}
</table>
{% else %}<p>{{ t('supervision.no_towns') }}</p>{% endif %}

<h2>{{ t('supervision.section.method') }}</h2>
<p>{{ method }}</p>
</body></html>
"""


def _fmt(v, decimals: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    x = float(v)
    return f"{x:,.{decimals}f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:,.0f}"


def _value_text(value, unit: str, lang: str) -> str:
    """A value in its unit, as the 体检评估 section writes it (ratios as %, counts bare)."""
    from pianqu.evaluation.engine import format_value
    from pianqu.i18n import catalogue

    text = format_value(value, unit)
    if text == "—" or unit in ("ratio", "count", "index") or f"evaluation.unit.{unit}" not in catalogue():
        return text
    return f"{text} {t('evaluation.unit.' + unit, lang)}"


def _score_light(score: float) -> str:
    """A score's colour band in the scorecard table (the points of the lights: ≥ yellow's
    points of a county is green, the rest yellow, under half of it red)."""
    if not np.isfinite(score):
        return "none"
    return "green" if score >= 80 else ("yellow" if score >= 60 else "red")


def choropleth(sup: Supervision, lang: str) -> bytes | None:
    """The counties coloured by score (a sequential red–green scale), names and scores as
    labels; PNG bytes, or None without county polygons."""
    if not len(sup.polygons):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    from pianqu.report.maps import _style, to_png

    g = sup.polygons.merge(sup.scorecard[["county_code", "county_name", "score"]], on="county_code", how="left")
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(7.0, 4.8))
        cmap, norm = colormaps["RdYlGn"], Normalize(0, 100)
        colours = [cmap(norm(s)) if np.isfinite(s) else (0.9, 0.9, 0.9, 1) for s in g["score"].astype(float)]
        g.plot(ax=ax, color=colours, edgecolor="#333333", linewidth=0.6)
        for geom, name, score in zip(g.geometry, g["county_name"], g["score"].astype(float)):
            p = geom.representative_point()
            ax.annotate(f"{name}\n{_fmt(score, 1)}", (p.x, p.y), ha="center", va="center", fontsize=8)
        lat = float(np.mean(g.total_bounds[[1, 3]]))
        ax.set_aspect(1 / max(math.cos(math.radians(lat)), 0.1))
        ax.set_axis_off()
        ax.set_title(t("supervision.map_title", lang), fontsize=13)
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=ax, shrink=0.6, label=t("supervision.col.score", lang))
        return to_png(fig, dpi=130)


def render_html(sup: Supervision, lang: str = "zh", *, synthetic: bool = True) -> str:
    """The 通报 as one self-contained HTML page."""
    tr = (lambda key, **kw: t(key, lang, **kw))
    card = sup.scorecard
    scope = card["city_name"].iloc[0] if sup.city and len(card) else tr("supervision.scope.province")
    name_of = dict(zip(card["county_code"], card["county_name"]))
    ind_name = (lambda r: r["name_zh"] if lang == "zh" else r["name_en"])
    light_word = (lambda lt: tr(f"evaluation.light.{lt}"))
    scores = card["score"].astype(float)
    best = card.loc[scores.idxmax()] if scores.notna().any() else None
    worst = card.loc[scores.idxmin()] if scores.notna().any() else None
    summary = tr("supervision.summary", n=len(card), mean=_fmt(scores.mean(), 1),
                 best=_fmt(best["score"], 1) if best is not None else "—",
                 best_name=best["county_name"] if best is not None else "—",
                 worst=_fmt(worst["score"], 1) if worst is not None else "—",
                 worst_name=worst["county_name"] if worst is not None else "—", overdue=len(sup.overdue))
    card_head = [tr("supervision.col.province_rank"), tr("supervision.col.city_rank"), tr("supervision.col.city"),
                 tr("supervision.col.county"), tr("supervision.col.score"), light_word("green"), light_word("yellow"),
                 light_word("red"), light_word("none")]
    card_rows = [[(r.province_rank, ""), (r.city_rank, ""), (r.city_name, ""), (r.county_name, ""),
                  (_fmt(r.score, 1), _score_light(float(r.score))), (r.green, "num"), (r.yellow, "num"),
                  (r.red, "num"), (r.none, "num")] for r in card.itertuples()]
    light_head, light_rows = [], []
    if len(card) <= MAX_LIGHT_COLUMNS:
        codes = list(card["county_code"])
        light_head = [name_of[c] for c in codes]
        p = sup.points[sup.points["weight"] > 0]
        for ind, grp in p.groupby("order", sort=True):
            by = grp.set_index("county_code")
            first = grp.iloc[0]
            cells = []
            for c in codes:
                lt = str(by["light"].get(c, "none"))
                cells.append((light_word(lt), lt))
            light_rows.append((ind_name(first), cells))
    dl = sup.deadlines
    overdue_rows = None
    overdue_head = [tr("supervision.col.county"), tr("supervision.col.plan"), tr("supervision.col.level"),
                    tr("supervision.col.status"), tr("supervision.col.deadline"), tr("supervision.col.days_overdue")]
    if sup.registry is not None:
        overdue_rows = [[(r.county_name, ""), (r.plan or "—", ""), (tr(f"supervision.level.{r.level}"), ""),
                         (tr(f"supervision.status.{r.status}"), "red"), (r.deadline.isoformat(), ""),
                         (r.days_overdue, "num")] for r in sup.overdue.itertuples()]
    late_head = [tr("supervision.col.county"), tr("supervision.col.plan"), tr("supervision.col.level"),
                 tr("supervision.col.approved")]
    late_rows = [[name_of.get(r.county_code, r.county_code), r.plan or "—", tr(f"supervision.level.{r.level}"),
                  r.approved.isoformat()] for r in sup.late.itertuples()]
    worst_head = [tr("supervision.col.county"), tr("supervision.col.indicator"), tr("supervision.col.light"),
                  tr("supervision.col.value"), tr("supervision.col.target"), tr("supervision.col.drivers")]
    worst_rows = []
    for r in sup.worst.to_dict("records"):
        names = r.get("driver_names") or []
        n = max(int(r["drivers"]), len(names))
        if names:
            drv = tr("supervision.drivers_named", names="、".join(names[:3]) if lang == "zh" else ", ".join(names[:3]),
                     n=n)
        else:
            drv = tr("supervision.drivers_counted", n=n) if n else "—"
        worst_rows.append([(name_of.get(r["county_code"], r["county_code"]), ""), (ind_name(r), ""),
                           (light_word(r["light"]), r["light"]), (_value_text(r["value"], r["unit"], lang), "num"),
                           (_value_text(r["target"], r["unit"], lang), "num"), (drv, "")])
    town_head = [tr("supervision.col.province_rank"), tr("supervision.col.county"), tr("supervision.col.town"),
                 tr("supervision.col.score"), tr("supervision.col.reasons")]
    town_rows = []
    size = 0
    if sup.towns is not None and len(sup.towns):
        from pianqu.province.gather import reasons_text

        cand = sup.towns[sup.towns["candidate"]]
        size = len(cand)
        town_rows = [[r.province_rank, name_of.get(r.county_code, r.county_code), r.name,
                      _fmt(r.province_score, 3), reasons_text(r.reasons, lang)] for r in cand.itertuples()]
    from pianqu.config import load_config

    cfg = load_config()
    method = tr("supervision.method", green=_fmt(cfg["supervision.points_green"]),
                yellow=_fmt(cfg["supervision.points_yellow"]), red=_fmt(cfg["supervision.points_red"]),
                decimals=int(cfg["supervision.score_decimals"]))
    png = choropleth(sup, lang)
    env = jinja2.Environment(autoescape=True)
    return env.from_string(TEMPLATE).render(
        lang=lang, t=lambda k, **kw: t(k, lang, **kw), fonts=CSS_FONTS, colours=LIGHT_COLOURS,
        title=tr("supervision.title", scope=scope), subtitle=tr("supervision.subtitle", as_of=sup.as_of.isoformat(),
                                                                n=len(card)),
        synthetic=tr("supervision.synthetic") if synthetic else "", summary=summary,
        map_png=base64.b64encode(png).decode() if png else None, card_head=card_head, card_rows=card_rows,
        light_head=light_head, light_rows=light_rows,
        deadlines=tr("supervision.deadlines", township=dl["township"].isoformat(), village=dl["village"].isoformat()),
        overdue_head=overdue_head, overdue_rows=overdue_rows,
        no_overdue=tr("supervision.no_overdue", as_of=sup.as_of.isoformat()), late_head=late_head,
        late_rows=late_rows, worst_head=worst_head, worst_rows=worst_rows, town_head=town_head, town_rows=town_rows,
        towns_note=tr("supervision.towns_note", n=size), method=method)


def write_report(sup: Supervision, out: str | Path, *, lang: str = "zh", pdf: bool = False,
                 synthetic: bool = True) -> dict[str, Path]:
    """Write ``<out>/通报.html`` (``report.html`` in English), with ``pdf`` its PDF beside it,
    and ``scorecard.xlsx`` (scorecard, points, worst, overdue, towns); returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "通报" if lang == "zh" else "report"
    html = render_html(sup, lang, synthetic=synthetic)
    paths = {"html": out / f"{stem}.html"}
    paths["html"].write_text(html, encoding="utf-8")
    if pdf:
        import weasyprint

        paths["pdf"] = out / f"{stem}.pdf"
        weasyprint.HTML(string=html, base_url=str(out)).write_pdf(paths["pdf"])
    paths["xlsx"] = out / "scorecard.xlsx"
    with pd.ExcelWriter(paths["xlsx"]) as xw:
        sup.scorecard.to_excel(xw, sheet_name="scorecard", index=False)
        sup.points.to_excel(xw, sheet_name="points", index=False)
        sup.worst.drop(columns=["driver_names"]).to_excel(xw, sheet_name="worst", index=False)
        sup.overdue.to_excel(xw, sheet_name="overdue", index=False)
        if sup.towns is not None:
            sup.towns.to_excel(xw, sheet_name="towns", index=False)
    return paths
