"""Two attributes at once: test pairs whose melodies differ in exactly two attributes, edited by
applying SeNT twice (the second function on the first one's code) and by two verified steps
(sent.verify), scored by how often both requested values are reached and the other seven kept.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from sent.baselines import Mover, applicable
from sent.data import FACTOR_COUNTS
from sent.repository import Repository
from sent.traversal import decode_attributes, encode_attribute, load_sent
from sent.verify import VerifyOptions, verified_codes


def two_attribute_pairs(repo: Repository, k1: int, k2: int, limit: int, seed: int = 0) -> np.ndarray:
    """Up to `limit` (i, j) rows of the repository whose attributes differ in k1 and k2 only.

    dMelodies is a full factorial, so each start row's partner is found by drawing new values
    for k1 and k2 and looking the combination up among the repository's rows."""
    attrs = repo.attributes
    radix = np.cumprod([1, *FACTOR_COUNTS[:-1]])
    keys = attrs @ radix
    order = np.argsort(keys)
    rng = np.random.default_rng(seed)
    start = rng.permutation(len(attrs))
    wanted = attrs[start].copy()
    for k in (k1, k2):  # a different value: shift by 1..count-1
        wanted[:, k] = (wanted[:, k] + rng.integers(1, FACTOR_COUNTS[k], len(start))) % FACTOR_COUNTS[k]
    at = np.clip(np.searchsorted(keys[order], wanted @ radix), 0, len(keys) - 1)
    found = keys[order][at] == wanted @ radix
    return np.stack([start[found], order[at][found]], axis=1)[:limit]


def _sent_codes(repo: Repository, k: int, z: np.ndarray, start_values, target_values) -> np.ndarray:
    """Raw codes SeNT's function for attribute k proposes for raw codes z."""
    net, meta = load_sent(repo, k)
    one_hot = meta["options"]["one_hot"]
    c1 = torch.as_tensor(repo.normalise_c(np.asarray(start_values, dtype=float), k))
    c2 = torch.as_tensor(repo.normalise_c(np.asarray(target_values, dtype=float), k))
    with torch.no_grad():
        out = net(torch.as_tensor(repo.normalise_z(z)), encode_attribute(c1, k, one_hot), encode_attribute(c2, k, one_hot))
    return repo.denormalise_z(out).numpy()


def edit_two(repo: Repository, vae, k1: int, k2: int, ij: np.ndarray, options: VerifyOptions = VerifyOptions()):
    """Achieved attributes (N x F) of the pairs' start codes edited towards their partners' values of
    k1 then k2: SeNT twice, and verified twice. Returns (plain, verified, requested), requested =
    the start attributes with k1 and k2 set to the partner's."""
    z1, a1, a2 = repo.z[ij[:, 0]], repo.attributes[ij[:, 0]], repo.attributes[ij[:, 1]]
    requested = a1.copy()
    requested[:, [k1, k2]] = a2[:, [k1, k2]]
    first = _sent_codes(repo, k1, z1, a1[:, k1], a2[:, k1])
    plain = decode_attributes(vae, _sent_codes(repo, k2, first, a1[:, k2], a2[:, k2]))

    def verified_step(k, z, keep):
        mover = Mover(repo, k)
        proposals = {m: mover.codes(m, z, a1[:, k], requested[:, k])
                     for m in ("attribute-vector", "regularised-dimension") if applicable(m, repo.model_id)}
        return verified_codes(vae, z, keep, k, requested[:, k], _sent_codes(repo, k, z, a1[:, k], requested[:, k]),
                              proposals, options)

    after_first = a1.copy()
    after_first[:, k1] = requested[:, k1]  # what step 2 must keep: k1 as requested, the rest as at the start
    step1 = verified_step(k1, z1, a1)
    step2 = verified_step(k2, step1["codes"], after_first)
    return plain, step2["achieved"], requested


def score_two(plain: np.ndarray, verified: np.ndarray, requested: np.ndarray, k1: int, k2: int) -> dict:
    """Success (both values reached, the other attributes kept) and both-reached rates."""
    out = {}
    for name, got in (("sent_twice", plain), ("verified", verified)):
        reached = (got[:, k1] == requested[:, k1]) & (got[:, k2] == requested[:, k2])
        out[f"{name}_success"] = float(((got == requested).all(axis=1)).mean()) if len(got) else float("nan")
        out[f"{name}_reached"] = float(reached.mean()) if len(got) else float("nan")
    return out


def multi_rows(repo: Repository, vae, attributes, pairs: int = 500, seed: int = 0,
               options: VerifyOptions = VerifyOptions()) -> list[dict]:
    """One row per pair of `attributes` (each with a traversal function): pairs used and rates."""
    rows = []
    for k1, k2 in itertools.combinations(attributes, 2):
        ij = two_attribute_pairs(repo, k1, k2, pairs, seed)
        plain, verified, requested = edit_two(repo, vae, k1, k2, ij, options)
        rows.append({"first": repo.names[k1], "second": repo.names[k2], "pairs": len(ij),
                     **score_two(plain, verified, requested, k1, k2)})
    return rows
