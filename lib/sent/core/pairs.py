"""The greedy, no-repeat pair search of SeNT (spec step 2), exact and fast.

Definition (per attribute k): attributes are min/max normalised to [0, 1]; scan i ascending and
pair i with the FIRST unused j < i whose distance over all attributes except k is within the
threshold (squared Euclidean <= threshold^2, or in categorical mode the number of differing
attributes <= threshold); both become used; stop at `limit` pairs.

Equivalent fast forms, identical output, memory O(N) for any data:
- Few distinct values (dMelodies), or threshold 0: an index i is never used when the scan reaches
  it, and every index that found no partner waits in the queue of its cell (its exact values on
  the other attributes) in ascending order. So the first unused j < i within reach is the
  smallest queue head among the cells within the threshold of i's cell: a queue pop instead of
  a scan. Threshold 0 visits one cell; a positive one enumerates the lattice cells within reach.
- Many distinct values (continuous attributes) and a Euclidean threshold > 0: the waiting indices
  are pairwise out of reach, so few wait in any grid cube of side = threshold; i checks the
  waiting lists of the cubes within reach and takes the smallest index in reach.
Every candidate is checked with the brute-force definition's own distance function.
"""

from __future__ import annotations

import numba
import numpy as np

from sent.util.errors import SentError


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
    total = 1  # threshold 0 visits only i's own cell: no lattice buffer (its size may not even fit)
    for c in range(counts.shape[0]):
        if c != skip and bound > 0.0:
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


@numba.njit(cache=True)
def _find_cell(keys, key):
    """Row of `key` in the lexicographically sorted int64 rows `keys`, or -1."""
    lo, hi = 0, keys.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        order = 0
        for c in range(keys.shape[1]):
            if keys[mid, c] != key[c]:
                order = -1 if keys[mid, c] < key[c] else 1
                break
        if order == 0:
            return mid
        if order < 0:
            lo = mid + 1
        else:
            hi = mid
    return -1


