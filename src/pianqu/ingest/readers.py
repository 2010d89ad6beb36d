"""Open any source a planner brings and list its layers; read one layer into a frame.

Sources: a File GDB folder, Shapefile (text in the encoding its ``.cpg`` names, or detected as
UTF-8 / GBK when it has none), GeoPackage, GeoJSON, FlatGeobuf, OpenStreetMap PBF, CSV (UTF-8
with or without BOM, or GBK) and XLSX (one layer per sheet). A plain folder stands for the
supported files inside it. Sources are only ever opened for reading.
"""

from __future__ import annotations

import codecs
import csv
import io
import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS

from pianqu.findings import Finding
from pianqu.errors import Phrase, check_input
from pianqu.ingest.errors import IngestError
from pianqu.ingest.mapping import value_table

VECTOR_SUFFIXES = {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON",
                   ".fgb": "FlatGeobuf", ".pbf": "OSM", ".gdb": "OpenFileGDB"}
TABLE_SUFFIXES = {".csv": "CSV", ".txt": "CSV", ".xlsx": "XLSX", ".xlsm": "XLSX"}
TEXT_CODECS = ("utf-8", "gbk", "gb18030")  # tried in this order when nothing says otherwise
_GDAL_ENCODING = {"utf-8": "UTF-8", "gbk": "CP936", "gb18030": "GB18030", "latin-1": "ISO-8859-1",
                  "cp1252": "CP1252", "big5": "BIG5"}


@dataclass(frozen=True)
class SourceLayer:
    """One layer of one source, as found on disk (nothing read but its description)."""

    path: Path  # the file, or the .gdb folder
    layer: str  # layer name inside (Shapefile/CSV: the file stem; XLSX: the sheet)
    kind: str  # "vector" | "table"
    driver: str
    fields: tuple[str, ...]
    geometry_type: str | None = None
    count: int = -1
    crs: CRS | None = field(default=None, compare=False)
    bounds: tuple[float, float, float, float] | None = None
    encoding: str | None = None  # Python codec used for text (Shapefile, CSV)
    repair_text: bool = False  # Shapefile text cut mid-character: read bytes as Latin-1, decode here
    header_row: int = 0  # XLSX/CSV: the row holding the column names
    notes: tuple[Finding, ...] = field(default=(), compare=False)

    @property
    def label(self) -> str:
        """``file`` or ``file:layer`` for messages."""
        single = self.path.suffix.lower() in (".shp", ".csv", ".txt", ".geojson", ".json", ".fgb")
        return str(self.path) if single else f"{self.path}:{self.layer}"


def expand(source: str | Path) -> list[Path]:
    """The files a source stands for: itself, or the supported files inside a plain folder."""
    path = Path(source)
    if not path.exists():
        raise IngestError("ingest.not_found", source=str(path))
    if _suffix(path) == ".gdb" and not path.is_dir():
        raise IngestError("ingest.gdb_not_folder", source=str(path))
    if path.is_dir() and path.suffix.lower() != ".gdb":
        check_input(path, folder=True)  # a folder the user may not list
        found: list[Path] = []
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_dir() and child.suffix.lower() == ".gdb":
                found.append(child)
            elif child.is_dir():
                found.extend(expand(child))
            elif _suffix(child) in VECTOR_SUFFIXES or _suffix(child) in TABLE_SUFFIXES:
                found.append(child)
        if not found:
            raise IngestError("ingest.empty_folder", source=str(path))
        for child in found:
            _check_source(child)
        return found
    _check_source(path)
    if _suffix(path) == ".zip":
        raise IngestError("ingest.zip", source=str(path))
    if _suffix(path) not in VECTOR_SUFFIXES and _suffix(path) not in TABLE_SUFFIXES:
        raise IngestError("ingest.unsupported_format", source=str(path), suffix=path.suffix or Phrase("ingest.problem.no_suffix"))
    return [path]


