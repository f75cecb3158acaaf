#!/usr/bin/python3
"""Write the benchmark dataset: Gaussian blobs of unequal size and spread,
shaped like standardised customer features, as CSV with a header.

usage: make_blobs.py OUT.csv N D K [--noise FRACTION] [--seed S] [--box B]

Centres are drawn uniformly from [-B, B]^D (default B = 10, well separated;
bench/compare.py uses a smaller box so k-means needs a realistic number of
iterations).
"""
import argparse

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("n", type=int)
    ap.add_argument("d", type=int)
    ap.add_argument("k", type=int)
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--box", type=float, default=10.0,
                    help="centres uniform in [-BOX, BOX] per coordinate (default 10)")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    # Unequal sizes (weights 1..k) and spreads (0.5..2).
    w = np.arange(1, a.k + 1, dtype=float)
    sizes = rng.multinomial(a.n - int(a.n * a.noise), w / w.sum())
    centres = rng.uniform(-a.box, a.box, size=(a.k, a.d))
    parts = [c + rng.normal(scale=rng.uniform(0.5, 2.0), size=(s, a.d))
             for c, s in zip(centres, sizes)]
    n_noise = a.n - sum(sizes)
    if n_noise:
        parts.append(rng.uniform(-15, 15, size=(n_noise, a.d)))
    X = np.vstack(parts)
    rng.shuffle(X)
    header = ",".join(f"x{j}" for j in range(a.d))
    np.savetxt(a.out, X, delimiter=",", header=header, comments="", fmt="%.6f")


if __name__ == "__main__":
    main()
