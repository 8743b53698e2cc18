"""On a shipped model: a short SeNT run beats the trivial baselines; validation scores are what they say."""

import csv

import numpy as np
import pytest
import torch
from helpers import ROOT, run_tool

from sent.core.networks import load_sent
from sent.core.repository import Repository
from sent.core.traversal import SentOptions, train_sent
from sent.dmelodies.vae import load_model

MODEL = ROOT / "prebuilt" / "vae" / "s2-VAE_b_0.2_c_50.0_g_10.0_r_0.pt"
RHYTHM = 3


@pytest.fixture(scope="module")
def quality_dir(tmp_path_factory):
    assert MODEL.exists(), f"{MODEL} is part of the repository"
    d = tmp_path_factory.mktemp("quality")
    run_tool("extract", MODEL, "--out", d / "latents.npz", "--limit", 30_000, "--quiet")
    run_tool("findpairs", d / "latents.npz", "--out", d / "pairs", "--attribute", "3,4")
    run_tool("init-repo", d / "repo", d / "latents.npz", d / "pairs" / "pairs.npz")
    for k in (3, 4):
        run_tool("mi", d / "repo", "--attribute", k, "--max-samples", 2000)
        run_tool("train-zc", d / "repo", "--attribute", k, "--epochs", 2, "--max-pairs", 3000, "--max-restarts", 0)
        run_tool("train-sent", d / "repo", MODEL, "--attribute", k, "--epochs", 3, "--max-pairs", 3000, "--seed", 0)
        run_tool("evaluate", d / "repo", MODEL, "--attribute", k, "--baselines")
    run_tool("perform", "tables", d / "repo", "--out", d)
    return d


@pytest.fixture(scope="module")
def results(quality_dir):
    return {r["attribute"]: r for r in csv.DictReader((quality_dir / "baselines.csv").open())}


@pytest.mark.parametrize("attribute", ["rhythm_bar1", "rhythm_bar2"])
def test_sent_beats_identity_on_rhythm(results, attribute):
    r = {k: float(v) for k, v in results[attribute].items() if k.endswith(("_r2", "_valid"))}
    assert r["sent_r2"] > r["identity_r2"] + 0.5, r
    assert r["sent_r2"] > 0.5 and r["sent_valid"] > 0.5, r
    assert r["oracle_r2"] > 0.9  # the shipped model reconstructs its target examples


