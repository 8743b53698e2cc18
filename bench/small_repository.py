"""The SeNT benchmarks' shared setup: a small repository for one attribute, built by the real
tools. The cost of what the benchmarks time does not depend on weights, so a freshly initialised
VAE stands in unless a model file is given."""

import subprocess
import sys
from pathlib import Path

from sent.dmelodies.vae import VAE, ModelSpec, save_model


def tool(*args):
    subprocess.run([sys.executable, "-m", "sent.tools", *map(str, args)], check=True, stdout=subprocess.DEVNULL)


def small_repository(tmp: Path, model: str | None, attribute: int, rows: int) -> Path:
    """tmp/repo with the latents of the first ROWS test melodies, the attribute's pairs, its MI
    index files and a one-epoch surrogate; returns the model file used."""
    model = Path(model) if model else tmp / "s2-VAE_b_0.2_c_50.0_g_10.0_r_0.pt"
    if not model.exists():
        save_model(VAE(ModelSpec.parse(model.stem)), model, {"id": model.stem,
                   "split": {"seed": 0, "fractions": [0.7, 0.05, 0.25]}})
    tool("extract", model, "--out", tmp / "latents.npz", "--limit", rows, "--quiet")
    tool("findpairs", tmp / "latents.npz", "--out", tmp / "pairs", "--attribute", attribute)
    tool("init-repo", tmp / "repo", tmp / "latents.npz", tmp / "pairs" / "pairs.npz")
    tool("mi", tmp / "repo", "--attribute", attribute, "--max-samples", 2000)
    tool("train-zc", tmp / "repo", "--attribute", attribute, "--epochs", 1)
    return model
