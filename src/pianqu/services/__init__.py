"""Planning services (location-allocation)."""

from .location import (
    LocationResult,
    read_orlib_pmed,
    solve_capacitated_pmedian,
    solve_lscp,
    solve_mclp,
    solve_pcenter,
    solve_pmedian,
)

__all__ = [
    "LocationResult",
    "read_orlib_pmed",
    "solve_capacitated_pmedian",
    "solve_lscp",
    "solve_mclp",
    "solve_pcenter",
    "solve_pmedian",
]
