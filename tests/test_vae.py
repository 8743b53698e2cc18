import math
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_tool
from reference_vae import plain_decode, plain_encode

from sent.dmelodies import data
from sent.dmelodies.gru import dropout_masks
from sent.dmelodies.training import TrainConfig, beta_at, card_markdown, train, vae_loss
from sent.dmelodies.vae import (
    VAE,
    ModelSpec,
    count_parameters,
    kl_divergence,
    load_model,
    save_model,
    zoo_ids,
    zoo_specs,
)
from sent.util.errors import SentError

IDS = {
    "beta-VAE": "beta-VAE_b_1.0_c_50.0_r_0",
    "ar-VAE": "ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0_r_0",
    "interp-VAE": "interp-VAE_n_1_b_0.2_c_50.0_g_10.0_r_0",
    "s2-VAE": "s2-VAE_b_0.2_c_50.0_g_10.0_r_0",
}


def test_zoo_ids_round_trip():
    ids = zoo_ids()
    assert len(ids) == 36 and len(set(ids)) == 36
    assert "ar-VAE_b_0.2_c_50.0_g_0.1_d_10.0_r_2" in ids and "beta-VAE_b_4.0_c_50.0_r_1" in ids
    for spec in zoo_specs():
        assert ModelSpec.parse(spec.id) == spec
    assert ModelSpec.parse(IDS["s2-VAE"]).setting == "s2-VAE_b_0.2_c_50.0_g_10.0"


@pytest.mark.parametrize("bad", ["beta-VAE_b_1_c_50.0_r_0", "gamma-VAE_b_1.0_c_50.0_r_0", ""])
def test_unknown_model_id_is_a_clear_error(bad):
    with pytest.raises(SentError, match="unknown model id"):
        ModelSpec.parse(bad)


@pytest.mark.parametrize("kind", IDS)
def test_parameter_counts_and_shapes(kind):
    model = VAE(ModelSpec.parse(IDS[kind]))
    assert count_parameters(model.encoder) == 178_348
    assert count_parameters(model.decoder) == 111_029
    assert count_parameters(model) == (289_541 if kind == "interp-VAE" else 289_377)
    tokens = torch.randint(0, 52, (5, 16))
    z, mean, log_std = model.encode(tokens)
    assert z.shape == mean.shape == log_std.shape == (5, 32)
    assert model.decoder(z, tokens).shape == (5, 16, 62)
    assert model.decode_tokens(z).shape == (5, 16)


def test_fused_teacher_forcing_matches_plain_step_by_step_decoder():
    torch.manual_seed(0)
    model = VAE(ModelSpec.parse(IDS["ar-VAE"])).eval()
    tokens = torch.as_tensor(data.melody_tokens(data.factors_of(np.arange(0, 1_000_000, 9973))).astype(np.int64))
    with torch.no_grad():
        mean, log_std = model.encoder(tokens)
        ref_mean, ref_log_std = plain_encode(model, tokens)
        torch.testing.assert_close(mean, ref_mean)
        torch.testing.assert_close(log_std, ref_log_std)
        torch.testing.assert_close(model.decoder(mean, tokens), plain_decode(model, mean, tokens))
        torch.testing.assert_close(model.decoder(mean), plain_decode(model, mean))


def test_free_running_gradients_equal_plain_step_by_step():
    """Two passes (argmax tokens, then teacher forcing on them) are the stepwise decoder's
    function: same logits, same gradients for z and every decoder parameter."""
    torch.manual_seed(5)
    model = VAE(ModelSpec.parse(IDS["s2-VAE"])).double().eval()
    z = torch.randn(40, 32, dtype=torch.double, requires_grad=True)
    weight = torch.randn(40, 16, 62, dtype=torch.double)
    params = [z] + list(model.decoder.parameters())
    ours = torch.autograd.grad((model.decoder(z) * weight).sum(), params)
    plain = torch.autograd.grad((plain_decode(model, z) * weight).sum(), params)
    for a, b in zip(ours, plain):
        torch.testing.assert_close(a, b)


