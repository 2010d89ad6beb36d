"""Every rule the zoning engine can emit has a message and an action in Chinese and English."""

import ast
from pathlib import Path

from pianqu.i18n import catalogue
from pianqu.zoning.evaluate import SUMMARY_KEYS

SRC = Path(__file__).resolve().parents[2] / "src" / "pianqu"
# rules built with an f-string in explain.py: prefix → the suffixes the code can produce
FSTRING_RULES = {
    "unreachable_": ("lock_county", "lock_cap", "lock_path", "no_candidate", "cap", "group", "no_path"),
    "bound_": ("pop_lo", "pop_hi", "mem_lo", "mem_hi", "max_travel"),
}


def _strings(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.JoinedStr):
        if not isinstance(node.values[0], ast.Constant):
            return []  # the helper _f itself: f"{RULE}.{kind}"
        prefix = node.values[0].value
        return [prefix + s for s in FSTRING_RULES[prefix]]
    return []


def emitted_rules():
    rules = set()
    for path in list((SRC / "zoning").glob("*.py")) + [SRC / "industry.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "Finding" and len(node.args) >= 2:
                rules |= set(_strings(node.args[1]))
            elif name == "_f" and node.args:
                rules |= {f"zoning.infeasible.{s}" for s in _strings(node.args[0])}
    return rules


def test_every_rule_has_both_languages():
    cat = catalogue()
    rules = emitted_rules()
    assert {"zoning.island", "zoning.infeasible.fixed_forbidden", "zoning.eval.zone_without_centre",
            "zoning.infeasible.bound_pop_lo", "zoning.industry.same_specialty"} <= rules
    assert len(rules) > 50
    missing = [f"{r}.{part}" for r in sorted(rules) for part in ("msg", "do") if f"{r}.{part}" not in cat]
    assert not missing, missing
    for key in [f"zoning.metric.{k}" for k in SUMMARY_KEYS] + ["zoning.autop.rule", "zoning.autop.screened"]:
        assert cat[key]["zh"] and cat[key]["en"], key
    from pianqu.zoning.delineate import RELAXED_RULE

    for part in ("msg", "do"):
        assert cat[f"{RELAXED_RULE}.{part}"]["zh"] and cat[f"{RELAXED_RULE}.{part}"]["en"]


def test_every_cli_message_has_both_languages():
    """Every literal key ``pianqu zones`` passes to t() (and the column keys it builds)."""
    cat = catalogue()
    tree = ast.parse((SRC / "commands" / "zones.py").read_text(encoding="utf-8"))
    keys = {n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", "") == "t" and n.args and isinstance(n.args[0], ast.Constant)}
    keys |= {"zoning.cli.has_errors", "zoning.cli.no_errors"}
    keys |= {f"zoning.cli.col.{c}" for c in ("zone", "name", "centre", "members", "population", "mean_time_min",
                                             "max_time_min", "within_share", "compactness", "pieces")}
    assert len(keys) > 15
    missing = [k for k in sorted(keys) if k not in cat or not (cat[k]["zh"] and cat[k]["en"])]
    assert not missing, missing
