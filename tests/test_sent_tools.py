"""train-zc -> train-sent -> evaluate -> perform: mechanics on a tiny model, bad inputs."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ROOT, prepare_repository, run_tool, run_tool_in_process

from sent.core.networks import SENT_FORMAT, SentNet, ZtoC, load_sent
from sent.core.repository import Repository
from sent.core.traversal import SentOptions, train_sent
from sent.dmelodies.vae import load_model
from sent.util.io import load_npz, load_torch, save_npz

RHYTHM = 3
ROOT_REFERENCE = ROOT / "prebuilt" / "reference"


@pytest.fixture(scope="module")
def repo_dir(tmp_path_factory, tiny_latents):
    return prepare_repository(tmp_path_factory.mktemp("sent"), tiny_latents)


def test_architectures():
    zc = ZtoC(32, 1)
    widths = [m.out_features for m in zc.net if isinstance(m, torch.nn.Linear)]
    assert widths == [128, 64, 32, 16, 1]
    assert isinstance(zc.net[-1], torch.nn.Sigmoid)
    net = SentNet(32, 1)
    assert (net.in_z.out_features, net.in_c1.out_features, net.hidden.in_features, net.hidden.out_features) == \
        (64, 32, 96, 64)
    wide = SentNet(32, 12, iscale=2, pre_stages=True, with_target=True)
    assert wide.in_c1.in_features == 12 and wide.hidden.in_features == 4 * 64 and wide.pre_c1 is not None
    out = wide(torch.zeros(5, 32), torch.zeros(5, 12), torch.ones(5, 12))
    assert out.shape == (5, 32) and out.abs().max() <= 1
    opts = SentOptions.from_letters("ehsipc")
    assert (opts.one_hot, opts.simulate, opts.iscale, opts.pre_stages, opts.with_target) == (True, True, 2, True, True)


def test_pipeline_files(repo_dir, tiny_model):
    run_tool("mi", repo_dir, "--attribute", RHYTHM)
    run_tool("train-zc", repo_dir, "--attribute", RHYTHM, "--epochs", 2)
    run_tool("train-sent", repo_dir, tiny_model, "--attribute", RHYTHM, "--epochs", 2, "--max-pairs", 2000)
    run_tool("evaluate", repo_dir, tiny_model, "--attribute", RHYTHM)
    run_tool("perform", "run", repo_dir, "--out", repo_dir / "perf")
    zc_log = np.genfromtxt(repo_dir / f"train_zc_{RHYTHM}.csv", delimiter=",", names=True)
    assert list(zc_log.dtype.names) == ["restart", "epoch", "loss", "best"]
    log = np.genfromtxt(repo_dir / f"train_{RHYTHM}.csv", delimiter=",", names=True)
    assert list(log.dtype.names) == ["epoch", "loss", "lossR", "lossI", "lossC", "best"] and len(log) == 2
    assert np.allclose(log["loss"], log["lossR"] + log["lossI"] + log["lossC"], rtol=1e-4)
    n_test = len(Repository(repo_dir).pair_indices(RHYTHM, "test"))
    saved = load_npz(repo_dir / f"predictions_{RHYTHM}.npz")
    assert sorted(saved) == ["achieved", "attribute", "codes", "method"]
    assert saved["achieved"].dtype == np.int8 and saved["achieved"].shape == (n_test, 9)
    assert saved["codes"].dtype == np.float32 and saved["codes"].shape == (n_test, 32)
    assert saved["achieved"].min() >= -1 and str(saved["method"]) == "sent" and int(saved["attribute"]) == RHYTHM
    rows = [line.split(",")[0] for line in (repo_dir / "perf" / "perform.csv").read_text().splitlines()]
    assert rows[:5] == ["measure", "deltaTarget", "valid", "c:r^2", "r:r^2"]
    assert rows[5:] == [f"deltaUntarget-{n}" for n in Repository(repo_dir).names]
    for stem in ("target_vs_achieved", "deviation", "untargeted"):
        assert (repo_dir / "perf" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert (repo_dir / "perf" / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"


def test_predictions_decode_to_cp(repo_dir, tiny_model):
    """The achieved attributes are what the real decoder + extractor make of the stored codes:
    recompute a sample independently."""
    from sent.dmelodies.attributes import extract_attributes

    vae, _ = load_model(tiny_model)
    saved = load_npz(repo_dir / f"predictions_{RHYTHM}.npz")
    tokens = vae.decode_tokens(torch.as_tensor(saved["codes"][:200]))
    assert np.array_equal(extract_attributes(tokens), saved["achieved"][:200])


def test_same_seed_same_model(repo_dir, tiny_model):
    vae, _ = load_model(tiny_model)
    repo = Repository(repo_dir)
    opts = SentOptions(epochs=1, max_pairs=500, simulate=True)
    train_sent(repo, RHYTHM, vae, opts)
    a = {k: v.clone() for k, v in load_sent(repo, RHYTHM)[0].state_dict().items()}
    train_sent(repo, RHYTHM, vae, opts)
    b = load_sent(repo, RHYTHM)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_steps_and_cosine_schedule(repo_dir, tiny_model, monkeypatch):
    """--steps stops mid-epoch; cosine decays the learning rate towards 0 over the run."""
    vae, _ = load_model(tiny_model)
    repo = Repository(repo_dir)
    lrs, real_step = [], torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        lrs.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    summary = train_sent(repo, RHYTHM, vae, SentOptions(epochs=5, max_pairs=500, steps=11, schedule="cosine", lr=0.01))
    assert summary["steps"] == 11 and len(lrs) == 11  # 8 batches of 64 per epoch: one epoch and 3 steps
    log = np.genfromtxt(repo_dir / f"train_{RHYTHM}.csv", delimiter=",", names=True)
    assert list(log["epoch"]) == [0, 1]
    assert lrs[0] == pytest.approx(0.01) and lrs[-1] == pytest.approx(0.01 * 0.5 * (1 + np.cos(np.pi * 10 / 11)))
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert not (repo_dir / f"curve_{RHYTHM}.csv").exists()


def test_decoding_does_not_change_the_trajectory(repo_dir, tiny_model):
    """lossC's gradient is the surrogate's whether or not the melody is decoded, so after one epoch
    (the only one, hence the one kept) the simulated and the decoded run hold the same network."""
    vae, _ = load_model(tiny_model)
    repo = Repository(repo_dir)
    nets = []
    for simulate in (False, True):
        train_sent(repo, RHYTHM, vae, SentOptions(epochs=1, max_pairs=500, simulate=simulate))
        nets.append(load_sent(repo, RHYTHM)[0].state_dict())
    assert all(torch.equal(nets[0][k], nets[1][k]) for k in nets[0])


@pytest.mark.parametrize("select", ["validation", "validation-loss"])
def test_several_learning_rates_keep_the_lowest_validation_loss(repo_dir, tiny_model, select):
    """--lr a,b trains one function per rate and keeps the one of lowest selected validation score
    (lossC, or the objective): the kept network and logs are exactly what a run at that rate alone
    writes, and no candidate's file stays."""
    common = ("--attribute", RHYTHM, "--max-pairs", 500, "--steps", 30, "--validation", 300, "--score-every", 10,
              "--select", select, "--simulate")
    run_tool("train-sent", repo_dir, tiny_model, "--lr", "0.001,0.03", *common)
    net, meta = load_sent(Repository(repo_dir), RHYTHM)
    losses = {c["lr"]: c["loss"] for c in meta["candidates"]}
    assert set(losses) == {0.001, 0.03} and losses[0.001] != losses[0.03]
    assert meta["loss"] == losses[meta["options"]["lr"]] == min(losses.values())
    assert not list(repo_dir.glob(f"*_{RHYTHM}.*partial"))
    log = (repo_dir / f"train_{RHYTHM}.csv").read_text()
    curve = np.genfromtxt(repo_dir / f"curve_{RHYTHM}.csv", delimiter=",", names=True)
    selected = {"validation": "lossC", "validation-loss": "loss"}[select]
    assert meta["loss"] == pytest.approx(curve[selected][1:].min(), rel=1e-5)  # the curve holds 6 digits
    run_tool("train-sent", repo_dir, tiny_model, "--lr", meta["options"]["lr"], *common)
    alone, alone_meta = load_sent(Repository(repo_dir), RHYTHM)
    assert "candidates" not in alone_meta and alone_meta["step"] == meta["step"]
    assert all(torch.equal(net.state_dict()[k], alone.state_dict()[k]) for k in net.state_dict())
    assert (repo_dir / f"train_{RHYTHM}.csv").read_text() == log
    alone_curve = np.genfromtxt(repo_dir / f"curve_{RHYTHM}.csv", delimiter=",", names=True)
    for column in ("step", "r2", "valid", "lossC"):  # not seconds
        assert np.array_equal(curve[column], alone_curve[column], equal_nan=True)


