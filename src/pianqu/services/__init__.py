"""Planning services: location-allocation, presence rules, coverage against standards,
floating-catchment ratios, siting, school districts, safety and infrastructure (issue 5).

- :mod:`~pianqu.services.location`: p-median, capacitated p-median, MCLP, LSCP, p-center in one call shape;
- :mod:`~pianqu.services.presence`: what each zone, central town, township and village should have;
- :mod:`~pianqu.services.coverage`: nearest facility per service against standards per terrain;
- :mod:`~pianqu.services.fca`: 2SFCA and Gaussian E2SFCA with capacities (as PySAL access);
- :mod:`~pianqu.services.siting`: new sites with existing facilities fixed;
- :mod:`~pianqu.services.schools`: school assignment, the district rule, district plans;
- :mod:`~pianqu.services.safety`: shelters, fire jurisdictions, brigades, reserve points, governance;
- :mod:`~pianqu.services.infrastructure`: bus, postal/express/logistics, sewage, refuse, water;
- :mod:`~pianqu.services.analysis`: everything at once, and the scenario layers;
- :mod:`~pianqu.services.instance`: the county's instance built once (``from_workspace``) and
  analysed without the workspace (``analyse``).
"""

from .analysis import (ServicesAnalysis, analyse_services, facility_gaps, facility_plan, service_tables,
                       services_for_scenario, write_services)
from .instance import ServicesInstance
from .common import ServicesInputError, Zones, prepare_facilities, village_demand
from .coverage import (CoverageResult, coverage, coverage_standards, nearest, straight_distances, travel_costs,
                       village_terrain, zone_catchment)
from .fca import FcaResult, fca, gaussian_e2sfca, service_fca, two_sfca, weight_function
from .infrastructure import InfrastructureResult, infrastructure_check
from .location import (
    LocationResult,
    read_orlib_pmed,
    solve_capacitated_pmedian,
    solve_lscp,
    solve_mclp,
    solve_pcenter,
    solve_pmedian,
)
from .presence import PresenceResult, presence_check, presence_rules
from .safety import brigade_classes, fire_jurisdictions, safety_presence, shelter_capacity, shelter_check
from .schools import (Assignment, DistrictCheck, DistrictPlan, assign_schools, check_district_geometry,
                      check_districts, districts_by_township, propose_districts, pupils, school_capacity)
from .siting import SitingResult, candidate_sites, propose_for_service, propose_sites

__all__ = [
    "LocationResult",
    "read_orlib_pmed",
    "solve_capacitated_pmedian",
    "solve_lscp",
    "solve_mclp",
    "solve_pcenter",
    "solve_pmedian",
    # issue 5
    "ServicesInputError", "Zones", "prepare_facilities", "village_demand",
    "PresenceResult", "presence_check", "presence_rules",
    "CoverageResult", "coverage", "coverage_standards", "nearest", "straight_distances", "travel_costs",
    "village_terrain", "zone_catchment",
    "FcaResult", "fca", "two_sfca", "gaussian_e2sfca", "service_fca", "weight_function",
    "SitingResult", "candidate_sites", "propose_sites", "propose_for_service",
    "Assignment", "DistrictCheck", "DistrictPlan", "assign_schools", "check_districts", "check_district_geometry",
    "districts_by_township", "propose_districts", "pupils", "school_capacity",
    "shelter_capacity", "shelter_check", "fire_jurisdictions", "brigade_classes", "safety_presence",
    "InfrastructureResult", "infrastructure_check",
    "ServicesAnalysis", "analyse_services", "facility_plan", "facility_gaps", "service_tables", "write_services",
    "services_for_scenario", "ServicesInstance",
]
