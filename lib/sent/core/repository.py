"""A SeNT repository: one directory per model holding config.json and everything trained for it.

`init_repository` writes config.json (spec step 3); `Repository` reads it back and serves the
normalised pairs (z1, c1, z2, c2) of an attribute's train or test side.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from sent.core.pairs import normalise
from sent.core.plugin import BUILTIN, Plugin, load_plugin
from sent.util.errors import SentError
from sent.util.io import load_json, load_npz, save_json, save_npz, save_text

CONFIG = "config.json"
CONFIG_KEYS = ("source", "pairs", "sRange", "fRange", "fNames", "length", "nFeatures", "ttPairs")
# A shipped repository (`perform ship`): normalisation, functions and statistics, no codes or pairs.
SHIPPED_KEYS = ("shipped", "model_id", "latent_dim", "sRange", "fRange", "fNames")
FIXED_SPLIT = (32_000, 10_000)  # train then test pairs when not using the 80/20 ("e") split


def fingerprint(attributes: np.ndarray) -> str:
    """Identifies the attribute array that pairs were computed from (value indices as int64,
    continuous values as float64)."""
    attributes = np.asarray(attributes)
    dtype = np.float64 if attributes.dtype.kind == "f" and not np.array_equal(attributes, np.round(attributes)) \
        else np.int64
    return hashlib.sha1(np.ascontiguousarray(attributes, dtype=dtype).tobytes()).hexdigest()


def load_source(path) -> dict:
    """An extract .npz, validated: latent codes (N x D, finite) and attributes (N x K)."""
    arrays = load_npz(path, required=("latent_codes", "attributes", "fNames"))
    z, a = arrays["latent_codes"], arrays["attributes"]
    if z.ndim != 2 or a.ndim != 2 or len(z) != len(a) or a.shape[1] != len(arrays["fNames"]):
        raise SentError(f"{path}: latent_codes {z.shape} and attributes {a.shape} do not fit together")
    for key, values in (("latent_codes", z), ("attributes", a)):
        if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
            raise SentError(f"{path}: {key} must be numbers, got dtype {values.dtype}")
    if not np.isfinite(z).all():
        raise SentError(f"{path}: latent_codes contain NaN or infinite values")
    return arrays


def read_pairs_text(path) -> np.ndarray:
    """The original text format: a line `rows cols`, then one row of numbers per line."""
    path = Path(path)
    if not path.is_file():
        raise SentError(f"{path}: no such file")
    try:
        lines = path.read_text().split("\n")
        rows, cols = (int(v) for v in lines[0].split())
        values = np.loadtxt(lines[1:1 + rows], dtype=np.float64, ndmin=2)
    except (ValueError, IndexError) as exc:
        raise SentError(f"{path}: not in the `rows cols` text format ({exc})") from None
    if values.shape != (rows, cols):
        raise SentError(f"{path}: header says {rows} x {cols} but the file holds {values.shape[0]} x {values.shape[1]}")
    return values


def save_pairs(out_dir, attributes: np.ndarray, names, results: dict, threshold, limit, categorical) -> None:
    """Write p_<k>.csv (rows i,j,distance) per attribute and one pairs.npz."""
    out_dir = Path(out_dir)
    arrays = {"attribute_names": np.array(names), "threshold": np.array(float(threshold)),
              "limit": np.array(int(limit)), "categorical": np.array(bool(categorical)),
              "n_rows": np.array(len(attributes)), "fingerprint": np.array(fingerprint(attributes))}
    for k, (i, j, d) in results.items():
        dist = d if categorical else np.sqrt(d)
        arrays[f"pairs_{k}"] = np.stack([i, j], axis=1)
        arrays[f"distance_{k}"] = dist
        lines = [f"{a},{b},{c:.6g}" for a, b, c in zip(i.tolist(), j.tolist(), dist.tolist())]
        save_text(out_dir / f"p_{k}.csv", "\n".join(lines) + ("\n" if lines else ""))
    save_npz(out_dir / "pairs.npz", **arrays)


def _tt_split(n_pairs: int, extended: bool):
    if extended:
        cut = int(0.8 * n_pairs)
        return [[0, cut], [cut, n_pairs]]
    train_end = min(FIXED_SPLIT[0], n_pairs)
    return [[0, train_end], [train_end, min(train_end + FIXED_SPLIT[1], n_pairs)]]


def _stored_path(target, directory) -> str:
    """A path as config.json keeps it: one given relative (to the working directory) is stored
    relative to the repository, so that a tree moved or copied as a whole keeps working; an
    absolute one is kept as given."""
    if Path(target).is_absolute():
        return str(target)
    return os.path.relpath(os.path.abspath(target), os.path.abspath(directory))


def init_repository(directory, source, pairs, extended: bool = True) -> dict:
    """Write `directory`/config.json for an extract .npz and a pairs.npz computed from its attributes."""
    directory = Path(directory)
    src = load_source(source)
    prs = load_npz(pairs, required=("fingerprint", "attribute_names"))
    attrs = src["attributes"]
    if str(prs["fingerprint"]) != fingerprint(attrs):
        raise SentError(f"{pairs}: pairs were computed from other attributes than those in {source} "
                        f"(different split seed or data)")
    names = [str(n) for n in src["fNames"]]
    tt = []
    for k in range(len(names)):
        key = f"pairs_{k}"
        tt.append(_tt_split(len(prs[key]), extended) if key in prs else [[0, 0], [0, 0]])
    z = src["latent_codes"].astype(np.float64)
    _, (f_lo, f_hi) = normalise(attrs)
    config = {
        "source": _stored_path(source, directory),
        "pairs": _stored_path(pairs, directory),
        "sRange": [z.min(axis=0).tolist(), z.max(axis=0).tolist()],
        "fRange": [f_lo.tolist(), f_hi.tolist()],
        "fNames": names,
        "length": int(len(z)),
        "nFeatures": int(attrs.shape[1]),
        "ttPairs": tt,
        "pairSplit": "80/20" if extended else f"{FIXED_SPLIT[0]}/{FIXED_SPLIT[1]}",
        "model_id": str(src.get("model_id", "")),
        "plugin": str(src.get("plugin", BUILTIN)),
    }
    if "model_fingerprint" in src:
        config["model_fingerprint"] = str(src["model_fingerprint"])
    directory.mkdir(parents=True, exist_ok=True)
    save_json(directory / CONFIG, config)
    return config


class Repository:
    """Read side of a repository directory: config, latent codes, attributes and pairs."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.config = load_json(self.dir / CONFIG)
        self.shipped = bool(self.config.get("shipped"))
        required = SHIPPED_KEYS if self.shipped else CONFIG_KEYS
        missing = [k for k in required if k not in self.config]
        if missing:
            raise SentError(f"{self.dir / CONFIG}: missing key(s) {', '.join(missing)}")
        self.names = list(self.config["fNames"])
        self.plugin: Plugin = load_plugin(self.config.get("plugin", BUILTIN))
        if self.plugin.names != self.names:
            raise SentError(f"{self.dir / CONFIG}: attributes {self.names} are not those of plug-in "
                            f"{self.plugin.name} ({self.plugin.names})")
        if self.shipped:
            self.z = self.attributes = None
        else:
            source = load_source(self._resolve(self.config["source"]))
            self.z = source["latent_codes"].astype(np.float32)
            self.attributes = source["attributes"].astype(np.int64 if self.plugin.categorical else np.float64)
            self._pairs = load_npz(self._resolve(self.config["pairs"]), required=("fingerprint",))
            if str(self._pairs["fingerprint"]) != fingerprint(self.attributes):
                raise SentError(f"{self.config['pairs']}: pairs do not match the source {self.config['source']}")
        self._check_config()
        lo, hi = (np.asarray(v, dtype=np.float32) for v in self.config["sRange"])
        self._z_lo, self._z_span = lo, np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
        lo, hi = (np.asarray(v, dtype=np.float64) for v in self.config["fRange"])
        self._f_lo, self._f_span = lo, np.where(hi > lo, hi - lo, 1.0)

    def _check_config(self) -> None:
        """sRange, fRange and ttPairs must fit the codes, attributes and pairs, or one line says why."""
        where = self.dir / CONFIG
        if self.shipped:
            widths = (("sRange", self.config.get("latent_dim")), ("fRange", len(self.names)))
        else:
            widths = (("sRange", self.z.shape[1]), ("fRange", self.attributes.shape[1]))
        for key, width in widths:
            try:
                shape = np.asarray(self.config[key], dtype=np.float64).shape
            except (TypeError, ValueError):
                shape = None
            if shape != (2, width):
                raise SentError(f"{where}: {key} must be [min list, max list] of {width} numbers each")
        if self.shipped:
            return
        tt = self.config["ttPairs"]
        if not isinstance(tt, list) or len(tt) != len(self.names):
            raise SentError(f"{where}: ttPairs must hold one [[train begin, end], [test begin, end]] per attribute "
                            f"({len(self.names)})")
        for k, ranges in enumerate(tt):
            count = len(self._pairs[f"pairs_{k}"]) if f"pairs_{k}" in self._pairs else 0
            flat = np.asarray(ranges, dtype=object).ravel() if isinstance(ranges, list) else []
            if len(flat) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in flat) \
                    or not all(0 <= b <= e <= count for b, e in (flat[:2], flat[2:])):
                raise SentError(f"{where}: ttPairs[{k}] = {ranges!r} is not [[begin, end], [begin, end]] "
                                f"within the attribute's {count} pairs")

    def _resolve(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.dir / p

    @property
    def model_id(self) -> str:
        return self.config.get("model_id", "")

    @property
    def latent_dim(self) -> int:
        return len(self.config["sRange"][0])

    def attribute(self, name_or_index) -> int:
        return self.plugin.attribute_index(name_or_index)

    def attributes_to_run(self, attribute=None) -> list[int]:
        """The attribute given by name or index, or all of them when None."""
        return list(range(len(self.names))) if attribute is None else [self.attribute(attribute)]

    def require_builtin(self, what: str) -> None:
        """Refuse, in one line, a feature that needs the dMelodies plug-in (melodies, exact values)."""
        if self.plugin.name != BUILTIN:
            raise SentError(f"{self.dir}: {what} needs the built-in dMelodies plug-in; this repository "
                            f"uses {self.plugin.name}")

    def load_model(self, path):
        """(model, card) of a model file (by the repository's plug-in), checked to be the model
        whose codes this repository holds."""
        vae, card = self.plugin.open_model(path)
        if self.model_id and card["id"] != self.model_id:
            raise SentError(f"{path}: is {card['id']}, but {self.dir} holds codes of {self.model_id}")
        expected = self.config.get("model_fingerprint")
        if expected and (actual := self.plugin.fingerprint(vae)) != expected:
            raise SentError(f"{path}: is another training of {card['id']} than the one whose codes {self.dir} "
                            f"holds (weights fingerprint {actual}, repository {expected})")
        return vae, card

    def normalise_z(self, z: np.ndarray) -> np.ndarray:
        """Latent codes scaled to [-1, 1] by sRange."""
        return (2 * (z - self._z_lo) / self._z_span - 1).astype(np.float32)

    def denormalise_z(self, zn):
        """Inverse of normalise_z (numpy or torch)."""
        if hasattr(zn, "new_tensor"):
            return (zn + 1) / 2 * zn.new_tensor(self._z_span) + zn.new_tensor(self._z_lo)
        return ((zn + 1) / 2 * self._z_span + self._z_lo).astype(np.float32)

    def normalise_c(self, c: np.ndarray, attribute: int | None = None) -> np.ndarray:
        """Attributes scaled to [0, 1] by fRange (all columns, or one when `attribute` is given).

        Invalid values (-1) are scaled like any other value; callers mask them first.
        """
        if attribute is None:
            return ((c - self._f_lo) / self._f_span).astype(np.float32)
        return ((c - self._f_lo[attribute]) / self._f_span[attribute]).astype(np.float32)

    def pair_indices(self, attribute: int, side: str = "train") -> np.ndarray:
        """(P, 2) rows [i, j] of the attribute's train or test pairs."""
        if side not in ("train", "test"):
            raise SentError(f"side must be 'train' or 'test', got {side!r}")
        if self.shipped:
            raise SentError(f"{self.dir}: shipped traversal functions carry no latent codes or pairs; "
                            "train or evaluate on a repository made by the pipeline")
        key = f"pairs_{attribute}"
        if key not in self._pairs:
            raise SentError(f"{self.config['pairs']}: no pairs for attribute {attribute} ({self.names[attribute]})")
        begin, end = self.config["ttPairs"][attribute][0 if side == "train" else 1]
        return self._pairs[key][begin:end]

    def pairs(self, attribute, side: str = "train"):
        """Normalised (z1, c1, z2, c2) of an attribute's pairs: z in [-1, 1], c (all K) in [0, 1]."""
        k = self.attribute(attribute)
        ij = self.pair_indices(k, side)
        i, j = ij[:, 0], ij[:, 1]
        return (self.normalise_z(self.z[i]), self.normalise_c(self.attributes[i]),
                self.normalise_z(self.z[j]), self.normalise_c(self.attributes[j]))

    def raw_pairs(self, attribute, side: str = "train"):
        """Unnormalised (z1, a1, z2, a2): latent codes and attributes (integer when categorical)."""
        ij = self.pair_indices(self.attribute(attribute), side)
        return self.z[ij[:, 0]], self.attributes[ij[:, 0]], self.z[ij[:, 1]], self.attributes[ij[:, 1]]

    def path(self, name: str) -> Path:
        return self.dir / name


def save_index_file(path, indices) -> None:
    save_text(path, "\n".join(str(int(i)) for i in indices) + "\n")


def load_index_file(path, dims: int) -> np.ndarray:
    """Latent dim indices, one per line, each in 0..dims-1 and none twice."""
    path = Path(path)
    if not path.is_file():
        raise SentError(f"{path}: no such file (run `mi` for this attribute first)")
    try:
        index = np.array([int(v) for v in path.read_text().split()], dtype=np.int64)
    except ValueError:
        raise SentError(f"{path}: expected one latent dimension index per line") from None
    if len(index) == 0 or index.min() < 0 or index.max() >= dims or len(np.unique(index)) != len(index):
        raise SentError(f"{path}: dims {index.tolist()} are not distinct indices 0..{dims - 1}")
    return index

