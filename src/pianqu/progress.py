"""Progress display for long work (rich), switched on by the CLI and off in library use.

Library code wraps long loops in ``with task("合成道路", total=n) as advance: ... advance()``;
it shows a rich progress bar only when the CLI has called :func:`enable`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

_enabled = False
_progress = None


def enable(on: bool = True) -> None:
    global _enabled
    _enabled = on


@contextmanager
def task(description: str, total: float | None = None) -> Iterator[Callable[[float], None]]:
    """A progress step; yields ``advance(amount=1)``. A no-op unless enabled."""
    global _progress
    if not _enabled:
        yield lambda amount=1: None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    owner = _progress is None
    if owner:
        _progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                             TextColumn("{task.completed:.0f}/{task.total:.0f}"), TimeElapsedColumn(),
                             transient=False)
        _progress.start()
    tid = _progress.add_task(description, total=total)
    try:
        yield lambda amount=1: _progress.advance(tid, amount)
        _progress.update(tid, completed=total if total is not None else 1, total=total or 1)
    finally:
        if owner:
            _progress.stop()
            _progress = None
