"""Findings: what is wrong (or worth knowing) about the user's data or plan.

A finding names the severity, the rule, the layer, the feature id and the field, and renders
its message and the action to take in Chinese (default) or English. Message templates live in
``pianqu/locales/*.toml`` as ``<rule>.msg`` and ``<rule>.do``.
"""

from __future__ import annotations

import json
import dataclasses
from dataclasses import asdict, dataclass
from typing import Any, Iterable

import pandas as pd

from pianqu.errors import render
from pianqu.i18n import t

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    severity: str  # error | warning | info
    rule: str  # e.g. "validate.missing_field"
    layer: str = ""
    feature: str = ""  # feature id (code, bsm, id) or "" for the whole layer
    field: str = ""
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str = ""  # file the data came from, when known

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def _ctx(self, lang: str | None) -> dict[str, Any]:
        """The values of the message; a parameter that is an error of pianqu (pianqu.errors) is
        said in ``lang`` too."""
        params = {k: render(v, lang) for k, v in self.params.items()}
        return {"layer": self.layer, "feature": self.feature, "field": self.field,
                "source": self.source, **params}

    def message(self, lang: str | None = None) -> str:
        return t(f"{self.rule}.msg", lang, **self._ctx(lang))

    def action(self, lang: str | None = None) -> str:
        return t(f"{self.rule}.do", lang, **self._ctx(lang))

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        d = asdict(self)
        d["message"] = self.message(lang)
        d["action"] = self.action(lang)
        return d


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def to_frame(findings: Iterable[Finding], lang: str | None = None) -> pd.DataFrame:
    """One row per finding with the rendered message and action."""
    rows = [f.as_dict(lang) for f in findings]
    cols = ["severity", "rule", "layer", "feature", "field", "message", "action", "source", "params"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["params"] = frame["params"].map(lambda p: json.dumps(p, ensure_ascii=False, default=str))
    return frame


def to_json(findings: Iterable[Finding], lang: str | None = None) -> str:
    return json.dumps([f.as_dict(lang) for f in findings], ensure_ascii=False, indent=1, default=str)


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s: 0 for s in SEVERITIES}
    for f in findings:
        counts[f.severity] += 1
    return counts
