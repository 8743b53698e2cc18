"""extract -> findpairs -> init -> mi as a user runs them, plus their bad-input behaviour."""

import json

import numpy as np
import pytest
from helpers import TINY_ROWS, prepare_repository, run_tool

from sent.core.pairs import brute_force_pairs, normalise
from sent.core.repository import Repository, fingerprint
from sent.dmelodies import data
from sent.util.io import load_npz, save_npz

ROWS = TINY_ROWS


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_latents):
    d = tmp_path_factory.mktemp("prep")
    prepare_repository(d, tiny_latents)
    return d


def test_extract_writes_test_split_in_order(prepared, tiny_model):
    arrays = load_npz(prepared / "latents.npz")
    test = data.split_indices(seed=0)[2][:ROWS]
    assert arrays["latent_codes"].shape == (ROWS, 32) and arrays["latent_codes"].dtype == np.float32
    assert np.array_equal(arrays["rows"], test)
    assert np.array_equal(arrays["attributes"], data.factors_of(test))
    assert list(arrays["fNames"]) == list(data.ATTRIBUTE_NAMES)
    assert str(arrays["model_id"]) == tiny_model.stem


def test_extract_is_deterministic_and_mean_differs(prepared, tiny_model, tmp_path):
    for name in ("a", "again"):
        run_tool("extract", tiny_model, "--out", tmp_path / f"{name}.npz", "--limit", 500, "--quiet")
    run_tool("extract", tiny_model, "--out", tmp_path / "m.npz", "--limit", 500, "--mean", "--quiet")
    a = load_npz(tmp_path / "a.npz")["latent_codes"]
    assert np.array_equal(a, load_npz(tmp_path / "again.npz")["latent_codes"])
    # the same melodies and posterior samples as the longer run's first rows, which were encoded in a
    # batch of 4,096 instead of 500: MKL's scalar kernels (pinned for the tests) then round a few
    # rows differently (measured: 4 of 500, by at most 1.4e-6)
    prefix = load_npz(prepared / "latents.npz")["latent_codes"][:500]
    assert np.allclose(a, prefix, rtol=1e-5, atol=1e-5)
    m = load_npz(tmp_path / "m.npz")["latent_codes"]
    assert not np.array_equal(a, m) and np.abs(a - m).mean() < 3


def test_findpairs_outputs_match_brute_force(prepared):
    attributes = load_npz(prepared / "latents.npz")["attributes"]
    x, _ = normalise(attributes)
    pairs = load_npz(prepared / "pairs" / "pairs.npz")
    for k in (0, 3, 8):
        i, j, d = brute_force_pairs(x, k, 0.0, 300_000)
        assert np.array_equal(pairs[f"pairs_{k}"], np.stack([i, j], axis=1))
        rows = np.loadtxt(prepared / "pairs" / f"p_{k}.csv", delimiter=",", ndmin=2)
        assert np.array_equal(rows[:, :2].astype(int), np.stack([i, j], axis=1)) and (rows[:, 2] == 0).all()
    assert str(pairs["fingerprint"]) == fingerprint(attributes)


def test_findpairs_text_format_and_options(tmp_path):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 3, size=(300, 4))
    text = tmp_path / "features.txt"
    text.write_text("300 4\n" + "\n".join(" ".join(map(str, r)) for r in values) + "\n")
    run_tool("findpairs", text, "--out", tmp_path / "out", "--attribute", 2, "--threshold", 0.5, "--limit", 40)
    x, _ = normalise(values)
    i, j, d = brute_force_pairs(x, 2, 0.5, 40)
    rows = np.loadtxt(tmp_path / "out" / "p_2.csv", delimiter=",", ndmin=2)
    assert np.array_equal(rows[:, 0], i) and np.array_equal(rows[:, 1], j)
    assert np.allclose(rows[:, 2], np.sqrt(d), atol=1e-5)
    assert not (tmp_path / "out" / "p_0.csv").exists()


def test_findpairs_by_split_seed_matches_extracted_attributes(tmp_path):
    run_tool("findpairs", "--split-seed", 2, "--out", tmp_path, "--attribute", "arp_chord4")
    pairs = load_npz(tmp_path / "pairs.npz")
    assert str(pairs["fingerprint"]) == fingerprint(data.factors_of(data.split_indices(seed=2)[2]))
    assert len(pairs["pairs_8"]) > 40_000


def test_init_config_and_reader(prepared):
    config = json.loads((prepared / "repo" / "config.json").read_text())
    for key in ("source", "pairs", "sRange", "fRange", "fNames", "length", "nFeatures", "ttPairs"):
        assert key in config
    assert config["length"] == ROWS and config["nFeatures"] == 9
    n3 = len(load_npz(prepared / "pairs" / "pairs.npz")["pairs_3"])
    assert config["ttPairs"][3] == [[0, int(0.8 * n3)], [int(0.8 * n3), n3]]
    repo = Repository(prepared / "repo")
    z1, c1, z2, c2 = repo.pairs("rhythm_bar1", "train")
    assert len(z1) == int(0.8 * n3) and z1.shape[1] == 32
    assert z1.min() >= -1 and z1.max() <= 1 and c1.min() >= 0 and c2.max() <= 1
    others = [c for c in range(9) if c != 3]
    assert np.array_equal(c1[:, others], c2[:, others])
    assert np.allclose(repo.denormalise_z(z1), repo.raw_pairs(3, "train")[0], atol=1e-4)


