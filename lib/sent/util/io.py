"""Atomic file output and validated input.

Every output goes to a temporary name in the target directory and is renamed into place,
so an interrupted run never leaves a file that a resumed run would trust.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from sent.util.errors import SentError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path next to `path`; rename it to `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):  # a full disk: name the output, not its temp
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise


def save_npz(path, **arrays) -> None:
    """Write arrays to a compressed .npz atomically."""
    with atomic_path(path, ".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def load_npz(path, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Read a whole .npz into a dict, with a one-line error for a missing, corrupt or incomplete file."""
    path = Path(path)
    if not path.is_file():
        raise SentError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise SentError(f"{path}: not a readable .npz file ({exc})") from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise SentError(f"{path}: missing array(s) {', '.join(missing)}; has {', '.join(sorted(arrays))}")
    return arrays


def read_csv(path, required: tuple[str, ...] = ()):
    """A CSV file with a header as a pandas frame, with a one-line error for a missing, unreadable
    or incomplete file."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise SentError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SentError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise SentError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def save_json(path, obj) -> None:
    with atomic_path(path, ".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def load_json(path) -> dict:
    """A JSON file holding one object (every JSON file of the project: configs, cards, records)."""
    path = Path(path)
    if not path.is_file():
        raise SentError(f"{path}: no such file")
    try:
        value = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SentError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise SentError(f"{path}: expected a JSON object {{...}}, got {type(value).__name__}")
    return value


def save_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_torch(path, file_format: str, meta: dict, state_dict: dict) -> None:
    """Write a state dict and JSON metadata atomically, loadable without unpickling code."""
    import torch

    payload = {"format": file_format, "meta": json.dumps(meta), "state_dict": state_dict}
    with atomic_path(path, ".pt") as tmp:
        torch.save(payload, tmp)


def _torch_archive(path: Path) -> bool:
    """A zip archive in torch's layout (its pickle at <name>/data.pkl)."""
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/data.pkl") for name in archive.namelist())


def _verify_zip(path: Path) -> None:
    """torch files are zip archives; torch.load does not check their CRCs, so damage inside the
    weights would load silently. testzip reads every member and checks it."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SentError(f"{path}: not a readable model file ({exc})") from None
    except zipfile.error as exc:
        raise SentError(f"{path}: damaged model file ({exc})") from None
    if damaged is not None:
        raise SentError(f"{path}: damaged model file (checksum mismatch in {damaged}); restore or retrain it")


def load_torch(path, file_format: str, device: str = "cpu") -> tuple[dict, dict]:
    """(meta, state_dict) of a file written by save_torch, with one-line errors; never runs pickled code."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise SentError(f"{path}: no such model file")
    _verify_zip(path)
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        if not _torch_archive(path):  # a whole zip archive, but not torch's (an .npz, a plug-in's model)
            raise SentError(f"{path}: not a {file_format} model file but another zip archive (a plug-in's "
                            f"model? see extract --plugin)") from None
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise SentError(f"{path}: not a readable model file ({type(exc).__name__}: {first})") from None
    if not isinstance(payload, dict) or payload.get("format") != file_format or \
            not isinstance(payload.get("meta"), str) or not isinstance(payload.get("state_dict"), dict):
        found = payload.get("format") if isinstance(payload, dict) else None
        hint = f" but a {found} file (made for another plug-in? see extract --plugin)" if isinstance(found, str) else ""
        raise SentError(f"{path}: not a {file_format} model file{hint}")
    try:
        return json.loads(payload["meta"]), payload["state_dict"]
    except json.JSONDecodeError:
        raise SentError(f"{path}: damaged metadata in a {file_format} model file") from None
