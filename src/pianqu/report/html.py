"""Rendering the report page: Jinja2, one self-contained HTML file (CSS inline, PNGs as data URIs)."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any, Sequence

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from pianqu.i18n import t
from pianqu.report.sections import Figure, Html, Note, SectionContent, Table

TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class RenderedSection:
    name: str
    anchor: str
    content: SectionContent


def format_value(value: Any, spec: str | None) -> str:
    """A cell as text: empty for missing values, ``spec`` for numbers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return ""
    if spec and isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        try:
            if spec.endswith("d"):
                return format(int(round(float(value))), spec)
            return format(float(value), spec)
        except (ValueError, TypeError):
            return str(value)
    return str(value)


def table_rows(table: Table) -> tuple[list[str], list[list[tuple[str, bool]]], bool]:
    """Header, rows of (text, numeric) cells for the page, and whether rows were cut."""
    frame = table.frame.drop(columns=[c for c in table.html_hide if c in table.frame.columns])
    specs = [table.format_of(c) for c in frame.columns]
    numeric = [s is not None for s in specs]
    body = frame
    cut = table.html_rows is not None and len(frame) > table.html_rows
    if cut:
        body = frame.iloc[: table.html_rows]
    rows = [[(format_value(v, s), n) for v, s, n in zip(row, specs, numeric)]
            for row in body.itertuples(index=False, name=None)]
    return [str(c) for c in frame.columns], rows, cut


def data_uri(fig: Figure) -> str:
    return "data:image/png;base64," + base64.b64encode(fig.png).decode("ascii")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("pianqu.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals.update(is_html=lambda b: isinstance(b, Html), is_note=lambda b: isinstance(b, Note),
                       is_figure=lambda b: isinstance(b, Figure), is_table=lambda b: isinstance(b, Table),
                       table_rows=table_rows, data_uri=data_uri, Markup=Markup)
    return env


def render_page(sections: Sequence[RenderedSection], *, lang: str, title: str, subtitle: str,
                generated: str, synthetic_notice: str | None, synthetic_title: str, toc_title: str,
                scenario_line: str | None) -> str:
    """The report page as one HTML string (messages of ``pianqu/locales`` in ``lang``)."""
    return environment().get_template(TEMPLATE).render(
        lang="zh-CN" if lang == "zh" else lang, title=title, subtitle=subtitle, generated=generated,
        synthetic_notice=synthetic_notice, synthetic_title=synthetic_title, toc_title=toc_title,
        scenario_line=scenario_line, sections=sections, t=lambda key, **kw: t(key, lang, **kw))
