"""The report: a self-contained HTML page (Chinese by default), its maps and an Excel workbook.

``write_report(ws, out_dir, findings=..., lang="zh")`` runs the registered sections in order
(core: overview, overview map, township table, land-use structure, validation summary) and
writes ``index.html``, ``maps/*.png`` and ``tables.xlsx``. Later capabilities add sections with
:func:`register_section` (see :mod:`pianqu.report.sections`).
"""

from pianqu.report.sections import (Figure, Html, Note, ReportContext, Section, SectionBuilder,
                                    SectionContent, Table, register_section, sections,
                                    unregister_section)
from pianqu.report.tables import (broad_structure, county_facts, findings_summary, findings_table,
                                  first_level_classes, landuse_structure, layer_inventory,
                                  parcel_townships, township_stats, township_table)
from pianqu.report.writer import ReportError, build_sections, write_report

__all__ = [
    "write_report", "build_sections", "ReportError",
    "register_section", "unregister_section", "sections", "Section", "SectionBuilder", "SectionContent",
    "ReportContext", "Figure", "Table", "Html", "Note",
    "township_stats", "township_table", "landuse_structure", "broad_structure", "county_facts",
    "layer_inventory", "findings_table", "findings_summary", "parcel_townships", "first_level_classes",
]
