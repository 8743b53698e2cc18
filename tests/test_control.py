"""Decoder control (sent.dmelodies.control) on hand-made models where the answer is known, and on real ones."""

import json

import numpy as np
import pytest
from helpers import run_tool

from sent.dmelodies import data
from sent.dmelodies.attributes import extract_attributes
from sent.dmelodies.control import CASES, compare_control, decoder_control, log_rows, model_control, pairs_differing_in
from sent.dmelodies.vae import load_model
from sent.util.errors import SentError

TEST_ROWS = data.split_indices(data.NUM_MELODIES, 0)[2]
NOISE = 0.25


def hand_made(read_from: int):
    """A 32-dim 'model': dims 0..8 hold the attributes, dims 9..17 a copy of them, dims 18..31
    noise; its decoder reads the attributes from dims read_from..read_from+8 only."""

    def encode(tokens):
        a = extract_attributes(tokens).astype(np.float64)
        rng = np.random.default_rng(len(tokens))
        z = np.concatenate([a, a, rng.normal(size=(len(a), 14))], axis=1)
        return z, np.full_like(z, NOISE)

    def decode(codes):
        factors = np.clip(np.rint(codes[:, read_from:read_from + 9]), 0, np.array(data.FACTOR_COUNTS) - 1)
        return data.melody_tokens(factors.astype(np.int64))

    return encode, decode


def pair_tokens(attribute, n=200):
    rows1, rows2 = pairs_differing_in(TEST_ROWS, attribute, n)
    return data.melody_tokens(data.factors_of(rows1)), data.melody_tokens(data.factors_of(rows2))


def test_test_pairs_differ_in_one_attribute_and_stay_in_the_test_split():
    in_test = set(TEST_ROWS.tolist())
    for k in range(9):
        rows1, rows2 = pairs_differing_in(TEST_ROWS, k, 300, seed=4)
        assert len(rows1) == 300 and in_test.issuperset(rows1.tolist()) and in_test.issuperset(rows2.tolist())
        f1, f2 = data.factors_of(rows1), data.factors_of(rows2)
        differs = f1 != f2
        assert differs[:, k].all() and not np.delete(differs, k, axis=1).any()
        again = pairs_differing_in(TEST_ROWS, k, 300, seed=4)
        assert np.array_equal(again[0], rows1) and np.array_equal(again[1], rows2)
    assert not np.array_equal(pairs_differing_in(TEST_ROWS, 0, 300, seed=5)[0], pairs_differing_in(TEST_ROWS, 0, 300, seed=4)[0])


@pytest.mark.parametrize("attribute", [0, 2, 6])
def test_decoder_reading_the_copies_ignores_the_regularised_dim(attribute):
    encode, decode = hand_made(read_from=9)
    fig = decoder_control(encode, decode, *pair_tokens(attribute), attribute, regularised_dim=attribute)
    assert fig["regularised"]["hit"] == 0 and fig["not-regularised"]["hit"] == 1
    assert fig["all"]["hit"] == 1 and fig["all"]["r2"] == 1 and fig["all"]["valid"] == 1
    # both informative dims rank first: the top 3 carry the copy, the rest do not
    assert {attribute, 9 + attribute} <= set(fig["mi_dims"])
    assert fig["mi-top3"]["hit"] == 1 and fig["not-mi-top3"]["hit"] == 0
    assert fig["readout_r2"] == pytest.approx(1)
    assert fig["dim_noise"] == pytest.approx(NOISE)


@pytest.mark.parametrize("attribute", [1, 4])
def test_decoder_reading_the_regularised_dims_follows_them(attribute):
    encode, decode = hand_made(read_from=0)
    fig = decoder_control(encode, decode, *pair_tokens(attribute), attribute, regularised_dim=attribute)
    assert fig["regularised"]["hit"] == 1 and fig["regularised"]["r2"] == 1
    assert fig["not-regularised"]["hit"] == 0
    assert fig["not-regularised"]["r2"] < 0  # the start value, not the target: worse than the mean
    assert fig["readout_r2"] == pytest.approx(1)  # the copy is still there; this decoder ignores it


def test_readout_without_a_copy_is_near_zero():
    encode, decode = hand_made(read_from=0)

    def encode_without_copy(tokens):
        z, s = encode(tokens)
        z[:, 9:18] = 0
        return z, s

    fig = decoder_control(encode_without_copy, decode, *pair_tokens(2), 2, regularised_dim=2)
    assert abs(fig["readout_r2"]) < 0.3  # noise of a 23-feature fit on 200 codes; a copy gives 1


def test_without_a_regularised_dim_only_the_mi_and_all_cases_exist():
    encode, decode = hand_made(read_from=0)
    fig = decoder_control(encode, decode, *pair_tokens(3), 3, regularised_dim=None)
    assert "regularised" not in fig and "dim_spread" not in fig
    assert fig["all"]["hit"] == 1
    rows = log_rows({"rhythm_bar1": fig}, epoch=2)
    assert rows[0]["epoch"] == 2 and np.isnan(rows[0]["regularised_hit"]) and rows[0]["all_hit"] == 1


