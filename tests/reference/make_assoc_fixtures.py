#!/usr/bin/python3
"""Regenerate the association-rule fixtures used by tests/test_assoc.c.

Run from the repository root:

    /usr/bin/python3 tests/reference/make_assoc_fixtures.py

It writes tests/reference/fixtures_assoc.h (committed, so the test suite never
needs Python). Independent of the C code: a level-wise Apriori in plain Python
(tid sets as Python integers) and scipy.stats.fisher_exact. Fixtures: on
Groceries (../shared/data/groceries.csv, when present), the number of frequent
itemsets of each size at supports 0.01, 0.005 and 0.001 with a checksum of
every itemset and its count, and the number of rules at (support, confidence,
largest consequent) settings, with the sums of their supports, confidences and
lifts and a checksum of their two sides; for a small seeded basket set in three
segments, every itemset's count in every group by brute force (all subsets of
the 7 items) and every rule at support 0.1 and confidence 0.4 with its
metrics and Fisher p-value; and Fisher one-sided p-values for a grid of 2 x 2
tables.
"""

import itertools
import os
import random
import sys

import numpy as np
import scipy
from scipy.stats import fisher_exact

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_gmm_fixtures import c_array, c_define, write_fixture  # noqa: E402

GROCERIES = os.path.join(HERE, "..", "..", "..", "shared", "data", "groceries.csv")
SUPPORTS = [0.01, 0.005, 0.001]
RULE_SETTINGS = [(0.001, 0.5, 0), (0.001, 0.5, 1), (0.001, 0.8, 1), (0.005, 0.5, 0), (0.01, 0.3, 1),
                 (0.01, 0.3, 0)]
FISHER = [(100, 20, 30, 12), (9835, 200, 2513, 120), (50, 10, 10, 10), (40, 5, 30, 1), (1000, 1, 1, 1),
          (9835, 30, 30, 10), (20, 10, 10, 5)]


def read_baskets(path):
    out = []
    with open(path) as f:
        for line in f:
            items = sorted({x.strip() for x in line.rstrip("\n").split(",") if x.strip()})
            if items:
                out.append(items)
    return out


def apriori(baskets, min_count):
    """Frequent itemsets (sorted tuples) -> count, level by level."""
    tid = {}
    for b, items in enumerate(baskets):
        for it in items:
            tid[it] = tid.get(it, 0) | (1 << b)
    level = {(it,): t for it, t in tid.items() if bin(t).count("1") >= min_count}
    result = {k: bin(t).count("1") for k, t in level.items()}
    while level:
        keys = sorted(level)
        nxt = {}
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                if a[:-1] != b[:-1]:
                    break
                cand = a + (b[-1],)
                # every subset one smaller must be frequent (Apriori pruning)
                if any(cand[:j] + cand[j + 1:] not in level for j in range(len(cand))):
                    continue
                t = level[a] & level[b]
                c = bin(t).count("1")
                if c >= min_count:
                    nxt[cand] = t
                    result[cand] = c
        level = nxt
    return result


def rules(counts, n, min_conf, max_cons):
    out = []
    for items, c in counts.items():
        if len(items) < 2:
            continue
        for r in range(1, len(items)):
            for lhs in itertools.combinations(items, r):
                rhs = tuple(x for x in items if x not in lhs)
                if max_cons and len(rhs) > max_cons:
                    continue
                conf = c / counts[lhs]
                if conf >= min_conf:
                    out.append((lhs, rhs, c / n, conf, conf / (counts[rhs] / n)))
    return out


CHECK_P = (1 << 61) - 1
RANK = {}


def code(items):
    """An itemset as the product of its items' ranks + 1, modulo 2^61 - 1."""
    v = 1
    for it in items:
        v = v * (RANK[it] + 1) % CHECK_P
    return v


def fisher(n, na, nb, nab):
    table = [[nab, na - nab], [nb - nab, n - na - nb + nab]]
    return fisher_exact(table, alternative="greater")[1]


def small_data():
    rng = random.Random(5)
    items = ["a", "b", "c", "d", "e", "f", "g"]
    baskets, segs = [], []
    for i in range(90):
        seg = i % 4 - 1  # -1: in no segment; 0, 1, 2
        w = {-1: 0.3, 0: 0.5, 1: 0.2, 2: 0.4}[seg]
        b = [it for j, it in enumerate(items) if rng.random() < w + (0.3 if seg == j % 3 else 0)]
        if not b:
            b = [items[i % 7]]
        baskets.append(b)
        segs.append(seg)
    return items, baskets, segs


