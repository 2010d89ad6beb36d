"""Maps and charts for the report (matplotlib, Agg), in the county's Gauss–Krüger zone.

Maps are drawn in metres of the county's CGCS2000 3° GK zone so the scale bar is true. Every
figure of a synthetic county carries the synthetic notice. The building blocks
(:func:`map_figure`, :func:`add_lines`, :func:`add_scale_bar`, :func:`add_north_arrow`,
:func:`add_notice`, ...) are public so that zoning, services and network sections draw their
maps the same way.

Colours are styling, not a standard: the first-level class colours approximate the customary
用地用海 palette (inferred, not read from the 2023 guideline's colour table).
"""

from __future__ import annotations

import math
from functools import cache
from typing import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager, patheffects  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrow, Patch, Rectangle  # noqa: E402

from pianqu.errors import UserValueError  # noqa: E402
from pianqu.i18n import t  # noqa: E402
from pianqu.standards import road_classes  # noqa: E402

CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
             "Source Han Sans CN", "Microsoft YaHei", "PingFang SC", "SimHei", "WenQuanYi Zen Hei",
             "AR PL UMing CN")

# road class → (colour, line width in points, z-order); minor roads first, major on top
ROAD_STYLE: dict[str, tuple[str, float, int]] = {
    "expressway": ("#1b7837", 2.6, 9),
    "national": ("#d7191c", 2.1, 8),
    "provincial": ("#f07c1e", 1.7, 7),
    "county": ("#b8860b", 1.25, 6),
    "township": ("#6b6b6b", 0.8, 5),
    "village": ("#a8a8a8", 0.45, 4),
}
OTHER_ROAD = ("#c8c8c8", 0.4, 3)
RIVER_STYLE = ("#3d8fd1", 0.9)
TOWNSHIP_FILLS = ("#f3efe0", "#e4efd9", "#e6e6f2", "#f5e3e0", "#dfeef0", "#efe6d2", "#ece0ec")

# first-level 用地用海 class → colour (approximate customary palette; styling only)
CLASS_COLOURS: dict[str, str] = {
    "01": "#f5eb9a", "02": "#bfe39b", "03": "#3f9b4f", "04": "#a8d08d", "05": "#6cc7c0",
    "06": "#d8c39a", "07": "#ffc94d", "08": "#ff7fa3", "09": "#e5393a", "10": "#a0785a",
    "11": "#9e77b8", "12": "#9a9a9a", "13": "#3f7fbf", "14": "#2ead4e", "15": "#6b8e23",
    "16": "#f2f2f2", "17": "#7ec8f0", "18": "#5fa8d3", "19": "#4d7ea8", "20": "#90a4ae",
    "21": "#80deea", "22": "#607d8b", "23": "#d9d9d9", "24": "#b3e5fc", "unknown": "#555555",
}