def test_too_few_pairs_is_a_clear_error():
    encode, decode = hand_made(read_from=0)
    t1, t2 = pair_tokens(0, n=4)
    with pytest.raises(SentError, match="at least 8 pairs"):
        decoder_control(encode, decode, t1, t2, 0, 0)


def figures(**r2):
    """Control figures of one attribute with the given R^2 per case (others absent)."""
    return {"tonic": {case: {"r2": value, "valid": 1.0, "hit": 0.5} for case, value in r2.items()}}


def test_compare_control_counts_figures_within_the_tolerance():
    reference = figures(**{"regularised": 0.90, "mi-top3": None, "all": 1.0, "not-mi-top3": 0.2})
    other = figures(**{"regularised": 0.86, "mi-top3": None, "all": 0.94, "not-mi-top3": None})
    result = compare_control(reference, other, tolerance=0.05)
    assert [(r["case"], r["match"]) for r in result["rows"]] == [
        ("regularised", True), ("mi-top3", True), ("not-mi-top3", False), ("all", False)]
    assert (result["matched"], result["compared"]) == (2, 4)
    assert compare_control(reference, other, tolerance=0.3)["matched"] == 3  # undefined never matches a number
    with pytest.raises(SentError, match="lack attribute 'tonic'"):
        compare_control(reference, {"octave": {}})


def test_compare_control_counts_only_mismatches_the_reference_reproduces():
    reference = figures(**{"regularised": 0.90, "mi-top3": 0.5, "all": 1.0})
    again = figures(**{"regularised": 0.92, "mi-top3": 0.2, "all": 1.0})  # mi-top3 moves with the pairs
    other = figures(**{"regularised": 0.70, "mi-top3": 0.1, "all": 1.0})
    result = compare_control(reference, other, 0.05, reference_again=again)
    assert [(r["case"], r["match"], r["steady"]) for r in result["rows"]] == [
        ("regularised", False, True), ("mi-top3", False, False), ("all", True, True)]
    assert (result["matched"], result["steady"], result["differ"]) == (1, 2, 1)
    assert "steady" not in compare_control(reference, other)
    with pytest.raises(SentError, match="lack attribute 'tonic'"):
        compare_control(reference, reference, reference_again={"octave": {}})


def test_compare_tool_exits_non_zero_unless_every_figure_matches(tmp_path):
    a, b, bare = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "bare.json"
    a.write_text(json.dumps({"control": figures(regularised=0.9, all=1.0)}))
    b.write_text(json.dumps({"control": figures(regularised=0.7, all=1.0)}))
    bare.write_text(json.dumps({"id": "x"}))
    same = run_tool("train-vae", "compare", a, a)
    assert same.stdout.strip().endswith("2 of 2 figures within 0.05")
    differ = run_tool("train-vae", "compare", a, b, check=False)
    assert differ.returncode == 1 and "| tonic | regularised | 0.900 | 0.700 | no |" in differ.stdout
    assert run_tool("train-vae", "compare", a, b, "--tolerance", 0.25).returncode == 0
    missing = run_tool("train-vae", "compare", a, bare, check=False)
    assert missing.returncode == 2 and "no decoder-control figures" in missing.stderr


