"""The foundation's report sections: overview, overview map, township table, land-use
structure, validation summary."""

from __future__ import annotations

import pandas as pd

from pianqu.findings import summary
from pianqu.geo import compute_epsg
from pianqu.report import maps
from pianqu.report.sections import Figure, ReportContext, SectionContent, Table, register_section
from pianqu.report.tables import (M2_PER_HA, broad_structure, class_label, county_facts, findings_summary,
                                  findings_table, join_list, landuse_structure, layer_inventory,
                                  township_stats, township_table)
from pianqu.standards import landuse_codes, mu_per_m2

MAP_LAYERS = ("county", "township", "village", "road", "river", "settlement")


def stats_of(ctx: ReportContext) -> pd.DataFrame | None:
    """Township statistics shared by the sections (None without a township layer)."""
    def compute():
        townships = ctx.layer("township")
        if townships is None:
            return None
        return township_stats(townships=townships, landuse=ctx.layer("landuse"),
                              villages=ctx.layer("village"), mu_per_m2=mu_per_m2(),
                              landuse_version=ctx.ws.meta.landuse_version)
    return ctx.cached("township_stats", compute)


def map_epsg(ctx: ReportContext) -> int:
    """The county's GK zone: from the workspace metadata, else from the data."""
    if ctx.ws.meta.compute_epsg:
        return int(ctx.ws.meta.compute_epsg)
    frame = ctx.layer("county")
    frame = frame if frame is not None else ctx.layer("township")
    return compute_epsg(frame)


def dpi(ctx: ReportContext) -> float:
    return float(ctx.config["report.map_dpi"])


def width_in(ctx: ReportContext) -> float:
    return float(ctx.config["report.map_width_in"])


@register_section("overview", order=100)
def overview(ws, ctx: ReportContext) -> SectionContent:
    content = SectionContent(ctx.t("report.section.overview.title"))  # the page header carries the synthetic notice
    facts = county_facts(ws, ctx.lang, stats=stats_of(ctx))
    content.add_table(Table("overview", ctx.t("report.section.overview.title"), facts,
                            sheet=ctx.t("report.sheet.overview")))
    layers = layer_inventory(ws, ctx.lang)
    content.add_table(Table("layers", ctx.t("report.section.overview.layers"), layers,
                            sheet=ctx.t("report.sheet.layers")))
    return content


@register_section("overview_map", order=200)
def overview_map(ws, ctx: ReportContext) -> SectionContent:
    content = SectionContent(ctx.t("report.section.overview_map.title"))
    layers = {name: ctx.layer(name) for name in MAP_LAYERS}
    if layers["county"] is None and layers["township"] is None:
        return content.add_note(ctx.t("report.note.no_map"), kind="warning")
    epsg = map_epsg(ctx)
    county = ws.meta.county_name
    fig = maps.overview_map(layers, epsg=epsg, lang=ctx.lang, synthetic=ctx.synthetic,
                            title=ctx.t("report.map.overview_title", county=county),
                            subtitle=ctx.t("report.map.subtitle", crs=f"EPSG:{epsg}"),
                            width_in=width_in(ctx))
    caption = ctx.t("report.section.overview_map.caption", county=county, crs=f"EPSG:{epsg}")
    return content.add_figure(Figure.from_matplotlib("overview", caption, fig, dpi(ctx)))


def _area_formats(frame: pd.DataFrame) -> dict[str, str]:
    return {c: ",.2f" for c in frame.columns if pd.api.types.is_float_dtype(frame[c].dtype)}


@register_section("townships", order=300)
def townships(ws, ctx: ReportContext) -> SectionContent | None:
    stats = stats_of(ctx)
    if stats is None:
        return None
    content = SectionContent(ctx.t("report.section.townships.title"))
    content.add_note(ctx.t("report.section.townships.intro"))
    table = township_table(lang=ctx.lang, stats=stats, county_code=ws.meta.county_code)
    # class columns with no area anywhere are hidden on the page (the workbook keeps them)
    names = table.attrs["columns"]  # stable id → column label
    class_cols = [c for c in stats.columns if c.startswith("l1_")]
    zero = [names[c] for c in class_cols if float(stats[c].abs().sum()) == 0.0]
    gap_m2 = float(ctx.config["validate.gap_tolerance_m2"])  # what validation calls a gap
    for extra in ("unknown_ha", "gap_ha"):
        if extra in names and float(stats[extra].abs().max()) * M2_PER_HA <= gap_m2:
            zero.append(names[extra])
    content.add_table(Table("townships", ctx.t("report.section.townships.title"), table,
                            sheet=ctx.t("report.sheet.townships"), total_row=True,
                            formats={**_area_formats(table), names["population"]: ",d", names["villages"]: ",d"},
                            html_hide=tuple(zero)))
    hidden_classes = [class_label(c[3:], ctx.lang, ws.meta.landuse_version) for c in class_cols
                      if float(stats[c].abs().sum()) == 0.0]
    if hidden_classes:
        content.add_note(ctx.t("report.section.townships.zero_classes", classes=join_list(hidden_classes, ctx.lang)))
    if ctx.layer("landuse") is None:
        content.add_note(ctx.t("report.note.no_landuse"), kind="warning")
        return content
    if stats.attrs.get("unassigned_parcels"):
        content.add_note(ctx.t("report.note.unassigned", n=stats.attrs["unassigned_parcels"],
                               ha=f"{stats.attrs['unassigned_m2'] / M2_PER_HA:,.2f}"), kind="warning")
    tol = float(ctx.config["report.area_gap_rel_tolerance"])
    rel = (stats["gap_ha"].abs() / stats["area_ha"].where(stats["area_ha"] > 0)).fillna(0)
    off = stats[rel > tol]
    if len(off):
        worst = off.loc[off["gap_ha"].abs().idxmax()]
        content.add_note(ctx.t("report.note.gap", n=len(off), tol=f"{tol:g}", name=worst["name"],
                               ha=f"{worst['gap_ha']:,.2f}"), kind="warning")
    unknown = float(stats["unknown_ha"].sum())
    if unknown > 0:
        lu = ctx.layer("landuse")
        bad = int((~lu["code"].astype("string").isin(set(landuse_codes(ws.meta.landuse_version)["code"]))
                   .fillna(False)).sum())
        content.add_note(ctx.t("report.note.unknown_codes", n=bad, ha=f"{unknown:,.2f}"), kind="warning")
    return content