def test_several_seeds_keep_the_lowest_validation_loss(repo_dir, tiny_model):
    """--seed a,b trains one function per initial network (and rate) and keeps the one of lowest
    held-out loss: exactly the network that seed alone gives."""
    common = ("--attribute", RHYTHM, "--max-pairs", 500, "--steps", 20, "--validation", 300, "--score-every", 10,
              "--select", "validation-loss", "--simulate", "--lr", 0.01)
    run_tool("train-sent", repo_dir, tiny_model, "--seed", "0,1", *common)
    net, meta = load_sent(Repository(repo_dir), RHYTHM)
    losses = {(c["seed"], c["lr"]): c["loss"] for c in meta["candidates"]}
    assert set(losses) == {(0, 0.01), (1, 0.01)} and losses[0, 0.01] != losses[1, 0.01]
    kept = meta["options"]["seed"]
    assert meta["loss"] == losses[kept, 0.01] == min(losses.values())
    assert not list(repo_dir.glob(f"*_{RHYTHM}.*partial"))
    run_tool("train-sent", repo_dir, tiny_model, "--seed", kept, *common)
    alone, alone_meta = load_sent(Repository(repo_dir), RHYTHM)
    assert "candidates" not in alone_meta and alone_meta["loss"] == meta["loss"]
    assert all(torch.equal(net.state_dict()[k], alone.state_dict()[k]) for k in net.state_dict())


def test_several_seeds_need_a_validation_selection(repo_dir, tiny_model):
    before = (repo_dir / f"sent_{RHYTHM}.model").read_bytes()
    failed = run_tool("train-sent", repo_dir, tiny_model, "--attribute", RHYTHM, "--seed", "0,1", "--epochs", 1,
                      check=False)
    assert failed.returncode != 0 and "--seed 0,1: several seeds need --select validation" in failed.stderr
    assert (repo_dir / f"sent_{RHYTHM}.model").read_bytes() == before


