"""Mutual information between latent dims and an attribute (SeNT step 4, `bin/mi`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sent.core.repository import Repository, save_index_file
from sent.util.errors import SentError
from sent.util.io import atomic_path, save_text


def mutual_information(z: np.ndarray, c: np.ndarray, n_neighbors: int = 10, seed: int = 0) -> np.ndarray:
    """MI (nats) of each column of z (N x D) with c (N,): scikit-learn, continuous, kNN estimator."""
    from sklearn.feature_selection import mutual_info_regression

    return mutual_info_regression(z, c, discrete_features=False, n_neighbors=n_neighbors, random_state=seed)


def relevant_dims(repo: Repository, attribute: int, gamma: int = 3, max_samples: int | None = None,
                  seed: int = 0, n_neighbors: int = 10, out_dir=None):
    """Rank latent dims by MI with the attribute over the training pairs' (z1, c1).

    Writes corr_index_<f>.txt (top gamma dims), uncorr_index_<f>.txt (the rest), mi_<f>.csv and
    mi_<f>.png into out_dir (default: the repository). Returns (mi, corr, uncorr).
    """
    z1, c1, _, _ = repo.pairs(attribute, "train")
    if max_samples and len(z1) > max_samples:
        keep = np.sort(np.random.default_rng(seed).choice(len(z1), max_samples, replace=False))
        z1, c1 = z1[keep], c1[keep]
    if len(z1) <= n_neighbors:
        raise SentError(f"{repo.dir}: {len(z1)} training pairs for {repo.names[attribute]}, but the MI "
                        f"estimator needs more than --n_neighbors ({n_neighbors})")
    if not 1 <= gamma < z1.shape[1]:
        raise SentError(f"--gamma must be 1..{z1.shape[1] - 1} (relevant dims of {z1.shape[1]}), got {gamma}")
    mi = mutual_information(z1, c1[:, attribute], n_neighbors=n_neighbors, seed=seed)
    order = np.argsort(-mi, kind="stable")
    corr, uncorr = np.sort(order[:gamma]), np.sort(order[gamma:])
    out = Path(repo.dir if out_dir is None else out_dir)
    save_index_file(out / f"corr_index_{attribute}.txt", corr)
    save_index_file(out / f"uncorr_index_{attribute}.txt", uncorr)
    save_text(out / f"mi_{attribute}.csv",
              "dim,mi\n" + "".join(f"{d},{v:.6g}\n" for d, v in enumerate(mi)))
    plot_mi(mi, corr, f"{repo.model_id}: MI with {repo.names[attribute]} ({len(z1):,} pairs)",
            out / f"mi_{attribute}.png")
    return mi, corr, uncorr


def plot_mi(mi: np.ndarray, corr: np.ndarray, title: str, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    colours = ["tab:red" if d in set(corr.tolist()) else "tab:grey" for d in range(len(mi))]
    ax.bar(np.arange(len(mi)), mi, color=colours)
    ax.set_xlabel("latent dimension (red: relevant)")
    ax.set_ylabel("mutual information (nats)")
    ax.set_title(title, fontsize=9)
    ax.set_xticks(np.arange(len(mi)))
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
