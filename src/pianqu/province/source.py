"""Where a province run reads its counties from, by path or URL (fsspec):

- a folder of county workspaces, ``<county code>.gpkg`` each (``pianqu.toml`` beside them is
  copied with each);
- a province GeoParquet set as ``pianqu synth --province`` writes it
  (``<root>/manifest.json``, ``<root>/<layer>/county_code=<code>/part-0.parquet``);
- a PostgreSQL + PostGIS database with one schema ``c<code>`` per county (``pianqu db push``).

A file source is *materialised* into ``<out>/workspaces/<code>.gpkg`` by the county's first step
that runs (the source is never written); a database source is worked on in place, in its schema
(the shared store). The input hash of a county is the SHA-256 of its source bytes (the ``.gpkg``,
or every parquet part of the county, in layer order), or of the schema's layer revisions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from pianqu.errors import UserValueError

CODE = re.compile(r"^\d{6}$")
CHUNK = 1 << 22
MANIFEST = "manifest.json"  # of a synth --province set (pianqu.synth.province.MANIFEST)
PARTITION_KEY = "county_code"


def _fs(url: str):
    from fsspec.core import url_to_fs

    return url_to_fs(str(url))


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


@dataclass(frozen=True)
class Source:
    """A province source; ``kind`` is ``folder``, ``parquet`` or ``postgis``. Picklable (it
    travels to the workers): it holds only the URL."""

    url: str
    kind: str

    @classmethod
    def open(cls, url: str | Path) -> "Source":
        """Recognise the kind of ``url``; refuses one that is none of the three."""
        url = str(url)
        if url.startswith(("postgresql://", "postgres://")):
            return cls(url, "postgis")
        fs, root = _fs(url)
        if not fs.isdir(root):
            raise UserValueError("province.error.source", path=url)
        if fs.exists(_join(root, MANIFEST)):
            return cls(url, "parquet")
        if any(CODE.match(Path(p).stem) for p in fs.glob(_join(root, "*.gpkg"))):
            return cls(url, "folder")
        raise UserValueError("province.error.source", path=url)

    # -- listing -------------------------------------------------------------------------
    def counties(self) -> list[str]:
        """The county codes the source holds, sorted."""
        if self.kind == "postgis":
            return sorted(s[1:] for s in _schemas(self.url))
        fs, root = _fs(self.url)
        if self.kind == "parquet":
            with fs.open(_join(root, MANIFEST), "rb") as fh:
                return sorted(json.load(fh)["counties"])
        return sorted(Path(p).stem for p in fs.glob(_join(root, "*.gpkg")) if CODE.match(Path(p).stem))

    # -- hashing -------------------------------------------------------------------------
    def input_hash(self, code: str) -> str:
        """SHA-256 of the county's input (see the module docstring)."""
        h = hashlib.sha256(f"{self.kind}:{code}".encode())
        if self.kind == "postgis":
            from pianqu.workspace import Workspace

            ws = Workspace.open(self.workspace_url(code, None))
            h.update(json.dumps(sorted(ws.revisions().items())).encode())
            return h.hexdigest()
        fs, _ = _fs(self.url)
        for path in self._files(code):
            with fs.open(path, "rb") as fh:
                while block := fh.read(CHUNK):
                    h.update(block)
        return h.hexdigest()

    def _files(self, code: str) -> list[str]:
        fs, root = _fs(self.url)
        if self.kind == "folder":
            files = [_join(root, f"{code}.gpkg")]
            toml = _join(root, "pianqu.toml")
            return files + ([toml] if fs.exists(toml) else [])
        return [_join(root, layer, f"{PARTITION_KEY}={code}", "part-0.parquet") for layer in self._layers()]

    def _layers(self) -> list[str]:
        fs, root = _fs(self.url)
        with fs.open(_join(root, MANIFEST), "rb") as fh:
            return list(json.load(fh)["layers"])

    # -- the workspace a county's steps run on -------------------------------------------
    def workspace_url(self, code: str, out: str | Path | None) -> str:
        """The workspace of ``code``: the schema itself for a database, else the materialised
        ``<out>/workspaces/<code>.gpkg``."""
        if self.kind == "postgis":
            from pianqu.store.postgis import with_schema

            return with_schema(self.url, f"c{code}")
        return str(Path(out) / "workspaces" / f"{code}.gpkg")

    def materialise(self, code: str, out: str | Path, input_hash: str) -> str:
        """Make the county's workspace current for ``input_hash`` (copied or built from the
        source unless it already is); returns its URL. A database source needs nothing."""
        target = self.workspace_url(code, out)
        if self.kind == "postgis":
            return target
        path = Path(target)
        stamp = path.with_name(f"{code}.source")
        if path.exists() and stamp.exists() and stamp.read_text() == input_hash:
            return target
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp.unlink(missing_ok=True)
        tmp = path.with_name(f".{code}.tmp-{os.getpid()}.gpkg")
        tmp.unlink(missing_ok=True)
        try:
            if self.kind == "folder":
                fs, _ = _fs(self.url)
                fs.get(self._files(code)[0], str(tmp))
            else:
                self._build_from_parquet(code, tmp)
            for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                extra.unlink(missing_ok=True)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        if self.kind == "folder":  # the configuration beside the workspaces, per county folder
            fs, root = _fs(self.url)
            toml = _join(root, "pianqu.toml")
            if fs.exists(toml):
                fs.get(toml, str(path.parent / "pianqu.toml"))
        stamp.write_text(input_hash)
        return target

    def read_county_layers(self, code: str) -> dict:
        """Every layer of one county of a parquet set (see :meth:`read_county_layers_one`)."""
        return {layer: self.read_county_layers_one(code, layer) for layer in self._layers()}

    def read_county_layers_one(self, code: str, layer: str):
        """One layer of one county of a parquet set, with the partition key restored and the
        schema's column order (what :func:`pianqu.synth.province.read_layer` gives, over fsspec);
        None when the set lacks the layer."""
        import geopandas as gpd
        import pandas as pd

        from pianqu.schema import LAYERS

        if layer not in self._layers():
            return None
        fs, root = _fs(self.url)
        path = _join(root, layer, f"{PARTITION_KEY}={code}", "part-0.parquet")
        spec = LAYERS[layer]
        with fs.open(path, "rb") as fh:
            frame = pd.read_parquet(fh) if spec.geometry is None else gpd.read_parquet(fh)
        if PARTITION_KEY in spec.field_names and PARTITION_KEY not in frame.columns:
            frame[PARTITION_KEY] = code
        geom = frame.geometry.name if spec.geometry is not None else None
        cols = [c for c in spec.field_names if c in frame.columns]
        cols += [c for c in frame.columns if c not in cols and c != geom]
        return frame[cols + ([geom] if geom else [])]

    def _build_from_parquet(self, code: str, target: Path) -> None:
        from pianqu.synth import write_county

        fs, root = _fs(self.url)
        with fs.open(_join(root, MANIFEST), "rb") as fh:
            seed = int(json.load(fh).get("seed", 1))
        write_county(code, target, seed=seed, overwrite=True, layers=self.read_county_layers(code))


def _schemas(url: str) -> list[str]:
    """The county schemas (``c`` + six digits) of a database that hold a pianqu workspace."""
    import psycopg

    from pianqu.store.postgis import split_url

    dsn = split_url(url)[0]
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT table_schema FROM information_schema.tables WHERE table_name = 'pianqu_meta'"
                            ).fetchall()
    return [r[0] for r in rows if re.match(r"^c\d{6}$", r[0])]


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a local folder (tests and benchmarks build a source once and copy it per run)."""
    shutil.copytree(src, dst, dirs_exist_ok=True)