def test_nan_loss_stops_and_keeps_best_model(repo_dir, tiny_model, monkeypatch):
    from sent.core import traversal
    from sent.util.errors import SentError

    vae, _ = load_model(tiny_model)
    repo = Repository(repo_dir)
    real = traversal.Perception.loss
    calls = {"n": 0}

    def nan_after_first_epoch(self, zn, c2):
        calls["n"] += 1
        value = real(self, zn, c2)
        return value * float("nan") if calls["n"] > 8 else value

    finished = (repo_dir / f"sent_{RHYTHM}.model").read_bytes()
    monkeypatch.setattr(traversal.Perception, "loss", nan_after_first_epoch)
    with pytest.raises(SentError, match=r"NaN/inf at epoch 1; best model so far \(loss .*\) in .*sent_3.model.partial"):
        train_sent(repo, RHYTHM, vae, SentOptions(epochs=3, max_pairs=500))  # 8 batches per epoch
    meta, _ = load_torch(repo_dir / f"sent_{RHYTHM}.model.partial", SENT_FORMAT)
    assert meta["epoch"] == 0 and np.isfinite(meta["loss"])
    assert (repo_dir / f"sent_{RHYTHM}.model").read_bytes() == finished  # the finished model is untouched


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_training_leaves_no_model_that_evaluate_would_trust(repo_dir, tiny_model, sig):
    k = 4 if sig == signal.SIGTERM else 6
    run_tool("mi", repo_dir, "--attribute", k, "--max-samples", 300)
    run_tool("train-zc", repo_dir, "--attribute", k, "--epochs", 1, "--max-pairs", 300)
    env = dict(os.environ, PATH=f"{ROOT / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen([str(ROOT / "bin" / "train-sent"), str(repo_dir), str(tiny_model), "--attribute", str(k),
                             "--epochs", "400", "--max-pairs", "300"], env=env, stderr=subprocess.PIPE, text=True)
    partial_log = repo_dir / f"train_{k}.csv.partial"
    deadline = time.monotonic() + 300
    while not (partial_log.exists() and len(partial_log.read_text().splitlines()) >= 3):  # a few epochs in
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "timeout"
        time.sleep(0.2)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == (143 if sig == signal.SIGTERM else -signal.SIGKILL)
    assert (repo_dir / f"sent_{k}.model.partial").exists() and not (repo_dir / f"sent_{k}.model").exists()
    assert not (repo_dir / f"train_{k}.csv").exists()
    if sig == signal.SIGTERM:  # SystemExit unwinds: no temporary file of an interrupted write stays
        assert not list(repo_dir.glob(".*.tmp"))
    _fails("evaluate", repo_dir, tiny_model, "--attribute", k, match=f"sent_{k}.model: no traversal function")
    run_tool("train-sent", repo_dir, tiny_model, "--attribute", k, "--epochs", 1, "--max-pairs", 300)
    assert (repo_dir / f"sent_{k}.model").exists() and not (repo_dir / f"sent_{k}.model.partial").exists()
    assert not partial_log.exists() and len((repo_dir / f"train_{k}.csv").read_text().splitlines()) == 2


def _copy_repository(repo_dir, copy, ignore=None):
    """A copy of a repository elsewhere (its relative source and pairs paths made absolute)."""
    import shutil

    shutil.copytree(repo_dir, copy, ignore=ignore)
    config = json.loads((repo_dir / "config.json").read_text())
    for stored in ("source", "pairs"):  # relative paths point next to the original
        config[stored] = str((repo_dir / config[stored]).resolve())
    (copy / "config.json").write_text(json.dumps(config))
    return copy


def _fails(tool, *args, match):
    proc = run_tool(tool, *args, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], proc.stderr


def test_bad_inputs(repo_dir, tiny_model, tmp_path):
    _fails("train-sent", repo_dir, tiny_model, "--attribute", "octave", "--epochs", 1,
           match="corr_index_1.txt: no such file")
    run_tool("mi", repo_dir, "--attribute", "octave", "--max-samples", 300)
    _fails("train-sent", repo_dir, tiny_model, "--attribute", "octave", "--epochs", 1,
           match="sent_ZC_1.model: no surrogate for attribute 1")
    _fails("evaluate", repo_dir, tiny_model, "--attribute", "octave", match="sent_1.model: no traversal function")
    _fails("train-sent", repo_dir, tiny_model, "--variant", "ex", match="unknown variant letter")
    _fails("train-sent", repo_dir, tiny_model, "--lr", "0.01,0.001", "--validation", 100,
           match="several learning rates need --select validation")
    _fails("train-sent", repo_dir, tmp_path / "nope.pt", match="nope.pt: no such model file")
    # a repository of 16-dim codes cannot be decoded by a 32-dim model
    d = tmp_path / "small"
    arrays = load_npz(repo_dir.parent / "latents.npz")
    arrays["latent_codes"] = arrays["latent_codes"][:, :16].copy()
    save_npz(d / "latents.npz", **arrays)
    run_tool("init-repo", d / "repo", d / "latents.npz", repo_dir.parent / "pairs" / "pairs.npz")
    run_tool("mi", d / "repo", "--attribute", RHYTHM, "--max-samples", 300)
    run_tool("train-zc", d / "repo", "--attribute", RHYTHM, "--epochs", 1, "--max-pairs", 300)
    _fails("train-sent", d / "repo", tiny_model, "--attribute", RHYTHM, "--epochs", 1,
           match="model latent size 32 does not match the repository's 16")
    assert not (d / "repo" / f"sent_{RHYTHM}.model").exists()
    (tmp_path / "broken.csv").write_text("x")
    _fails("perform", "run", tmp_path, match="config.json: no such file")


def test_baselines_follow_their_definitions(repo_dir):
    from sent.core.baselines import baseline_codes
    from sent.util.errors import SentError

    repo = Repository(repo_dir)
    k = RHYTHM
    z1, a1, z2, a2 = repo.raw_pairs(k, "test")
    assert np.array_equal(baseline_codes(repo, k, "identity"), z1)
    assert np.array_equal(baseline_codes(repo, k, "oracle"), z2)
    relevant = [int(v) for v in (repo_dir / f"corr_index_{k}.txt").read_text().split()]
    target = baseline_codes(repo, k, "sent-target")
    assert np.array_equal(target[:, relevant], z2[:, relevant])
    assert np.array_equal(np.delete(target, relevant, axis=1), np.delete(z1, relevant, axis=1))
    rows = np.unique(repo.pair_indices(k, "train").ravel())
    z, a = repo.z[rows].astype(np.float64), repo.attributes[rows, k]
    av = baseline_codes(repo, k, "attribute-vector")
    p = int(np.flatnonzero(np.isin(a2[:, k], a) & np.isin(a1[:, k], a))[0])
    want = z1[p] + z[a == a2[p, k]].mean(axis=0) - z[a == a1[p, k]].mean(axis=0)
    assert np.allclose(av[p], want, atol=1e-5)
    lin = baseline_codes(repo, k, "linear-direction")
    w = np.linalg.lstsq(np.hstack([z, np.ones((len(z), 1))]), a.astype(float), rcond=None)[0][:-1]
    assert np.allclose((lin - z1) @ w, a2[:, k] - a1[:, k], atol=1e-4)  # the fit predicts the requested change
    reg = baseline_codes(repo, k, "regularised-dimension")
    others = [d for d in range(32) if d != k]
    assert np.array_equal(reg[:, others], z1[:, others])
    assert reg[p, k] == pytest.approx(np.median(z[a == a2[p, k], k]))
    repo.config["model_id"] = "beta-VAE_b_1.0_c_50.0_r_0"
    with pytest.raises(SentError, match="not defined for beta-VAE"):
        baseline_codes(repo, k, "regularised-dimension")


