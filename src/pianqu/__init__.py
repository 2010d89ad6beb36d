"""pianqu (片区): planning support for zone-based rural territorial spatial planning.

The public Python API: open a county workspace and call the main analyses from ``pianqu.*``,
without knowing which module holds them. ``docs/quickstart.md`` walks through them.

>>> import pianqu
>>> ws = pianqu.open("county.gpkg")                                 # doctest: +SKIP
>>> findings = pianqu.validate_workspace(ws)                        # doctest: +SKIP
>>> result = pianqu.run_plan(ws, "plan")                            # doctest: +SKIP

Names
-----
``pianqu.open``
    A :class:`~pianqu.workspace.Workspace` from a ``.gpkg`` path or a PostGIS workspace URL
    ``postgresql://user@host:port/db?schema=NAME`` (:mod:`pianqu.store.postgis`).
    Not in ``__all__``: ``from pianqu import *`` would otherwise shadow the built-in ``open``.
``pianqu.run_plan``
    :func:`pianqu.plan.plan`, what ``pianqu plan`` runs. ``pianqu.plan``, ``pianqu.validate``,
    ``pianqu.report`` and ``pianqu.export`` stay the *modules* of those names (so
    ``from pianqu.plan import plan`` keeps working and ``pianqu.plan`` is never sometimes a
    module and sometimes a function); their main functions are ``pianqu.run_plan``,
    ``pianqu.validate_workspace``, ``pianqu.write_report`` and ``pianqu.export_scenario``.
everything else in ``__all__``
    The function or class of the same name in its home module (see ``_EXPORTS``): inputs
    (:func:`from_workspace`), zoning (:func:`delineate`, :func:`auto_p`, :func:`evaluate_division` …),
    the 体检评估 (:func:`evaluate`, :func:`compare_versions`),
    services (:func:`solve_pmedian`, :func:`village_demand` …), control lines
    (:func:`detect_conflicts`), road network (:func:`build_graph`, :func:`od_matrix` …),
    synthetic counties, the report and export.

``import pianqu`` is cheap (no geopandas, no numba): every name, and every subpackage
(``pianqu.zoning``, ``pianqu.services`` …), is imported on first use by the module
``__getattr__``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pianqu._version import __version__

# public name → (home module, attribute there)
_EXPORTS: dict[str, tuple[str, str]] = {
    # the workspace, errors, findings
    "Workspace": ("pianqu.workspace", "Workspace"),
    "WorkspaceError": ("pianqu.workspace", "WorkspaceError"),
    "PianquError": ("pianqu.errors", "PianquError"),
    "Finding": ("pianqu.findings", "Finding"),
    # data checks
    "validate_workspace": ("pianqu.validate", "validate_workspace"),
    "qc_report": ("pianqu.validate.qc", "qc_report"),
    # what a plan works from, and the plan
    "from_workspace": ("pianqu.inputs", "from_workspace"),
    "PlanInputs": ("pianqu.inputs", "PlanInputs"),
    "run_plan": ("pianqu.plan", "plan"),
    "PlanResult": ("pianqu.plan", "PlanResult"),
    "township_units": ("pianqu.zoning.instance", "township_units"),
    # road network
    "build_graph": ("pianqu.network.graph", "build_graph"),
    "od_matrix": ("pianqu.network.travel", "od_matrix"),
    "nearest_k": ("pianqu.network.travel", "nearest_k"),
    "isochrones": ("pianqu.network.isochrone", "isochrones"),
    "seat_points": ("pianqu.network.snap", "seat_points"),
    # zoning
    "adjacency": ("pianqu.zoning.contiguity", "adjacency"),
    "delineate": ("pianqu.zoning.delineate", "delineate"),
    "auto_p": ("pianqu.zoning.autop", "auto_p"),
    "ZoningResult": ("pianqu.zoning.result", "ZoningResult"),
    "evaluate_division": ("pianqu.zoning.evaluate", "evaluate"),
    "compare": ("pianqu.zoning.evaluate", "compare"),
    "read_division": ("pianqu.zoning.evaluate", "read_division"),
    "division_from_result": ("pianqu.zoning.evaluate", "division_from_result"),
    "compare_division": ("pianqu.zoning.compare", "compare_division"),
    # 体检评估: indicators, targets and traffic lights; plan versions
    "evaluate": ("pianqu.evaluation", "evaluate"),
    "Evaluation": ("pianqu.evaluation", "Evaluation"),
    "compare_versions": ("pianqu.evaluation", "compare_versions"),
    # services
    "village_demand": ("pianqu.services.common", "village_demand"),
    "candidate_sites": ("pianqu.services.siting", "candidate_sites"),
    "solve_pmedian": ("pianqu.services.location", "solve_pmedian"),
    "services_for_scenario": ("pianqu.services.analysis", "services_for_scenario"),
    # control lines and land
    "read_lines": ("pianqu.land.conflicts", "read_lines"),
    "detect_conflicts": ("pianqu.land.conflicts", "detect_conflicts"),
    "three_spaces": ("pianqu.land.spaces", "three_spaces"),
    # synthetic counties, report, export
    "synthesize_county": ("pianqu.synth.county", "synthesize_county"),
    "write_county": ("pianqu.synth.county", "write_county"),
    "write_report": ("pianqu.report.writer", "write_report"),
    "overview_map": ("pianqu.report.maps", "overview_map"),
    "export_scenario": ("pianqu.export", "export_scenario"),
}

# subpackages and modules reachable as attributes of ``pianqu`` (imported on first use)
_SUBMODULES = frozenset({
    "cli", "config", "demo", "derive", "divisions", "errors", "evaluation", "export", "findings", "geo", "i18n",
    "industry", "ingest", "inputs", "land", "network", "plan", "report", "schema", "services",
    "standards", "synth", "testing", "validate", "workspace", "zoning",
})

__all__ = list(_EXPORTS)


def open(path_or_url: str | Path) -> "Workspace":  # noqa: A001 - pianqu.open, like rasterio.open
    """Open an existing county workspace.

    Parameters
    ----------
    path_or_url : str or pathlib.Path
        A workspace GeoPackage (``.gpkg``) made by ``pianqu import``, ``pianqu synth`` or
        :func:`write_county`, or a PostGIS workspace ``postgresql://user@host:port/db?schema=NAME``
        (one schema per county, made by ``pianqu db push``).

    Returns
    -------
    Workspace
        The workspace: ``ws.read(layer)``, ``ws.layers()``, ``ws.scenarios()``, ``ws.meta``
        (county code and name, computing CRS, synthetic flag).

    Raises
    ------
    WorkspaceError
        The file is missing, is not a GeoPackage, is not a pianqu workspace, or is a
        PostGIS URL; the message says what to do, in Chinese (default) or English.

    Examples
    --------
    >>> ws = pianqu.open("xiqu.gpkg")                                  # doctest: +SKIP
    >>> ws.meta.county_name                                            # doctest: +SKIP
    '西区'
    """
    from pianqu.workspace import Workspace

    return Workspace.open(path_or_url)


def __getattr__(name: str) -> Any:
    """Import an exported name or a subpackage on first use (keeps ``import pianqu`` cheap)."""
    if name in _EXPORTS:
        module, attr = _EXPORTS[name]
        value = getattr(importlib.import_module(module), attr)
        if name not in _SUBMODULES:  # cache it; a submodule's own name is left to the import system
            globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'pianqu' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)


if TYPE_CHECKING:  # what editors and type checkers see; nothing of this runs
    from pianqu.errors import PianquError
    from pianqu.export import export_scenario
    from pianqu.findings import Finding
    from pianqu.inputs import PlanInputs, from_workspace
    from pianqu.land.conflicts import detect_conflicts, read_lines
    from pianqu.land.spaces import three_spaces
    from pianqu.network.graph import build_graph
    from pianqu.network.isochrone import isochrones
    from pianqu.network.snap import seat_points
    from pianqu.network.travel import nearest_k, od_matrix
    from pianqu.plan import PlanResult
    from pianqu.zoning.instance import township_units
    from pianqu.plan import plan as run_plan
    from pianqu.report.maps import overview_map
    from pianqu.report.writer import write_report
    from pianqu.services.analysis import services_for_scenario
    from pianqu.services.common import village_demand
    from pianqu.services.location import solve_pmedian
    from pianqu.services.siting import candidate_sites
    from pianqu.synth.county import synthesize_county, write_county
    from pianqu.validate import validate_workspace
    from pianqu.validate.qc import qc_report
    from pianqu.workspace import Workspace, WorkspaceError
    from pianqu.zoning.autop import auto_p
    from pianqu.zoning.compare import compare_division
    from pianqu.zoning.contiguity import adjacency
    from pianqu.zoning.delineate import delineate
    from pianqu.evaluation import Evaluation, compare_versions, evaluate
    from pianqu.zoning.evaluate import compare, division_from_result, read_division
    from pianqu.zoning.evaluate import evaluate as evaluate_division
    from pianqu.zoning.result import ZoningResult
