"""Zone delineation and centres (乡镇级片区 / 村级片区, 中心镇 / 中心村), issue 4.

- :mod:`~pianqu.zoning.contiguity`: adjacency graph, islands and enclaves;
- :mod:`~pianqu.zoning.centres`: centre scoring (entropy-weighted TOPSIS, AHP), hierarchy tiers;
- :mod:`~pianqu.zoning.delineate`: one entry point for the exact MIP and the heuristic;
- :mod:`~pianqu.zoning.autop`: solve for a range of p and recommend one;
- :mod:`~pianqu.zoning.evaluate`: evaluate any division (also hand-made), fast re-evaluation;
- :mod:`~pianqu.zoning.villages`: village-level zones inside township-level zones;
- :mod:`~pianqu.zoning.explain`: why an instance is infeasible;
- :mod:`~pianqu.zoning.mergers`: 2023 townships that were one township before the 2019 merger;
- :mod:`~pianqu.zoning.compare`: a hand-made division beside a scenario's proposal (``pianqu zones``).
"""

from pianqu.zoning.contiguity import Adjacency, adjacency
from pianqu.zoning.delineate import delineate, solve_problem
from pianqu.zoning.mergers import merger_groups, merger_table
from pianqu.zoning.result import ZoningResult

__all__ = ["Adjacency", "adjacency", "delineate", "solve_problem", "ZoningResult", "merger_groups", "merger_table"]
