"""The strict per-edit measure of sent.core.scores: success (value reached, nothing else moved)."""

import numpy as np
import pytest

from sent.core.scores import pooled, scores, success_fraction, sums
from sent.core.verify import Judge

START = [3, 1, 0, 5]
TARGET = [3, 1, 2, 5]  # attribute 2 edited from 0 to 2
EXACT = Judge.exact(4)


def within(tolerances):
    return Judge(np.ones(4), np.array(tolerances, dtype=float), None)


def test_success_counts_an_edit_only_when_the_value_is_reached_and_the_rest_kept():
    a1, a2 = np.array([START] * 5), np.array([TARGET] * 5)
    achieved = np.array([[3, 1, 2, 5],     # reached, rest kept: success
                         [3, 1, 1, 5],     # one step short
                         [4, 1, 2, 5],     # reached, attribute 0 moved
                         [3, -1, 2, 5],    # reached, attribute 1 became invalid: a change
                         [3, 1, -1, 5]])   # the edited attribute invalid
    assert success_fraction(a1, a2, achieved, 2, EXACT) == 0.2
    result = scores(a1, a2, achieved, [[0] * 4, [11, 2, 2, 11]], 2)
    assert result["success"] == 0.2 and result["valid"] == 0.8


def test_attributes_invalid_at_the_start_are_not_held_and_tolerances_apply():
    a1, a2 = np.array([[3, -1, 0, 5], START]), np.array([TARGET, TARGET])
    achieved = np.array([[3, 0, 2, 5], [4, 1, 2, 5]])
    assert success_fraction(a1, a2, achieved, 2, EXACT) == 0.5  # row 0: no value to keep
    # a continuous plug-in: floats, NaN for invalid, within tolerance (raw units)
    a1, a2 = np.array([START, START], dtype=float), np.array([TARGET, TARGET], dtype=float)
    achieved = np.array([[3.2, 1, 2.3, 5], [3.05, 1, 2, 5]])
    assert success_fraction(a1, a2, achieved, 2, EXACT) == 0.0
    assert success_fraction(a1, a2, achieved, 2, within([0.25, 0, 0.5, 0])) == 1.0
    assert success_fraction(a1, a2, achieved, 2, within([0.1, 0, 0.5, 0])) == 0.5
    nan_start = np.array([[3, np.nan, 0, 5], START], dtype=float)
    assert success_fraction(nan_start, a2, np.array([[3, 7, 2, 5], [3, np.nan, 2, 5]]), 2, EXACT) == 0.5


def test_sums_pool_to_the_scores_of_the_pairs_taken_together():
    """R^2 and valid fraction from `sums` added over parts equal sklearn's on the concatenation."""
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(3)
    a2 = rng.integers(0, 12, (300, 3))
    ap = np.where(rng.random((300, 3)) < 0.7, a2, rng.integers(0, 12, (300, 3)))
    ap[rng.random(300) < 0.2, 1] = -1
    valid = ap[:, 1] != -1
    expected = r2_score(a2[valid, 1], ap[valid, 1])
    parts = [sums(a2[s], ap[s], 1) for s in (slice(0, 40), slice(40, 300))]
    assert pooled(parts)["r2"] == pytest.approx(expected, abs=1e-12)
    assert pooled(parts)["valid"] == pytest.approx(valid.mean())
    assert pooled([parts[0]])["r2"] == pytest.approx(r2_score(a2[:40][valid[:40], 1], ap[:40][valid[:40], 1]))
    assert np.isnan(pooled([sums(a2[:3], np.full((3, 3), -1), 1)])["r2"])  # no valid pair
    same = np.full((4, 3), 5)
    for achieved in (same, same + np.eye(4, 3, dtype=int)):  # one target value: sklearn's convention
        assert pooled([sums(same, achieved, 1)])["r2"] == r2_score(same[:, 1], achieved[:, 1])