def test_free_running_with_dropout_feeds_back_its_own_argmax():
    """In training mode both passes share dropout masks, so each fed token is the argmax the
    teacher-forced pass computes at the previous position."""
    torch.manual_seed(6)
    model = VAE(ModelSpec.parse(IDS["ar-VAE"])).train()
    dec = model.decoder
    z = torch.randn(300, 32)
    tick_h, context = dec.bars(z)
    masks = dropout_masks(dec.tick_rnn, 8, 600, z)
    tokens = dec.greedy_tokens(tick_h, context, masks)
    logits = dec._teacher_forced(tick_h, context, tokens, masks)
    assert (logits.argmax(dim=2) == tokens).float().mean().item() > 0.999
    other = dec._teacher_forced(tick_h, context, tokens, dropout_masks(dec.tick_rnn, 8, 600, z))
    assert (other.argmax(dim=2) == tokens).float().mean().item() < 0.99  # the masks matter


def test_kl_divergence_hand_values():
    zero = torch.zeros(3, 32)
    assert kl_divergence(zero, zero).item() == pytest.approx(0.0)
    mean = zero.clone()
    mean[:, 0] = 1.0
    assert kl_divergence(mean, zero).item() == pytest.approx(0.5)
    log_std = zero.clone()
    log_std[:, 5] = math.log(2.0)
    assert kl_divergence(zero, log_std).item() == pytest.approx(0.5 * (4 - 1) - math.log(2.0))


def _labels(rows):
    return torch.as_tensor(np.asarray(rows, dtype=np.int64))


def test_ar_regulariser_hand_value():
    model = VAE(ModelSpec.parse(IDS["ar-VAE"]))  # gamma 10, delta 10
    z = torch.zeros(2, 32)
    z[0, :9] = 0.1                                 # z_0k - z_1k = 0.1 for every bound dim
    labels = _labels([[1] * 9, [0] * 9])           # a_0k > a_1k: sign +1 (and -1 reversed)
    per_dim = 2 * abs(math.tanh(1.0) - 1.0) / 4    # 4 ordered pairs, 2 non-zero terms
    assert model.regulariser(z, labels).item() == pytest.approx(10 * 9 * per_dim, rel=1e-5)
    z[0, :9] = -0.1                                # wrong order: |-tanh(1) - 1| per off-diagonal pair
    assert model.regulariser(z, labels).item() == pytest.approx(10 * 9 * 2 * (math.tanh(1.0) + 1) / 4, rel=1e-5)


def test_s2_regulariser_hand_value():
    model = VAE(ModelSpec.parse(IDS["s2-VAE"]))  # gamma 10
    z = torch.zeros(4, 32)
    labels = _labels([[0] * 9, [11, 2, 2, 27, 27, 1, 1, 1, 1], [5] * 9, [1] * 9])
    assert model.regulariser(z, labels).item() == pytest.approx(10 * 9 * math.log(2), rel=1e-5)  # sigmoid(0)=.5
    z[:, 0] = 3.0
    a = torch.tensor([0, 11, 5, 1]) / 11
    p = torch.sigmoid(torch.tensor(3.0))
    bce0 = (-(a * torch.log(p) + (1 - a) * torch.log(1 - p))).mean().item()
    assert model.regulariser(z, labels).item() == pytest.approx(10 * (bce0 + 8 * math.log(2)), rel=1e-5)


def test_interp_regulariser_hand_value():
    model = VAE(ModelSpec.parse(IDS["interp-VAE"]))  # gamma 10
    for clf in model.classifiers:
        torch.nn.init.zeros_(clf.weight)
        torch.nn.init.zeros_(clf.bias)
    z = torch.randn(6, 32)
    labels = _labels([[0] * 9] * 6)
    want = 10 * sum(math.log(n) for n in data.FACTOR_COUNTS)  # uniform logits: CE = ln(classes)
    assert model.regulariser(z, labels).item() == pytest.approx(want, rel=1e-5)


