"""Synthetic counties and provinces: real names, codes, membership and census population on
synthetic geometry (the bundled default data, and data for scale tests).

``synthesize_county(code, seed)`` returns every layer of :mod:`pianqu.schema` (except the
conversion review list) for any of Sichuan's 183 counties; ``write_county`` writes it as a
workspace marked synthetic; ``synthesize_province`` builds many counties as GeoParquet
partitioned by county. Output is deterministic for a seed. One module per concern: layout,
terrain, hydrology, settlements, population, admin (tiling), landuse, roads, parcels,
controls, facilities, telecom, hazard, economy, county (assembly), province, density (parcels split to
real 三调 density: ``pianqu synth --parcels N``).
"""

from pianqu.synth.county import GENERATOR_VERSION, build_county, synthesize_county, write_county
from pianqu.synth.density import densify
from pianqu.synth.knobs import default_knobs, synth_config
from pianqu.synth.province import synthesize_province

__all__ = ["synthesize_county", "write_county", "synthesize_province", "build_county", "GENERATOR_VERSION",
           "synth_config", "default_knobs", "densify"]
