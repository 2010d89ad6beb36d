"""督查考核: the supervision across counties (issue 15 item 4, ``pianqu supervise``).

- :func:`supervise` (:mod:`pianqu.supervision.core`): scorecards, rankings within each city and
  the province, each county's worst indicators, the overdue zone plans and the province-wide
  central-town list, from a folder of county workspaces, a province run's output or PostGIS;
- :mod:`pianqu.supervision.scores`: points, weights, totals, competition ranking (1, 2, 2, 4);
- :mod:`pianqu.supervision.registry`: the zone-plan registry (xlsx/csv, Chinese headers) and
  the deadlines of the policy §一(二);
- :mod:`pianqu.supervision.report`: the 通报, HTML and PDF (WeasyPrint).
"""

from pianqu.supervision.core import Supervision, collect, supervise
from pianqu.supervision.registry import deadlines, overdue, read_registry
from pianqu.supervision.scores import competition_rank, indicator_points, scorecards, worst_indicators

__all__ = ["Supervision", "collect", "competition_rank", "deadlines", "indicator_points", "overdue",
           "read_registry", "scorecards", "supervise", "worst_indicators"]
