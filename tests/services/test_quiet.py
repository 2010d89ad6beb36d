"""HiGHS writes nothing to stdout: not its version banner (printed by the first ``Highs()``
of a process, so checked in a fresh interpreter) and no solver log (checked in-process)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from pianqu.services import (assign_schools, solve_capacitated_pmedian, solve_lscp, solve_mclp, solve_pcenter,
                             solve_pmedian)

SOLVES = """
import numpy as np
from pianqu.services import (assign_schools, solve_capacitated_pmedian, solve_lscp, solve_mclp,
                             solve_pcenter, solve_pmedian)
rng = np.random.default_rng(0)
C = np.round(rng.uniform(1, 50, (40, 12)))
q = rng.integers(1, 9, 40).astype(float)
r = [solve_pmedian(C, 3, method="exact"), solve_capacitated_pmedian(C, 4, np.full(12, q.sum() / 3), q),
     solve_mclp(C, 2, 20.0), solve_lscp(C, 40.0), solve_pcenter(C, 3)]
a = assign_schools(q, C, np.full(12, q.sum() / 6), single_source=True)
import sys
print(all(x.lower_bound <= x.objective + 1e-9 for x in r) and a.school.size == 40, file=sys.stderr)
"""


def test_fresh_process_prints_no_banner():
    out = subprocess.run([sys.executable, "-c", SOLVES], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().endswith("True")  # the solves ran and returned valid bounds
    assert out.stdout == ""  # in particular no "Running HiGHS ..." banner


def test_solves_write_nothing(capfd):
    import highspy

    highspy.Highs()  # a banner, if this process still owes one, is printed here, outside the check
    capfd.readouterr()
    rng = np.random.default_rng(1)
    C = np.round(rng.uniform(1, 50, (30, 10)))
    q = rng.integers(1, 9, 30).astype(float)
    solve_pmedian(C, 3, method="exact")
    solve_pmedian(C, 3, method="heuristic")
    solve_capacitated_pmedian(C, 3, np.full(10, q.sum() / 2), q, method="exact")
    solve_capacitated_pmedian(C, 3, np.full(10, q.sum() / 2), q, method="heuristic")
    solve_mclp(C, 2, 20.0)
    solve_lscp(C, 40.0)
    solve_pcenter(C, 3)
    assign_schools(q, C, np.full(10, q.sum() / 5), single_source=True)
    out = capfd.readouterr()
    assert out.out == "" and out.err == ""
