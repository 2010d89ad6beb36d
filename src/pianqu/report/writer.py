"""Building the report: run the registered sections, write index.html, maps/*.png, tables.xlsx."""

from __future__ import annotations

import datetime as _dt
import os
import re
import time
import warnings
from pathlib import Path
from typing import Iterable, Sequence

from pianqu._version import __version__
from pianqu.errors import PianquError
from pianqu.findings import Finding
from pianqu.i18n import LANGS, t
from pianqu.progress import task
from pianqu.report.html import RenderedSection, render_page
from pianqu.report.sections import Figure, ReportContext, SectionContent, sections
from pianqu.report.workbook import write_workbook

INDEX = "index.html"
WORKBOOK = "tables.xlsx"
MAPS_DIR = "maps"


class ReportError(PianquError, RuntimeError):
    """A report that cannot be written; the message (``report.error.*``) says what to do, in
    the user's language."""


def build_sections(ws, ctx: ReportContext, *, names: Iterable[str] | None = None,
                   strict: bool = False) -> list[RenderedSection]:
    """Run every registered section builder in order; a failing builder becomes an error note
    (or raises when ``strict``). Build times go to ``ctx.cache['timings']`` (seconds)."""
    chosen = sections(names)
    timings: dict[str, float] = ctx.cache.setdefault("timings", {})
    out: list[RenderedSection] = []
    with task(t("report.progress", ctx.lang), total=len(chosen)) as advance:
        for sec in chosen:
            start = time.perf_counter()
            try:
                content = sec.builder(ws, ctx)
            except Exception as exc:
                if strict:
                    raise
                warnings.warn(f"report section '{sec.name}' failed: {exc!r}", RuntimeWarning, stacklevel=2)
                try:
                    title = ctx.t(f"report.section.{sec.name}.title")
                except KeyError:
                    title = sec.name
                if isinstance(exc, PianquError):  # the data lacks something: say what, in ctx.lang
                    note = ctx.t("report.section_input", error=exc.message(ctx.lang))
                else:  # a defect of pianqu
                    note = ctx.t("report.section_failed", error=f"{type(exc).__name__}: {exc}")
                content = SectionContent(title).add_note(note, kind="error")
            timings[sec.name] = time.perf_counter() - start
            advance()
            if content is None:
                continue
            anchor = "sec-" + re.sub(r"[^A-Za-z0-9_-]", "-", sec.name)
            out.append(RenderedSection(sec.name, anchor, content))
    return out


def _figures(built: Sequence[RenderedSection]) -> list[tuple[str, Figure]]:
    """Every figure with a unique file stem."""
    seen: set[str] = set()
    out = []
    for sec in built:
        for fig in sec.content.figures:
            stem = re.sub(r"[^A-Za-z0-9_-]", "_", fig.key) or "figure"
            name, i = stem, 2
            while name in seen:
                name, i = f"{stem}_{i}", i + 1
            seen.add(name)
            out.append((name, fig))
    return out


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_report(ws, out_dir: str | Path, *, findings: list[Finding] | None = None, lang: str = "zh",
                 scenario: str | None = None, sections: Iterable[str] | None = None,
                 strict: bool = False) -> Path:
    """Write the report of a workspace (and of a plan scenario) into a folder.

    ``index.html`` is self-contained (maps embedded as PNG data URIs, CSS inline) so it can be
    e-mailed alone; ``maps/*.png`` holds the same images for plan documents and ``tables.xlsx``
    every table (sheet names in ``lang``).

    Parameters
    ----------
    ws : pianqu.workspace.Workspace
        The county workspace.
    out_dir : str or pathlib.Path
        The folder to write into (made if missing).
    findings : list of pianqu.findings.Finding, optional
        Validation results (:func:`pianqu.validate_workspace`); None: the validation section
        says validation was not run.
    lang : {"zh", "en"}, default "zh"
        Language of the report.
    scenario : str, optional
        A plan scenario to report (zones, services, roads, land); None for the base data only.
    sections : iterable of str, optional
        Only these registered sections.
    strict : bool, default False
        Raise a failing section's error instead of noting it in the report.

    Returns
    -------
    pathlib.Path
        The path of ``index.html``.

    Examples
    --------
    >>> pianqu.write_report(ws, "report", scenario="plan")                  # doctest: +SKIP
    """
    if lang not in LANGS:
        raise ReportError("report.error.unknown_lang", language=lang, langs=", ".join(LANGS))
    if scenario is not None and scenario not in set(ws.scenarios()["name"]):
        names = [str(n) for n in ws.scenarios()["name"]]
        raise ReportError("report.error.no_scenario", path=ws.url, scenario=scenario,
                          scenarios="、".join(names) if names else "-")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReportError("report.error.not_a_folder", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    ctx = ReportContext(ws=ws, lang=lang, config=ws.config(), scenario=scenario,
                        findings=None if findings is None else list(findings), out_dir=out)
    built = build_sections(ws, ctx, names=sections, strict=strict)

    maps_dir = out / MAPS_DIR
    figures = _figures(built)
    if figures:
        maps_dir.mkdir(exist_ok=True)
    for name, fig in figures:
        (maps_dir / f"{name}.png").write_bytes(fig.png)
    write_workbook(out / WORKBOOK, [tbl for sec in built for tbl in sec.content.tables])

    county = ws.meta.county_name
    scenario_line = None
    if scenario is not None:
        titles = ws.scenarios().set_index("name")["title"]
        scenario_line = t("report.scenario", lang, scenario=f"{titles.get(scenario, scenario)} ({scenario})")
    ts = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    page = render_page(
        built, lang=lang, title=t("report.title", lang, county=county), subtitle=t("report.subtitle", lang),
        generated=t("report.generated", lang, ts=ts, version=__version__, workspace=Path(ws.url).name),
        synthetic_notice=t("common.synthetic_notice", lang) if ws.meta.synthetic else None,
        synthetic_title=t("report.synthetic_title", lang), toc_title=t("report.toc", lang),
        scenario_line=scenario_line)
    index = out / INDEX
    _write_text(index, page)
    return index