def test_evaluate_baselines_and_tables(repo_dir, tiny_model, tmp_path):
    run_tool("evaluate", repo_dir, tiny_model, "--attribute", RHYTHM, "--baselines")
    for method in ("identity", "oracle", "sent-target", "attribute-vector", "linear-direction",
                   "regularised-dimension"):
        saved = load_npz(repo_dir / "baselines" / method / f"predictions_{RHYTHM}.npz")
        assert "codes" not in saved  # recomputed from the repository when needed
        assert saved["achieved"].shape == (len(Repository(repo_dir).pair_indices(RHYTHM, "test")), 9)
    run_tool("perform", "tables", repo_dir, "--out", tmp_path)
    rows = (tmp_path / "baselines.csv").read_text().splitlines()
    assert rows[0].startswith("setting,attribute,sent_r2,sent_valid,identity_r2")
    assert rows[1].split(",")[:2] == ["s2-VAE_b_0.2_c_50.0_g_10.0", "rhythm_bar1"]
    run_tool("perform", "run", repo_dir, "--method", "oracle", "--out", tmp_path / "oracle")
    assert (tmp_path / "oracle" / "perform-oracle.csv").exists()  # named by its method
    assert (tmp_path / "oracle" / "target_vs_achieved-oracle.png").exists()
    assert not (tmp_path / "oracle" / "perform.csv").exists()


def test_csv_export_reads_back_to_the_same_scores(repo_dir, tiny_model, tmp_path):
    """`perform export` writes the CSV layout of earlier versions; a repository holding only that
    layout scores and tabulates exactly as the .npz one."""
    import shutil

    from sent.core.baselines import baseline_codes

    run_tool("evaluate", repo_dir, tiny_model, "--attribute", RHYTHM, "--baselines")
    old = tmp_path / "csv-repo"
    shutil.copytree(repo_dir, old, ignore=shutil.ignore_patterns("predictions_*.npz", "perf", "examples"))
    run_tool("perform", "export", repo_dir, "--out", old, "--attribute", RHYTHM)
    repo = Repository(repo_dir)
    saved = load_npz(repo_dir / f"predictions_{RHYTHM}.npz")
    lines = (old / f"cp_{RHYTHM}.csv").read_text().splitlines()
    assert lines[0] == ",".join(repo.names)
    assert np.array_equal(np.loadtxt(lines[1:], delimiter=",", dtype=int, ndmin=2), saved["achieved"])
    sp_lines = (old / f"sp_{RHYTHM}.csv").read_text().splitlines()
    assert sp_lines[0] == ",".join(f"{v:.7g}" for v in saved["codes"][0])
    z2 = np.loadtxt(old / f"z2_{RHYTHM}.csv", delimiter=",", ndmin=2)
    assert np.allclose(z2, repo.z[repo.pair_indices(RHYTHM, "test")[:, 1]], rtol=1e-6, atol=1e-6)
    oracle_sp = np.loadtxt(old / "baselines" / "oracle" / f"sp_{RHYTHM}.csv", delimiter=",", ndmin=2)
    assert np.allclose(oracle_sp, baseline_codes(repo, RHYTHM, "oracle"), rtol=1e-6, atol=1e-6)
    assert not list(old.rglob("predictions_*.npz"))

    for d in (repo_dir, old):
        run_tool("perform", "tables", d, "--out", tmp_path / d.name / "tables")
        for method in ("sent", "sent-target"):
            run_tool("perform", "run", d, "--attribute", RHYTHM, "--method", method, "--out", tmp_path / d.name / method)
    for name in ("table-r2.csv", "table-valid.csv", "baselines.csv"):
        assert (tmp_path / repo_dir.name / "tables" / name).read_text() == (tmp_path / old.name / "tables" / name).read_text()
    for method in ("sent", "sent-target"):
        csv = "perform.csv" if method == "sent" else f"perform-{method}.csv"
        new_rows, old_rows = ([line.split(",") for line in (tmp_path / d.name / method / csv).read_text().splitlines()]
                              for d in (repo_dir, old))
        for new_row, old_row in zip(new_rows, old_rows, strict=True):
            if new_row[0] == "r:r^2":  # codes rounded to 7 digits in the CSV layout
                assert float(new_row[1]) == pytest.approx(float(old_row[1]), abs=1e-5, nan_ok=True)
            else:
                assert new_row == old_row
    from sent.evaluation.predictions import read_codes

    for method in ("sent", "sent-target", "linear-direction"):  # stored, recomputed; read back from the CSV
        assert np.allclose(read_codes(Repository(old), RHYTHM, method), read_codes(repo, RHYTHM, method),
                           rtol=1e-6, atol=1e-6)


def test_export_needs_predictions(repo_dir, tmp_path):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(repo_dir, bare, ignore=shutil.ignore_patterns("predictions_*.npz", "baselines", "*.csv"))
    _fails("perform", "export", bare, match="no evaluated predictions to export (run evaluate first)")
    _fails("perform", "export", bare, "--method", "nearest", match="unknown method 'nearest'")


