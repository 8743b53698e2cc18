"""The greedy, no-repeat pair search of SeNT (spec step 2), exact and fast.

Definition (per attribute k): attributes are min/max normalised to [0, 1]; scan i ascending and
pair i with the FIRST unused j < i whose distance over all attributes except k is within the
threshold (squared Euclidean <= threshold^2, or in categorical mode the number of differing
attributes <= threshold); both become used; stop at `limit` pairs.

Equivalent fast form: an index i is never used when the scan reaches it, and every index that
found no partner waits in the queue of its cell (its exact values on the other attributes) in
ascending order. So the first unused j < i within reach is the smallest queue head among the
cells within the threshold of i's cell: a queue pop instead of a scan. Threshold 0 visits one
cell; a positive threshold enumerates the cells within reach, and every candidate is checked
with the same distance function as the brute-force definition, so the output is identical.
"""

from __future__ import annotations

import numba
import numpy as np

from sent.errors import SentError


def normalise(attributes: np.ndarray):
    """(values scaled to [0, 1] per column by min/max, (min, max)); constant columns become 0."""
    a = np.asarray(attributes, dtype=np.float64)
    lo, hi = a.min(axis=0), a.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (a - lo) / span, (lo, hi)


@numba.njit(cache=True)
def _distance(x, i, j, skip, categorical):
    """Distance of rows i and j over all columns but `skip`: squared Euclidean or a count."""
    d = 0.0
    for c in range(x.shape[1]):
        if c == skip:
            continue
        diff = x[i, c] - x[j, c]
        if categorical:
            if diff != 0.0:
                d += 1.0
        else:
            d += diff * diff
    return d


