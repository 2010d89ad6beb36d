"""Location-allocation engine: one call shape for p-median, capacitated p-median, MCLP,
LSCP and p-center (cost matrix in, ``LocationResult`` out; fixed sites are open and count
towards p, forbidden sites never open; every result carries a proven lower bound)."""

from .capacitated import solve_capacitated_pmedian
from .coverage import solve_lscp, solve_mclp
from .instances import (
    orlib_like_graph,
    orlib_like_instance,
    random_county_instance,
    read_orlib_pmed,
    shortest_path_costs,
)
from .pcenter import solve_pcenter
from .pmedian import solve_pmedian
from .result import LocationResult

__all__ = [
    "LocationResult",
    "orlib_like_graph",
    "orlib_like_instance",
    "random_county_instance",
    "read_orlib_pmed",
    "shortest_path_costs",
    "solve_capacitated_pmedian",
    "solve_lscp",
    "solve_mclp",
    "solve_pcenter",
    "solve_pmedian",
]
