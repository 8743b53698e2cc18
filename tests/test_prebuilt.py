"""The shipped VAEs: one per type at the issue's settings, cards named by full id and matching the
model files, metrics the current implementation reproduces, and the size budget; the shipped
traversal functions (prebuilt/sent/<id>/) and traverse by model id."""

import json
import shutil

import numpy as np
import pytest
from helpers import ROOT, run_tool

from sent.dmelodies import data
from sent.dmelodies.training import token_accuracy
from sent.dmelodies.vae import load_model
from sent.evaluation.shipped import shipped_ids

PREBUILT = ROOT / "prebuilt"
IDS = ["beta-VAE_b_1.0_c_50.0_r_0", "ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0_r_0",
       "interp-VAE_n_1_b_0.2_c_50.0_g_10.0_r_0", "s2-VAE_b_0.2_c_50.0_g_10.0_r_0"]
ALL_IDS = sorted(p.stem for p in (PREBUILT / "vae").glob("*.pt"))  # the issue's four and the paper's other settings


def test_one_model_per_type_at_the_issues_settings_is_shipped():
    assert set(IDS) <= set(ALL_IDS)


@pytest.mark.parametrize("model_id", ALL_IDS)
def test_model_file_and_cards(model_id):
    model, card = load_model(PREBUILT / "vae" / f"{model_id}.pt")
    assert card["id"] == model_id and model.spec.id == model_id
    assert json.loads((PREBUILT / "vae" / f"{model_id}.json").read_text()) == card
    md = (PREBUILT / "vae" / f"{model_id}.md").read_text()
    assert md.startswith(f"# {model_id}") and "test token accuracy" in md
    assert (PREBUILT / "vae" / f"{model_id}.log.csv").read_text().startswith("epoch,step,")
    for key in ("test_token_accuracy", "test_melody_accuracy", "prior_valid_fraction"):
        assert 0 <= card["metrics"][key] <= 1
    assert card["metrics"]["test_token_accuracy"] >= 0.99  # the bar for a shipped model (docs/models.md)
    assert card["schedule"]["steps"] > 0 and card["wall_time_s"] > 0
    assert set(card["control"]) == set(data.ATTRIBUTE_NAMES) and "## Decoder control" in md


@pytest.mark.parametrize("model_id", ALL_IDS)
def test_recorded_accuracy_is_reproduced(model_id):
    """The card's test accuracy was measured over 338,688 melodies; the first 4,096 of the same
    split must land close to it with today's encoder and decoder."""
    model, card = load_model(PREBUILT / "vae" / f"{model_id}.pt")
    split = card["split"]
    test = data.split_indices(data.NUM_MELODIES, split["seed"], tuple(split["fractions"]))[2][:4096]
    token_acc, _ = token_accuracy(model, data.melody_tokens(data.factors_of(test)).astype(np.int64))
    assert token_acc == pytest.approx(card["metrics"]["test_token_accuracy"], abs=0.01)


def test_card_tool_names_files_by_full_id(tmp_path):
    model = tmp_path / f"{IDS[1]}.pt"
    shutil.copy(PREBUILT / "vae" / model.name, model)
    run_tool("train-vae", "card", model)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([model.name, f"{IDS[1]}.json", f"{IDS[1]}.md"])


def test_prebuilt_stays_under_60_mb():
    assert sum(p.stat().st_size for p in PREBUILT.rglob("*") if p.is_file()) < 60 * 2 ** 20


SHIPPED = shipped_ids()


def test_every_shipped_function_set_belongs_to_a_shipped_model():
    assert SHIPPED, "prebuilt/sent/ holds the traversal functions of at least one shipped model"
    for model_id in SHIPPED:
        assert (PREBUILT / "vae" / f"{model_id}.pt").is_file()
        config = json.loads((PREBUILT / "sent" / model_id / "config.json").read_text())
        assert config["shipped"] is True and config["model_id"] == model_id and config["attributes"] == list(range(9))


@pytest.mark.parametrize("model_id", SHIPPED)
def test_shipped_functions_reach_every_attribute(model_id):
    """A real decode per attribute: a verified edit (what `traverse --verify` returns) reaches the
    requested value for at least one of the first 150 test melodies. (Plain SeNT does not on
    every cell: scale on the ar-VAE, where the paper's SeNT fails too, reaches 1 edit in 600.)"""
    from sent.core.repository import Repository
    from sent.core.verify import VerifyOptions
    from sent.dmelodies.edit import Editor

    repo = Repository(PREBUILT / "sent" / model_id)
    vae, card = repo.load_model(PREBUILT / "vae" / f"{model_id}.pt")
    split = card["split"]
    rows = data.split_indices(data.NUM_MELODIES, split["seed"], tuple(split["fractions"]))[2][:150]
    melodies, factors = data.melody_tokens(data.factors_of(rows)).astype(np.int64), data.factors_of(rows)
    for k, name in enumerate(data.ATTRIBUTE_NAMES):
        editor = Editor(repo, vae, k, VerifyOptions())
        count = len(data.ATTRIBUTE_VALUES[k])
        assert any(editor.edit(tokens, [(factors[n][k] + 1) % count])[0]["achieved"]
                   for n, tokens in enumerate(melodies)), f"{model_id}: no edit of {name} reached its value"


def test_traverse_finds_shipped_functions_by_model_id(tmp_path):
    model_id = SHIPPED[0]
    run_tool("traverse", 12345, model_id, "arp_chord1", "--sweep", "--verify", "--out", tmp_path)
    report = json.loads((tmp_path / "traverse.json").read_text())
    assert report["model"] == model_id and [e["name"] for e in report["edits"]] == ["up", "down"]
    assert (tmp_path / "pianoroll.png").read_bytes()[:4] == b"\x89PNG"
