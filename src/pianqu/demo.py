"""The main job on the bundled default county: synthesise → validate → plan → report.

What `pianqu demo` (and `make demo`) runs, with no input at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pianqu.findings import Finding, summary
from pianqu.progress import task
from pianqu.i18n import t
from pianqu.plan import plan
from pianqu.report import write_report
from pianqu.synth import write_county
from pianqu.validate import validate_workspace

DEFAULT_COUNTY = "511921"  # 通江县, 巴中市: mountainous, 33 townships, 367 villages
DEFAULT_SEED = 1
PLAN_SCENARIO = "plan"


@dataclass(frozen=True)
class DemoResult:
    workspace: Path
    report: Path
    findings: list[Finding]

    @property
    def counts(self) -> dict[str, int]:
        return summary(self.findings)


def run_demo(out_dir: str | Path, *, county: str = DEFAULT_COUNTY, seed: int = DEFAULT_SEED,
             lang: str = "zh") -> DemoResult:
    """Build the default county's workspace in ``out_dir``, validate it, plan the zones (when the
    data has no error) and write the report."""

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{county}.gpkg"
    with task(t("cli.demo.synth", lang), total=1) as advance:
        ws = write_county(county, path, seed=seed, overwrite=True)
        advance()
    with task(t("cli.demo.validate", lang), total=1) as advance:
        findings = validate_workspace(ws)
        advance()
    scenario = None
    if not any(f.severity == "error" for f in findings):
        result = plan(ws, PLAN_SCENARIO, title="片区规划方案（自动）")
        scenario = result.scenario
    with task(t("cli.demo.report", lang), total=1) as advance:
        report = write_report(ws, out / "report", findings=findings, lang=lang, scenario=scenario)
        advance()
    return DemoResult(path, report, findings)