def _check_source(path: Path) -> None:
    """A source file (and a Shapefile's sidecar files) checked by ``stat`` before anything opens
    it: a FIFO would block the import forever, a device never ends, an empty or unreadable file
    would fail later with a library's message (:func:`pianqu.errors.check_input`)."""
    check_input(path, folder=_suffix(path) == ".gdb")
    if _suffix(path) == ".shp":
        for sidecar in (".dbf", ".shx", ".prj", ".cpg", ".DBF", ".SHX", ".PRJ", ".CPG"):
            other = path.with_suffix(sidecar)
            if other.exists():  # an empty .prj/.cpg says nothing; an empty .dbf/.shx is broken
                check_input(other, empty_ok=sidecar.lower() in (".prj", ".cpg"))


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def list_layers(source: str | Path, *, encoding: str | None = None) -> list[SourceLayer]:
    """Every layer of every file ``source`` stands for."""
    out: list[SourceLayer] = []
    for path in expand(source):
        if _suffix(path) in TABLE_SUFFIXES:
            out.extend(_table_layers(path, encoding))
        else:
            out.extend(_vector_layers(path, encoding))
    return out


# ---- vector sources ----------------------------------------------------------------------------------

def _vector_layers(path: Path, encoding: str | None) -> list[SourceLayer]:
    driver = VECTOR_SUFFIXES[_suffix(path)]
    notes: tuple[Finding, ...] = ()
    codec = None
    repair = False
    if driver == "ESRI Shapefile":
        codec, found, repair = shapefile_encoding(path, encoding)
        notes = tuple(found)
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio's DataSourceError and GDAL errors
        raise IngestError("ingest.unreadable", source=str(path), reason=_short(exc)) from exc
    layers = []
    for name in names:
        try:
            info = pyogrio.read_info(path, layer=name, encoding=_gdal_encoding("latin-1" if repair else codec),
                                     force_total_bounds=driver != "OSM", force_feature_count=driver != "OSM")
        except Exception as exc:
            raise IngestError("ingest.unreadable", source=str(path), source_layer=name,
                              reason=_short(exc)) from exc
        crs = None
        if info.get("crs"):
            try:
                crs = CRS.from_user_input(info["crs"])
            except Exception:  # a .prj pyproj cannot parse: treated as unknown, reported later
                crs = None
        bounds = info.get("total_bounds")
        bounds = tuple(float(b) for b in bounds) if bounds is not None and np.all(np.isfinite(bounds)) else None
        fields = tuple(_repaired(str(f), codec) if repair else str(f) for f in info["fields"])
        layers.append(SourceLayer(path, name, "vector", driver, fields, info.get("geometry_type"),
                                  int(info.get("features", -1)), crs, bounds, codec, repair, 0, notes))
    return layers


def read_layer(src: SourceLayer, columns: Sequence[str] | None = None,
               read_geometry: bool = True) -> pd.DataFrame:
    """The features of one layer: a GeoDataFrame in its own CRS (or a DataFrame for tables)."""
    if src.kind == "table":
        frame = _read_table(src)
        return frame if columns is None else frame[list(columns)]
    kw = {}
    if src.driver == "OSM" and "highway" in src.fields:
        kw["where"] = "highway IS NOT NULL"
    if src.repair_text and columns is not None:
        raw_names = {_repaired(n, src.encoding): n for n in _latin1_fields(src)}
        columns = [raw_names.get(c, c) for c in columns]
    try:
        frame = pyogrio.read_dataframe(src.path, layer=src.layer, columns=columns,
                                       read_geometry=read_geometry and src.geometry_type is not None,
                                       encoding=_gdal_encoding("latin-1" if src.repair_text else src.encoding),
                                       use_arrow=True, **kw)
    except Exception as exc:
        raise IngestError("ingest.unreadable", source=str(src.path), source_layer=src.layer,
                          reason=_short(exc)) from exc
    if src.repair_text:
        geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
        for col in frame.columns:
            if col != geom and (frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col].dtype)):
                frame[col] = frame[col].map(lambda v: _repaired(v, src.encoding), na_action="ignore")
        frame = frame.rename(columns={c: _repaired(c, src.encoding) for c in frame.columns if c != geom})
    return frame


