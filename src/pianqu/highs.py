"""Silent HiGHS objects, for every solver of pianqu (zoning, location, land quotas).

highspy prints its version banner ("Running HiGHS ...") to the process's stdout (file descriptor
1, from C++) when the first ``Highs()`` of a process is built, before any option can be set, so
that first construction runs with descriptor 1 pointed at the null device.
"""

from __future__ import annotations

import os
import sys
import threading

import highspy

_BANNER_LOCK = threading.Lock()
_banner_swallowed = False


def new_highs() -> highspy.Highs:
    """A HiGHS instance that writes nothing to stdout: the banner of the process's first
    instance is swallowed, and logging is off before any other call."""
    global _banner_swallowed
    with _BANNER_LOCK:
        if _banner_swallowed:
            h = highspy.Highs()
        else:
            _banner_swallowed = True
            h = _construct_muted()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    return h


def _construct_muted() -> highspy.Highs:
    """``highspy.Highs()`` with file descriptor 1 redirected to the null device."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no usable descriptor 1 (embedded interpreter): nothing to mute
        return highspy.Highs()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
