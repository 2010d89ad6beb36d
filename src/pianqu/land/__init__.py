"""Land: control lines in order, conflicts, three spaces, quotas, change detection (issue 6).

Library functions over plain GeoDataFrames in the workspace schema (``landuse``,
``farmland_pbf``, ``eco_redline`` with ``core_zone``, ``urban_boundary``, ``hazard``; zones as a
GeoDataFrame or a township → zone mapping). Areas are computed in the county's CGCS2000 3° GK
zone by a vectorised overlay engine (:mod:`~pianqu.land.overlay`) and reported in m², ha and 亩.

- :mod:`~pianqu.land.workflow`: ordered finalisation of the three control lines per scenario;
- :mod:`~pianqu.land.conflicts`: conflict patches (rules as data), decisions, cleaned lines;
- :mod:`~pianqu.land.sizing`: expansion ratio of the urban development boundary, reserve quota;
- :mod:`~pianqu.land.spaces`: agricultural / ecological / construction space per zone;
- :mod:`~pianqu.land.quota`: allocation of binding indicators by linear programming (HiGHS);
- :mod:`~pianqu.land.change`: transition matrix, farmland outflow, violation tickets;
- :mod:`~pianqu.land.consolidation`: fragmented farmland, scattered/idle homesteads, steep farmland;
- :mod:`~pianqu.land.siting`: siting compliance verdicts;
- :mod:`~pianqu.land.grain`: grain production base candidates;
- :mod:`~pianqu.land.stats`: statistics tables in plan-document form;
- :mod:`~pianqu.land.pipeline`: all of them in order on a workspace scenario (``pianqu plan``);
- :mod:`~pianqu.land.instance`: their inputs read once (``from_workspace``) and analysed (``analyse``).
"""

from pianqu.land.change import (change_pieces, farmland_outflow, simulate_epoch, ticket_findings,
                                transition_matrix, violation_tickets)
from pianqu.land.common import LandInputError, zone_polygons
from pianqu.land.conflicts import (Resolution, apply_conflicts, conflict_findings, conflict_rules, decide,
                                   detect_conflicts, read_lines, write_conflicts, write_resolution)
from pianqu.land.consolidation import ConsolidationResult, consolidation_potential
from pianqu.land.grain import grain_bases
from pianqu.land.overlay import Overlay, OverlayError, intersect, overlay
from pianqu.land.pipeline import LandRun, run_land
from pianqu.land.instance import LandInstance
from pianqu.land.quota import QuotaResult, allocate_quotas, unit_capacities
from pianqu.land.siting import SitingResult, check_siting
from pianqu.land.sizing import SizingCheck, expansion_ratio, reserve_share
from pianqu.land.spaces import SpacesResult, three_spaces
from pianqu.land.workflow import WorkflowError, finalise_line, read_status, reopen_line

__all__ = [
    "LandInputError", "zone_polygons",
    "Overlay", "OverlayError", "intersect", "overlay",
    "WorkflowError", "finalise_line", "reopen_line", "read_status",
    "conflict_rules", "detect_conflicts", "decide", "apply_conflicts", "Resolution", "conflict_findings",
    "read_lines", "write_conflicts", "write_resolution",
    "SizingCheck", "expansion_ratio", "reserve_share",
    "SpacesResult", "three_spaces",
    "QuotaResult", "allocate_quotas", "unit_capacities",
    "change_pieces", "transition_matrix", "farmland_outflow", "violation_tickets", "simulate_epoch",
    "ticket_findings",
    "ConsolidationResult", "consolidation_potential",
    "SitingResult", "check_siting",
    "grain_bases",
    "LandRun", "run_land", "LandInstance",
]