def test_beta_vae_has_no_regulariser_and_kl_capacity_is_subtracted_after_scaling():
    torch.manual_seed(1)
    model = VAE(ModelSpec.parse(IDS["beta-VAE"]))
    tokens = torch.as_tensor(data.melody_tokens(data.factors_of(np.arange(8))).astype(np.int64))
    labels = torch.as_tensor(data.factors_of(np.arange(8)))
    assert model.regulariser(torch.randn(8, 32), labels).item() == 0.0
    torch.manual_seed(2)
    parts = vae_loss(model, tokens, labels, beta_t=0.0, teacher_forced=True)
    assert parts["kl_term"].item() == 0.0 and parts["loss"].item() == pytest.approx(parts["ce"].item())
    torch.manual_seed(2)
    big = vae_loss(model, tokens, labels, beta_t=1000.0, teacher_forced=True)
    assert big["kl_term"].item() == pytest.approx(max(0.0, 1000.0 * big["kl"].item() - 50.0), rel=1e-5)


def test_beta_schedule():
    assert beta_at(0, 0, 1.0) == 0.0 and beta_at(10, 5000, 1.0) == 0.0
    assert beta_at(11, 0, 1.0) == 0.0
    assert beta_at(11, 50_000, 1.0) == pytest.approx(math.sqrt(2.0) - 1)
    assert beta_at(40, 100_000, 0.2) == pytest.approx(0.2)
    assert beta_at(90, 400_000, 4.0) == 4.0
    # 1,853 batches per epoch from epoch 11: beta reached around epoch 65
    k_at_65 = (65 - 11) * 1853
    assert beta_at(65, k_at_65, 0.2) == pytest.approx(0.2, rel=0.01)


def test_save_load_round_trip_and_bad_files(tmp_path):
    model = VAE(ModelSpec.parse(IDS["interp-VAE"]))
    path = tmp_path / "m.pt"
    save_model(model, path, {"id": model.spec.id, "note": "x"})
    loaded, card = load_model(path)
    assert card["note"] == "x" and not loaded.training
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    truncated = tmp_path / "t.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(SentError, match="t.pt: not a readable model file"):
        load_model(truncated)
    mismatched = tmp_path / "x.pt"
    save_model(VAE(ModelSpec.parse(IDS["beta-VAE"])), mismatched, {"id": IDS["interp-VAE"]})
    with pytest.raises(SentError, match="x.pt: weights do not match"):
        load_model(mismatched)
    with pytest.raises(SentError, match="no such model file"):
        load_model(tmp_path / "missing.pt")


def test_damaged_model_file_is_refused(tmp_path):
    """4 KiB of flipped bytes inside the weights: torch.load alone would not notice."""
    path = tmp_path / "m.pt"
    save_model(VAE(ModelSpec.parse(IDS["ar-VAE"])), path, {"id": IDS["ar-VAE"]})
    raw = bytearray(path.read_bytes())
    start = len(raw) // 2
    raw[start:start + 4096] = bytes(b ^ 0xFF for b in raw[start:start + 4096])
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(SentError, match=r"damaged.pt: damaged model file \(checksum mismatch in .*\)"):
        load_model(damaged)
    proc = run_tool("train-vae", "control", damaged, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "damaged model file" in proc.stderr


def test_loading_never_runs_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "sent-vae/1", "meta": '{"id": "%s"}' % IDS["beta-VAE"], "state_dict": Evil()}, path)
    with pytest.raises(SentError, match="not a readable model file"):
        load_model(path)


TINY = dict(epochs=3, batch_size=64, lr=3e-3, batches_per_epoch=12, beta_warmup_epochs=0,
            beta_ramp_batches=20, val_rows=256, test_rows=2048, control_pairs=50)


