"""The disentanglement metrics on hand-made latent codes whose answers are known."""

import math

import numpy as np
import pytest

from sent.core.disentanglement import discretise, metrics, mig, modularity, mutual_information
from sent.util.errors import SentError

N = 4000


def _factors(levels, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, n, N) for n in levels], axis=1)


def test_discretise_gives_twenty_equal_width_bins():
    centres = np.repeat((np.arange(20) + 0.5) / 20, 3)  # three values in the middle of each bin of [0, 1]
    codes = np.concatenate([[0.0, 1.0], centres]).reshape(-1, 1)
    assert np.bincount(discretise(codes)[:, 0]).tolist() == [4] + [3] * 18 + [4]  # the ends join the end bins


def test_mutual_information_matches_the_entropy_of_a_copied_factor():
    f = _factors((4, 3))
    mi = mutual_information(f.astype(float), f)
    np.testing.assert_allclose(np.diag(mi), [math.log(4), math.log(3)], atol=0.01)  # about uniform
    assert mi[0, 1] < 0.01 and mi[1, 0] < 0.01  # independent factors: only the finite-sample bias


def test_one_dim_per_factor_is_perfectly_disentangled():
    f = _factors((2, 2, 2))
    codes = f + np.random.default_rng(1).normal(0, 0.01, f.shape)
    m = metrics(codes, f)
    assert m["mig"] > 0.99 and m["modularity"] > 0.99 and m["explicitness"] > 0.99
    # SAP: the factor's own dim predicts it exactly, any other dim at chance (balanced binary classes)
    assert m["sap"] == pytest.approx(0.5, abs=0.04)


def test_a_factor_copied_into_two_dims_has_no_gap_but_stays_modular():
    f = _factors((4, 4))
    codes = np.stack([f[:, 0], f[:, 0], f[:, 1]], axis=1).astype(float)
    mi = mutual_information(codes, f)
    assert mig(mi, f) == pytest.approx(0.5, abs=0.01)  # factor 0: gap 0; factor 1: gap 1
    assert modularity(mi) > 0.99  # every dim still informs about one factor only


def test_a_dim_that_mixes_two_factors_equally_is_not_modular():
    mi = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])  # dim 2 informs about nothing
    # dim 0: deviation 1/(1 * 1) -> 0; dim 1: the ideal -> 1; dim 2: counts 0
    assert modularity(mi) == pytest.approx(1 / 3)


def test_codes_unrelated_to_the_factors_score_chance():
    f = _factors((3, 5))
    m = metrics(np.random.default_rng(2).normal(size=(N, 6)), f)
    assert m["mig"] < 0.02 and m["sap"] < 0.05
    assert m["explicitness"] == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("codes, factors, message", [
    (np.zeros((5, 2)), np.zeros((5, 1)), "N >= 10"),
    (np.full((20, 2), np.nan), np.arange(20).reshape(-1, 1) % 2, "NaN or infinite"),
    (np.zeros((20, 2)), np.zeros((20, 1)), "take a single value"),
])
def test_bad_inputs_are_one_line_errors(codes, factors, message):
    with pytest.raises(SentError, match=message):
        metrics(codes, factors)