ARP = 5


@pytest.fixture(scope="module")
def arp_repo(repo_dir, tiny_model):
    """The repository with a (briefly) trained traversal function for arp_chord1."""
    run_tool("mi", repo_dir, "--attribute", ARP, "--max-samples", 200)
    run_tool("train-zc", repo_dir, "--attribute", ARP, "--epochs", 1)
    run_tool("train-sent", repo_dir, tiny_model, "--attribute", ARP, "--epochs", 1, "--variant", "s")
    return repo_dir


def test_traverse_sweep_files_and_json(arp_repo, tiny_model, tmp_path):
    repo_dir, arp = arp_repo, ARP
    out = tmp_path / "sweep"
    # the tiny model reconstructs melodies poorly: edits are allowed only when asked for explicitly
    _fails("traverse", 12345, tiny_model, repo_dir, "arp_chord1", "--sweep", "--out", out,
           match="reconstructs only")
    assert not out.exists()
    run_tool("traverse", 12345, tiny_model, repo_dir, "arp_chord1", "--sweep", "--out", out, "--min_reconstruction", 0)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["arp_chord1_down.mid", "arp_chord1_down.musicxml", "arp_chord1_up.mid",
                     "arp_chord1_up.musicxml", "original.mid", "original.musicxml", "pianoroll.png", "traverse.json"]
    report = json.loads((out / "traverse.json").read_text())
    assert [e["name"] for e in report["edits"]] == ["up", "down"]
    from sent.dmelodies import data
    from sent.dmelodies.attributes import extract_attributes
    from sent.dmelodies.music import read_midi_tokens

    original = data.melody_tokens(data.factors_of([12345]))[0]
    assert report["original"]["tokens"] == original.tolist()
    vae, _ = load_model(tiny_model)
    mean, _ = vae.encoder(torch.as_tensor(original, dtype=torch.long).reshape(1, -1))
    assert report["original"]["reconstructed_tokens"] == int((vae.decode_tokens(mean)[0].numpy() == original).sum())
    assert np.array_equal(read_midi_tokens(out / "original.mid"), original)
    for edit in report["edits"]:
        got = extract_attributes(np.array([edit["tokens"]]))[0]
        assert edit["achieved"] == bool(got[arp] == ["up", "down"].index(edit["name"]))
    assert (out / "pianoroll.png").read_bytes()[:4] == b"\x89PNG"


def test_traverse_inputs_and_errors(arp_repo, tiny_model, tmp_path):
    repo_dir = arp_repo
    from sent.dmelodies import data
    from sent.dmelodies.music import write_melody

    tokens = data.melody_tokens(data.factors_of([4242]))[0]
    write_melody(tokens, tmp_path / "in.mid")
    run_tool("traverse", tmp_path / "in.mid", tiny_model, repo_dir, "arp_chord1", "--value", "down",
             "--out", tmp_path / "a", "--min_reconstruction", 0)
    run_tool("traverse", ",".join(map(str, tokens)), tiny_model, repo_dir, ARP, "--value", "down",
             "--out", tmp_path / "b", "--min_reconstruction", 0)
    a = json.loads((tmp_path / "a" / "traverse.json").read_text())
    b = json.loads((tmp_path / "b" / "traverse.json").read_text())
    assert a["original"]["tokens"] == b["original"]["tokens"] == tokens.tolist()
    assert a["edits"] == b["edits"]
    _fails("traverse", 4242, tiny_model, repo_dir, "scale", "--value", "dorian",
           match="unknown value 'dorian'; valid: major, minor, blues")
    from music21 import note, stream

    s = stream.Stream([note.Note("C4", quarterLength=0.75)])
    s.write("midi", fp=str(tmp_path / "offgrid.mid"))
    _fails("traverse", tmp_path / "offgrid.mid", tiny_model, repo_dir, ARP, "--value", "up",
           match="does not fit the 16-slot eighth-note grid")
    s = stream.Stream([note.Note("C2", quarterLength=0.5)])
    s.write("midi", fp=str(tmp_path / "low.mid"))
    _fails("traverse", tmp_path / "low.mid", tiny_model, repo_dir, ARP, "--value", "up", match="not in the vocabulary")
    _fails("traverse", 4242, tiny_model, repo_dir, ARP, match="give either --value")
    for bad in (17, -1, 2.5):
        _fails("traverse", 4242, tiny_model, repo_dir, ARP, "--value", "up", "--min_reconstruction", bad,
               match="--min_reconstruction must be")