def test_tiny_training_run_decreases_loss_and_writes_card(tmp_path, dataset):
    out = tmp_path / "s2.pt"
    card = train(ModelSpec.parse(IDS["s2-VAE"]), TrainConfig(**TINY), out, dataset=dataset, progress=False)
    log = np.genfromtxt(out.with_suffix(".log.csv"), delimiter=",", names=True)
    assert log["loss"][-1] < log["loss"][0]
    assert log["beta"][-1] > 0  # ramp reached after warm-up
    assert card["split"]["sizes"] == [948_326, 67_738, 338_688]
    assert card["schedule"]["steps"] == 36 and card["parameters"] == 289_377
    assert 0 <= card["metrics"]["test_token_accuracy"] <= 1
    assert not out.with_suffix(".ckpt").exists()
    loaded, loaded_card = load_model(out)
    assert loaded_card == card
    text = card_markdown(card)
    assert text.startswith("# s2-VAE_b_0.2_c_50.0_g_10.0_r_0") and "3 epochs x 12 batches of 64 = 36 steps" in text


def _interrupt_in_second_epoch(monkeypatch):
    """The next train() stops (KeyboardInterrupt) in its second epoch, after the first one's
    checkpoint; monkeypatch.undo() lets training run through again."""
    import sent.dmelodies.training as vt

    real, calls = vt.token_accuracy, {"n": 0}

    def accuracy(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(vt, "token_accuracy", accuracy)


def test_interrupted_training_resumes_to_the_same_model(tmp_path, dataset, monkeypatch):
    spec = ModelSpec.parse(IDS["ar-VAE"])
    config = TrainConfig(**TINY)
    whole = tmp_path / "whole.pt"
    train(spec, config, whole, dataset=dataset, progress=False)

    resumed = tmp_path / "resumed.pt"
    _interrupt_in_second_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        train(spec, config, resumed, dataset=dataset, progress=False)
    assert resumed.with_suffix(".ckpt").exists() and not resumed.exists()
    monkeypatch.undo()
    train(spec, config, resumed, dataset=dataset, progress=False)
    a, _ = load_model(whole)
    b, _ = load_model(resumed)
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), k


def test_logs_hold_only_checkpointed_epochs(tmp_path, dataset, monkeypatch):
    """Stopped after an epoch's training but before its checkpoint (here: in its control
    measurement), a run leaves no log row for that epoch, so a log row always means an epoch that
    a resumed run keeps."""
    import sent.dmelodies.training

    real, calls = sent.dmelodies.training.model_control, {"n": 0}

    def control(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sent.dmelodies.training, "model_control", control)
    out = tmp_path / "stopped.pt"
    with pytest.raises(KeyboardInterrupt):
        train(ModelSpec.parse(IDS["ar-VAE"]), TrainConfig(**TINY), out, dataset=dataset, progress=False)
    log = out.with_suffix(".log.csv").read_text().splitlines()
    control_epochs = {line.split(",")[0] for line in out.with_suffix(".control.csv").read_text().splitlines()[1:]}
    assert [line.split(",")[0] for line in log[1:]] == ["0"] and control_epochs == {"0"}
    assert torch.load(out.with_suffix(".ckpt"), weights_only=True)["state"]["epoch"] == 1


def test_card_states_each_machines_share_of_a_run_that_moved(tmp_path, dataset, monkeypatch):
    """A run resumed elsewhere (here: a machine whose CPU has another name) lists both machines'
    epochs and time. One thread each: more would spin on the core another test worker keeps busy."""
    import sent.dmelodies.training as vt

    spec = ModelSpec.parse("s2-VAE_b_0.2_c_50.0_g_10.0_r_0")
    out, config = tmp_path / "moved.pt", TrainConfig(**{**TINY, "threads": 1})
    _interrupt_in_second_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        train(spec, config, out, dataset=dataset, progress=False)
    ckpt = out.with_suffix(".ckpt")
    payload = torch.load(ckpt, weights_only=True)
    assert list(payload["state"]["machines"].values())[0]["epochs"] == 1
    monkeypatch.undo()
    _interrupt_in_second_epoch(monkeypatch)  # of this resumed run: one more epoch
    with pytest.raises(KeyboardInterrupt):
        train(spec, config, out, dataset=dataset, progress=False)
    monkeypatch.undo()
    monkeypatch.setattr(vt.platform, "processor", lambda: "another-cpu")
    threads = torch.get_num_threads()
    card = train(spec, config, out, dataset=dataset, progress=False)
    assert torch.get_num_threads() == threads  # a run's thread count is its own, not the caller's from then on
    machines = card["hardware"]["machines"]
    assert [m["epochs"] for m in machines.values()] == [2, 1]
    assert "another-cpu" not in list(machines)[0] and "cpu (another-cpu, 1 thread(s))" == list(machines)[1]
    assert card["hardware"]["cpu"] == "another-cpu"
    assert sum(m["seconds"] for m in machines.values()) == pytest.approx(card["wall_time_s"], abs=0.5)
    assert f"{list(machines)[0]}: 2 epochs" in card_markdown(card)