# -- fonts and figure frame ----------------------------------------------------------------------
@cache
def cjk_font() -> str | None:
    """The first installed CJK font family (put first in ``font.sans-serif``), or None.

    Without one, Chinese labels render as boxes: the figures still draw, with a warning from
    matplotlib; ``make setup`` installs WenQuanYi Micro Hei on Debian.
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    return None


def _style() -> dict:
    font = cjk_font()
    # only fonts that exist: matplotlib logs a warning for every missing family it tries
    families = ([font] if font else []) + ["DejaVu Sans"]
    return {"font.family": "sans-serif", "font.sans-serif": families, "axes.unicode_minus": False}


def to_png(fig, dpi: float) -> bytes:
    """PNG bytes of ``fig`` (the figure is closed)."""
    import io

    buf = io.BytesIO()
    with plt.rc_context(_style()):  # generic families resolve to fonts at draw time
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    plt.close(fig)
    return buf.getvalue()


def map_figure(extent: tuple[float, float, float, float], *, title: str, width_in: float,
               subtitle: str = "") -> tuple[plt.Figure, plt.Axes]:
    """A square-ish map page: title on top, an equal-aspect axes framed by a neat line.

    ``extent`` is (xmin, ymin, xmax, ymax) in projected metres; the page height follows the
    extent's shape (within 0.75–1.35 of the width) so a long county is not squeezed.
    """
    x0, y0, x1, y1 = extent
    aspect = (y1 - y0) / max(x1 - x0, 1e-9)
    height_in = width_in * min(max(aspect, 0.75), 1.35)
    with plt.rc_context(_style()):
        fig = plt.figure(figsize=(width_in, height_in))
        top = 1 - 0.75 / height_in
        bottom = 0.55 / height_in
        ax = fig.add_axes((0.03, bottom, 0.94, top - bottom))
        # grow the padded extent to the shape of the axes box: equal scale on x and y
        pad = 0.03 * max(x1 - x0, y1 - y0)
        dx, dy = (x1 - x0) + 2 * pad, (y1 - y0) + 2 * pad
        box = (0.94 * width_in) / ((top - bottom) * height_in)
        if dx / dy < box:
            dx = dy * box
        else:
            dy = dx / box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        ax.set_xlim(cx - dx / 2, cx + dx / 2)
        ax.set_ylim(cy - dy / 2, cy + dy / 2)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_linewidth(1.2)
        fig.text(0.5, 1 - 0.38 / height_in, title, ha="center", va="center", fontsize=16,
                 family=_style()["font.sans-serif"])
        if subtitle:
            fig.text(0.5, 1 - 0.62 / height_in, subtitle, ha="center", va="center", fontsize=9,
                     color="#555555", family=_style()["font.sans-serif"])
    return fig, ax


# -- drawing helpers -------------------------------------------------------------------------------
def line_segments(geoms) -> list[np.ndarray]:
    """Vertex arrays of every line part (LineString, MultiLineString, polygon rings), vectorised."""
    arr = np.asarray(geoms.to_numpy() if hasattr(geoms, "to_numpy") else geoms, dtype=object)
    arr = arr[~(shapely.is_missing(arr) | shapely.is_empty(arr))]
    if len(arr) == 0:
        return []
    kinds = shapely.get_type_id(arr)
    polys = np.isin(kinds, (3, 6))  # Polygon, MultiPolygon → their rings
    if polys.any():
        arr = np.concatenate([arr[~polys], shapely.boundary(arr[polys])])
    parts = shapely.get_parts(arr)
    coords, index = shapely.get_coordinates(parts, return_index=True)
    if len(coords) == 0:
        return []
    cuts = np.flatnonzero(np.diff(index)) + 1
    return np.split(coords, cuts)


def add_lines(ax, geoms, *, color: str, linewidth: float, zorder: float = 2, **kw) -> LineCollection:
    """Draw lines (or polygon outlines) as one LineCollection: fast for 10⁴–10⁵ segments."""
    coll = LineCollection(line_segments(geoms), colors=color, linewidths=linewidth, zorder=zorder,
                          capstyle="round", joinstyle="round", **kw)
    ax.add_collection(coll)
    return coll


def neighbour_colours(polygons: gpd.GeoSeries, n_colours: int) -> np.ndarray:
    """Greedy colouring: touching polygons get different fill indices (largest degree first)."""
    geoms = polygons.to_numpy()
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a != b
    a, b = a[keep], b[keep]
    degree = np.bincount(a, minlength=len(geoms))
    colour = np.full(len(geoms), -1)
    neighbours = pd.Series(b).groupby(a).apply(np.asarray).to_dict() if len(a) else {}
    for i in np.argsort(-degree, kind="stable"):
        used = {colour[j] for j in neighbours.get(i, ()) if colour[j] >= 0}
        colour[i] = next(c for c in range(len(geoms) + 1) if c not in used)
    return colour % n_colours


def nice_length(span_m: float) -> float:
    """A round scale-bar length in metres, about a fifth of ``span_m`` (1, 2 or 5 × 10^k)."""
    target = max(span_m / 5.0, 1e-6)
    k = math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * 10**k <= target:
            return m * 10**k
    return 10**k


def add_scale_bar(ax, lang: str, *, fontsize: float = 8) -> float:
    """A four-segment black/white scale bar in km (m below 1 km) at the lower right; returns its length."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = nice_length(x1 - x0)
    km = length >= 1000
    unit = t("report.map.km", lang) if km else t("report.map.m", lang)
    scale = 1000.0 if km else 1.0
    h = 0.012 * (y1 - y0)
    right = x1 - 0.04 * (x1 - x0)
    left = right - length
    base = y0 + 0.05 * (y1 - y0)
    ax.add_patch(Rectangle((left - 0.02 * (x1 - x0), base - 0.022 * (y1 - y0)),
                           length + 0.06 * (x1 - x0), h + 0.06 * (y1 - y0),
                           facecolor="white", edgecolor="none", alpha=0.85, zorder=20))
    seg = length / 4
    for i in range(4):
        ax.add_patch(Rectangle((left + i * seg, base), seg, h, facecolor="black" if i % 2 == 0 else "white",
                               edgecolor="black", linewidth=0.8, zorder=21))
    for value, x in ((0, left), (length / 2, left + length / 2), (length, right)):
        label = f"{value / scale:g}" + (f" {unit}" if value == length else "")
        ax.text(x, base + h * 1.6, label, ha="center", va="bottom", fontsize=fontsize, zorder=22)
    return length