def _chromium():
    import shutil
    import subprocess

    if not shutil.which("chromium"):  # Debian's package, installed on first use like the SLURM test's
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True,
                       env={**__import__("os").environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("chromium")


def test_report_renders_in_a_real_browser(arp_repo, tiny_model, tmp_path):
    import subprocess

    run_tool("evaluate", arp_repo, tiny_model, "--attribute", ARP, "--baselines", "--verify", "--examples", 2)
    run_tool("perform", "run", arp_repo)
    report = tmp_path / "report.html"
    run_tool("perform", "tables", arp_repo, "--out", tmp_path, "--reference", ROOT_REFERENCE, "--report", report)
    browser = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run([*browser, "--virtual-time-budget=5000", "--dump-dom", report.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    import re

    images = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert images and images.group(1) == images.group(2) and int(images.group(1)) >= 3, dom[:500]
    assert dom.count("<table>") == 2 and "arp_chord1" in dom and "attribute-vector R²" in dom
    links = re.findall(r'href="([^"]+\.mid)"', dom)
    assert len(links) == 8 and all((report.parent / link).resolve().exists() for link in links)
    # the players: no network at view time, every button starts the synthesiser without a script error
    assert "http://" not in report.read_text() and "https://" not in report.read_text()
    played = subprocess.run([*browser, "--autoplay-policy=no-user-gesture-required", "--virtual-time-budget=5000",
                             "--dump-dom", report.as_uri() + "#selftest"], capture_output=True, text=True,
                            timeout=120).stdout
    assert re.search(r'data-played="8/8"', played) and 'data-errors="0"' in played, played[:800]
    assert 'data-audio="running"' in played
    buttons = re.findall(r'<button class="play" data-tokens="\[([^"]*)\]" onclick="play\(this\)" '
                         r'data-notes="(\d+)">\u25b6 ([\w-]+)</button>', played)
    assert sorted({kind for _, _, kind in buttons}) == ["sent", "start", "target", "verified"] and len(buttons) == 8
    for tokens, notes, kind in buttons:  # one synthesised note per note token (slurs extend it)
        from sent.dmelodies.data import TOKEN_MIDI

        assert int(notes) == sum(int(t) > 1 and TOKEN_MIDI[int(t)] >= 0 for t in tokens.split(",")), (kind, tokens)
    shot = tmp_path / "report.png"
    subprocess.run([*browser, "--window-size=1200,1600", f"--screenshot={shot}", report.as_uri()],
                   capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (1600, 1200) and pixels.std() > 20  # text, tables and plots, not a blank page


@pytest.mark.parametrize("key, value, message", [
    ("ttPairs", [[[0, 5], [5, 10**9]]] * 9, "ttPairs[0] = [[0, 5], [5, 1000000000]] is not [[begin, end], [begin, end]]"),
    ("ttPairs", [[[0, 5]]] * 9, "ttPairs[0] = [[0, 5]] is not"),
    ("ttPairs", [[[0, 5], [5, 7]]] * 3, "ttPairs must hold one"),
    ("ttPairs", [[[0, 2.5], [5, 7]]] * 9, "ttPairs[0] = [[0, 2.5], [5, 7]] is not"),
    ("sRange", [[0.0] * 31, [1.0] * 31], "sRange must be [min list, max list] of 32 numbers each"),
    ("fRange", [[0] * 9], "fRange must be [min list, max list] of 9 numbers each"),
])
def test_damaged_config_is_one_line(repo_dir, tmp_path, key, value, message):
    copy = _copy_repository(repo_dir, tmp_path / "repo")
    config = json.loads((copy / "config.json").read_text())
    config[key] = value
    (copy / "config.json").write_text(json.dumps(config))
    from sent.util.errors import SentError

    with pytest.raises(SentError, match=re.escape(message)):
        Repository(copy)
    _fails("mi", copy, "--attribute", RHYTHM, match=message)


@pytest.mark.parametrize("dims, message", [("0 99 2", "dims [0, 99, 2] are not distinct indices 0..31"),
                                           ("-1 4 5", "dims [-1, 4, 5] are not"), ("3 3 4", "dims [3, 3, 4] are not"),
                                           ("", "dims [] are not")])
def test_index_files_must_name_distinct_dims(repo_dir, tiny_model, tmp_path, dims, message):
    from sent.core.repository import load_index_file
    from sent.util.errors import SentError

    path = tmp_path / "corr_index_3.txt"
    path.write_text(dims.replace(" ", "\n"))
    with pytest.raises(SentError, match=re.escape(f"{path}: {message}")):
        load_index_file(path, 32)


def test_mi_needs_more_pairs_than_neighbours(repo_dir):
    _fails("mi", repo_dir, "--attribute", RHYTHM, "--max_samples", 50, "--n_neighbors", 50,
           match="50 training pairs for rhythm_bar1, but the MI estimator needs more than --n_neighbors (50)")


def test_shipped_repository_edits_like_the_full_one(arp_repo, tiny_model, tmp_path, monkeypatch):
    """`perform ship` keeps what editing needs (no codes, no pairs): traverse, plain and verified,
    gives the same result from it as from the full repository, and finds it by model id."""
    from sent.evaluation import shipped
    from sent.util.errors import SentError

    ship = tmp_path / "prebuilt" / "sent" / "tiny"
    run_tool("perform", "ship", arp_repo, "--out", ship)
    names = sorted(p.name for p in ship.iterdir())
    assert "latents.npz" not in names and "pairs.npz" not in names and "mover_5.npz" in names
    assert {"sent_5.model", "sent_ZC_5.model", "corr_index_5.txt", "uncorr_index_5.txt", "train_5.csv"} <= set(names)
    assert json.loads((ship / "config.json").read_text())["shipped"] is True
    assert sum(p.stat().st_size for p in ship.iterdir()) < 1_000_000
    edit = ("12345", "arp_chord1", "--value", "down", "--verify", "--min_reconstruction", 0)
    run_tool("traverse", edit[0], tiny_model, arp_repo, *edit[1:], "--out", tmp_path / "full")
    run_tool("traverse", edit[0], tiny_model, ship, *edit[1:], "--out", tmp_path / "shipped")
    full, small = (json.loads((tmp_path / d / "traverse.json").read_text()) for d in ("full", "shipped"))
    assert full == small and full["edits"] and "sent" in full["edits"][0]
    # by model id: prebuilt/vae/<id>.pt and prebuilt/sent/<id>/
    (tmp_path / "prebuilt" / "vae").mkdir()
    (tmp_path / "prebuilt" / "vae" / "tiny.pt").symlink_to(tiny_model)
    monkeypatch.setattr(shipped, "SHIPPED", tmp_path / "prebuilt" / "sent")
    monkeypatch.setattr(shipped, "MODELS", tmp_path / "prebuilt" / "vae")
    code, _, err = run_tool_in_process("traverse", edit[0], "tiny", *edit[1:], "--out", tmp_path / "by-id")
    assert code == 0, err
    assert json.loads((tmp_path / "by-id" / "traverse.json").read_text()) == full
    code, _, err = run_tool_in_process("traverse", edit[0], "nosuch", "arp_chord1", "--value", "down")
    assert code == 2 and "nosuch: no such model file, and not a shipped model id (tiny)" in err
    with pytest.raises(SentError, match="carry no latent codes or pairs"):
        Repository(ship).pairs(ARP, "test")


def test_codes_are_never_decoded_by_another_training_of_the_same_id(repo_dir, tiny_model, tmp_path):
    """The repository records which training of its model id made its codes (a weights
    fingerprint); the same id with other weights, e.g. a replaced prebuilt model, is refused."""
    from sent.dmelodies.vae import save_model

    assert Repository(repo_dir).config["model_fingerprint"]
    vae, card = load_model(tiny_model)
    with torch.no_grad():
        next(vae.parameters()).add_(1e-3)
    retrained = tmp_path / tiny_model.name
    save_model(vae, retrained, card)
    _fails("evaluate", repo_dir, retrained, "--attribute", RHYTHM,
           match=f"is another training of {card['id']} than the one whose codes")



# Damaged or foreign input files: each case prepares files under tmp (given the module's repository
# with a trained arp_chord1 function and the tiny model), then the tool must fail in one line that
# names the problem and leave no output behind.
def _string_codes(tmp, repo, model):
    config = json.loads((repo / "config.json").read_text())
    latents = dict(np.load(repo / config["source"]))  # an absolute stored path replaces repo
    latents["latent_codes"] = latents["latent_codes"].astype(str)
    save_npz(tmp / "latents.npz", **latents)
    return ["init-repo", tmp / "out", tmp / "latents.npz", repo / config["pairs"]]


def _list_config(tmp, repo, model):
    (tmp / "listed").mkdir()
    (tmp / "listed" / "config.json").write_text("[1, 2]\n")
    return ["mi", tmp / "listed"]


def _edited_function(edit):
    def prepare(tmp, repo, model):
        copy = _copy_repository(repo, tmp / "copy")
        meta, state = load_torch(copy / f"sent_{ARP}.model", SENT_FORMAT)
        edit(meta, state)
        from sent.util.io import save_torch

        save_torch(copy / f"sent_{ARP}.model", SENT_FORMAT, meta, state)
        return ["traverse", 4242, model, copy, "arp_chord1", "--value", "down", "--min_reconstruction", 0,
                "--out", tmp / "edit"]
    return prepare


def _without_net(meta, state):
    del meta["net"]


def _wider_output(meta, state):
    state["out.weight"] = torch.zeros(33, state["out.weight"].shape[1])
    state["out.bias"] = torch.zeros(33)


def _garbage_reference(tmp, repo, model):
    (tmp / "ref").mkdir()
    (tmp / "ref" / "table-r2.csv").write_text("setting,a,b\nhello\n")
    (tmp / "ref" / "table-valid.csv").write_text("x,1,2\n")
    return ["perform", "tables", repo, "--reference", tmp / "ref", "--out", tmp / "out"]


def _ship_damaged(damage):
    def prepare(tmp, repo, model):
        copy = _copy_repository(repo, tmp / "copy")
        damage(copy / f"sent_{ARP}.model")
        return ["perform", "ship", copy, "--out", tmp / "out"]
    return prepare


def _truncate(path):
    path.write_bytes(path.read_bytes()[:2000])


def _not_a_zip(path):
    path.write_text("not a model\n")


def _truncated_merge_table(tmp, repo, model):
    for name, text in (("a", "ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0,0.1,0.2,0.3\n"),
                       ("b", "s2-VAE_b_0.2_c_50.0_g_10.0,0.1,0.2")):  # b's file was cut mid-row
        d = tmp / name
        d.mkdir()
        (d / "table-r2.csv").write_text(text)
        (d / "table-valid.csv").write_text(text.replace("0.", "1.") + ("" if text.endswith("\n") else "\n"))
        for table in ("baselines.csv", "comparison.csv"):
            (d / table).write_text(f"setting,attribute\n{text.split(',')[0]},tonic\n")
    return ["perform", "merge", tmp / "a", tmp / "b", "--out", tmp / "out"]


def _short_merge_row(tmp, repo, model):
    args = _truncated_merge_table(tmp, repo, model)
    (tmp / "b" / "table-r2.csv").write_text("s2-VAE_b_0.2_c_50.0_g_10.0,0.1\n")
    return args


def _no_predictions(tmp, repo, model):
    copy = _copy_repository(repo, tmp / "copy", ignore=lambda d, names: [n for n in names if "predictions" in n])
    return ["perform", "tables", copy, "--out", tmp / "out"]


NAN_PLUGIN = """
import sys
sys.path.insert(0, {plugins!r})
from melody_shape import MelodyShape


class NoValues(MelodyShape):
    def test_items(self, card, limit=None):
        items, attributes = super().test_items(card, limit)
        return items, attributes * float("nan")


def plugin():
    return NoValues()
"""


def _all_nan_plugin(tmp, repo, model):
    (tmp / "nan_plugin.py").write_text(NAN_PLUGIN.format(plugins=str(ROOT / "lib" / "plugins")))
    return ["extract", ROOT / "prebuilt" / "plugins" / "shape-VAE_z8_r_0.pt", "--plugin", tmp / "nan_plugin.py",
            "--limit", 50, "--out", tmp / "out" / "latents.npz"]


def _builtin_model_to_plugin(tmp, repo, model):
    (tmp / "strict.py").write_text("import numpy as np\nfrom sent import Attribute, Plugin\n\n\n"
                                   "class Strict(Plugin):\n    name = 'strict'\n    attributes = (Attribute('a'),)\n\n"
                                   "    def load_model(self, path):\n        return None, np.load(path)['card']\n\n\n"
                                   "def plugin():\n    return Strict()\n")
    return ["extract", model, "--plugin", tmp / "strict.py", "--out", tmp / "out" / "latents.npz"]


def _plugin_model_without_plugin(tmp, repo, model):
    np.savez(tmp / "pca.npz", mean=np.zeros(8), card=np.array("{}"))
    return ["extract", tmp / "pca.npz", "--out", tmp / "out" / "latents.npz"]


BAD_FILES = [
    (_string_codes, "latent_codes must be numbers, got dtype <U"),
    (_list_config, "config.json: expected a JSON object {...}, got list"),
    (_edited_function(_without_net), f"sent_{ARP}.model: damaged metadata in the model file (KeyError: 'net')"),
    (_edited_function(_wider_output), f"sent_{ARP}.model: the weights do not fit the network the file describes "
                                      "(size mismatch for out.weight"),
    (_garbage_reference, "table-r2.csv: line 1: not `setting,number,...`"),
    (_ship_damaged(_truncate), f"sent_{ARP}.model: not a readable model file"),
    (_ship_damaged(_not_a_zip), f"sent_{ARP}.model: not a readable model file"),
    (_truncated_merge_table, "b/table-r2.csv: truncated (the last line has no end)"),
    (_short_merge_row, "b/table-r2.csv: a row of 2 fields where the table has 4"),
    (_no_predictions, "no evaluated attributes (no predictions_<k>.npz; run evaluate first)"),
    (_all_nan_plugin, "no test item has a valid value of mean_pitch, mean_interval, rise, mean_onset, offbeat"),
    (_builtin_model_to_plugin, "plug-in strict cannot load it (KeyError"),
    (_plugin_model_without_plugin, "pca.npz: not a sent-vae/1 model file but another zip archive (a plug-in's model? "
                                   "see extract --plugin)"),
]


@pytest.mark.parametrize("prepare, message", BAD_FILES, ids=[
    "string-codes", "list-config", "function-without-net", "function-too-wide", "garbage-reference",
    "ship-truncated", "ship-not-zip", "merge-truncated", "merge-short-row", "tables-without-predictions",
    "plugin-all-nan", "builtin-model-to-plugin", "plugin-model-without-plugin"])
def test_damaged_and_foreign_files_fail_in_one_line_leaving_no_output(arp_repo, tiny_model, tmp_path, prepare,
                                                                      message):
    args = prepare(tmp_path, arp_repo, tiny_model)
    before = sorted(tmp_path.rglob("*"))
    code, _, stderr = run_tool_in_process(*args)
    errors = [line for line in stderr.splitlines() if ": warning: " not in line]  # the tiny model's warnings
    assert code == 2 and len(errors) == 1 and errors[0].startswith(f"{args[0]}: error: ") and message in errors[0], \
        stderr
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, no staging or temporary file left


def test_pool_adds_seeds_up_as_their_pairs_taken_together(repo_dir, tmp_path):
    """`perform pool` of two seeds' separate tables gives the R^2 and valid fraction that `perform
    tables` gives on both repositories at once (which concatenates their pairs), the single seeds'
    figures beside them. Each seed's predictions hit the target, miss it or are undecodable in a
    pattern of its own."""
    import shutil

    from sent.core.scores import pair_attributes
    from sent.evaluation.predictions import write_predictions

    _, targets = pair_attributes(Repository(repo_dir), RHYTHM)
    seeds = []
    for seed, (missed, undecodable) in enumerate(((slice(0, None, 3), slice(1, None, 7)),
                                                  (slice(1, None, 4), slice(2, None, 5)))):
        copy = _copy_repository(repo_dir, tmp_path / f"seed{seed}", ignore=shutil.ignore_patterns("predictions_*"))
        config = json.loads((copy / "config.json").read_text())
        config["model_id"] = re.sub(r"_r_\d+$", f"_r_{seed}", config["model_id"])
        (copy / "config.json").write_text(json.dumps(config))
        achieved = targets.copy()
        achieved[missed, RHYTHM] = targets[::-1][missed, RHYTHM]
        achieved[undecodable, RHYTHM] = -1
        write_predictions(copy, RHYTHM, "sent", achieved.astype(np.int8))
        seeds.append(copy)

    for name, repos in (("a", seeds[:1]), ("b", seeds[1:]), ("both", seeds)):
        run_tool("perform", "tables", *repos, "--out", tmp_path / name)
    header = (tmp_path / "a" / "seeds.csv").read_text().splitlines()[0]
    assert header == "setting,model,method,attribute,n,n_valid,target_sum,target_sq_sum,residual_sq_sum,r2,valid"
    together = {r.split(",")[0]: [float(v) for v in r.split(",")[1:]]
                for r in (tmp_path / "both" / "table-r2.csv").read_text().splitlines()}
    valid = {r.split(",")[0]: [float(v) for v in r.split(",")[1:]]
             for r in (tmp_path / "both" / "table-valid.csv").read_text().splitlines()}
    singles = [float((tmp_path / n / "table-r2.csv").read_text().split(",")[1 + RHYTHM]) for n in ("a", "b")]
    assert np.isfinite(singles).all() and abs(singles[0] - singles[1]) > 0.01

    run_tool("perform", "pool", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "pooled.csv")
    rows = [dict(zip(header.split(","), line.split(",")))
            for header, *lines in [(tmp_path / "pooled.csv").read_text().splitlines()] for line in lines]
    sent = [r for r in rows if r["method"] == "sent"]
    assert len(sent) == 1 and sent[0]["seeds"] == "2" and sent[0]["attribute"] == "rhythm_bar1"
    setting = sent[0]["setting"]
    assert np.isfinite(together[setting][RHYTHM])
    assert float(sent[0]["r2"]) == pytest.approx(together[setting][RHYTHM], abs=1e-5)
    assert float(sent[0]["valid"]) == pytest.approx(valid[setting][RHYTHM], abs=1e-5)
    assert (float(sent[0]["r2_min"]), float(sent[0]["r2_max"])) == pytest.approx(sorted(singles), abs=1e-5)

    proc = run_tool("perform", "pool", tmp_path / "a", tmp_path / "a", "--out", tmp_path / "twice.csv", check=False)
    assert proc.returncode == 2 and "is given twice" in proc.stderr and not (tmp_path / "twice.csv").exists()
