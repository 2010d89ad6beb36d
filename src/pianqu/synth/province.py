"""Many synthetic counties at once, as GeoParquet partitioned by county (for scale tests).

Layout on disk::

    <out_dir>/manifest.json
    <out_dir>/<layer>/county_code=<code>/part-0.parquet

The partition key ``county_code`` is the hive partition of every layer (the township layer's
own ``county_code`` field is carried by it rather than repeated in its files); read a layer
across counties with :func:`read_layer` (or any hive-aware reader with the key as text).

Each county is built and written before the next starts, so memory stays bounded by one
county. Counties sit in disjoint regions of the province layout (``layout.province_layout``),
so their polygons never overlap. Every file carries the synthetic notice in its metadata
(key ``pianqu``), and so does the manifest.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pianqu import divisions
from pianqu.errors import UserValueError
from pianqu.i18n import t
from pianqu.progress import task
from pianqu.synth.county import GENERATOR_VERSION, SYNTH_LAYERS, synthesize_county
from pianqu.schema import LAYERS

MANIFEST = "manifest.json"
PARTITION_KEY = "county_code"


def _notice() -> dict[str, str]:
    return {"synthetic": "true", "generator": "pianqu.synth", "version": GENERATOR_VERSION,
            "notice_zh": t("common.synthetic_notice", "zh"), "notice_en": t("common.synthetic_notice", "en")}


def partition_path(out_dir: str | Path, layer: str, county_code: str) -> Path:
    """Where one county's part of one layer is stored."""
    return Path(out_dir) / layer / f"{PARTITION_KEY}={county_code}" / "part-0.parquet"


def _write_table(frame: gpd.GeoDataFrame | pd.DataFrame, path: Path, meta: dict) -> None:
    """Write GeoParquet (or plain Parquet for tables) with the pianqu metadata, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if isinstance(frame, gpd.GeoDataFrame):
        try:
            from geopandas.io.arrow import _geopandas_to_arrow

            table = _geopandas_to_arrow(frame, index=False)
        except (ImportError, TypeError):  # pragma: no cover - older/newer geopandas: no custom metadata
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, path)
            return
    else:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    md = dict(table.schema.metadata or {})
    md[b"pianqu"] = json.dumps(meta, ensure_ascii=False).encode()
    pq.write_table(table.replace_schema_metadata(md), tmp)
    os.replace(tmp, path)


def _build_one(code: str, out_dir: str, seed: int) -> dict:
    """Build and write one county; returns its manifest entry (runs in a worker process too)."""
    t0 = time.perf_counter()
    layers = synthesize_county(code, seed)
    meta = {**_notice(), "county_code": code, "seed": int(seed)}
    counts = {}
    for name in SYNTH_LAYERS:
        frame = layers[name]
        counts[name] = int(len(frame))
        if PARTITION_KEY in frame.columns:  # carried by the partition key (township.county_code)
            frame = frame.drop(columns=[PARTITION_KEY])
        _write_table(frame, partition_path(out_dir, name, code), {**meta, "layer": name})
    county = layers["county"]
    bounds = [float(v) for v in county.total_bounds]
    name = str(county["name"].iloc[0])
    del layers
    gc.collect()
    return {"name": name, "counts": counts, "bounds": bounds, "seconds": round(time.perf_counter() - t0, 2)}


def _write_manifest(out: Path, manifest: dict) -> None:
    tmp = out / f".{MANIFEST}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, out / MANIFEST)


def read_layer(out_dir: str | Path, layer: str, counties: list[str] | None = None):
    """One layer of a province build (all counties, or ``counties``) as one frame, with the
    ``county_code`` partition key as text and the schema's column order restored."""
    import pyarrow.dataset as ds


    part = ds.partitioning(pa.schema([(PARTITION_KEY, pa.string())]), flavor="hive")
    kwargs = {"partitioning": part}
    if counties:
        kwargs["filters"] = [(PARTITION_KEY, "in", [str(c) for c in counties])]
    path = Path(out_dir) / layer
    spec = LAYERS[layer]
    if spec.geometry is None:
        frame = pd.read_parquet(path, **kwargs)
    else:
        frame = gpd.read_parquet(path, **kwargs)
    frame[PARTITION_KEY] = frame[PARTITION_KEY].astype(str)
    cols = spec.field_names + ([] if PARTITION_KEY in spec.field_names else [PARTITION_KEY])
    if spec.geometry is not None:
        cols.append(frame.geometry.name)
    return frame[cols]


def read_manifest(out_dir: str | Path) -> dict:
    """The manifest of a province build."""
    return json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))


def synthesize_province(out_dir: str | Path, counties: list[str] | None = None, seed: int = 1, *,
                        workers: int = 1) -> Path:
    """Build ``counties`` (default: all 183) into ``out_dir`` as GeoParquet partitioned by county,
    one county at a time (``workers`` > 1 builds that many counties in parallel processes, each
    holding one county). Counties already in an existing build are rebuilt and replaced; the
    manifest lists every county present. Returns ``out_dir``."""
    out = Path(out_dir)
    known = set(divisions.counties()["code"])
    codes = list(dict.fromkeys(str(c).strip() for c in counties)) if counties else list(divisions.counties()["code"])
    bad = [c for c in codes if c not in known]
    if bad:
        raise UserValueError("synth.unknown_counties", codes=", ".join(bad))
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise UserValueError("synth.out_dir_not_empty", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out) if (out / MANIFEST).exists() else {
        **_notice(), "crs": "EPSG:4490", "partitioning": f"hive ({PARTITION_KEY})", "layers": SYNTH_LAYERS,
        "counties": {}}
    manifest.update({"seed": int(seed), "updated": _dt.datetime.now().astimezone().isoformat(timespec="seconds")})
    with task(t("synth.progress.province", n=len(codes)), total=len(codes)) as advance:
        if workers <= 1:
            for code in codes:
                manifest["counties"][code] = _build_one(code, str(out), seed)
                _write_manifest(out, manifest)
                advance()
        else:
            with ProcessPoolExecutor(max_workers=int(workers)) as pool:
                futures = {code: pool.submit(_build_one, code, str(out), seed) for code in codes}
                for code in codes:
                    manifest["counties"][code] = futures[code].result()
                    _write_manifest(out, manifest)
                    advance()
    manifest["counties"] = dict(sorted(manifest["counties"].items()))
    _write_manifest(out, manifest)
    return out
