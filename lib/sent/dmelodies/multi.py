"""Two attributes at once: test pairs whose melodies differ in exactly two attributes, edited by
applying SeNT twice (the second function on the first one's code) and by two verified steps
(sent.core.verify), scored by how often both requested values are reached and the other seven kept.
"""

from __future__ import annotations

import itertools

import numpy as np

from sent.core.networks import decode_attributes
from sent.core.repository import Repository
from sent.core.verify import VerifyOptions, verified_codes
from sent.dmelodies.data import FACTOR_COUNTS
from sent.dmelodies.edit import Editor


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


def edit_two(editors: dict, k1: int, k2: int, ij: np.ndarray):
    """Achieved attributes (N x F) of the pairs' start codes edited towards their partners' values of
    k1 then k2 (`editors`: attribute -> sent.dmelodies.edit.Editor with verification): SeNT twice, and
    verified twice. Returns (plain, verified, requested), requested = the start attributes with k1
    and k2 set to the partner's."""
    repo, vae = editors[k1].repo, editors[k1].vae
    z1, a1, a2 = repo.z[ij[:, 0]], repo.attributes[ij[:, 0]], repo.attributes[ij[:, 1]]
    requested = a1.copy()
    requested[:, [k1, k2]] = a2[:, [k1, k2]]
    first = editors[k1].sent_codes(z1, a1[:, k1], a2[:, k1])
    plain = decode_attributes(vae, editors[k2].sent_codes(first, a1[:, k2], a2[:, k2]))

    def verified_step(k, z, keep):
        editor = editors[k]
        return verified_codes(vae, z, keep, k, requested[:, k], editor.sent_codes(z, a1[:, k], requested[:, k]),
                              editor.proposals(z, a1[:, k], requested[:, k]), editor.verify, search=editor.search)

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
    editors = {k: Editor(repo, vae, k, options) for k in attributes}  # each function and its statistics once
    rows = []
    for k1, k2 in itertools.combinations(attributes, 2):
        ij = two_attribute_pairs(repo, k1, k2, pairs, seed)
        plain, verified, requested = edit_two(editors, k1, k2, ij)
        rows.append({"first": repo.names[k1], "second": repo.names[k2], "pairs": len(ij),
                     **score_two(plain, verified, requested, k1, k2)})
    return rows
