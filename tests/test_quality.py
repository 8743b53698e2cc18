"""A real learning check: a short SeNT run on a shipped model beats the trivial baselines."""

import csv

import pytest

from helpers import ROOT, run_tool

MODEL = ROOT / "prebuilt" / "vae" / "s2-VAE_b_0.2_c_50.0_g_10.0_r_0.pt"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    assert MODEL.exists(), f"{MODEL} is part of the repository"
    d = tmp_path_factory.mktemp("quality")
    run_tool("extract", MODEL, "--out", d / "latents.npz", "--limit", 60_000, "--quiet")
    run_tool("findpairs", d / "latents.npz", "--out", d / "pairs", "--attribute", "3,4")
    run_tool("init-repo", d / "repo", d / "latents.npz", d / "pairs" / "pairs.npz")
    for k in (3, 4):
        run_tool("mi", d / "repo", "--attribute", k, "--max-samples", 2000)
        run_tool("train-zc", d / "repo", "--attribute", k, "--epochs", 2, "--max-pairs", 3000, "--max-restarts", 0)
        run_tool("train-sent", d / "repo", MODEL, "--attribute", k, "--epochs", 3, "--max-pairs", 3000, "--seed", 0)
        run_tool("evaluate", d / "repo", MODEL, "--attribute", k, "--baselines")
    run_tool("perform", "tables", d / "repo", "--out", d)
    return {r["attribute"]: r for r in csv.DictReader((d / "baselines.csv").open())}


@pytest.mark.parametrize("attribute", ["rhythm_bar1", "rhythm_bar2"])
def test_sent_beats_identity_on_rhythm(results, attribute):
    r = {k: float(v) for k, v in results[attribute].items() if k.endswith(("_r2", "_valid"))}
    assert r["sent_r2"] > r["identity_r2"] + 0.5, r
    assert r["sent_r2"] > 0.5 and r["sent_valid"] > 0.5, r
    assert r["oracle_r2"] > 0.9  # the shipped model reconstructs its target examples
