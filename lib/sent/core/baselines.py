"""Baselines evaluated with the same test pairs, decoder, extractor and metrics as SeNT.

- identity: z1 unchanged (the floor).
- oracle: z2, the code of a real melody with the target value. A ceiling that uses z2, not a
  competitor.
- sent-target: z1 with only the relevant dims (corr_index_<k>.txt, the MI-chosen dims SeNT moves)
  taken from z2: the code SeNT's loss drives towards. Also a ceiling that uses z2: it tells "SeNT
  did not converge" (SeNT below it) from "the VAE does not allow this edit with those dims" (it
  fails too).
- attribute-vector: z1 + mean(z | a_k = c2) - mean(z | a_k = c1) (MusicVAE's attribute vectors);
  for a continuous attribute "a_k = c" means "a_k in c's decile" of the training samples.
- linear-direction: a least-squares fit a_k ~ w.z + b; z1 moved along w by the change the fit
  predicts for c2 - c1, i.e. z1 + (c2 - c1) w / |w|^2 (the InterFaceGAN idea).
- regularised-dimension: dim k (bound to attribute k in ar-, interp- and s2-VAE) set to the median
  z_k of samples with value c2; not defined for beta-VAE nor for a plug-in's model unless the
  plug-in says its dims are regularised.

Means, fits and medians use the samples of the repository's training pairs (both sides).
All codes are raw (de-normalised) latent codes.
"""

from __future__ import annotations

import numpy as np

from sent.core.repository import Repository, load_index_file
from sent.util.errors import SentError
from sent.util.io import load_npz, save_npz

BASELINES = ("identity", "oracle", "sent-target", "attribute-vector", "linear-direction", "regularised-dimension")
CEILINGS = ("oracle", "sent-target")  # use the target melody's code z2: upper bounds, not competitors


def _training_samples(repo: Repository, k: int):
    """Unique latent codes and attribute values of the samples in k's training pairs."""
    ij = repo.pair_indices(k, "train")
    rows = np.unique(ij.ravel())
    return repo.z[rows].astype(np.float64), repo.attributes[rows, k]


def applicable(method: str, repo: Repository) -> bool:
    return method != "regularised-dimension" or repo.plugin.regularised(repo.model_id)


def baseline_codes(repo: Repository, k: int, method: str) -> np.ndarray:
    """Raw latent codes (P x D) that `method` proposes for attribute k's test pairs."""
    if method not in BASELINES:
        raise SentError(f"unknown baseline {method!r}; valid: {', '.join(BASELINES)}")
    if not applicable(method, repo):
        raise SentError(f"{method} is not defined for {repo.model_id} (no latent dim is bound to an attribute)")
    z1, a1, z2, a2 = repo.raw_pairs(k, "test")
    z1, z2 = z1.astype(np.float64), z2.astype(np.float64)
    if method == "identity":
        return z1
    if method == "oracle":
        return z2
    if method == "sent-target":
        return replaced(z1, z2, load_index_file(repo.path(f"corr_index_{k}.txt"), repo.latent_dim))
    return moved_codes(repo, k, method, z1, a1[:, k], a2[:, k])


def moved_codes(repo: Repository, k: int, method: str, z1: np.ndarray, start, target) -> np.ndarray:
    """Codes that a method which needs no target code (attribute-vector, linear-direction,
    regularised-dimension) proposes for moving raw codes z1 (N x D) from values `start` to
    `target` (N each) of attribute k."""
    return Mover(repo, k).codes(method, z1, start, target)


class Mover:
    """The statistics of attribute k's training samples that the methods without a target code
    need, computed once, for moving any number of codes."""

    METHODS = ("attribute-vector", "linear-direction", "regularised-dimension")
    STATISTICS = ("values", "means", "medians", "overall", "direction")
    BINS = 10  # a continuous attribute's values are grouped by decile

    def __init__(self, repo: Repository, k: int):
        self.k, self.model_id, self.regularised = k, repo.model_id, repo.plugin.regularised(repo.model_id)
        if repo.shipped:  # no training samples travel with shipped functions: their statistics do
            stats = load_npz(repo.path(f"mover_{k}.npz"), required=self.STATISTICS)
            self.edges = stats["edges"] if "edges" in stats else None
            values = [int(v) for v in stats["values"]]
            self.means = dict(zip(values, stats["means"]))
            self.medians = dict(zip(values, stats["medians"].tolist()))
            self.overall, self.direction = stats["overall"], stats["direction"]
            return
        z, a = _training_samples(repo, k)
        self.edges = None if repo.plugin.attributes[k].categorical else \
            np.unique(np.quantile(a, np.linspace(0, 1, self.BINS + 1)[1:-1]))
        group = self._groups(a)
        self.means = {int(v): z[group == v].mean(axis=0) for v in np.unique(group)}
        self.overall = z.mean(axis=0)  # a value never seen in training contributes no shift
        coef, *_ = np.linalg.lstsq(np.hstack([z, np.ones((len(z), 1))]), a.astype(np.float64), rcond=None)
        self.direction = coef[:-1]
        self.medians = {int(v): float(np.median(z[group == v, k])) for v in np.unique(group)}

    def _groups(self, values) -> np.ndarray:
        """The value (categorical) or decile (continuous) of each attribute value."""
        values = np.asarray(values).reshape(-1)
        return values.astype(np.int64) if self.edges is None else np.digitize(values, self.edges)

    def save(self, path) -> None:
        """The statistics as mover_<k>.npz, what a shipped repository carries instead of its samples."""
        values = sorted(self.means)
        edges = {} if self.edges is None else {"edges": self.edges}
        save_npz(path, values=np.array(values), means=np.array([self.means[v] for v in values]),
                 medians=np.array([self.medians[v] for v in values]), overall=self.overall,
                 direction=self.direction, **edges)

    def codes(self, method: str, z1: np.ndarray, start, target) -> np.ndarray:
        z1 = np.asarray(z1, dtype=np.float64)
        start, target = np.asarray(start).reshape(-1), np.asarray(target).reshape(-1)
        if method == "attribute-vector":
            shift = np.array([self.means.get(t, self.overall) - self.means.get(s, self.overall)
                              for s, t in zip(self._groups(start).tolist(), self._groups(target).tolist())])
            return z1 + shift.reshape(z1.shape)
        if method == "linear-direction":
            norm2 = float(self.direction @ self.direction)
            if norm2 == 0.0:
                return z1
            return z1 + np.outer((target - start).astype(np.float64), self.direction / norm2)
        if method == "regularised-dimension":
            if not self.regularised:
                raise SentError(f"{method} is not defined for {self.model_id} (no latent dim is bound to an attribute)")
            out = z1.copy()
            out[:, self.k] = [self.medians.get(t, z1[i, self.k]) for i, t in enumerate(self._groups(target).tolist())]
            return out
        raise SentError(f"{method} needs the target code or is unknown; moved codes exist for "
                        f"{', '.join(self.METHODS)}")


def replaced(z1: np.ndarray, z2: np.ndarray, dims) -> np.ndarray:
    """z1 with the given dims taken from z2."""
    z = z1.copy()
    z[:, dims] = z2[:, dims]
    return z
