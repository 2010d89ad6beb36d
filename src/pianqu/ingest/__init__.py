"""Import of the planner's own data (`pianqu import`): File GDB, Shapefile (GBK too), GeoPackage,
GeoJSON, FlatGeobuf, OSM PBF, CSV and XLSX → one county workspace in EPSG:4490.

- :func:`import_sources` reads, recognises (三调 / planning-database / plain names, or a user
  mapping file), converts (CRS → EPSG:4490, 三调 codes → 用地用海 2023 with a review list) and
  writes all layers in one atomic write.
- :func:`recognise` says what the import would do, without writing (``--dry-run``).
- :class:`IngestError` (a ``ValueError``) names the file, layer, feature and field and what to do.
"""

from pianqu.ingest.errors import ImportError_, IngestError
from pianqu.ingest.importer import ImportResult, LayerMatch, import_sources, recognise

__all__ = ["import_sources", "recognise", "ImportResult", "LayerMatch", "IngestError", "ImportError_"]
