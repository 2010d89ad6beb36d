"""The Excel workbook of the report's tables (openpyxl): one sheet per table, sheet names in
the report language, numbers as numbers with the page's formats, header frozen, total bold."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import pandas as pd

from pianqu.report.sections import Table

MAX_SHEET = 31  # Excel's limit
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (no []:*?/\\, at most 31 characters, case-insensitive)."""
    base = BAD_SHEET_CHARS.sub("_", name).strip("'") or "Sheet"
    base = base[:MAX_SHEET]
    candidate, i = base, 2
    while candidate.lower() in {t.lower() for t in taken}:
        suffix = f" ({i})"
        candidate = base[: MAX_SHEET - len(suffix)] + suffix
        i += 1
    taken.add(candidate)
    return candidate


def excel_format(spec: str | None) -> str | None:
    """Excel number format of a Python format spec (",.2f" → "#,##0.00", ".1%" → "0.0%")."""
    if not spec:
        return None
    m = re.fullmatch(r"(,?)(?:\.(\d+))?([fd%])", spec)
    if not m:
        return None
    comma, digits, kind = m.groups()
    digits = int(digits or 0) if kind != "d" else 0
    number = ("#,##0" if comma else "0") + ("." + "0" * digits if digits else "")
    return number + ("%" if kind == "%" else "")


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters are double width


def write_workbook(path: str | Path, tables: Sequence[Table]) -> Path:
    """Write every table that has a ``sheet`` to ``path`` (.xlsx), atomically; returns the path."""
    from openpyxl.styles import Alignment, Font, PatternFill

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    taken: set[str] = set()
    header_fill = PatternFill("solid", fgColor="EEF3F7")
    try:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            wrote = False
            for table in tables:
                if not table.sheet:
                    continue
                name = sheet_name(table.sheet, taken)
                frame = table.frame.copy()
                for col in frame.columns:  # nullable extension types → plain objects openpyxl takes
                    if isinstance(frame[col].dtype, pd.api.extensions.ExtensionDtype):
                        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
                frame.to_excel(writer, sheet_name=name, index=False)
                ws = writer.sheets[name]
                ws.freeze_panes = "A2"
                for j, col in enumerate(table.frame.columns, start=1):
                    cell = ws.cell(row=1, column=j)
                    cell.font = Font(bold=True)
                    cell.fill = header_fill
                    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
                    fmt = excel_format(table.format_of(col))
                    if fmt:
                        for row in range(2, len(frame) + 2):
                            ws.cell(row=row, column=j).number_format = fmt
                    values = [str(v) for v in table.frame[col].head(200).tolist()] + [str(col)]
                    width = min(max(_display_width(v) for v in values) + 2, 60)
                    ws.column_dimensions[ws.cell(row=1, column=j).column_letter].width = max(width, 6)
                if table.total_row and len(frame):
                    for j in range(1, len(frame.columns) + 1):
                        ws.cell(row=len(frame) + 1, column=j).font = Font(bold=True)
                wrote = True
            if not wrote:  # an .xlsx needs a sheet
                pd.DataFrame().to_excel(writer, sheet_name="-", index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