def grid_convergence(epsg: int, x: float, y: float) -> float:
    """Angle (degrees, counter-clockwise) from grid north to true north at projected (x, y)."""
    from pyproj import Transformer

    inv = Transformer.from_crs(epsg, 4490, always_xy=True)
    fwd = Transformer.from_crs(4490, epsg, always_xy=True)
    lon, lat = inv.transform(x, y)
    x2, y2 = fwd.transform(lon, lat + 0.01)
    return math.degrees(math.atan2(-(x2 - x), y2 - y))


def add_north_arrow(ax, lang: str, *, convergence_deg: float = 0.0) -> None:
    """A north arrow at the upper right, pointing to true north (grid convergence applied)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    size = 0.07 * (y1 - y0)
    cx, cy = x1 - 0.06 * (x1 - x0), y1 - 0.05 * (y1 - y0) - size
    a = math.radians(convergence_deg)
    dx, dy = -math.sin(a) * size, math.cos(a) * size
    ax.add_patch(FancyArrow(cx, cy, dx, dy, width=size * 0.12, head_width=size * 0.42,
                            head_length=size * 0.45, length_includes_head=True, color="black", zorder=22))
    ax.text(cx + dx * 1.22, cy + dy * 1.22, t("report.map.north", lang), ha="center", va="center",
            fontsize=12, zorder=22,
            path_effects=[patheffects.withStroke(linewidth=3, foreground="white")])


def add_notice(fig, lang: str, synthetic: bool, *, watermark_ax=None) -> None:
    """The synthetic-data notice under the map and a faint watermark across it (synthetic only)."""
    if not synthetic:
        return
    w, h = fig.get_size_inches()
    fig.text(0.5, 0.22 / h, t("common.synthetic_notice", lang), ha="center", va="center",
             fontsize=7.5 if lang == "zh" else 6.8, color="#b00020", wrap=True,
             family=_style()["font.sans-serif"])
    if watermark_ax is not None:
        watermark_ax.text(0.5, 0.5, t("report.synthetic_watermark", lang), transform=watermark_ax.transAxes,
                          ha="center", va="center", rotation=30, fontsize=54, color="#b00020",
                          alpha=0.10, zorder=30, family=_style()["font.sans-serif"])


def _road_label(cls: str, lang: str) -> str:
    try:
        return t(f"report.road.{cls}", lang)
    except KeyError:
        return cls


def add_roads(ax, roads: gpd.GeoDataFrame, lang: str, *, alpha: float = 1.0, zorder: float = 4) -> list:
    """Draw roads by class (widths and colours of ``ROAD_STYLE``, minor roads under major ones);
    returns the legend handles, major roads first. ``roads`` is already in the map's CRS."""
    cls = roads["class"].astype("string").fillna("") if "class" in roads else pd.Series("", index=roads.index)
    known = list(road_classes().sort_values("rank", ascending=False)["class"])
    handles = []
    for c in known + sorted(set(cls.unique()) - set(known)):
        sel = (cls == c).to_numpy()
        if not sel.any():
            continue
        colour, width, z = ROAD_STYLE.get(c, OTHER_ROAD)
        add_lines(ax, roads.geometry[sel], color=colour, linewidth=width, zorder=zorder + z / 10, alpha=alpha)
        handles.append(Line2D([], [], color=colour, lw=max(width, 0.8), alpha=alpha, label=_road_label(c, lang)))
    return handles[::-1]