def _latin1_fields(src: SourceLayer) -> list[str]:
    return [str(f) for f in pyogrio.read_info(src.path, layer=src.layer, encoding="ISO-8859-1")["fields"]]


def _repaired(text: str, codec: str | None) -> str:
    """Text GDAL read as Latin-1, decoded with the real codec; a character cut at the end is dropped."""
    return text.encode("latin-1").decode(codec or "utf-8", errors="ignore")


def _gdal_encoding(codec: str | None) -> str | None:
    return None if codec is None else _GDAL_ENCODING.get(codec, codec.upper())


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# ---- Shapefile text encoding ------------------------------------------------------------------------

def shapefile_encoding(shp: Path, override: str | None = None) -> tuple[str, list[Finding], bool]:
    """The codec of a Shapefile's text: ``override``, else its ``.cpg``, else detected (UTF-8, GBK).

    Every text value and field name of the ``.dbf`` is decoded with the chosen codec first, so a
    wrong ``.cpg`` is caught (and reported) instead of importing garbled names. The third value
    says whether some text was cut mid-character by its writer (then it is decoded here, since
    GDAL's own decoding would fail on it).
    """
    dbf = _sidecar(shp, ".dbf")
    if dbf is None:
        raise IngestError("ingest.missing_dbf", source=str(shp))
    if _sidecar(shp, ".shx") is None:
        raise IngestError("ingest.missing_shx", source=str(shp))
    table = _DbfText(dbf)
    codec, notes = _choose_codec(table, shp, override)
    repair = not table.ascii and not table.strict(codec)
    if repair:
        notes.append(Finding("info", "ingest.text_truncated", params={"codec": codec}, source=str(shp)))
    return codec, notes, repair


def _choose_codec(table: "_DbfText", shp: Path, override: str | None) -> tuple[str, list[Finding]]:
    if override:
        codec = _codec(override)
        if codec is None:
            raise IngestError("ingest.bad_encoding_option", source=str(shp), encoding=override)
        table.check(codec, source=str(shp), tried=override)
        return codec, []
    cpg = _sidecar(shp, ".cpg")
    declared = None
    if cpg is not None:
        text = cpg.read_bytes().decode("ascii", errors="replace").strip()
        declared = _codec(text)
        if declared is None:
            notes = [Finding("warning", "ingest.cpg_unknown", feature="", field="",
                             params={"cpg": text}, source=str(shp))]
        else:
            # a single-byte code page "decodes" any bytes: for Chinese text it only garbles, so
            # UTF-8 and GBK are tried first when the .cpg names one
            single_byte = codecs.lookup(declared).name in ("latin-1", "iso8859-1", "cp1252")
            if table.ok(declared) and (table.ascii or not single_byte):
                return declared, []
            notes = []
        for codec in TEXT_CODECS + ((declared,) if declared else ()):
            if codec == declared and table.ok(codec):
                return codec, notes
            if codec != declared and table.ok(codec):
                notes.append(Finding("warning", "ingest.cpg_wrong", params={"cpg": text, "codec": codec},
                                     source=str(shp)))
                return codec, notes
        table.check(declared or "utf-8", source=str(shp), tried=f".cpg {text}, " + "/".join(TEXT_CODECS))
    ldid = _codec_from_ldid(table.ldid)
    for codec in ([ldid] if ldid else []) + [c for c in TEXT_CODECS if c != ldid]:
        if table.ok(codec):
            notes = [] if table.ascii else [Finding("info", "ingest.encoding_detected",
                                                    params={"codec": codec}, source=str(shp))]
            return codec, notes
    table.check("gbk", source=str(shp), tried="/".join(TEXT_CODECS))
    raise AssertionError("unreachable")  # check() raised


def _sidecar(shp: Path, ext: str) -> Path | None:
    for candidate in (shp.with_suffix(ext), shp.with_suffix(ext.upper())):
        if candidate.exists():
            return candidate
    return None


