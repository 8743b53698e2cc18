"""SeNT performance measures."""

from __future__ import annotations

import numpy as np

from sent.core.plugin import invalid
from sent.core.repository import Repository
from sent.core.verify import Judge


def pair_attributes(repo: Repository, attribute: int):
    """(a1, a2) attributes of an attribute's test pairs."""
    _, a1, _, a2 = repo.raw_pairs(attribute, "test")
    return a1, a2


def scores(a1: np.ndarray, a2: np.ndarray, ap: np.ndarray, f_range, attribute: int, zp=None, z2=None,
           judge: Judge | None = None) -> dict:
    """Measures for one target attribute from the attributes of start (a1), target (a2) and
    achieved (ap, invalid marked as sent.core.plugin.invalid says) items, each (N, K); normalised by
    f_range ([min list, max list]). "success": the fraction of edits that reach the target value
    and change no other attribute, by `judge`'s comparisons (default: equality), the strict
    measure R^2 and the untargeted change average over."""
    from sklearn.metrics import r2_score

    lo, hi = (np.asarray(v, dtype=np.float64) for v in f_range)
    span = np.where(hi > lo, hi - lo, 1.0)
    c1, c2, cp = ((np.asarray(a, dtype=np.float64) - lo) / span for a in (a1, a2, ap))
    bad = invalid(ap)
    valid = ~bad[:, attribute]
    n = len(ap)
    out = {"n": n, "valid": float(valid.sum() / n) if n else float("nan")}
    if valid.sum() >= 2:
        out["r2"] = float(r2_score(c2[valid, attribute], cp[valid, attribute]))
        out["deltaTarget"] = float(np.abs(cp[valid, attribute] - c2[valid, attribute]).mean())
    else:
        out["r2"] = out["deltaTarget"] = float("nan")
    untargeted = np.full(ap.shape[1], np.nan)
    for g in range(ap.shape[1]):
        both = valid & ~bad[:, g]
        if g != attribute and both.any():
            untargeted[g] = np.abs(cp[both, g] - c1[both, g]).mean()
    out["deltaUntarget"] = untargeted
    out["success"] = success_fraction(a1, a2, ap, attribute, judge or Judge.exact(ap.shape[1]))
    if zp is not None and z2 is not None and valid.sum() >= 2:
        out["z_r2"] = float(r2_score(z2[valid], zp[valid]))
    else:
        out["z_r2"] = float("nan")
    return out


SUMS = ("n", "n_valid", "target_sum", "target_sq_sum", "residual_sq_sum")


def sums(a2: np.ndarray, ap: np.ndarray, attribute: int) -> dict:
    """What R^2 and the valid fraction of one target attribute need, summed over the pairs (raw
    attribute units; R^2 does not depend on them): added over several repositories (`pooled`), they
    give the figures of their pairs taken together, as `scores` on the concatenated pairs does."""
    valid = ~invalid(ap)[:, attribute]
    target = np.asarray(a2, dtype=np.float64)[valid, attribute]
    achieved = np.asarray(ap, dtype=np.float64)[valid, attribute]
    return {"n": int(len(ap)), "n_valid": int(valid.sum()), "target_sum": float(target.sum()),
            "target_sq_sum": float((target ** 2).sum()), "residual_sq_sum": float(((target - achieved) ** 2).sum())}


def pooled(parts: list[dict]) -> dict:
    """R^2 and valid fraction of several `sums` taken together (NaN R^2 below two valid pairs, as
    `scores`; when every target is the same value 1 for a perfect fit, else 0, as sklearn's)."""
    total = {key: sum(p[key] for p in parts) for key in SUMS}
    n, n_valid = total["n"], total["n_valid"]
    spread = total["target_sq_sum"] - total["target_sum"] ** 2 / n_valid if n_valid else 0.0
    if n_valid < 2:
        r2 = float("nan")
    elif spread > 0:
        r2 = 1.0 - total["residual_sq_sum"] / spread
    else:
        r2 = 1.0 if total["residual_sq_sum"] == 0 else 0.0
    return {"r2": r2, "valid": n_valid / n if n else float("nan")}


def success_fraction(a1: np.ndarray, a2: np.ndarray, ap: np.ndarray, attribute: int, judge: Judge) -> float:
    """Fraction of edits whose achieved attributes (ap) reach the target's value (a2) of
    `attribute` and change none of the start's (a1) other attributes, as the verified method
    judges an edit perfect (Judge.reached, Judge.changed: an attribute invalid at the start is
    not held, one that becomes invalid has changed)."""
    if not len(ap):
        return float("nan")
    others = [g for g in range(ap.shape[1]) if g != attribute]
    changed = judge.changed(a1[:, others], ap[:, others], others).any(axis=1)
    return float((judge.reached(ap, attribute, a2[:, attribute]) & ~changed).mean())