# -- the maps ----------------------------------------------------------------------------------------
def overview_map(layers: Mapping[str, gpd.GeoDataFrame | None], *, epsg: int, lang: str = "zh",
                 title: str = "", synthetic: bool = False, width_in: float = 10.0,
                 subtitle: str = "") -> plt.Figure:
    """The county overview map as a matplotlib figure.

    Townships filled and named, villages outlined, rivers, roads by class, settlements by level,
    scale bar, north arrow, legend and (synthetic data) the notice.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame or None
        Layer name (``county``, ``township``, ``village``, ``road``, ``river``, ``settlement``)
        → frame in any CRS; missing layers are skipped.
    epsg : int
        The projected CRS to draw in (``ws.meta.compute_epsg``).
    lang : {"zh", "en"}, default "zh"
        Language of the legend and labels.
    title : str, default ""
        Title above the map.
    synthetic : bool, default False
        Print the synthetic-data notice and watermark.
    width_in : float, default 10.0
        Figure width in inches.
    subtitle : str, default ""
        A line under the title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; its first axes is the map (in ``epsg`` metres), to draw more on.
        :func:`pianqu.report.maps.to_png` renders it with the CJK font.
    """
    proj = {k: v.to_crs(epsg) for k, v in layers.items() if v is not None and len(v)}
    frame = proj.get("county", proj.get("township"))
    if frame is None:
        raise UserValueError("report.error.no_boundary")
    fig, ax = map_figure(tuple(frame.total_bounds), title=title, width_in=width_in, subtitle=subtitle)
    handles: list = []
    with plt.rc_context(_style()):
        tw = proj.get("township")
        if tw is not None:
            fills = np.array(TOWNSHIP_FILLS)[neighbour_colours(tw.geometry, len(TOWNSHIP_FILLS))]
            tw.plot(ax=ax, color=fills, edgecolor="none", zorder=1)
        if "village" in proj:
            add_lines(ax, proj["village"].geometry, color="#b9b9b9", linewidth=0.3, zorder=2,
                      linestyles=(0, (3, 2)))
            handles.append(Line2D([], [], color="#b9b9b9", lw=0.6, ls=(0, (3, 2)),
                                  label=t("report.legend.village_boundary", lang)))
        if "river" in proj:
            rv = proj["river"]
            order = pd.to_numeric(rv.get("order"), errors="coerce") if "order" in rv else None
            widths = RIVER_STYLE[1] * (1 + 0.5 * (order.fillna(1).clip(1, 5).to_numpy() - 1)) \
                if order is not None else RIVER_STYLE[1]
            coll = LineCollection(line_segments(rv.geometry), colors=RIVER_STYLE[0], zorder=3,
                                  linewidths=_per_part(rv.geometry, widths))
            ax.add_collection(coll)
            handles.append(Line2D([], [], color=RIVER_STYLE[0], lw=1.5, label=t("report.legend.river", lang)))
        if "road" in proj:
            handles += add_roads(ax, proj["road"], lang)
        if tw is not None:
            add_lines(ax, tw.geometry, color="#404040", linewidth=1.0, zorder=6)
            handles.insert(0, Patch(facecolor=TOWNSHIP_FILLS[0], edgecolor="#404040",
                                    label=t("report.legend.township", lang)))
        if "county" in proj:
            add_lines(ax, proj["county"].geometry, color="#202020", linewidth=2.2, zorder=6.5)
            handles.insert(0, Line2D([], [], color="#202020", lw=2.2, label=t("report.legend.county", lang)))
        if "settlement" in proj:
            handles += _draw_settlements(ax, proj["settlement"], lang)
        if tw is not None and "name" in tw:
            _label_townships(ax, tw, proj.get("settlement"))
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=True, framealpha=0.9,
                  title=t("report.legend.title", lang), title_fontsize=9).set_zorder(25)
        add_scale_bar(ax, lang)
        cx, cy = np.mean(ax.get_xlim()), np.mean(ax.get_ylim())
        add_north_arrow(ax, lang, convergence_deg=grid_convergence(epsg, cx, cy))
        add_notice(fig, lang, synthetic, watermark_ax=ax)
    return fig


