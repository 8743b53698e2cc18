"""Baselines evaluated with the same test pairs, decoder, extractor and metrics as SeNT.

- identity: z1 unchanged (the floor).
- oracle: z2, the code of a real melody with the target value. A ceiling that uses z2, not a
  competitor.
- sent-target: z1 with only the relevant dims (corr_index_<k>.txt, the MI-chosen dims SeNT moves)
  taken from z2: the code SeNT's loss drives towards. Also a ceiling that uses z2: it tells "SeNT
  did not converge" (SeNT below it) from "the VAE does not allow this edit with those dims" (it
  fails too).
- attribute-vector: z1 + mean(z | a_k = c2) - mean(z | a_k = c1) (MusicVAE's attribute vectors).
- linear-direction: a least-squares fit a_k ~ w.z + b; z1 moved along w by the change the fit
  predicts for c2 - c1, i.e. z1 + (c2 - c1) w / |w|^2 (the InterFaceGAN idea).
- regularised-dimension: dim k (bound to attribute k in ar-, interp- and s2-VAE) set to the median
  z_k of samples with value c2; not defined for beta-VAE.

Means, fits and medians use the samples of the repository's training pairs (both sides).
All codes are raw (de-normalised) latent codes.
"""

from __future__ import annotations

import numpy as np

from sent.errors import SentError
from sent.repository import Repository

BASELINES = ("identity", "oracle", "sent-target", "attribute-vector", "linear-direction", "regularised-dimension")
CEILINGS = ("oracle", "sent-target")  # use the target melody's code z2: upper bounds, not competitors


def _training_samples(repo: Repository, k: int):
    """Unique latent codes and attribute values of the samples in k's training pairs."""
    ij = repo.pair_indices(k, "train")
    rows = np.unique(ij.ravel())
    return repo.z[rows].astype(np.float64), repo.attributes[rows, k]


def applicable(method: str, model_id: str) -> bool:
    return not (method == "regularised-dimension" and model_id.startswith("beta-VAE"))


def baseline_codes(repo: Repository, k: int, method: str) -> np.ndarray:
    """Raw latent codes (P x D) that `method` proposes for attribute k's test pairs."""
    if method not in BASELINES:
        raise SentError(f"unknown baseline {method!r}; valid: {', '.join(BASELINES)}")
    if not applicable(method, repo.model_id):
        raise SentError(f"{method} is not defined for {repo.model_id} (no latent dim is bound to an attribute)")
    z1, a1, z2, a2 = repo.raw_pairs(k, "test")
    z1, z2 = z1.astype(np.float64), z2.astype(np.float64)
    if method == "identity":
        return z1
    if method == "oracle":
        return z2
    if method == "sent-target":
        from sent.control import replaced
        from sent.repository import load_index_file

        return replaced(z1, z2, load_index_file(repo.path(f"corr_index_{k}.txt"), repo.latent_dim))
    z, a = _training_samples(repo, k)
    if method == "attribute-vector":
        means = {int(v): z[a == v].mean(axis=0) for v in np.unique(a)}
        overall = z.mean(axis=0)  # a value never seen in training contributes no shift
        shift = np.array([means.get(int(t), overall) - means.get(int(s), overall) for s, t in zip(a1[:, k], a2[:, k])])
        return z1 + shift.reshape(z1.shape)
    if method == "linear-direction":
        design = np.hstack([z, np.ones((len(z), 1))])
        coef, *_ = np.linalg.lstsq(design, a.astype(np.float64), rcond=None)
        w = coef[:-1]
        norm2 = float(w @ w)
        if norm2 == 0.0:
            return z1
        return z1 + np.outer((a2[:, k] - a1[:, k]).astype(np.float64), w / norm2)
    # regularised-dimension
    medians = {int(v): float(np.median(z[a == v, k])) for v in np.unique(a)}
    out = z1.copy()
    out[:, k] = [medians.get(int(t), z1[i, k]) for i, t in enumerate(a2[:, k])]
    return out
