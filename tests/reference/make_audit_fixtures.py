#!/usr/bin/python3
"""Regenerate the bias-audit fixtures used by tests/test_audit.c.

Run from the repository root:

    /usr/bin/python3 tests/reference/make_audit_fixtures.py

It writes tests/reference/fixtures_audit.h (committed, so the test suite never
needs Python): contingency tables of segments x groups, each with SciPy's
chi2_contingency(correction=False) statistic, degrees of freedom and p-value
and scipy.stats.contingency.association(method="cramer"); and a grid of
scipy.stats.chi2.sf(x, dof) values, from the body to the far tail.
"""

import os
import sys

import numpy as np
import scipy
from scipy.stats import chi2, chi2_contingency
from scipy.stats.contingency import association

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_gmm_fixtures import c_array, c_define, write_fixture  # noqa: E402

TABLES = [
    # a 2 x 2 table (scipy would apply Yates' correction by default; the audit does not)
    [[30, 10], [20, 40]],
    # 5 segments x 2 groups, close to independent
    [[20, 22], [35, 31], [12, 15], [40, 38], [9, 11]],
    # 4 segments x 3 groups, strongly dependent (p far in the tail)
    [[120, 10, 5], [15, 140, 20], [10, 12, 160], [50, 45, 55]],
    # 3 x 4 with small counts
    [[1, 2, 0, 4], [3, 1, 2, 0], [0, 5, 1, 1]],
]

SF_GRID = [(0.5, 1), (3.84, 1), (10.0, 1), (50.0, 1), (0.1, 2), (5.99, 2), (100.0, 4),
           (7.0, 7), (30.0, 12), (200.0, 30), (1000.0, 99), (3.0, 0.5), (1e-3, 3), (700.0, 3)]


def main():
    out = [c_define("AUDIT_N_TABLES", len(TABLES))]
    k = [len(t) for t in TABLES]
    g = [len(t[0]) for t in TABLES]
    out.append(c_array("size_t", "audit_k", k, per_line=8, fmt=str))
    out.append(c_array("size_t", "audit_g", g, per_line=8, fmt=str))
    flat = [c for t in TABLES for row in t for c in row]
    out.append(c_array("size_t", "audit_counts", flat, per_line=12, fmt=str))
    stats, dofs, ps, vs = [], [], [], []
    for t in TABLES:
        s, p, dof, _ = chi2_contingency(np.array(t), correction=False)
        stats.append(s)
        ps.append(p)
        dofs.append(dof)
        vs.append(association(np.array(t), method="cramer"))
    out.append(c_array("double", "audit_chi2", stats))
    out.append(c_array("size_t", "audit_dof", dofs, per_line=8, fmt=str))
    out.append(c_array("double", "audit_p", ps))
    out.append(c_array("double", "audit_v", vs))
    out.append(c_define("AUDIT_N_SF", len(SF_GRID)))
    out.append(c_array("double", "audit_sf_x", [x for x, _ in SF_GRID]))
    out.append(c_array("double", "audit_sf_dof", [d for _, d in SF_GRID]))
    out.append(c_array("double", "audit_sf", [chi2.sf(x, d) for x, d in SF_GRID]))
    write_fixture(os.path.join(HERE, "fixtures_audit.h"), "make_audit_fixtures.py", __doc__, "numpy %s, scipy %s" % (np.__version__, scipy.__version__), "".join(out))


if __name__ == "__main__":
    main()