@register_section("landuse", order=400)
def landuse(ws, ctx: ReportContext) -> SectionContent | None:
    parcels = ctx.layer("landuse")
    content = SectionContent(ctx.t("report.section.landuse.title"))
    if parcels is None or len(parcels) == 0:
        return content.add_note(ctx.t("report.note.no_landuse"), kind="warning")
    structure = ctx.cached("landuse_structure", lambda: landuse_structure(
        parcels, lang=ctx.lang, mu_per_m2=mu_per_m2(),
        version=ws.meta.landuse_version))
    epochs = join_list([str(e) for e in ws.meta.epochs], ctx.lang) or ctx.t("report.missing")
    content.add_note(ctx.t("report.section.landuse.intro", version=ws.meta.landuse_version, epochs=epochs))
    fig = maps.landuse_chart(structure, lang=ctx.lang, synthetic=ctx.synthetic, width_in=width_in(ctx),
                             title=ctx.t("report.chart.landuse_title", county=ws.meta.county_name))
    content.add_figure(Figure.from_matplotlib("landuse_structure",
                                              ctx.t("report.section.landuse.chart_caption"), fig, dpi(ctx)))
    cols = {"label": ctx.t("report.col.class"), "area_ha": ctx.t("report.col.area_ha"),
            "area_mu": ctx.t("report.col.area_mu"), "share": ctx.t("report.col.share")}
    total = pd.DataFrame([{"label": ctx.t("report.total"), "area_ha": structure["area_ha"].sum(),
                           "area_mu": structure["area_mu"].sum(), "share": structure["share"].sum()}])
    table = pd.concat([structure[list(cols)], total], ignore_index=True).rename(columns=cols)
    fmt = {cols["area_ha"]: ",.2f", cols["area_mu"]: ",.2f", cols["share"]: ".2%"}
    content.add_table(Table("landuse", ctx.t("report.section.landuse.title"), table,
                            sheet=ctx.t("report.sheet.landuse"), total_row=True, formats=fmt))
    broad = broad_structure(structure, ctx.lang)
    btable = pd.concat([broad[list(cols)], total], ignore_index=True).rename(columns=cols)
    content.add_table(Table("landuse_broad", ctx.t("report.section.landuse.broad"), btable,
                            sheet=ctx.t("report.sheet.landuse_broad"), total_row=True, formats=fmt))
    return content


@register_section("validation", order=900)
def validation(ws, ctx: ReportContext) -> SectionContent:
    content = SectionContent(ctx.t("report.section.validation.title"))
    if ctx.findings is None:
        return content.add_note(ctx.t("report.section.validation.not_run"), kind="warning")
    findings = list(ctx.findings)
    if not findings:
        return content.add_note(ctx.t("report.section.validation.clean"))
    counts = summary(findings)
    content.add_note(ctx.t("report.section.validation.counts", n=len(findings), **counts),
                     kind="warning" if counts["error"] else "info")
    content.add_table(Table("findings_summary", ctx.t("report.section.validation.by_rule"),
                            findings_summary(findings, ctx.lang), sheet=ctx.t("report.sheet.findings_summary")))
    shown = int(ctx.config["report.findings_shown"])
    title = ctx.t("report.section.validation.first", n=shown) if len(findings) > shown \
        else ctx.t("report.section.validation.all")
    full = findings_table(findings, ctx.lang)
    empty = tuple(c for c in full.columns if (full[c].astype(str) == "").all())  # e.g. no source files
    content.add_table(Table("findings", title, full, sheet=ctx.t("report.sheet.findings"), html_rows=shown,
                            html_hide=empty))
    return content