def test_fine_tuning_starts_from_the_given_model(tmp_path, dataset, tiny_model):
    """--init: with a zero learning rate the run must end exactly where its initial model was."""
    start, _ = load_model(tiny_model)
    out = tmp_path / "s2-VAE_b_0.2_c_30.0_g_10.0_r_0.pt"  # a fine-tune may change the capacity
    config = TrainConfig(**{**TINY, "epochs": 1, "lr": 0.0, "init": str(tiny_model)})
    card = train(ModelSpec.parse(out.stem), config, out, dataset=dataset, progress=False)
    tuned, _ = load_model(out)
    for (k, x), (_, y) in zip(start.state_dict().items(), tuned.state_dict().items()):
        assert torch.equal(x, y), k
    assert card["schedule"]["init"] == str(tiny_model)
    # the card keeps the initial model's schedule and cost, and a fine-tune of the fine-tune both stages
    _, initial_card = load_model(tiny_model)
    assert card["initialised_from"]["schedule"] == initial_card["schedule"]
    assert card["initialised_from"]["wall_time_s"] == initial_card["wall_time_s"]
    again = tmp_path / "again" / out.name
    again.parent.mkdir()
    card2 = train(ModelSpec.parse(out.stem), TrainConfig(**{**TINY, "epochs": 1, "lr": 0.0, "init": str(out)}),
                  again, dataset=dataset, progress=False)
    assert card2["initialised_from"]["file"] == out.name
    assert card2["initialised_from"]["initialised_from"]["schedule"] == initial_card["schedule"]
    text = card_markdown(card2)
    steps = card2["schedule"]["steps"] + card["schedule"]["steps"] + initial_card["schedule"]["steps"]
    assert f"- fine-tuned from {out.name}" in text and f"- which was fine-tuned from {Path(tiny_model).name}" in text
    assert f"- all stages: {steps:,} steps" in text
    with pytest.raises(SentError, match="cannot start the training of a ar-VAE"):
        train(ModelSpec.parse(IDS["ar-VAE"]), config, tmp_path / "ar.pt", dataset=dataset, progress=False)


def test_revivable_relu_is_relu_forward_and_passes_only_raising_gradients():
    from sent.dmelodies.vae import RevivableReLU

    x = torch.tensor([-1.0, -1.0, 2.0, 0.0], requires_grad=True)
    y = RevivableReLU.apply(x)
    assert torch.equal(y, torch.relu(x))
    y.backward(torch.tensor([-0.5, 0.5, 0.25, 0.125]))
    # a negative input passes only a gradient that raises it (descent moves against the gradient)
    assert x.grad.tolist() == [-0.5, 0.0, 0.25, 0.0]


def _model_with_dead_token(dataset, token):
    torch.manual_seed(0)
    model = VAE(ModelSpec.parse(IDS["s2-VAE"]))
    with torch.no_grad():
        model.decoder.tick_to_logits.bias[token] = -100.0  # below 0 for every input: dead under ReLU
    rows = np.flatnonzero((dataset["tokens"] == token).any(axis=1))[:64]
    return model, torch.as_tensor(dataset["tokens"][rows].astype(np.int64)), \
        torch.as_tensor(dataset["factors"][rows].astype(np.int64))


