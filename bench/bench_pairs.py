"""findpairs: the cell-queue algorithm vs the brute-force greedy definition, same data, one run.

Real workload: seed 0's test split (338,688 rows), threshold 0, limit 300,000, all 9 attributes
by the fast algorithm; the brute force is timed on --brute-attributes (minutes each) and the
outputs compared. Then threshold > 0 on the first 100,000 rows. Then continuous attributes (every
value distinct, the case of user-defined attributes): --continuous-rows uniform rows in 3, 5 and 9
dims at thresholds 0.05 and 0.2.

usage: python bench/bench_pairs.py [--brute-attributes 8] [--threshold 0.1] [--continuous-rows 20000]
"""

import argparse
import time

import numpy as np

from sent.core.pairs import brute_force_pairs, find_pairs, normalise
from sent.dmelodies import data


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--brute-attributes", default="8", help="comma-separated attribute indices")
    parser.add_argument("--threshold", type=float, default=0.1)
    parser.add_argument("--rows", type=int, default=100_000, help="rows for the threshold > 0 comparison")
    parser.add_argument("--continuous-rows", type=int, default=20_000)
    args = parser.parse_args()
    x, _ = normalise(data.factors_of(data.split_indices(seed=0)[2]))
    find_pairs(x[:100], 0), brute_force_pairs(x[:100], 0), find_pairs(x[:100], 0, 0.1)  # compile

    fast, fast_total = {}, 0.0
    for k in range(9):
        fast[k], t = timed(lambda: find_pairs(x, k, 0.0, 300_000))
        fast_total += t
    print(f"threshold 0, {len(x):,} rows: all 9 attributes in {fast_total:.2f} s (fast)")
    for k in (int(v) for v in args.brute_attributes.split(",") if v):
        _, t_fast = timed(lambda: find_pairs(x, k, 0.0, 300_000))
        ref, t_brute = timed(lambda: brute_force_pairs(x, k, 0.0, 300_000))
        print(f"  {data.ATTRIBUTE_NAMES[k]}: fast {t_fast:.3f} s, brute force {t_brute:.1f} s, "
              f"ratio {t_brute / t_fast:,.0f}x, identical: {same(fast[k], ref)}, pairs {len(ref[0]):,}")

    sub = x[:args.rows]
    for k in (0, 3):
        got, t_fast = timed(lambda: find_pairs(sub, k, args.threshold, 300_000))
        ref, t_brute = timed(lambda: brute_force_pairs(sub, k, args.threshold, 300_000))
        print(f"threshold {args.threshold}, {len(sub):,} rows, {data.ATTRIBUTE_NAMES[k]}: fast {t_fast:.3f} s, "
              f"brute force {t_brute:.1f} s, ratio {t_brute / t_fast:,.0f}x, identical: {same(got, ref)}")

    rng = np.random.default_rng(0)
    for dims in (3, 5, 9):
        cont = rng.random((args.continuous_rows, dims))
        for threshold in (0.05, 0.2):
            got, t_fast = timed(lambda: find_pairs(cont, 0, threshold, 300_000))
            ref, t_brute = timed(lambda: brute_force_pairs(cont, 0, threshold, 300_000))
            print(f"continuous, {len(cont):,} rows x {dims} dims, threshold {threshold}: fast {t_fast:.3f} s, "
                  f"brute force {t_brute:.2f} s, ratio {t_brute / t_fast:,.1f}x, identical: {same(got, ref)}, "
                  f"pairs {len(ref[0]):,}")


if __name__ == "__main__":
    main()