def test_compare_tool_measures_anew_on_more_pairs(tiny_model, tmp_path):
    """--pairs measures both models on the same pairs (a model matches itself exactly there) and the
    reference on a second sample, whose figures are those of `model_control` with the next seed."""
    same = run_tool("train-vae", "compare", tiny_model, tiny_model, "--pairs", 24, "--seed", 3).stdout
    rows = [line.split(" | ") for line in same.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 45 and all(r[2] == r[4] and r[5] == "yes |" for r in rows)
    model, card = load_model(tiny_model)
    second = model_control(model, data.split_indices(data.NUM_MELODIES, card["split"]["seed"],
                                                     tuple(card["split"]["fractions"]))[2], pairs=24, seed=4)
    scale_mi = next(r for r in rows if r[0] == "| scale" and r[1] == "mi-top3")
    assert float(scale_mi[3]) == pytest.approx(second["scale"]["mi-top3"]["r2"], abs=5e-4)
    steady = sum(abs(float(r[2]) - float(r[3])) <= 0.05 for r in rows if "–" not in r[2:4])
    steady += sum(r[2] == r[3] == "–" for r in rows)
    assert same.strip().splitlines()[-2:] == [
        "45 of 45 figures within 0.05",
        f"the reference matches itself on {steady} of 45 (pairs seeds 3, 4); 0 of those differ in the other model"]
    card_only = tmp_path / "card.json"
    card_only.write_text(json.dumps({"control": figures(regularised=0.9)}))
    refused = run_tool("train-vae", "compare", card_only, tiny_model, "--pairs", 24, check=False)
    assert refused.returncode == 2 and "card.json" in refused.stderr


def test_real_model_figures_and_the_control_tool(tiny_model, tmp_path):
    model, _ = load_model(tiny_model)
    figures = model_control(model, TEST_ROWS, pairs=40, attributes=[2, 5])
    assert set(figures) == {"scale", "arp_chord1"}
    for fig in figures.values():
        assert fig["pairs"] == 40 and len(fig["mi_dims"]) == 3
        for case in CASES:
            assert 0 <= fig[case]["hit"] <= 1 and 0 <= fig[case]["valid"] <= 1
    assert not model.training
    again = model_control(model, TEST_ROWS, pairs=40, attributes=[2, 5])
    assert figures == again  # same seed, same figures
    assert json.loads(json.dumps(figures, allow_nan=False)) == figures  # strict JSON: undefined R^2 is null

    copy = tmp_path / tiny_model.name
    copy.write_bytes(tiny_model.read_bytes())
    printed = run_tool("train-vae", "control", copy, "--pairs", 40).stdout
    assert printed.startswith("| attribute |") and "| arp_chord4 |" in printed
    assert copy.read_bytes() == tiny_model.read_bytes() and sorted(tmp_path.iterdir()) == [copy]  # only measured
    assert run_tool("train-vae", "control", copy, "--pairs", 40, "--write-card").stdout == printed
    _, card = load_model(copy)
    assert set(card["control"]) == set(data.ATTRIBUTE_NAMES)
    md = copy.with_suffix("").with_name(copy.stem + ".md").read_text()  # the card files are rewritten too
    assert "## Decoder control" in md and "| octave |" in md
    assert json.loads(copy.with_name(copy.stem + ".json").read_text())["control"]["octave"]["pairs"] == 40
    run_tool("train-vae", "card", copy)
    assert copy.with_name(copy.stem + ".md").read_text() == md


def test_training_logs_control_each_epoch_and_curves_plot_it(tmp_path, dataset):
    from sent.dmelodies.training import TrainConfig, train
    from sent.dmelodies.vae import ModelSpec

    out = tmp_path / "ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0_r_0.pt"
    config = TrainConfig(epochs=2, batch_size=64, lr=3e-3, batches_per_epoch=5, beta_warmup_epochs=0,
                         beta_ramp_batches=10, val_rows=64, test_rows=256, control_pairs=20)
    card = train(ModelSpec.parse(out.stem), config, out, dataset=dataset, progress=False)
    log = out.with_suffix(".control.csv").read_text().splitlines()
    assert log[0].startswith("epoch,step,beta,kl,attribute,regularised_r2,")
    assert len(log) == 1 + 2 * 9 and log[-1].startswith("1,10,") and ",arp_chord4," in log[-1]
    assert card["control"]["tonic"]["pairs"] == 20
    written = run_tool("train-vae", "curves", tmp_path / "curves", out.with_suffix(".control.csv"),
                       out.with_suffix(".control.csv"), "--labels", "a,b", "--total_steps", "10,20").stdout
    assert (tmp_path / "curves.png").stat().st_size > 10_000 and "curves.pdf" in written
    bad = run_tool("train-vae", "curves", tmp_path / "c", out.with_suffix(".log.csv"), check=False)
    assert bad.returncode == 2 and "missing column(s) attribute" in bad.stderr and len(bad.stderr.splitlines()) == 1
    bad = run_tool("train-vae", "curves", tmp_path / "c", out.with_suffix(".control.csv"), "--labels", "a,b",
                   check=False)
    assert bad.returncode == 2 and "1 logs but 2 labels" in bad.stderr


def test_disentanglement_is_measured_and_written_only_when_asked(tiny_model, tmp_path):
    copy = tmp_path / tiny_model.name
    copy.write_bytes(tiny_model.read_bytes())
    printed = json.loads(run_tool("train-vae", "disentanglement", copy, "--rows", 600).stdout)
    assert copy.read_bytes() == tiny_model.read_bytes()
    assert set(printed) == {"mig", "modularity", "sap", "explicitness", "reconstruction_accuracy", "rows", "seed",
                            "encoding"} and printed["rows"] == 600
    assert 0 <= printed["mig"] <= 1 and 0 <= printed["modularity"] <= 1 and 0.4 <= printed["explicitness"] <= 1
    run_tool("train-vae", "disentanglement", copy, "--rows", 600, "--write-card")
    _, card = load_model(copy)
    assert card["disentanglement"] == printed  # same seed, same figures
    assert "## Disentanglement" in copy.with_name(copy.stem + ".md").read_text()
    row = run_tool("train-vae", "table", copy, tiny_model).stdout.splitlines()
    measured = f"| {printed['mig']:.3f} / {printed['modularity']:.3f} / {printed['sap']:.3f} / " \
               f"{printed['explicitness']:.3f} | {printed['reconstruction_accuracy']:.4f} |"
    assert [line.endswith(measured) for line in row[2:]] == [True, False]  # the unmeasured copy says so
    assert row[3].endswith("| not measured | - |")
