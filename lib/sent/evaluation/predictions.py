"""Evaluated predictions of a method on an attribute's test pairs, stored compactly.

`predictions_<k>.npz` in the method's directory (the repository for SeNT, baselines/<method>/
for a baseline) holds `achieved` (N x K, the attributes of the decoded melodies: int8 with -1 =
invalid for categorical attributes, float64 with NaN = invalid once one is continuous) and, for
SeNT, `codes` (float32, N x D: its predicted latent codes). Nothing that the repository already
determines is stored again: the target codes z2 are the repository's own codes
of the test pairs, a baseline's codes are a cheap, deterministic function of the repository
(sent.core.baselines), recomputed when a measure needs them, and the verified method stores its
choices (which candidate, 2 bytes per edit), from which sent.core.verify rebuilds its codes.

Repositories may hold the original code's CSV layout instead (sp_<k>.csv codes, z2_<k>.csv
target codes, cp_<k>.csv achieved attributes with the names as header); every reader accepts it,
and `export_csv` writes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sent.core.baselines import Mover, baseline_codes
from sent.core.repository import Repository
from sent.core.verify import VerifyOptions, rebuild_codes
from sent.util.errors import SentError
from sent.util.io import atomic_path, load_npz, save_npz

METHODS = ("sent", "verified")  # the tool's own methods; the rest are sent.core.baselines.BASELINES


def predictions_dir(repo_dir, method: str = "sent") -> Path:
    """Where a method's predictions live: the repository itself for SeNT, verified/ for verified
    edits, else baselines/<method>."""
    if method == "sent":
        return Path(repo_dir)
    return Path(repo_dir) / method if method in METHODS else Path(repo_dir) / "baselines" / method


def _npz(repo_dir, attribute: int, method: str) -> Path:
    return predictions_dir(repo_dir, method) / f"predictions_{attribute}.npz"


def _csv(repo_dir, attribute: int, method: str, kind: str) -> Path:
    return predictions_dir(repo_dir, method) / f"{kind}_{attribute}.csv"


def has_predictions(repo_dir, attribute: int, method: str = "sent") -> bool:
    return _npz(repo_dir, attribute, method).is_file() or _csv(repo_dir, attribute, method, "cp").is_file()


def write_predictions(repo_dir, attribute: int, method: str, achieved: np.ndarray, codes=None, **extra) -> Path:
    """Write predictions_<k>.npz: achieved attributes, predicted codes (unless a function of the
    repository) and any further per-method arrays."""
    achieved = np.asarray(achieved)
    if achieved.dtype.kind == "f":  # a continuous attribute among them: values as they are
        if achieved.ndim != 2:
            raise SentError(f"achieved attributes must be an N x F array, got shape {achieved.shape}")
        achieved = achieved.astype(np.float64)
    elif achieved.ndim != 2 or achieved.min(initial=0) < -1 or achieved.max(initial=0) > np.iinfo(np.int8).max:
        raise SentError(f"achieved attributes must be an N x F array of values -1..127, got shape {achieved.shape}")
    else:
        achieved = achieved.astype(np.int8)
    arrays = {"achieved": achieved, "method": np.array(method), "attribute": np.array(attribute), **extra}
    if codes is not None:
        if len(codes) != len(achieved):
            raise SentError(f"{len(codes)} codes for {len(achieved)} achieved attribute rows")
        arrays["codes"] = np.asarray(codes, dtype=np.float32)
    path = _npz(repo_dir, attribute, method)
    save_npz(path, **arrays)
    return path


def read_achieved(repo_dir, attribute: int, method: str = "sent") -> np.ndarray:
    """(N, F) attributes of the decoded predictions, from either layout: int64 with -1 = invalid,
    or float64 with NaN = invalid (continuous attributes)."""
    npz = _npz(repo_dir, attribute, method)
    if npz.is_file():
        achieved = load_npz(npz, required=("achieved",))["achieved"]
        return achieved if achieved.dtype.kind == "f" else achieved.astype(np.int64)
    path = _csv(repo_dir, attribute, method, "cp")
    if not path.is_file():
        raise SentError(f"{npz}: no such file (run evaluate first)")
    try:
        return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise SentError(f"{path}: not an integer CSV ({exc})") from None


def read_codes(repo: Repository, attribute: int, method: str = "sent") -> np.ndarray:
    """(N, D) latent codes the method proposed for the test pairs: stored ones (SeNT, or any
    method in the CSV layout), else the baseline's codes recomputed from the repository."""
    npz = _npz(repo.dir, attribute, method)
    if npz.is_file():
        arrays = load_npz(npz, required=("achieved",))
        if "codes" in arrays:
            return arrays["codes"]
        if method == "verified":
            return _verified_codes(repo, attribute, npz, arrays)
    else:
        path = _csv(repo.dir, attribute, method, "sp")
        if path.is_file():
            try:
                return np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float32)
            except ValueError as exc:
                raise SentError(f"{path}: not a numeric CSV ({exc})") from None
    if method in METHODS:
        raise SentError(f"{npz}: holds no predicted codes (run evaluate again)")

    return baseline_codes(repo, attribute, method).astype(np.float32)


def _verified_codes(repo: Repository, attribute: int, npz: Path, arrays: dict) -> np.ndarray:
    """A verified method's codes, rebuilt from its stored choices, the repository and SeNT's codes."""
    missing = [k for k in ("candidate", "first", "proposals", "scales", "line") if k not in arrays]
    if missing:
        raise SentError(f"{npz}: holds neither codes nor the choices to rebuild them ({', '.join(missing)} missing)")
    z1, a1, _, a2 = repo.raw_pairs(attribute, "test")
    mover = Mover(repo, attribute)
    proposals = {str(m): mover.codes(str(m), z1, a1[:, attribute], a2[:, attribute]) for m in arrays["proposals"]}
    options = VerifyOptions(tuple(float(s) for s in arrays["scales"]), tuple(float(s) for s in arrays["line"]))
    return rebuild_codes(z1, read_codes(repo, attribute, "sent"), proposals, arrays["first"], arrays["candidate"],
                         options, arrays.get("searched"))


def target_codes(repo: Repository, attribute: int) -> np.ndarray:
    """(N, D) latent codes z2 of the test pairs' target melodies."""
    return repo.raw_pairs(attribute, "test")[2]


def export_csv(repo: Repository, attribute: int, method: str = "sent", out_dir=None) -> list[Path]:
    """The CSV layout of one method's predictions: sp_<k>.csv, z2_<k>.csv and cp_<k>.csv (header =
    attribute names), into OUT_DIR (default: the method's directory)."""
    out_dir = Path(out_dir) if out_dir is not None else predictions_dir(repo.dir, method)
    achieved = read_achieved(repo.dir, attribute, method)
    written = []
    for kind, z in (("sp", read_codes(repo, attribute, method)), ("z2", target_codes(repo, attribute))):
        path = out_dir / f"{kind}_{attribute}.csv"
        with atomic_path(path, ".csv") as tmp:
            np.savetxt(tmp, z, delimiter=",", fmt="%.7g")
        written.append(path)
    path = out_dir / f"cp_{attribute}.csv"
    with atomic_path(path, ".csv") as tmp:
        np.savetxt(tmp, achieved, delimiter=",", fmt="%d", header=",".join(repo.names), comments="")
    return written + [path]