@numba.njit(cache=True)
def _brute_force(x, skip, limit, bound, categorical):
    n = x.shape[0]
    used = np.zeros(n, dtype=np.bool_)
    out_i = np.empty(min(n // 2, limit), dtype=np.int64)
    out_j = np.empty_like(out_i)
    out_d = np.empty(out_i.shape[0], dtype=np.float64)
    count = 0
    for i in range(n):
        if count >= limit:
            break
        if used[i]:
            continue
        for j in range(i):
            if not used[j]:
                d = _distance(x, i, j, skip, categorical)
                if d <= bound:
                    used[i] = True
                    used[j] = True
                    out_i[count], out_j[count], out_d[count] = i, j, d
                    count += 1
                    break
    return out_i[:count], out_j[:count], out_d[:count]


def brute_force_pairs(x: np.ndarray, attribute: int, threshold: float = 0.0, limit: int = 300_000,
                      categorical: bool = False):
    """The O(N^2) greedy definition, literally: the reference for tests and benchmarks."""
    bound = float(threshold) if categorical else float(threshold) ** 2
    return _brute_force(np.ascontiguousarray(x, dtype=np.float64), attribute, limit, bound, categorical)


@numba.njit(cache=True, inline="always")
def _cost(values, point, col, v, skip, categorical):
    """Distance contribution of value index v in column col; the searched attribute costs nothing."""
    if col == skip:
        return 0.0
    diff = values[col, v] - point[col]
    if categorical:
        return 1.0 if diff != 0.0 else 0.0
    return diff * diff


@numba.njit(cache=True)
def _reachable_cells(values, counts, strides, point, skip, budget, categorical, cells):
    """Fill `cells` with the codes of all cells within `budget` of `point` (depth-first over columns)."""
    ncols = values.shape[0]
    n_found = 0
    choice = np.zeros(ncols, dtype=np.int64)   # value index chosen per column
    spent = np.zeros(ncols + 1, dtype=np.float64)
    col = 0
    choice[0] = -1
    while col >= 0:
        if col == ncols:
            code = 0
            for c in range(ncols):
                code += choice[c] * strides[c]
            cells[n_found] = code
            n_found += 1
            col -= 1
            continue
        v = choice[col] + 1
        while v < counts[col] and spent[col] + _cost(values, point, col, v, skip, categorical) > budget:
            v += 1
        if v < counts[col]:
            choice[col] = v
            spent[col + 1] = spent[col] + _cost(values, point, col, v, skip, categorical)
            col += 1
            if col < ncols:
                choice[col] = -1
        else:
            choice[col] = -1
            col -= 1
    return n_found


@numba.njit(cache=True)
def _greedy_cells(x, cell_of, cell_start, values, counts, strides, code_to_cell, skip, limit, bound,
                  categorical):
    n = x.shape[0]
    head = cell_start[:-1].copy()   # queue of cell c: queue[head[c]:tail[c]]
    tail = cell_start[:-1].copy()
    queue = np.empty(n, dtype=np.int64)
    out_i = np.empty(min(n // 2, limit), dtype=np.int64)
    out_j = np.empty_like(out_i)
    out_d = np.empty(out_i.shape[0], dtype=np.float64)
    total = 1
    for c in range(counts.shape[0]):
        if c != skip:
            total *= counts[c]
    codes = np.empty(total, dtype=np.int64)
    slack = bound * 1e-9 + 1e-12  # enumerate generously; candidates are checked exactly below
    point = np.empty(x.shape[1], dtype=np.float64)
    count = 0
    for i in range(n):
        if count >= limit:
            break
        own = cell_of[i]
        best = -1
        if bound == 0.0:
            if head[own] < tail[own]:
                best = queue[head[own]]
                best_cell = own
        else:
            for c in range(x.shape[1]):
                point[c] = x[i, c]
            m = _reachable_cells(values, counts, strides, point, skip, bound + slack, categorical, codes)
            for q in range(m):
                cell = code_to_cell[codes[q]]
                if cell < 0 or head[cell] == tail[cell]:
                    continue
                j = queue[head[cell]]
                if (best < 0 or j < best) and _distance(x, i, j, skip, categorical) <= bound:
                    best = j
                    best_cell = cell
        if best >= 0:
            head[best_cell] += 1
            out_i[count], out_j[count] = i, best
            out_d[count] = _distance(x, i, best, skip, categorical)
            count += 1
        else:
            queue[tail[own]] = i
            tail[own] += 1
    return out_i[:count], out_j[:count], out_d[:count]


def find_pairs(x: np.ndarray, attribute: int, threshold: float = 0.0, limit: int = 300_000,
               categorical: bool = False):
    """Greedy pairs for one attribute of normalised attributes x (N x F).

    Returns (i, j, d) arrays in the order found, with j < i; d is the squared Euclidean distance
    (or, categorical, the count of differing attributes) over the other attributes.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise SentError(f"attributes: expected a non-empty (N, F) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise SentError("attributes: contain NaN or infinite values")
    if not 0 <= attribute < x.shape[1]:
        raise SentError(f"attribute index {attribute} out of range 0..{x.shape[1] - 1}")
    if threshold < 0 or limit < 0:
        raise SentError(f"threshold ({threshold}) and limit ({limit}) must be non-negative")
    bound = float(threshold) if categorical else float(threshold) ** 2
    # per column: sorted distinct values; a cell is the tuple of value indices of the other columns
    uniques, index_cols = [], []
    for c in range(x.shape[1]):
        u, inv = np.unique(x[:, c], return_inverse=True)
        if c == attribute:
            u, inv = u[:1], np.zeros_like(inv)
        uniques.append(u)
        index_cols.append(inv.ravel())
    counts = np.array([len(u) for u in uniques], dtype=np.int64)
    if float(np.prod(counts.astype(np.float64))) > 2**40:
        raise SentError("attributes: too many distinct value combinations for the cell index; "
                        "round or categorise the attributes first")
    strides = np.ones(len(counts), dtype=np.int64)
    for c in range(len(counts) - 2, -1, -1):
        strides[c] = strides[c + 1] * counts[c + 1]
    codes = np.zeros(len(x), dtype=np.int64)
    for c, inv in enumerate(index_cols):
        codes += inv * strides[c]
    cell_codes, cell_of = np.unique(codes, return_inverse=True)
    cell_of = cell_of.ravel().astype(np.int64)
    cell_start = np.concatenate([[0], np.cumsum(np.bincount(cell_of, minlength=len(cell_codes)))])
    if bound > 0:
        code_to_cell = np.full(int(counts.prod()), -1, dtype=np.int64)
        code_to_cell[cell_codes] = np.arange(len(cell_codes))
    else:
        code_to_cell = np.zeros(1, dtype=np.int64)
    values = np.zeros((len(counts), counts.max()), dtype=np.float64)
    for c, u in enumerate(uniques):
        values[c, :len(u)] = u
    return _greedy_cells(x, cell_of, cell_start.astype(np.int64), values, counts, strides, code_to_cell,
                         attribute, int(limit), bound, categorical)
