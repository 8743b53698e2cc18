"""Helpers shared by the tests."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]



def published_cards() -> list:
    """The model cards the zoo table in docs/models.md is made from (runs/publish globs the same)."""
    return [*(ROOT / "prebuilt" / "vae").glob("*.json"), *(ROOT / "runs" / "beta-VAE_b_4.0_c_50.0_r_0").glob("*.json"),
            *(ROOT / "runs").glob("*_r_[12]/*.json")]

def run_tool(name, *args, check=True, cwd=None, env=None):
    """Run a bin/ tool as a user would; returns the CompletedProcess."""
    full_env = dict(os.environ, **(env or {}))
    full_env["PATH"] = f"{ROOT / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{full_env['PATH']}"
    proc = subprocess.run([str(ROOT / "bin" / name), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def nextflow_command(*args):
    """The project's Nextflow launcher (installed by `make setup` next to this Python)."""
    launcher = Path(sys.executable).parent / "nextflow"
    if not launcher.exists():
        raise AssertionError(f"{launcher} missing: run `make setup`")
    return [str(launcher), *map(str, args)]


def read_trace(path):
    """Nextflow trace file -> list of dicts (one per task record)."""
    lines = Path(path).read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


# the test melodies (a prefix of the test split) of the tiny model's latents that the tests share
TINY_ROWS = 30_000


def extract_and_pair(directory, model, rows):
    """extract (first `rows` test melodies) -> findpairs: directory/latents.npz and directory/pairs/."""
    d = Path(directory)
    run_tool("extract", model, "--out", d / "latents.npz", "--limit", rows, "--quiet")
    run_tool("findpairs", d / "latents.npz", "--out", d / "pairs")


def prepare_repository(directory, latents_dir):
    """A copy of latents_dir's latents.npz and pairs/ (extract_and_pair's) in directory, and
    init-repo of them into directory/repo; returns the repository's path."""
    d, source = Path(directory), Path(latents_dir)
    shutil.copy(source / "latents.npz", d / "latents.npz")
    shutil.copytree(source / "pairs", d / "pairs")
    run_tool("init-repo", d / "repo", d / "latents.npz", d / "pairs" / "pairs.npz")
    return d / "repo"


def run_tool_in_process(name, *args):
    """Run a bin/ tool inside this interpreter (argv, stdout and stderr as for a real run; the
    SIGTERM handler it installs is restored): for tables of argument checks, where a fresh
    interpreter per case would only add seconds. Returns (exit code, stdout, stderr)."""
    import contextlib
    import io
    import signal

    from sent.tools import main

    out, err = io.StringIO(), io.StringIO()
    handler = signal.getsignal(signal.SIGTERM)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main([name, *map(str, args)])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        signal.signal(signal.SIGTERM, handler)
    return code, out.getvalue(), err.getvalue()


# the built-in path's results that a refactoring must not change (test profile, published tree)
CONTENT_PATTERNS = ("pairs/*/pairs.npz", "models/*/latents.npz", "models/*/*corr_index_*.txt",
                    "models/*/predictions_*.npz", "models/*/*/predictions_*.npz",
                    "models/*/baselines/*/predictions_*.npz", "models/*/two_at_once.csv",
                    "tables/table-r2.csv", "tables/table-valid.csv", "tables/baselines.csv")


# Float arrays are compared by fingerprint within this: SeNT's codes differ across CPUs in their
# last bits (the tables made from them did not). Changing the test profile's torch or MKL kernels
# moved a code by at most 1e-6, a fingerprint by 4e-9, and no decoded attribute.
FINGERPRINT_ATOL = 1e-6


def float_fingerprint(a) -> list:
    """Mean, mean |x| and a cosine-weighted mean of a float array: any change beyond rounding moves one."""
    import numpy as np

    x = np.asarray(a, dtype=np.float64).ravel()
    if x.size == 0:
        return []
    return [float(x.mean()), float(np.abs(x).mean()), float((x * np.cos(np.arange(x.size))).mean())]


def content_digests(outdir) -> dict:
    """{relative path: sha1 of its content}: for an .npz, of each array's name, dtype, shape and
    bytes (a zip's timestamps differ run to run), a float array's bytes replaced by its own entry
    {"path:name": float_fingerprint}; else of the file's bytes."""
    import hashlib

    import numpy as np

    outdir = Path(outdir)
    digests = {}
    for pattern in CONTENT_PATTERNS:
        for path in sorted(outdir.glob(pattern)):
            relative = str(path.relative_to(outdir))
            h = hashlib.sha1()
            if path.suffix == ".npz":
                with np.load(path) as arrays:
                    for name in sorted(arrays.files):
                        a = arrays[name]
                        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
                        if a.dtype.kind == "f":
                            digests[f"{relative}:{name}"] = float_fingerprint(a)
                        else:
                            h.update(np.ascontiguousarray(a).tobytes())
            else:
                h.update(path.read_bytes())
            digests[relative] = h.hexdigest()
    return digests


def differing_content(actual: dict, expected: dict) -> dict:
    """{key: (actual, expected)} where two content_digests differ: digests exactly, fingerprints
    beyond FINGERPRINT_ATOL."""
    import numpy as np

    def same(a, e):
        if isinstance(e, list):
            return isinstance(a, list) and len(a) == len(e) and \
                bool(np.allclose(a, e, rtol=0, atol=FINGERPRINT_ATOL, equal_nan=True))
        return a == e

    return {k: (actual.get(k), expected.get(k)) for k in sorted(set(actual) | set(expected))
            if not same(actual.get(k), expected.get(k))}
