"""The registry of each county's zone plans (规划进度登记表) and the overdue list.

A registry is a standalone xlsx or csv file a province or city keeps, one row per plan, with
Chinese headers (English accepted): 区县代码, 片区名称, 规划层级 (乡镇级片区 / 村级片区), 状态
(未启动 / 编制中 / 已报批 / 已批复) and the dates 启动日期, 报批日期, 批复日期. Deadlines are
configuration (``supervision.deadline_township_zone_plans``, ``…_village_zone_plans``: the
policy's §一(二)). As of a date past a level's deadline, a plan that is not 已批复 is overdue,
and so is a county with no plan of that level registered (未登记); a plan approved after its
deadline is not overdue but marked ``late``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from pianqu.config import Config, load_config
from pianqu.errors import UserFileError, UserValueError
from pianqu.findings import Finding

LEVELS = ("township", "village")
STATUSES = ("not_started", "in_progress", "submitted", "approved")
STATUS_ZH = {"未启动": "not_started", "编制中": "in_progress", "已报批": "submitted", "已批复": "approved"}
HEADERS = {  # accepted header → column
    "county_code": ("区县代码", "县级代码", "县级行政区代码", "行政区代码", "县代码", "county_code"),
    "county_name": ("区县名称", "县级行政区名称", "县名", "county_name"),
    "plan": ("片区名称", "规划名称", "片区", "plan", "name"),
    "level": ("规划层级", "层级", "规划类型", "level"),
    "status": ("状态", "编制状态", "进度", "status"),
    "started": ("启动日期", "开始日期", "started"),
    "submitted": ("报批日期", "submitted"),
    "approved": ("批复日期", "approved"),
}
REQUIRED = ("county_code", "level", "status")
COLUMNS = ["county_code", "county_name", "plan", "level", "status", "started", "submitted", "approved", "row"]
OVERDUE_COLUMNS = ["county_code", "county_name", "city_code", "plan", "level", "status", "deadline", "days_overdue",
                   "registered"]


def deadlines(config: Config | None = None) -> dict[str, dt.date]:
    """The approval deadline of each plan level (thresholds ``supervision.deadline_*``)."""
    cfg = config or load_config()
    return {"township": dt.date.fromisoformat(str(cfg["supervision.deadline_township_zone_plans"])),
            "village": dt.date.fromisoformat(str(cfg["supervision.deadline_village_zone_plans"]))}


def _level(text: str) -> str | None:
    s = str(text).strip().lower()
    if "乡镇" in s or s.startswith("township"):
        return "township"
    if "村" in s or s.startswith("village"):
        return "village"
    return None


def _status(text: str) -> str | None:
    s = str(text).strip()
    return STATUS_ZH.get(s) or (s.lower() if s.lower() in STATUSES else None)


def _date(value) -> dt.date | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() in ("", "NaT", "nan"):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip().replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-").replace(".", "-")
    return pd.Timestamp(text).date()


def read_registry(source: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, list[Finding]]:
    """The registry as a frame (:data:`COLUMNS`: level ∈ township/village, status ∈
    :data:`STATUSES`, dates as ``datetime.date`` or None, ``row`` the sheet row) and findings for
    the rows left out (unknown level or status, unreadable date, no county code)."""
    if isinstance(source, pd.DataFrame):
        raw, name = source.copy(), "registry"
    else:
        path = Path(source)
        name = path.name
        if not path.exists():
            raise UserFileError("supervision.error.registry_missing", path=str(path))
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            raw = pd.read_excel(path, dtype=object)
        elif path.suffix.lower() in (".csv", ".txt"):
            try:
                raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            except UnicodeDecodeError:
                raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gbk")
        else:
            raise UserFileError("supervision.error.registry_format", path=str(path))
    header = {str(c).strip(): c for c in raw.columns}
    cols = {}
    for col, names in HEADERS.items():
        hit = next((header[h] for h in names if h in header), None)
        if hit is not None:
            cols[col] = hit
    lacking = [HEADERS[c][0] for c in REQUIRED if c not in cols]
    if lacking:
        raise UserValueError("supervision.error.registry_headers", path=name, missing="、".join(lacking),
                             allowed="、".join(HEADERS[c][0] for c in HEADERS))
    rows, findings = [], []
    for i, rec in enumerate(raw.to_dict("records")):
        line = i + 2  # the header is row 1
        get = (lambda c: rec.get(cols[c]) if c in cols else None)
        code = str(get("county_code") or "").strip().split(".")[0]
        level, status = _level(get("level") or ""), _status(get("status") or "")
        problem = None
        if not (len(code) == 6 and code.isdigit()):
            problem = ("county_code", str(get("county_code")))
        elif level is None:
            problem = ("level", str(get("level")))
        elif status is None:
            problem = ("status", str(get("status")))
        dates = {}
        if problem is None:
            for c in ("started", "submitted", "approved"):
                try:
                    dates[c] = _date(get(c))
                except ValueError:
                    problem = (c, str(get(c)))
                    break
        if problem is not None:
            findings.append(Finding("warning", "supervision.registry_row", name, str(line), problem[0],
                                    {"row": line, "field": HEADERS[problem[0]][0], "value": problem[1]}))
            continue
        rows.append({"county_code": code, "county_name": str(get("county_name") or "").strip(),
                     "plan": str(get("plan") or "").strip(), "level": level, "status": status, **dates, "row": line})
    return pd.DataFrame(rows, columns=COLUMNS), findings


def overdue(registry: pd.DataFrame, as_of: dt.date, *, counties: list[str] | None = None,
            config: Config | None = None) -> pd.DataFrame:
    """The overdue plans as of ``as_of``: every registered plan of a level whose deadline has
    passed and that is not 已批复 (approved), and, for each of ``counties``, a level past its
    deadline with no plan registered (``registered`` False, status ``missing``). Sorted by
    county, level, plan; ``days_overdue`` counted from the deadline."""
    from pianqu import divisions

    dl = deadlines(config)
    names = divisions.counties().set_index("code")["name"]
    reg = registry
    if counties is not None:
        reg = reg[reg["county_code"].isin(list(map(str, counties)))]
    rows = []
    for r in reg.to_dict("records"):
        d = dl[r["level"]]
        if as_of > d and r["status"] != "approved":
            rows.append({**r, "deadline": d, "days_overdue": (as_of - d).days, "registered": True})
    for code in map(str, counties or []):
        for level in LEVELS:
            d = dl[level]
            if as_of > d and not ((registry["county_code"] == code) & (registry["level"] == level)).any():
                rows.append({"county_code": code, "county_name": "", "plan": "", "level": level, "status": "missing",
                             "deadline": d, "days_overdue": (as_of - d).days, "registered": False})
    out = pd.DataFrame(rows, columns=[*COLUMNS, "deadline", "days_overdue", "registered"])
    out["county_name"] = out["county_code"].map(names).fillna(out["county_name"])
    out["city_code"] = out["county_code"].str[:4]
    out["level_order"] = out["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    out = out.sort_values(["county_code", "level_order", "plan"], kind="stable")
    return out[OVERDUE_COLUMNS].reset_index(drop=True)


def approved_late(registry: pd.DataFrame, config: Config | None = None) -> pd.DataFrame:
    """Plans approved after their level's deadline (not overdue, but late)."""
    dl = deadlines(config)
    late = [r for r in registry.to_dict("records")
            if r["status"] == "approved" and r.get("approved") is not None and r["approved"] > dl[r["level"]]]
    return pd.DataFrame(late, columns=COLUMNS)