def test_validation_curve_and_selection(quality_dir):
    """Held-out pairs are never trained on; their curve scores what the decoder makes of the
    function's codes (recomputed here with sklearn); select='validation' keeps the scored step of
    lowest validation lossC."""
    from sklearn.metrics import r2_score

    from sent.dmelodies.attributes import extract_attributes
    from sent.util.errors import SentError

    vae, _ = load_model(MODEL)
    repo = Repository(quality_dir / "repo")
    pairs = len(repo.pair_indices(RHYTHM, "train"))
    held = pairs // 4
    summary = train_sent(repo, RHYTHM, vae, SentOptions(epochs=1, validation=held, score_every=10,
                                                         select="validation"))
    assert summary["steps"] == -(-(pairs - held) // 64)
    curve = np.genfromtxt(quality_dir / "repo" / f"curve_{RHYTHM}.csv", delimiter=",", names=True)
    assert list(curve["step"]) == list(range(0, summary["steps"], 10)) + [summary["steps"]] * (summary["steps"] % 10 > 0)
    assert np.all(np.diff(curve["seconds"]) >= 0) and np.all((curve["valid"] >= 0) & (curve["valid"] <= 1))
    net, meta = load_sent(repo, RHYTHM)
    assert meta["loss"] == pytest.approx(curve["lossC"].min(), abs=1e-6)
    assert meta["step"] == int(curve["step"][np.argmin(curve["lossC"])])
    z1, c1, _, c2 = repo.pairs(RHYTHM, "train")
    _, a1, _, a2 = repo.raw_pairs(RHYTHM, "train")
    rows = slice(pairs - held, pairs)
    t = lambda a: torch.as_tensor(a[rows], dtype=torch.float32)  # noqa: E731
    with torch.no_grad():
        codes = repo.denormalise_z(net(t(z1), t(c1[:, RHYTHM]).reshape(-1, 1), t(c2[:, RHYTHM]).reshape(-1, 1)))
        achieved = extract_attributes(vae.decode_tokens(codes))[:, RHYTHM]
    ok = achieved >= 0
    lo, hi = (r[RHYTHM] for r in repo.config["fRange"])
    assert meta["validation"]["valid"] == pytest.approx(ok.mean())
    assert meta["validation"]["r2"] == pytest.approx(r2_score((a2[rows][ok, RHYTHM] - lo) / (hi - lo),
                                                              (achieved[ok] - lo) / (hi - lo)))
    with pytest.raises(SentError, match="needs held-out pairs"):
        SentOptions(select="validation")
    with pytest.raises(SentError, match=f"{pairs} training pairs, too few to hold out {pairs}"):
        train_sent(repo, RHYTHM, vae, SentOptions(epochs=1, validation=pairs))


def test_validation_loss_selection(quality_dir, monkeypatch):
    """select='validation-loss' keeps the scored step of lowest held-out training objective, not
    of lowest lossC: the first scored step's lossC is made the lowest (its lossR + lossI, early in
    training, are far above the later ones), every other step's the same constant, so the two rules
    keep different networks. The curve's loss is lossR + lossI + lossC, and the kept network's lossR
    and lossI, recomputed here with numpy from its codes, are the MSE towards z2 on the relevant and
    z1 on the other dims."""
    from sent.core import traversal

    real_score, calls = traversal.Validation.score, []

    def score_with_designed_loss_c(self, net):
        v = real_score(self, net)
        calls.append(None)
        loss_c = 0.0 if len(calls) == 2 else 0.05  # call 1 scores the untrained network (step 0)
        return {**v, "lossC": loss_c, "loss": v["lossR"] + v["lossI"] + loss_c}

    monkeypatch.setattr(traversal.Validation, "score", score_with_designed_loss_c)
    vae, _ = load_model(MODEL)
    repo = Repository(quality_dir / "repo")
    pairs = len(repo.pair_indices(RHYTHM, "train"))
    held = pairs // 4
    train_sent(repo, RHYTHM, vae, SentOptions(epochs=2, validation=held, score_every=10, select="validation-loss"))
    curve = np.genfromtxt(quality_dir / "repo" / f"curve_{RHYTHM}.csv", delimiter=",", names=True)
    assert np.allclose(curve["loss"], curve["lossR"] + curve["lossI"] + curve["lossC"], rtol=1e-5, atol=1e-6)
    later = curve[1:]  # never the untrained network
    net, meta = load_sent(repo, RHYTHM)
    assert meta["loss"] == pytest.approx(later["loss"].min(), rel=1e-5)  # the curve holds 6 digits
    assert meta["step"] == int(later["step"][np.argmin(later["loss"])])
    assert meta["step"] != int(later["step"][np.argmin(later["lossC"])]) == 10
    z1, c1, z2, c2 = repo.pairs(RHYTHM, "train")
    rows = slice(pairs - held, pairs)
    t = lambda a: torch.as_tensor(a[rows], dtype=torch.float32)  # noqa: E731
    with torch.no_grad():
        out = net.eval()(t(z1), t(c1[:, RHYTHM]).reshape(-1, 1), t(c2[:, RHYTHM]).reshape(-1, 1)).numpy()
    corr = np.loadtxt(repo.path(f"corr_index_{RHYTHM}.txt"), dtype=int).ravel()
    other = np.setdiff1d(np.arange(out.shape[1]), corr)
    assert meta["validation"]["lossR"] == pytest.approx(((out[:, corr] - z2[rows][:, corr]) ** 2).mean(), rel=1e-4)
    assert meta["validation"]["lossI"] == pytest.approx(((out[:, other] - z1[rows][:, other]) ** 2).mean(), rel=1e-4)