def test_init_fixed_split(prepared, tmp_path):
    run_tool("init-repo", tmp_path / "r", prepared / "latents.npz", prepared / "pairs" / "pairs.npz", "--noextended")
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    n3 = len(load_npz(prepared / "pairs" / "pairs.npz")["pairs_3"])
    assert config["ttPairs"][3] == [[0, min(32_000, n3)], [min(32_000, n3), min(n3, 42_000)]]


def test_relative_paths_make_a_relocatable_repository(prepared, tmp_path):
    """Paths given relative are stored relative to the repository (the tree moves as a whole);
    absolute ones as given."""
    import shutil

    tree = tmp_path / "tree"
    (tree / "pairs" / "seed_0").mkdir(parents=True)
    shutil.copy(prepared / "latents.npz", tree / "latents.npz")
    shutil.copy(prepared / "pairs" / "pairs.npz", tree / "pairs" / "seed_0" / "pairs.npz")
    run_tool("init-repo", "models/m", "latents.npz", "pairs/seed_0/pairs.npz", cwd=tree)
    config = json.loads((tree / "models" / "m" / "config.json").read_text())
    assert (config["source"], config["pairs"]) == ("../../latents.npz", "../../pairs/seed_0/pairs.npz")
    moved = tmp_path / "elsewhere" / "tree"
    shutil.move(tree, moved)
    repo = Repository(moved / "models" / "m")
    assert np.array_equal(repo.z, load_npz(prepared / "latents.npz")["latent_codes"])
    run_tool("init-repo", tmp_path / "abs", prepared / "latents.npz", prepared / "pairs" / "pairs.npz")
    config = json.loads((tmp_path / "abs" / "config.json").read_text())
    assert config["source"] == str(prepared / "latents.npz")


def test_mi_writes_index_files_and_plot(prepared):
    run_tool("mi", prepared / "repo", "--attribute", "rhythm_bar1")
    corr = [int(v) for v in (prepared / "repo" / "corr_index_3.txt").read_text().split()]
    uncorr = [int(v) for v in (prepared / "repo" / "uncorr_index_3.txt").read_text().split()]
    assert len(corr) == 3 and sorted(corr + uncorr) == list(range(32))
    mi = np.loadtxt(prepared / "repo" / "mi_3.csv", delimiter=",", skiprows=1)
    assert set(corr) == set(np.argsort(-mi[:, 1])[:3].tolist())
    png = (prepared / "repo" / "mi_3.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def _fails(tool, *args, match):
    proc = run_tool(tool, *args, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], proc.stderr
    return proc


def test_bad_inputs_give_one_line_errors_and_no_outputs(prepared, tmp_path, tiny_model):
    _fails("extract", tmp_path / "missing.pt", "--out", tmp_path / "x.npz", match="missing.pt: no such model file")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    _fails("findpairs", corrupt, "--out", tmp_path / "p", match="corrupt.npz: not a readable .npz")
    save_npz(tmp_path / "noattr.npz", latent_codes=np.zeros((3, 32)))
    _fails("findpairs", tmp_path / "noattr.npz", "--out", tmp_path / "p", match="missing array(s) attributes")
    _fails("findpairs", prepared / "latents.npz", "--out", tmp_path / "p", "--attribute", 12,
           match="unknown attribute")
    bad_text = tmp_path / "bad.txt"
    bad_text.write_text("5 3\n1 2 3\n")
    _fails("findpairs", bad_text, "--out", tmp_path / "p", match="bad.txt")
    assert not (tmp_path / "p").exists()

    arrays = load_npz(prepared / "latents.npz")
    arrays["latent_codes"][7, 3] = np.nan
    save_npz(tmp_path / "nan.npz", **arrays)
    _fails("init-repo", tmp_path / "r1", tmp_path / "nan.npz", prepared / "pairs" / "pairs.npz",
           match="nan.npz: latent_codes contain NaN")
    arrays = load_npz(prepared / "latents.npz")
    save_npz(tmp_path / "short.npz", **{k: (v[:-1] if v.ndim and len(v) == ROWS else v) for k, v in arrays.items()})
    _fails("init-repo", tmp_path / "r2", tmp_path / "short.npz", prepared / "pairs" / "pairs.npz",
           match="pairs were computed from other attributes")
    arrays["latent_codes"] = arrays["latent_codes"][:, :5, None]
    save_npz(tmp_path / "shape.npz", **arrays)
    _fails("init-repo", tmp_path / "r3", tmp_path / "shape.npz", prepared / "pairs" / "pairs.npz",
           match="do not fit together")
    assert not any((tmp_path / r).exists() for r in ("r1", "r2", "r3"))
    (tmp_path / "r4").mkdir()
    (tmp_path / "r4" / "config.json").write_text("{not json")
    _fails("mi", tmp_path / "r4", match="config.json: not valid JSON")
    _fails("mi", prepared / "repo", "--attribute", "loudness", match="unknown attribute")
    leftovers = [p for p in tmp_path.rglob("*") if ".tmp" in p.name]
    assert not leftovers


def test_help_for_every_tool():
    for tool in ("dataset", "train-vae", "extract", "findpairs", "init-repo", "mi", "train-zc", "train-sent",
                 "evaluate", "perform"):
        proc = run_tool(tool, "--help")
        assert "SYNOPSIS" in proc.stdout + proc.stderr, tool
