"""体检评估 (periodic evaluation, issue 15): the indicator catalogue evaluated on a county
workspace (:func:`evaluate`), and plan versions compared (:func:`compare_versions`).

One function, :func:`evaluate`, serves the CLI (``pianqu evaluate``), the report's 体检评估
section, the web platform and the supervision across counties.
"""

from pianqu.evaluation.engine import LIGHTS, Evaluation, catalogue, evaluate, light
from pianqu.evaluation.indicators import theil
from pianqu.evaluation.versions import VersionComparison, compare_versions, save_version

__all__ = ["LIGHTS", "Evaluation", "VersionComparison", "catalogue", "compare_versions", "evaluate", "light",
           "save_version", "theil"]
