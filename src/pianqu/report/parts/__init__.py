"""Report sections, one module per capability; every module here is imported before a report
is built and registers its sections with :func:`pianqu.report.register_section`.

``core`` holds the foundation's sections (orders 100–400 and 900). Later capabilities add a
module here (e.g. ``zones.py`` at order 500, ``services.py`` at 600, ``land.py`` at 700,
``roads.py`` at 800) without editing the core.
"""