def label_points(townships: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Where to write each township's name: its seat (county or town seat inside it), else a
    point on its surface. Returns the points (x, y) and whether each one is a seat."""
    geoms = townships.geometry.to_numpy()
    xy = shapely.get_coordinates(shapely.point_on_surface(geoms))
    at_seat = np.zeros(len(geoms), dtype=bool)
    if settlements is not None and len(settlements) and "level" in settlements:
        seats = settlements[settlements["level"].isin(["county_seat", "town_seat"])]
        seats = seats[seats.geometry.geom_type == "Point"]
        if len(seats):
            hit_seat, hit_tw = shapely.STRtree(geoms).query(seats.geometry.to_numpy(), predicate="within")
            first = np.unique(hit_tw, return_index=True)[1]
            tw_idx, seat_idx = hit_tw[first], hit_seat[first]
            xy[tw_idx] = shapely.get_coordinates(seats.geometry.to_numpy()[seat_idx])
            at_seat[tw_idx] = True
    return xy, at_seat


def _label_townships(ax, tw: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame | None) -> None:
    xy, at_seat = label_points(tw, settlements)
    halo = [patheffects.withStroke(linewidth=2.6, foreground="white")]
    for (x, y), seat, name in zip(xy, at_seat, tw["name"].astype(str)):
        ax.annotate(name, (x, y), xytext=(0, 7 if seat else 0), textcoords="offset points",
                    ha="center", va="bottom" if seat else "center", fontsize=9.5, zorder=12,
                    color="#1a1a1a", path_effects=halo)


def _per_part(geoms: gpd.GeoSeries, values) -> np.ndarray | float:
    """Repeat a per-feature value for every line part that :func:`line_segments` yields."""
    if np.isscalar(values):
        return values
    arr = geoms.to_numpy()
    ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    return np.repeat(np.asarray(values)[ok], shapely.get_num_geometries(arr[ok]))


def _draw_settlements(ax, st: gpd.GeoDataFrame, lang: str) -> list:
    level = st["level"].astype("string").fillna("") if "level" in st else pd.Series("", index=st.index)
    xy = shapely.get_coordinates(st.geometry.to_numpy())
    if len(xy) != len(st):  # empty or multi points: keep the first coordinate of each
        xy = np.array([[g.x, g.y] if g is not None and not g.is_empty and g.geom_type == "Point"
                       else [np.nan, np.nan] for g in st.geometry])
    styles = [  # level, marker, size, face, edge, z
        ("village_seat", "o", 5, "#555555", "none", 7),
        ("town_seat", "o", 36, "white", "black", 8),
        ("county_seat", "*", 260, "#d7191c", "black", 9),
    ]
    handles = []
    for lvl, marker, size, face, edge, z in styles:
        sel = (level == lvl).to_numpy()
        if not sel.any():
            continue
        ax.scatter(xy[sel, 0], xy[sel, 1], s=size, marker=marker, facecolors=face, edgecolors=edge,
                   linewidths=0.8, zorder=z)
        handles.append(Line2D([], [], ls="", marker=marker, markersize=math.sqrt(size) * 0.9,
                              markerfacecolor=face, markeredgecolor=edge if edge != "none" else face,
                              label=t(f"report.legend.{lvl}", lang)))
    return handles[::-1]


def landuse_chart(structure: pd.DataFrame, *, lang: str = "zh", title: str = "",
                  synthetic: bool = False, width_in: float = 10.0) -> plt.Figure:
    """Horizontal bars of area (ha) by first-level class, labelled with hectares and share."""
    n = max(len(structure), 1)
    height_in = 1.6 + 0.38 * n
    with plt.rc_context(_style()):
        fig = plt.figure(figsize=(width_in, height_in))
        ax = fig.add_axes((0.26, 1.0 / height_in, 0.64, 1 - 1.7 / height_in))
        y = np.arange(len(structure))[::-1]
        colours = [CLASS_COLOURS.get(c, "#888888") for c in structure["code"]]
        ax.barh(y, structure["area_ha"], color=colours, edgecolor="#444444", linewidth=0.6)
        ax.set_yticks(y, structure["label"], fontsize=9)
        ax.set_xlabel(t("report.chart.area_ha", lang), fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        top = float(structure["area_ha"].max()) if len(structure) else 1.0
        ax.set_xlim(0, top * 1.28)
        ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        for yi, ha, share in zip(y, structure["area_ha"], structure["share"]):
            ax.text(ha + top * 0.01, yi, f"{ha:,.0f}（{share:.1%}）" if lang == "zh" else f"{ha:,.0f} ({share:.1%})",
                    va="center", fontsize=8)
        fig.text(0.5, 1 - 0.32 / height_in, title, ha="center", va="center", fontsize=13)
        add_notice(fig, lang, synthetic, watermark_ax=ax)
    return fig
