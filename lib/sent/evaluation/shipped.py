"""Traversal functions shipped with the package (prebuilt/sent/<model id>/) and how tools find them.

A shipped repository holds what editing needs and nothing that grows with the data: config.json
(normalisation ranges, attribute names, model id; "shipped": true), per attribute the traversal
function, its surrogate, index files and training logs, and mover_<k>.npz, the statistics the
verified method's proposals use (instead of the 338,688 latent codes and the pairs they come from).
`perform ship` writes one from a repository the pipeline trained.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sent.core.baselines import Mover
from sent.core.networks import load_sent, load_zc
from sent.core.plugin import BUILTIN
from sent.core.repository import Repository
from sent.util.errors import SentError
from sent.util.io import load_json, save_json

ROOT = Path(__file__).resolve().parents[3]  # the project checkout: lib/sent/evaluation/shipped.py
SHIPPED = ROOT / "prebuilt" / "sent"
MODELS = ROOT / "prebuilt" / "vae"
PER_ATTRIBUTE = ("sent_{k}.model", "sent_ZC_{k}.model", "corr_index_{k}.txt", "uncorr_index_{k}.txt",
                 "train_{k}.csv", "train_zc_{k}.csv", "curve_{k}.csv")
OPTIONAL = ("curve_{k}.csv", "train_zc_{k}.csv")


def shipped_ids() -> list[str]:
    return sorted(p.name for p in SHIPPED.iterdir() if (p / "config.json").is_file()) if SHIPPED.is_dir() else []


def ship(repository, out) -> list[int]:
    """Write the shipped form of a trained repository into `out`; returns the attributes shipped
    (those with a traversal function). The networks are loaded first (a damaged file fails the
    ship), everything is written into a staging directory beside `out` that then replaces it, so
    a failed ship leaves `out` as it was. An existing `out` must be empty or a shipped repository."""
    repo = Repository(repository)
    if repo.shipped:
        raise SentError(f"{repo.dir}: is already a shipped repository")
    attributes = [k for k in range(len(repo.names)) if repo.path(f"sent_{k}.model").is_file()]
    if not attributes:
        raise SentError(f"{repo.dir}: no traversal functions (sent_<k>.model) to ship; run train-sent first")
    for k in attributes:  # what a user's traverse will load: readable, and fitting the codes
        load_sent(repo, k)
        load_zc(repo, k)
    out = Path(out)
    if out.is_dir() and any(out.iterdir()) and not _is_shipped(out):
        raise SentError(f"{out}: exists and is not a shipped repository; ship into a new or empty directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for k in attributes:
            for pattern in PER_ATTRIBUTE:
                source = repo.path(pattern.format(k=k))
                if source.is_file():
                    shutil.copyfile(source, staging / source.name)
                elif pattern not in OPTIONAL:
                    raise SentError(f"{source}: no such file (needed to ship attribute {k}, {repo.names[k]})")
            Mover(repo, k).save(staging / f"mover_{k}.npz")
        if repo.path("perform.csv").is_file():
            shutil.copyfile(repo.path("perform.csv"), staging / "perform.csv")
        config = {"shipped": True, "model_id": repo.model_id, "latent_dim": repo.latent_dim,
                  "sRange": repo.config["sRange"], "fRange": repo.config["fRange"], "fNames": repo.names,
                  "pairSplit": repo.config.get("pairSplit"), "attributes": attributes,
                  "plugin": repo.config.get("plugin", BUILTIN)}
        if "model_fingerprint" in repo.config:
            config["model_fingerprint"] = repo.config["model_fingerprint"]
        save_json(staging / "config.json", config)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return attributes


def _is_shipped(directory: Path) -> bool:
    try:
        return load_json(directory / "config.json").get("shipped") is True
    except SentError:
        return False


def resolve(model: str, repository: str | None, attribute):
    """(model file, repository, attribute) for a tool given either MODEL REPOSITORY [ATTRIBUTE] or
    a shipped model id in place of the model file: ID [ATTRIBUTE] uses prebuilt/vae/ID.pt and
    prebuilt/sent/ID/ (the second positional argument is then the attribute)."""
    model = str(model)
    if Path(model).exists() or "/" in model or model.endswith(".pt"):
        if repository is None:
            raise SentError(f"{model}: give the repository too, or a shipped model id "
                            f"({', '.join(shipped_ids()) or 'none shipped'})")
        return model, repository, attribute
    if model not in shipped_ids():
        raise SentError(f"{model}: no such model file, and not a shipped model id "
                        f"({', '.join(shipped_ids()) or 'none shipped'})")
    if repository is not None and attribute is not None:
        raise SentError(f"{model} is a shipped model id: give ATTRIBUTE after it, not a repository")
    return str(MODELS / f"{model}.pt"), str(SHIPPED / model), repository if attribute is None else attribute