@pytest.mark.parametrize("revive", [False, True])
def test_dead_token_gets_a_gradient_only_when_revived(dataset, revive):
    token = 2  # C4
    model, x, y = _model_with_dead_token(dataset, token)
    model.train()
    model.decoder.revive_dead_logits = revive
    torch.manual_seed(1)
    parts = vae_loss(model, x, y, 0.0, teacher_forced=True)
    parts["loss"].backward()
    grad = model.decoder.tick_to_logits.bias.grad[token].item()
    if revive:
        assert grad < 0  # descent raises the dead token's logit where it is the target
    else:
        assert grad == 0.0
    model.decoder.revive_dead_logits = not revive  # the forward pass is the same either way
    torch.manual_seed(1)
    assert vae_loss(model, x, y, 0.0, teacher_forced=True)["loss"].item() == parts["loss"].item()


def test_dead_tokens_hand_case_and_in_evaluate(dataset):
    from sent.dmelodies.training import dead_tokens, evaluate

    assert dead_tokens(np.array([[1, 2, 3], [4, 5, 6]]), np.array([[1, 2, 2], [4, 4, 4]])) == [3, 5, 6]
    model, x, _ = _model_with_dead_token(dataset, 2)
    metrics = evaluate(model, x.numpy(), prior_samples=16)
    assert "C4" in metrics["dead_tokens"] and metrics["dead_token_melodies"] == 1.0  # every row holds a C4


def test_revival_switched_on_when_resuming_is_recorded_and_cannot_be_dropped(tmp_path, dataset, monkeypatch):
    import sent.dmelodies.training as vt

    spec, out = ModelSpec.parse(IDS["ar-VAE"]), tmp_path / "ar.pt"
    real = vt.token_accuracy

    def run(revive, crash_at_call):
        calls = {"n": 0}

        def crash(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == crash_at_call:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(vt, "token_accuracy", crash)
        return train(spec, TrainConfig(**TINY, revive_dead_logits=revive), out, dataset=dataset, progress=False)

    with pytest.raises(KeyboardInterrupt):
        run(False, crash_at_call=2)  # checkpoint after epoch 0
    with pytest.raises(KeyboardInterrupt):
        run(True, crash_at_call=2)  # revival from epoch 1; checkpoint after epoch 1
    with pytest.raises(SentError, match="revives dead logits since epoch 1; resume it with --revive_dead_logits"):
        run(False, crash_at_call=0)
    card = run(True, crash_at_call=0)
    assert card["schedule"]["revive_from_epoch"] == 1 and card["schedule"]["steps"] == 36
    assert "dead logits revived (vae.RevivableReLU) from epoch 1" in vt.card_markdown(card)


def test_dead_token_report_of_a_checkpoint_and_the_tool(tmp_path, dataset, monkeypatch, tiny_model):
    import sent.dmelodies.training as vt

    spec, out = ModelSpec.parse(IDS["interp-VAE"]), tmp_path / "interp.pt"
    real, calls = vt.token_accuracy, {"n": 0}

    def crash_in_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(vt, "token_accuracy", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(spec, TrainConfig(**TINY), out, dataset=dataset, progress=False)
    ckpt = out.with_suffix(".ckpt")
    report = vt.dead_token_report(ckpt, rows=128)
    assert report["id"] == spec.id and report["epochs"] == 1 and report["rows"] == 128
    # independently: the checkpoint's weights on the generated data set's validation rows
    model = VAE(spec)
    model.load_state_dict(torch.load(ckpt, weights_only=True)["model"])
    val = data.split_indices(len(dataset["tokens"]), spec.seed, (0.7, 0.05, 0.25))[1][:128]
    tokens = dataset["tokens"][val].astype(np.int64)
    recon = vt.reconstructions(model, tokens)
    never = sorted(set(tokens.ravel()) - set(recon.ravel()))
    assert report["dead_tokens"] == [data.TOKEN_NAMES[t] for t in never]
    assert report["melody_accuracy"] == (recon == tokens).all(axis=1).mean()

    proc = run_tool("train-vae", "dead", tiny_model, ckpt, "--rows", "64")
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{tiny_model} (2 epochs): dead ")
    assert lines[1].startswith(f"{ckpt} (1 epochs): dead ")
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    proc = run_tool("train-vae", "dead", bad, check=False)
    assert proc.returncode != 0 and f"{bad}: unreadable checkpoint" in proc.stderr