@numba.njit(cache=True)
def _greedy_grid(x, coords, keys, cell_of, side, skip, limit, bound):
    """Euclidean threshold > 0. Every unused j < i is a row still waiting for a partner, and
    waiting rows are pairwise out of reach (a later one would have paired with an earlier one),
    so few of them lie in any cube of side `side` >= threshold. They wait, in ascending order, in
    doubly linked lists per grid cube; row i looks only at the cubes whose box is within reach
    (offsets -1, 0, +1 per column, pruned depth-first) and takes the smallest waiting index in reach.
    Memory O(rows + cubes)."""
    n = x.shape[0]
    head = np.full(keys.shape[0], -1, dtype=np.int64)
    tail = np.full(keys.shape[0], -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    prv = np.full(n, -1, dtype=np.int64)
    out_i = np.empty(min(n // 2, limit), dtype=np.int64)
    out_j = np.empty_like(out_i)
    out_d = np.empty(out_i.shape[0], dtype=np.float64)
    scratch = (np.zeros(x.shape[1], dtype=np.int64), np.zeros(x.shape[1] + 1, dtype=np.float64),
               np.empty(x.shape[1], dtype=np.int64))
    count = 0
    for i in range(n):
        if count >= limit:
            break
        best = _nearest_waiting(x, i, coords, keys, head, nxt, side, skip, bound, scratch)
        if best >= 0:
            _stop_waiting(best, cell_of[best], head, tail, nxt, prv)
            out_i[count], out_j[count] = i, best
            out_d[count] = _distance(x, i, best, skip, False)
            count += 1
        else:
            _start_waiting(i, cell_of[i], head, tail, nxt, prv)
    return out_i[:count], out_j[:count], out_d[:count]


@numba.njit(cache=True)
def _nearest_waiting(x, i, coords, keys, head, nxt, side, skip, bound, scratch):
    """The smallest waiting row within `bound` of row i, or -1: a depth-first walk over the
    neighbouring cubes' offsets, pruned where the near faces alone are already out of reach.
    `scratch`: the walk's arrays (offset per column, distance spent, cube key), reused per row."""
    ncols = x.shape[1]
    slack = bound * (1 + 1e-9) + 1e-12  # prune generously; candidates are checked exactly
    offset, spent, key = scratch
    best = -1
    col = 0
    offset[0] = -2
    while col >= 0:
        if col == ncols:
            for c in range(ncols):
                key[c] = coords[i, c] + offset[c]
            cell = _find_cell(keys, key)
            if cell >= 0:
                j = head[cell]
                while j >= 0 and (best < 0 or j < best):
                    if _distance(x, i, j, skip, False) <= bound:
                        best = j
                        break
                    j = nxt[j]
            col -= 1
            continue
        o = offset[col] + 1
        cost = 0.0
        while o <= 1:
            if col == skip:
                if o == 0:
                    break
            elif o == 0:
                cost = 0.0
                break
            else:
                edge = (coords[i, col] + (o > 0)) * side  # the near face of the neighbouring cube
                cost = (x[i, col] - edge) ** 2
                if spent[col] + cost <= slack:
                    break
            o += 1
        if o <= 1:
            offset[col] = o
            spent[col + 1] = spent[col] + cost
            col += 1
            if col < ncols:
                offset[col] = -2
        else:
            col -= 1
    return best


@numba.njit(cache=True)
def _stop_waiting(row, cell, head, tail, nxt, prv):
    """Unlink a row from its cube's list of waiting rows."""
    if prv[row] >= 0:
        nxt[prv[row]] = nxt[row]
    else:
        head[cell] = nxt[row]
    if nxt[row] >= 0:
        prv[nxt[row]] = prv[row]
    else:
        tail[cell] = prv[row]


@numba.njit(cache=True)
def _start_waiting(row, cell, head, tail, nxt, prv):
    """Append a row (the largest index so far) to its cube's list of waiting rows."""
    prv[row] = tail[cell]
    if tail[cell] >= 0:
        nxt[tail[cell]] = row
    else:
        head[cell] = row
    tail[cell] = row


def _grid_pairs(x, attribute, threshold, bound, limit):
    """Grid cubes of side a hair above the threshold: an in-reach pair's cube coordinates then
    differ by at most 1 per column despite rounding."""
    side = threshold * (1 + 1e-6)
    coords = np.floor(x / side).astype(np.int64)
    coords[:, attribute] = 0
    keys, cell_of = np.unique(coords, axis=0, return_inverse=True)
    return _greedy_grid(x, coords, np.ascontiguousarray(keys), cell_of.ravel().astype(np.int64), side,
                        attribute, limit, bound)


# the lattice of distinct values may use this many entries per row (memory O(rows))
LATTICE_ENTRIES_PER_ROW = 16


def find_pairs(x: np.ndarray, attribute: int, threshold: float = 0.0, limit: int = 300_000,
               categorical: bool = False):
    """Greedy pairs for one attribute of normalised attributes x (N x F).

    Returns (i, j, d) arrays in the order found, with j < i; d is the squared Euclidean distance
    (or, categorical, the count of differing attributes) over the other attributes. Memory is
    O(N) for any data and threshold.
    """
    x = np.ascontiguousarray(x, dtype=np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0: one cell per value
    if x.ndim != 2 or x.shape[0] == 0:
        raise SentError(f"attributes: expected a non-empty (N, F) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise SentError("attributes: contain NaN or infinite values")
    if not 0 <= attribute < x.shape[1]:
        raise SentError(f"attribute index {attribute} out of range 0..{x.shape[1] - 1}")
    if not threshold >= 0 or limit < 0:
        raise SentError(f"threshold ({threshold}) and limit ({limit}) must be non-negative")
    bound = float(threshold) if categorical else float(threshold) ** 2
    # a cell is the tuple of value indices of the other columns; its rows wait in one queue, ascending
    uniques, value_of = [], np.zeros(x.shape, dtype=np.int64)
    for c in range(x.shape[1]):
        u, inv = np.unique(x[:, c], return_inverse=True)
        if c != attribute:
            value_of[:, c] = inv.ravel()
        uniques.append(u if c != attribute else u[:1])
    counts = np.array([len(u) for u in uniques], dtype=np.int64)
    lattice = float(np.prod(counts.astype(np.float64)))
    if lattice < 2.0 ** 62:  # a cell's code fits an int64: one fast 1-d unique
        strides = np.ones(len(counts), dtype=np.int64)
        for c in range(len(counts) - 2, -1, -1):
            strides[c] = strides[c + 1] * counts[c + 1]
        cell_codes, cell_of = np.unique(value_of @ strides, return_inverse=True)
    else:
        cell_codes, cell_of = None, np.unique(value_of, axis=0, return_inverse=True)[1]
    cell_of = cell_of.ravel().astype(np.int64)
    cell_start = np.concatenate([[0], np.cumsum(np.bincount(cell_of))]).astype(np.int64)
    values = np.zeros((len(counts), counts.max()), dtype=np.float64)
    for c, u in enumerate(uniques):
        values[c, :len(u)] = u
    if bound == 0:  # only i's own cell: no lattice table
        ones = np.ones(len(counts), dtype=np.int64)
        return _greedy_cells(x, cell_of, cell_start, values, counts, ones, ones[:1], attribute, int(limit), 0.0,
                             categorical)
    if lattice > max(LATTICE_ENTRIES_PER_ROW * len(x), 2 ** 20):
        if categorical:
            raise SentError(f"attributes: {lattice:.3g} combinations of distinct values are too many for "
                            "categorical mode with a threshold; use Euclidean distance (no --categorical)")
        return _grid_pairs(x, attribute, float(threshold), bound, int(limit))
    # few distinct values (e.g. dMelodies): enumerate the lattice cells within reach
    code_to_cell = np.full(int(counts.prod()), -1, dtype=np.int64)
    code_to_cell[cell_codes] = np.arange(len(cell_codes))
    return _greedy_cells(x, cell_of, cell_start, values, counts, strides, code_to_cell, attribute, int(limit),
                         bound, categorical)
