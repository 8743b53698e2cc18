"""SeNT performance measures (spec step 8): R^2, valid fraction, target and untargeted errors;
and, not in the paper, success: the fraction of edits that do exactly what was asked.

A prediction is valid when its target attribute decodes to a value (not -1, or NaN for a
continuous attribute). R^2 is
scikit-learn's coefficient of determination of the achieved against the requested (normalised)
value over the valid predictions; `valid` is the true fraction valid/N. (The original pooled three
seeds but divided by one seed's N, so its published "valid" figures are about 3x this.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sent.core.repository import Repository
from sent.core.scores import pair_attributes, scores
from sent.evaluation.predictions import predictions_dir, read_achieved, read_codes, target_codes
from sent.util.errors import SentError
from sent.util.io import atomic_path, load_json


def load_results(repos, attribute: int, with_codes: bool = False, method: str = "sent"):
    """Pooled (a1, a2, ap[, sp, z2]) of one attribute and method over repositories (directories or
    open Repository objects, which saves reading their codes again), and their common fRange."""
    a1s, a2s, aps, sps, z2s, ranges = [], [], [], [], [], []
    for repo in repos:
        repo = repo if isinstance(repo, Repository) else Repository(repo)
        d = repo.dir
        a1, a2 = pair_attributes(repo, attribute)
        ap = read_achieved(d, attribute, method)
        if ap.shape != a1.shape:
            raise SentError(f"{predictions_dir(d, method)}: predictions for attribute {attribute} hold "
                            f"{ap.shape[0]} rows x {ap.shape[1]} columns, "
                            f"but the repository has {a1.shape[0]} test pairs x {a1.shape[1]} attributes")
        a1s.append(a1), a2s.append(a2), aps.append(ap), ranges.append(repo.config["fRange"])
        if with_codes:
            sp = read_codes(repo, attribute, method)
            if sp.shape != (len(a1), repo.latent_dim):
                raise SentError(f"{predictions_dir(d, method)}: codes for attribute {attribute} are {sp.shape}, "
                                f"but the repository has {len(a1)} test pairs x {repo.latent_dim} dims")
            sps.append(sp), z2s.append(target_codes(repo, attribute))
    lo = np.min([r[0] for r in ranges], axis=0)
    hi = np.max([r[1] for r in ranges], axis=0)
    pooled = [np.concatenate(a1s), np.concatenate(a2s), np.concatenate(aps)]
    if with_codes:
        pooled += [np.concatenate(sps), np.concatenate(z2s)]
    return pooled, [lo.tolist(), hi.tolist()]


def perform(repo_dirs, attributes=None, method: str = "sent") -> dict:
    """Scores per target attribute (index -> dict) over one or several pooled repositories."""
    names = load_json(Path(repo_dirs[0]) / "config.json")["fNames"]
    attributes = range(len(names)) if attributes is None else attributes
    repos = [Repository(d) for d in repo_dirs]
    results = {}
    for k in attributes:
        (a1, a2, ap, sp, z2), f_range = load_results(repos, k, with_codes=True, method=method)
        results[k] = scores(a1, a2, ap, f_range, k, sp, z2)
        results[k]["a"] = (a1, a2, ap)
        results[k]["f_range"] = f_range
    return results


def write_perform_csv(path, results: dict, names) -> None:
    """Rows deltaTarget, valid, c:r^2 (achieved attribute), r:r^2 (latent code vs z2),
    deltaUntarget-<name>; one column per target attribute."""
    targets = sorted(results)
    lines = ["measure," + ",".join(names[k] for k in targets)]
    for label, key in (("deltaTarget", "deltaTarget"), ("valid", "valid"), ("c:r^2", "r2"), ("r:r^2", "z_r2")):
        lines.append(label + "," + ",".join(f"{results[k][key]:.6g}" for k in targets))
    for g, name in enumerate(names):
        lines.append(f"deltaUntarget-{name}," + ",".join(f"{results[k]['deltaUntarget'][g]:.6g}" for k in targets))
    with atomic_path(path, ".csv") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


