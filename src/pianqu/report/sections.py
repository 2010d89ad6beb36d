"""The section registry: what a report is made of, so later capabilities add their own parts.

A section is a name, an order (sections are rendered by ascending order) and a builder
``builder(ws, ctx) -> SectionContent | None`` (None: nothing to say, the section is left out).
A capability registers its section once, at import time of a module in
``pianqu.report.parts`` (every module there is imported before a report is built), or from
any code with :func:`register_section`::

    from pianqu.report import SectionContent, register_section

    @register_section("zones", order=500)
    def zones(ws, ctx):
        if not ws.has("zone", ctx.scenario):
            return None
        content = SectionContent(ctx.t("report.section.zones.title"))
        content.add_table(Table("zones", ..., frame))
        return content

Blocks keep the order in which they are added: HTML fragments (trusted markup: escape user
data with :func:`html.escape`), notes (plain text), figures (PNG) and tables (DataFrames,
also written to the Excel workbook).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol

import pandas as pd

from pianqu.i18n import t as _t
from pianqu.parcels import read_landuse

if TYPE_CHECKING:  # pragma: no cover
    import matplotlib.figure

    from pianqu.config import Config
    from pianqu.findings import Finding
    from pianqu.workspace import Workspace


# -- content blocks ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    """A rendered figure: PNG bytes, embedded in the page and written to ``maps/<key>.png``."""

    key: str  # file stem, letters/digits/_/-
    caption: str
    png: bytes
    width_px: int = 0
    height_px: int = 0

    @classmethod
    def from_matplotlib(cls, key: str, caption: str, fig: "matplotlib.figure.Figure",
                        dpi: float) -> "Figure":
        """Render ``fig`` to PNG at ``dpi`` and close it (frees the memory of big maps)."""
        from pianqu.report.maps import to_png

        w, h = fig.get_size_inches()
        return cls(key, caption, to_png(fig, dpi), int(round(w * dpi)), int(round(h * dpi)))


@dataclass(frozen=True)
class Table:
    """A table for the page and the workbook.

    ``sheet``: the workbook sheet name (report language), None to keep it out of the workbook.
    ``html_rows``: show at most this many rows on the page (the workbook has them all).
    ``formats``: Python format specs per column (``",.2f"``, ``".1%"``, ``",d"``); floats
    default to ``",.2f"`` and integers to ``",d"``; the workbook gets the same number formats.
    ``total_row``: the last row is a total (bold).
    ``html_hide``: columns left out on the page (kept in the workbook).
    ``in_html``: False to put the table in the workbook only.
    """

    key: str
    title: str
    frame: pd.DataFrame
    sheet: str | None = None
    html_rows: int | None = None
    formats: Mapping[str, str] = field(default_factory=dict)
    total_row: bool = False
    html_hide: tuple[str, ...] = ()
    in_html: bool = True
    note: str = ""

    def format_of(self, column: str) -> str | None:
        """The format spec of ``column`` (explicit, or the default for its dtype), None for text."""
        if column in self.formats:
            return self.formats[column]
        dtype = self.frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype):
            return None
        if pd.api.types.is_integer_dtype(dtype):
            return ",d"
        if pd.api.types.is_float_dtype(dtype):
            return ",.2f"
        return None


@dataclass(frozen=True)
class Html:
    """A trusted HTML fragment."""

    markup: str


@dataclass(frozen=True)
class Note:
    """A plain-text paragraph (escaped on the page); ``kind`` is info, warning or notice."""

    text: str
    kind: str = "info"


Block = Html | Note | Figure | Table


@dataclass
class SectionContent:
    """What a section builder returns: a title and blocks in reading order."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def add_html(self, markup: str) -> "SectionContent":
        self.blocks.append(Html(markup))
        return self

    def add_note(self, text: str, kind: str = "info") -> "SectionContent":
        self.blocks.append(Note(text, kind))
        return self

    def add_figure(self, figure: Figure) -> "SectionContent":
        self.blocks.append(figure)
        return self

    def add_table(self, table: Table) -> "SectionContent":
        self.blocks.append(table)
        return self

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]


# -- the context a builder gets --------------------------------------------------------------
@dataclass
class ReportContext:
    """Everything a section builder needs besides the workspace, plus a per-report cache."""

    ws: "Workspace"
    lang: str
    config: "Config"
    scenario: str | None = None
    findings: list["Finding"] | None = None
    out_dir: Path | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def t(self, key: str, **kw: object) -> str:
        """A message of ``pianqu/locales`` in the report language."""
        return _t(key, self.lang, **kw)

    @property
    def synthetic(self) -> bool:
        return bool(self.ws.meta.synthetic)

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per report (sections share layers and statistics)."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def layer(self, name: str, scenario: str | None = None):
        """A workspace layer read once per report, or None when the workspace has none."""
        def read():
            if not self.ws.has(name, scenario):
                derived = f"derived_{name}"  # what the plan derived where the county's data had none
                if scenario is None and self.scenario and self.ws.has(derived, self.scenario):
                    return self.ws.read(derived, self.scenario)
                return None
            if name == "landuse" and scenario is None:  # several survey epochs: the base one
                return read_landuse(self.ws)
            return self.ws.read(name, scenario)
        return self.cached(f"layer:{scenario or ''}:{name}", read)


class SectionBuilder(Protocol):
    def __call__(self, ws: "Workspace", ctx: ReportContext) -> SectionContent | None: ...


@dataclass(frozen=True)
class Section:
    name: str
    order: float
    builder: SectionBuilder


_REGISTRY: dict[str, Section] = {}
PARTS_PACKAGE = "pianqu.report.parts"


def register_section(name: str, order: float, builder: SectionBuilder | None = None, *,
                     replace: bool = False):
    """Add a section to every report; usable as a call or as a decorator (without ``builder``).

    A second registration under the same name is an error unless ``replace`` (a plugin module
    imported twice registers the same builder again, which is allowed).
    """
    def add(fn: SectionBuilder) -> SectionBuilder:
        old = _REGISTRY.get(name)
        same = old is not None and getattr(old.builder, "__qualname__", None) == getattr(
            fn, "__qualname__", None) and getattr(old.builder, "__module__", None) == getattr(
            fn, "__module__", None)
        if old is not None and not (replace or same):
            raise ValueError(f"report section '{name}' is already registered (by "
                             f"{getattr(old.builder, '__module__', '?')}); pass replace=True to override it")
        _REGISTRY[name] = Section(name, float(order), fn)
        return fn

    if builder is None:
        return add
    return add(builder)


def unregister_section(name: str) -> None:
    """Remove a section (no error when it is not registered)."""
    _REGISTRY.pop(name, None)


def load_parts() -> None:
    """Import every module of ``pianqu.report.parts`` so their sections register themselves."""
    pkg = importlib.import_module(PARTS_PACKAGE)
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{PARTS_PACKAGE}.{info.name}")


def sections(names: Iterable[str] | None = None) -> list[Section]:
    """Registered sections in report order (all, or those named in ``names``)."""
    load_parts()
    chosen = list(_REGISTRY.values())
    if names is not None:
        wanted = list(names)
        unknown = [n for n in wanted if n not in _REGISTRY]
        if unknown:
            raise KeyError(f"unknown report sections {unknown}; known: {', '.join(_REGISTRY)}")
        chosen = [s for s in chosen if s.name in wanted]
    return sorted(chosen, key=lambda s: (s.order, s.name))
