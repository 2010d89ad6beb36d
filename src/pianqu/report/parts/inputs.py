"""The report's account of what the plan worked from: each input given, derived or estimated,
and each analysis with the weakest of its inputs (`input_source`, written by `pianqu plan`)."""

from __future__ import annotations

import pandas as pd

from pianqu.inputs import STATUSES, analysis_status
from pianqu.report.sections import ReportContext, SectionContent, Table, register_section


@register_section("inputs", order=150)
def inputs(ws, ctx: ReportContext) -> SectionContent | None:
    if ctx.scenario is None or not ws.has("input_source", ctx.scenario):
        return None
    src = ctx.layer("input_source", ctx.scenario)
    content = SectionContent(ctx.t("report.section.inputs.title"))
    status = {s: ctx.t(f"inputs.status.{s}") for s in STATUSES}
    sep, pair = ("、", "；") if ctx.lang == "zh" else (", ", "; ")
    by_input = dict(zip(src["input"].astype(str), src["status"].astype(str)))
    weak = src[src["status"].astype(str) != "given"]
    if len(weak):
        content.add_note(ctx.t("report.section.inputs.note",
                               inputs=sep.join(ctx.t(f"report.input.{n}") for n in weak["input"].astype(str))),
                         kind="warning")
    table = pd.DataFrame({
        ctx.t("report.col.input"): [ctx.t(f"report.input.{n}") for n in src["input"].astype(str)],
        ctx.t("report.col.input_status"): src["status"].astype(str).map(status),
        ctx.t("report.col.input_method"): [ctx.t(f"report.input_method.{m}") if m else ""
                                           for m in src["method"].fillna("").astype(str)],
        ctx.t("report.col.rows"): pd.to_numeric(src["rows"], errors="coerce").fillna(0).astype(int),
        ctx.t("report.col.detail"): [_detail(ctx, n, d, sep) for n, d in
                                     zip(src["input"].astype(str), src["detail"].fillna("").astype(str))],
    })
    content.add_table(Table("inputs", ctx.t("report.section.inputs.table"), table,
                            sheet=ctx.t("report.sheet.inputs")))
    rows = [{ctx.t("report.col.analysis"): ctx.t(f"report.analysis.{r.analysis}"),
             ctx.t("report.col.input_status"): status[r.status],
             ctx.t("report.col.inputs"): pair.join(f"{ctx.t(f'report.input.{n}')}: {status[s]}"
                                                  for n, s in r.inputs.items())}
            for r in analysis_status(by_input).itertuples()]
    content.add_table(Table("analysis_inputs", ctx.t("report.section.inputs.analyses"), pd.DataFrame(rows),
                            sheet=ctx.t("report.sheet.analysis_inputs")))
    return content


def _detail(ctx: ReportContext, name: str, detail: str, sep: str) -> str:
    """The detail column in the report's language: how many seats each method found."""
    if name != "settlement" or ":" not in detail:
        return detail
    parts = (item.split(":") for item in detail.split(","))
    return sep.join(f"{ctx.t(f'inputs.seat_method.{m}')} {n}" for m, n in parts)


def derived_note(ctx: ReportContext, analysis: str) -> str | None:
    """A section's note naming the inputs of ``analysis`` that were not the county's own (None
    when all were given, or the scenario records no inputs)."""
    if ctx.scenario is None or not ctx.ws.has("input_source", ctx.scenario):
        return None
    src = ctx.layer("input_source", ctx.scenario)
    row = analysis_status(dict(zip(src["input"].astype(str), src["status"].astype(str))))
    states = row.set_index("analysis").loc[analysis, "inputs"]
    weak = [(n, s) for n, s in states.items() if s != "given"]
    if not weak:
        return None
    sep = "、" if ctx.lang == "zh" else ", "
    return ctx.t("report.section.inputs.section_note",
                 inputs=sep.join(f"{ctx.t(f'report.input.{n}')}（{ctx.t(f'inputs.status.{s}')}）"
                                 if ctx.lang == "zh" else f"{ctx.t(f'report.input.{n}')} ({ctx.t(f'inputs.status.{s}')})"
                                 for n, s in weak))


def say_derived(ctx: ReportContext, content: SectionContent, analysis: str) -> None:
    """A warning note at the top of a section whose analysis rests on derived or estimated inputs."""
    note = derived_note(ctx, analysis)
    if note:
        content.add_note(note, kind="warning")
