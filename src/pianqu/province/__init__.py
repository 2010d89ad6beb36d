"""The whole province on ``dask.distributed``: every county's steps as tasks, the province results
assembled from them, and the province-scale control-line overlay with dask-geopandas.

- :func:`run` (``pianqu province run``): :mod:`pianqu.province.run`;
- the step registry ``STEPS``: :mod:`pianqu.province.steps`;
- sources by path or URL (a folder of ``.gpkg``, a ``synth --province`` GeoParquet set, PostGIS):
  :mod:`pianqu.province.source`;
- the province results, the central-town ranking and the cross-county links:
  :mod:`pianqu.province.gather`;
- the overlay: :mod:`pianqu.province.overlay`.

See docs/province.md for running it on several machines.
"""

from pianqu.province.run import RunResult, read_manifest, run
from pianqu.province.steps import STEPS, StepContext

__all__ = ["run", "RunResult", "read_manifest", "STEPS", "StepContext"]