def _codec(name: str) -> str | None:
    key = name.strip().lower()
    table = value_table("cpg")["codecs"]
    if key in table:
        return table[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def _codec_from_ldid(ldid: int) -> str | None:
    return value_table("dbf_ldid")["codecs"].get(str(ldid))


class _DbfText:
    """The raw bytes of a .dbf's field names and text fields, for decoding checks."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as fh:
            head = fh.read(32)
            if len(head) < 32:
                raise IngestError("ingest.unreadable", source=str(path), reason=Phrase("ingest.problem.dbf_truncated"))
            self.ldid = head[29]
            n, header_len, record_len = struct.unpack("<IHH", head[4:12])
            desc = fh.read(max(header_len - 32, 0))
        self.fields: list[tuple[bytes, int, int]] = []  # (raw name, offset, length) of text fields
        self.names: list[bytes] = []
        offset = 1  # the deletion flag
        for i in range(0, len(desc) - 31, 32):
            if desc[i] == 0x0D:
                break
            raw = desc[i:i + 11].split(b"\x00", 1)[0]
            ftype = chr(desc[i + 11])
            length = desc[i + 16]
            self.names.append(raw)
            if ftype == "C":
                self.fields.append((raw, offset, length))
            offset += length
        self.n, self.header_len, self.record_len = n, header_len, record_len
        self._columns: dict[bytes, np.ndarray] | None = None

    def _load(self) -> dict[bytes, np.ndarray]:
        if self._columns is None:
            cols: dict[bytes, np.ndarray] = {}
            size = self.n * self.record_len
            if size and self.fields:
                with open(self.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    end = min(self.header_len + size, len(mm))
                    usable = (end - self.header_len) // self.record_len
                    rec = np.frombuffer(mm[self.header_len:self.header_len + usable * self.record_len],
                                        dtype=np.uint8).reshape(usable, self.record_len)
                    for raw, off, length in self.fields:
                        col = rec[:, off:off + length]
                        if (col >= 0x80).any():
                            cols[raw] = np.ascontiguousarray(col)
            self._columns = cols
        return self._columns

    @property
    def ascii(self) -> bool:
        return not self._load() and all(max(n, default=0) < 0x80 for n in self.names)

    def _first_error(self, codec: str) -> tuple[int, str] | None:
        """(feature index, field) of the first value ``codec`` cannot decode; -1 for a field name."""
        for raw in self.names:
            if not _decodes(raw, codec):
                return -1, raw.decode("latin-1")
        for raw, col in self._load().items():
            length = col.shape[1]
            try:
                col.tobytes().decode(codec)
            except UnicodeDecodeError as exc:
                row = exc.start // length
                # a value cut in the middle of a character at the end of its field (writers that
                # truncate by bytes) is not an encoding error: GDAL drops the partial character
                for r in range(row, col.shape[0]):
                    if not _decodes(col[r].tobytes().rstrip(b" \x00"), codec):
                        return r, _field_name(raw)
        return None

    def ok(self, codec: str) -> bool:
        return self._first_error(codec) is None

    def strict(self, codec: str) -> bool:
        """Whether every name and value decodes without the cut-character allowance."""
        try:
            for raw in self.names:
                raw.decode(codec)
            for col in self._load().values():
                col.tobytes().decode(codec)
        except UnicodeDecodeError:
            return False
        return True

    def check(self, codec: str, *, source: str, tried: str) -> None:
        err = self._first_error(codec)
        if err is not None:
            row, name = err
            if row < 0:
                raise IngestError("ingest.encoding_name", source=source, field=name, tried=tried)
            raise IngestError("ingest.encoding", source=source, feature=str(row), field=name, tried=tried)


def _decodes(value: bytes, codec: str) -> bool:
    """Whether ``value`` decodes, allowing one character cut short at the end (writers that
    truncate field names and values by bytes do that; GDAL drops the partial character)."""
    try:
        value.decode(codec)
        return True
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data" and exc.end == len(value)


def _field_name(raw: bytes) -> str:
    for codec in TEXT_CODECS:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


# ---- tables (CSV, XLSX) ---------------------------------------------------------------------------------

def text_encoding(data: bytes, *, source: str, override: str | None = None) -> str:
    """The codec of a text file: ``override``, a UTF-8 BOM, UTF-8, or GBK/GB18030."""
    if override:
        codec = _codec(override)
        if codec is None:
            raise IngestError("ingest.bad_encoding_option", source=source, encoding=override)
        candidates = [codec]
    elif data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    else:
        candidates = list(TEXT_CODECS)
    furthest = 0  # the codec that decodes longest is the likely one: report where it fails
    for codec in candidates:
        try:
            data.decode(codec)
            return codec
        except UnicodeDecodeError as exc:
            furthest = max(furthest, exc.start)
    line = data[:furthest].count(b"\n") + 1
    raise IngestError("ingest.encoding_line", source=source, line=line, tried="/".join(candidates))


def _table_layers(path: Path, encoding: str | None) -> list[SourceLayer]:
    driver = TABLE_SUFFIXES[_suffix(path)]
    if driver == "CSV":
        frame, codec = _read_csv(path, encoding)
        return [SourceLayer(path, path.stem, "table", "CSV", tuple(map(str, frame.columns)), None,
                            len(frame), None, None, codec)]
    layers = []
    for sheet, (frame, header) in _read_xlsx(path).items():
        if frame.empty and len(frame.columns) == 0:
            continue
        layers.append(SourceLayer(path, str(sheet), "table", "XLSX", tuple(map(str, frame.columns)), None,
                                  len(frame), None, None, None, header))
    if not layers:
        raise IngestError("ingest.empty_table", source=str(path))
    return layers


def _read_table(src: SourceLayer) -> pd.DataFrame:
    if src.driver == "CSV":
        return _read_csv(src.path, src.encoding)[0]
    return _read_xlsx(src.path)[src.layer][0]


def _read_csv(path: Path, encoding: str | None) -> tuple[pd.DataFrame, str]:
    data = path.read_bytes()
    codec = text_encoding(data, source=str(path), override=encoding)
    text = data.decode(codec)
    try:
        dialect = csv.Sniffer().sniff(text[:20000], delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                            skipinitialspace=True)
    except Exception as exc:
        raise IngestError("ingest.unreadable", source=str(path), reason=_short(exc)) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, codec


_XLSX_CACHE: dict[tuple[str, float], dict[str, tuple[pd.DataFrame, int]]] = {}


def _read_xlsx(path: Path) -> dict[str, tuple[pd.DataFrame, int]]:
    """Every sheet with its header row found (a title line above the header is common)."""
    key = (str(path.resolve()), path.stat().st_mtime)
    if key in _XLSX_CACHE:
        return _XLSX_CACHE[key]
    try:
        raw = pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine="openpyxl")
    except Exception as exc:
        raise IngestError("ingest.unreadable", source=str(path), reason=_short(exc)) from exc
    out: dict[str, tuple[pd.DataFrame, int]] = {}
    for sheet, grid in raw.items():
        grid = grid.dropna(how="all").dropna(axis=1, how="all")
        if grid.empty:
            continue
        header = _header_row(grid)
        cols = [str(c).strip() if pd.notna(c) else f"column{j + 1}" for j, c in enumerate(grid.iloc[header])]
        body = grid.iloc[header + 1:].reset_index(drop=True)
        body.columns = cols
        out[str(sheet)] = (body, int(grid.index[header]))
    _XLSX_CACHE.clear()
    _XLSX_CACHE[key] = out
    return out


def _header_row(grid: pd.DataFrame) -> int:
    """The first row whose cells are mostly filled text: skips title lines above a header."""
    width = grid.shape[1]
    for i in range(min(10, len(grid))):
        row = grid.iloc[i]
        texts = sum(isinstance(v, str) and v.strip() != "" for v in row)
        if texts >= max(2, int(0.6 * width)) or (width == 1 and texts == 1):
            return i
    return 0