def main():
    out = []
    out.append(c_define("ASSOC_N_FISHER", len(FISHER)))
    out.append(c_array("size_t", "assoc_fisher_tables", [v for t in FISHER for v in t], per_line=8, fmt=str))
    out.append(c_array("double", "assoc_fisher_p", [fisher(*t) for t in FISHER]))

    # small segmented data, brute force over every subset of the items
    items, baskets, segs = small_data()
    groups = [list(range(len(baskets)))] + [[i for i, s in enumerate(segs) if s == g] for g in range(3)]
    lines = [",".join(b) for b in baskets]
    out.append(c_define("ASSOC_SMALL_N", len(baskets)))
    out.append("static const char *const assoc_small_baskets[] __attribute__((unused)) = {\n%s\n};\n"
               % "\n".join('    "%s",' % s for s in lines))
    out.append(c_array("int32_t", "assoc_small_segment", segs, per_line=16, fmt=str))
    sets, cnts = [], []
    for r in range(1, len(items) + 1):
        for comb in itertools.combinations(items, r):
            sets.append("".join(comb))
            cnts.extend(sum(1 for i in g if set(comb) <= set(baskets[i])) for g in groups)
    out.append(c_define("ASSOC_SMALL_N_SETS", len(sets)))
    out.append("static const char *const assoc_small_sets[] __attribute__((unused)) = {\n%s\n};\n"
               % "\n".join('    "%s",' % s for s in sets))
    out.append(c_array("size_t", "assoc_small_counts", cnts, per_line=16, fmt=str))
    # rules at support 0.1, confidence 0.4 in every group
    rows, ps = [], []
    for g, members in enumerate(groups):
        n = len(members)
        gb = [baskets[i] for i in members]
        counts = apriori(gb, int(np.ceil(0.1 * n - 1e-9)))
        for lhs, rhs, sup, conf, lift in rules(counts, n, 0.4, 0):
            rows.append('    {%d, "%s", "%s", %.17g, %.17g, %.17g, %.17g},'
                        % (g, "".join(lhs), "".join(rhs), sup, conf, lift,
                           fisher(n, counts[lhs], counts[rhs], counts[tuple(sorted(lhs + rhs))])))
    out.append(c_define("ASSOC_SMALL_N_RULES", len(rows)))
    out.append("typedef struct assoc_fixture_rule {\n    int group;\n    const char *lhs, *rhs;\n"
               "    double support, confidence, lift, p_value;\n} assoc_fixture_rule;\n")
    out.append("static const assoc_fixture_rule assoc_small_rules[] __attribute__((unused)) = {\n%s\n};\n"
               % "\n".join(rows))

    if os.path.exists(GROCERIES):
        gb = read_baskets(GROCERIES)
        n = len(gb)
        for r, it in enumerate(sorted({it for b in gb for it in b}, key=lambda x: x.encode())):
            RANK[it] = r
        per_size, all_counts = [], {}
        for s in SUPPORTS:
            counts = apriori(gb, int(np.ceil(s * n - 1e-9)))
            all_counts[s] = counts
            sizes = [0] * 10
            for k in counts:
                sizes[len(k)] += 1
            per_size.extend(sizes)
            print("groceries support %g: %d itemsets" % (s, len(counts)))
        out.append("#define ASSOC_HAVE_GROCERIES 1\n")
        out.append(c_define("ASSOC_GROCERIES_N", n))
        out.append(c_define("ASSOC_N_SUPPORTS", len(SUPPORTS)))
        out.append(c_array("double", "assoc_supports", SUPPORTS))
        out.append(c_array("size_t", "assoc_sizes", per_size, per_line=10, fmt=str))
        out.append(c_define("ASSOC_N_SETTINGS", len(RULE_SETTINGS)))
        out.append(c_array("double", "assoc_settings", [v for t in RULE_SETTINGS for v in t], per_line=3))
        nr, sums, rchk = [], [], []
        for s, c, m in RULE_SETTINGS:
            rs = rules(all_counts[s], n, c, m)
            nr.append(len(rs))
            sums.extend([sum(r[2] for r in rs), sum(r[3] for r in rs), sum(r[4] for r in rs)])
            rchk.append(sum(7 * code(r[0]) + 13 * code(r[1]) for r in rs) % CHECK_P)
            print("groceries rules (%g, %g, %d): %d" % (s, c, m, len(rs)))
        out.append(c_array("size_t", "assoc_n_rules", nr, per_line=8, fmt=str))
        out.append(c_array("double", "assoc_rule_sums", sums, per_line=3))
        # Every itemset with its count, and every rule's two sides, as checksums
        # (an item is its rank among the sorted item names, plus 1).
        out.append(c_array("uint64_t", "assoc_set_check",
                           [sum(cnt * code(k) for k, cnt in all_counts[s].items()) % CHECK_P for s in SUPPORTS],
                           per_line=3, fmt=lambda v: "%dULL" % v))
        out.append(c_array("uint64_t", "assoc_rule_check", rchk, per_line=3, fmt=lambda v: "%dULL" % v))
    else:
        print("note: %s is absent; the Groceries fixtures are left out" % GROCERIES)
    write_fixture(os.path.join(HERE, "fixtures_assoc.h"), "make_assoc_fixtures.py", __doc__,
                  "numpy %s, scipy %s" % (np.__version__, scipy.__version__), "".join(out))


if __name__ == "__main__":
    main()
