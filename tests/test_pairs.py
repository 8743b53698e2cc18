import numpy as np
import pytest

from sent.core.pairs import brute_force_pairs, find_pairs, normalise
from sent.dmelodies import data
from sent.util.errors import SentError


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold, categorical", [(0.0, False), (0.25, False), (0.5, False), (1.5, False),
                                                    (0.0, True), (1.0, True), (2.0, True)])
def test_identical_to_brute_force_on_random_data_with_ties_and_duplicates(seed, threshold, categorical):
    rng = np.random.default_rng(seed)
    n, f = int(rng.integers(50, 600)), int(rng.integers(2, 6))
    attributes = rng.integers(0, int(rng.integers(2, 5)), size=(n, f))  # few values: many ties, duplicates
    attributes[n // 2:n // 2 + 20] = attributes[0]                       # exact duplicate rows
    x, _ = normalise(attributes)
    for k in range(f):
        for limit in (3, 10_000):
            fast = find_pairs(x, k, threshold, limit, categorical)
            ref = brute_force_pairs(x, k, threshold, limit, categorical)
            assert _same(fast, ref), (k, limit)
            assert len(fast[0]) <= limit
            i, j, _ = fast
            assert (j < i).all() and len(np.unique(np.concatenate([i, j]))) == 2 * len(i)  # no repeats


def test_identical_on_continuous_values_with_positive_threshold():
    rng = np.random.default_rng(11)
    x = np.round(rng.random((800, 4)), 1)  # 11 levels per column
    for k in range(4):
        for threshold in (0.05, 0.1, 0.2, 0.35):
            assert _same(find_pairs(x, k, threshold, 10_000), brute_force_pairs(x, k, threshold, 10_000))


def test_identical_on_real_attributes_prefix():
    attributes = data.factors_of(data.split_indices(seed=1)[2][:12_000])
    x, _ = normalise(attributes)
    for k in range(9):
        for threshold in (0.0, 0.1):
            assert _same(find_pairs(x, k, threshold, 300_000), brute_force_pairs(x, k, threshold, 300_000))


def test_pairs_change_only_the_attribute_at_threshold_zero():
    attributes = data.factors_of(data.split_indices(seed=0)[2])
    x, _ = normalise(attributes)
    i, j, d = find_pairs(x, 3, 0.0, 300_000)
    assert len(i) > 100_000 and (d == 0).all()
    others = [c for c in range(9) if c != 3]
    assert (attributes[i][:, others] == attributes[j][:, others]).all()
    assert (attributes[i][:, 3] != attributes[j][:, 3]).all()  # test rows are distinct melodies


def test_bad_arguments():
    x = np.zeros((5, 3))
    with pytest.raises(SentError, match="out of range"):
        find_pairs(x, 3)
    with pytest.raises(SentError, match="NaN"):
        find_pairs(np.full((5, 3), np.nan), 0)
    with pytest.raises(SentError, match="non-negative"):
        find_pairs(x, 0, threshold=-1)


@pytest.mark.parametrize("dims", [2, 3, 5, 9])
@pytest.mark.parametrize("threshold", [0.01, 0.05, 0.2])
def test_identical_on_unrounded_continuous_data(dims, threshold):
    """Every value distinct: the case a dense cell grid cannot hold."""
    rng = np.random.default_rng(dims)
    x = rng.random((1500, dims)) ** 2  # uneven density
    x[700:720] = x[3]                  # exact duplicates too
    for k in (0, dims - 1):
        assert _same(find_pairs(x, k, threshold, 10_000), brute_force_pairs(x, k, threshold, 10_000))


def test_rounded_continuous_data_that_used_to_need_a_972_gib_grid():
    x = np.round(np.random.default_rng(3).random((3000, 5)), 2)
    for k in range(5):
        fast = find_pairs(x, k, 0.05, 300_000)
        assert len(fast[0]) > 100 and _same(fast, brute_force_pairs(x, k, 0.05, 300_000))
        assert _same(find_pairs(x, k, 0.05, 7), brute_force_pairs(x, k, 0.05, 7))  # the limit


def test_values_on_cube_faces_and_at_exactly_the_threshold():
    """Distances equal to the threshold, values on multiples of the cube side, negative values."""
    from sent.core.pairs import _grid_pairs

    rng = np.random.default_rng(9)
    x = rng.integers(-4, 5, size=(1200, 3)) * 0.05
    for k in range(3):
        for threshold in (0.05, 0.1, 0.15):
            ref = brute_force_pairs(x, k, threshold, 300_000)
            assert _same(find_pairs(x, k, threshold, 300_000), ref)  # few values: the lattice
            assert _same(_grid_pairs(x + 0.0, k, threshold, threshold ** 2, 300_000), ref)  # the grid, forced
