#!/usr/bin/python3
"""The BG/NBD conditional expectation at a fit's bounds (a ~ 1e5, b ~ 7e6),
for tests/test_clv.c (test_hard_cases): there 2F1's series is beyond the range
of doubles and (1 - z)^(a - 1) below it. Summed here independently of the C
code: each term's logarithm by its recurrence, the series by log-sum-exp,
until the terms are e^-60 of the largest. Plain Python (math only; mpmath's
hyp2f1 did not finish in minutes at these parameters).

    /usr/bin/python3 tests/reference/clv_large_ab.py
"""
import math

r, alpha, a, b = 1.340566874, 9.511779133, 117470.5851, 6936429.478
t = 365.25


def lse(v):
    m = max(v)
    return m + math.log(sum(math.exp(x - m) for x in v))


for x, tx, T in [(2, 5, 10), (3, 8, 12), (0, 0, 20)]:
    # Euler's transformation, as the C code: 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z)
    z = t / (alpha + T + t)
    A, B, c = a + b - 1 - r, a - 1, a + b + x - 1
    logs, j, lt, top = [], 0, 0.0, 0.0
    while True:
        logs.append(lt)
        top = max(top, lt)
        lt += math.log((A + j) * (B + j) / ((c + j) * (j + 1)) * z)
        j += 1
        if j > 10 and lt < top - 60:
            break
    num = (a + b + x - 1) / (a - 1) * (1 - math.exp((a - 1) * math.log1p(-z) + lse(logs)))
    den = 1 + (a / (b + x - 1) * math.exp((r + x) * math.log((alpha + T) / (alpha + tx)))
               if x > 0 else 0)
    print(repr(num / den))
