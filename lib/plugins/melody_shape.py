"""Example plug-in: a small MLP VAE (8 latent dims, one-shot decoder) on the dMelodies melodies,
controlled through five continuous melody-shape attributes computed from the tokens.

It differs from the built-in plug-in in everything SeNT touches: latent size (8, not 32), decoder
type (all 16 slots at once, not a recurrent one), and attributes (continuous, not categorical,
so pairs need a distance threshold > 0). Use it as the template for your own:

    bin/extract prebuilt/plugins/shape-VAE_z8_r_0.pt --plugin lib/plugins/melody_shape.py
    nextflow run main.nf -profile plugin_test          # the whole pipeline with this plug-in

Train a model (the shipped one: 20,000 steps, 629 s on one core shared with other jobs):
    python lib/plugins/melody_shape.py train --out shape-VAE_z8_r_0.pt
"""

from __future__ import annotations

import hashlib
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sent import Attribute, Plugin
from sent.dmelodies import data
from sent.util.errors import SentError
from sent.util.io import load_torch, save_torch

FILE_FORMAT = "melody-shape-vae/1"
LATENT_DIM = 8
HIDDEN = 256
EMBED = 16
NAMES = ("mean_pitch", "mean_interval", "rise", "mean_onset", "offbeat")


class ShapeVAE(nn.Module):
    """Token embeddings -> MLP -> (mean, log std) of 8 dims -> MLP -> logits of all 16 slots."""

    def __init__(self, latent_dim: int = LATENT_DIM):
        super().__init__()
        self.latent_dim = latent_dim
        self.embed = nn.Embedding(data.VOCAB_SIZE, EMBED)
        self.encoder = nn.Sequential(nn.Linear(data.SEQ_LEN * EMBED, HIDDEN), nn.ReLU(),
                                     nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                                     nn.Linear(HIDDEN, data.SEQ_LEN * data.VOCAB_SIZE))

    def posterior(self, tokens: torch.Tensor):
        mean, log_std = self.encoder(self.embed(tokens).flatten(1)).chunk(2, dim=1)
        return mean, log_std.clamp(-8, 4)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, data.SEQ_LEN, data.VOCAB_SIZE)


def shape_attributes(tokens) -> np.ndarray:
    """(N, 5) float: mean MIDI pitch, mean |interval| between consecutive notes and rise (last -
    first pitch) in semitones, the mean onset slot (0..15) and the fraction of notes on off-beat
    (odd) slots; NaN when a melody has fewer than 2 notes. (The pitch range is no attribute: it
    is 14 semitones in every dMelodies melody.)"""
    tokens = np.asarray(tokens.numpy() if hasattr(tokens, "numpy") else tokens, dtype=np.int64)
    pitch = data.TOKEN_MIDI[tokens].astype(np.float64)          # -1 for rest, slur and unused tokens
    is_note = pitch >= 0
    count = is_note.sum(axis=1)
    out = np.full((len(tokens), len(NAMES)), np.nan)
    ok = count >= 2
    p = np.where(is_note, pitch, np.nan)[ok]
    out[ok, 0] = np.nanmean(p, axis=1)
    # consecutive notes: pack each row's notes to the left, then difference
    order = np.argsort(~is_note[ok], axis=1, kind="stable")
    packed = np.take_along_axis(p, order, axis=1)
    steps = np.diff(packed, axis=1)                              # NaN past the last note
    out[ok, 1] = np.nanmean(np.abs(steps), axis=1)
    n = count[ok]
    out[ok, 2] = packed[np.arange(len(n)), n - 1] - packed[:, 0]
    slots = np.arange(data.SEQ_LEN)
    out[ok, 3] = (is_note[ok] * slots).sum(axis=1) / n
    out[ok, 4] = (is_note[ok] & (slots % 2 == 1)).sum(axis=1) / n
    return out


class MelodyShape(Plugin):
    name = "melody-shape"
    attributes = tuple(Attribute(n) for n in NAMES)

    def load_model(self, path):
        card, state = load_torch(path, FILE_FORMAT)
        model = ShapeVAE(card.get("latent_dim", LATENT_DIM))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise SentError(f"{path}: weights do not fit a ShapeVAE ({str(exc).splitlines()[0]})") from None
        return model.eval(), card

    def fingerprint(self, model):
        digest = hashlib.sha1()
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode() + tensor.contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def test_items(self, card, limit=None):
        rows = data.split_indices(data.NUM_MELODIES, card["split_seed"])[2][:limit]
        tokens = data.melody_tokens(data.factors_of(rows)).astype(np.int64)
        return tokens, self.extract(tokens)

    @torch.no_grad()
    def encode(self, model, items, use_mean, seed=0, batch_size=8192, progress=False):
        gen = torch.Generator().manual_seed(seed)
        out = []
        for s in range(0, len(items), batch_size):
            mean, log_std = model.posterior(torch.as_tensor(items[s:s + batch_size]))
            out.append(mean if use_mean else mean + log_std.exp() * torch.randn(mean.shape, generator=gen))
        return torch.cat(out).numpy() if out else np.zeros((0, model.latent_dim), dtype=np.float32)

    @torch.no_grad()
    def decode(self, model, codes):
        return model.logits(torch.as_tensor(codes, dtype=torch.float32)).argmax(-1)

    def extract(self, items):
        return shape_attributes(items)


def plugin() -> Plugin:
    return MelodyShape()


def train(out: str, steps: int = 20000, batch_size: int = 256, lr: float = 1e-3, beta: float = 0.2,
          split_seed: int = 0, seed: int = 0, threads: int = 1, test_rows: int = 20000):
    """Train a ShapeVAE on the training split of SPLIT_SEED and write OUT (model card included).

    Args:
        out: model file to write (atomically); its name without .pt is the model id.
        steps: optimiser steps (Adam, constant LR).
        beta: weight of the KL term.
        test_rows: test melodies scored for the card (token accuracy, attribute reconstruction).
    """
    from pathlib import Path

    torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    train_rows, _, test = data.split_indices(data.NUM_MELODIES, split_seed)
    rng = np.random.default_rng(seed)
    model = ShapeVAE()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    for step in range(steps):
        rows = train_rows[rng.integers(0, len(train_rows), batch_size)]
        x = torch.as_tensor(data.melody_tokens(data.factors_of(rows)).astype(np.int64))
        mean, log_std = model.posterior(x)
        z = mean + log_std.exp() * torch.randn_like(mean)
        recon = F.cross_entropy(model.logits(z).transpose(1, 2), x, reduction="sum") / len(x)
        kl = (0.5 * (mean ** 2 + (2 * log_std).exp()) - log_std - 0.5).sum(1).mean()
        loss = recon + beta * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 1000 == 0 or step == steps - 1:
            print(f"step {step}: reconstruction {recon.item():.3f} KL {kl.item():.2f}", flush=True)
    seconds = time.perf_counter() - start
    model.eval()
    plug = MelodyShape()
    tokens = data.melody_tokens(data.factors_of(test[:test_rows])).astype(np.int64)
    decoded = plug.decode(model, plug.encode(model, tokens, use_mean=True)).numpy()
    truth, achieved = shape_attributes(tokens), shape_attributes(decoded)
    card = {"id": Path(out).name.removesuffix(".pt"), "latent_dim": LATENT_DIM, "split_seed": split_seed,
            "training": {"steps": steps, "batch_size": batch_size, "lr": lr, "beta": beta, "seed": seed,
                         "threads": threads, "seconds": round(seconds, 1)},
            "metrics": {"test_rows": len(tokens), "token_accuracy": float((decoded == tokens).mean()),
                        "melody_accuracy": float((decoded == tokens).all(1).mean()),
                        "attribute_correlation": {n: float(np.corrcoef(truth[:, k], achieved[:, k])[0, 1])
                                                  for k, n in enumerate(NAMES) if np.isfinite(achieved[:, k]).all()}}}
    save_torch(out, FILE_FORMAT, card, model.state_dict())
    print(f"{out}: token accuracy {card['metrics']['token_accuracy']:.4f}, {seconds:.0f} s")
    return None


if __name__ == "__main__":
    from sent.util.cli import main

    main({"train": train}, name="melody_shape.py")
