"""VAE training step and inference decoding: sent.dmelodies.vae vs a plain step-by-step implementation
of the same architecture (tests/reference_vae.py: nn.GRU modules called as they are, the decoder
one tick at a time, the ar-VAE term as the spec writes it, torch's default Adam), same weights,
same batch, one run.

usage: python bench/bench_vae.py [--threads 2] [--batch 512] [--repeats 10]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_vae import plain_ar_regulariser, plain_decode, plain_encode  # noqa: E402

from sent.dmelodies import data
from sent.dmelodies.training import make_optimizer, vae_loss
from sent.dmelodies.vae import VAE, ModelSpec, kl_divergence

MODELS = ("beta-VAE_b_1.0_c_50.0_r_0", "ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0_r_0")


def plain_loss(model, tokens, labels, teacher_forced):
    mean, log_std = plain_encode(model, tokens)
    z = mean + torch.exp(log_std) * torch.randn_like(mean)
    logits = plain_decode(model, z, tokens if teacher_forced else None)
    ce = F.cross_entropy(logits.reshape(-1, 62), tokens.reshape(-1))
    spec = model.spec
    reg = spec.gamma * plain_ar_regulariser(z, labels, spec.delta) if spec.type == "ar-VAE" else \
        model.regulariser(z, labels)
    return ce + F.relu(0.2 * kl_divergence(mean, log_std) - 50.0) + reg


def best_times(ours, plain, repeats):
    """Best wall time of each, alternating the two so that drifting machine load hits both."""
    ours(), plain()
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for i, fn in enumerate((ours, plain)):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as sent.dmelodies.training.train does; applies to both
    torch.manual_seed(0)
    rows = np.random.default_rng(0).choice(data.NUM_MELODIES, args.batch, replace=False)
    tokens = torch.as_tensor(data.melody_tokens(data.factors_of(rows)).astype(np.int64))
    labels = torch.as_tensor(data.factors_of(rows))

    print(f"threads {args.threads}, batch {args.batch}, best of {args.repeats}")
    for model_id in MODELS:
        model = VAE(ModelSpec.parse(model_id)).train()
        ours_opt, plain_opt = make_optimizer(model, 1e-4), torch.optim.Adam(model.parameters(), lr=1e-4)

        def step(optimizer, loss_fn):
            optimizer.zero_grad(set_to_none=True)
            loss_fn().backward()
            optimizer.step()

        for teacher_forced in (True, False):
            ours, plain = best_times(
                lambda: step(ours_opt, lambda: vae_loss(model, tokens, labels, 0.2, teacher_forced)["loss"]),
                lambda: step(plain_opt, lambda: plain_loss(model, tokens, labels, teacher_forced)), args.repeats)
            kind = "teacher-forced" if teacher_forced else "free-running"
            print(f"{model_id.split('_')[0]:8s} train step {kind:14s} sent {ours * 1e3:6.1f} ms "
                  f"({1 / ours:5.1f} steps/s)  plain {plain * 1e3:6.1f} ms ({1 / plain:5.1f} steps/s)  "
                  f"ratio {plain / ours:.2f}x")
    model.eval()
    with torch.no_grad():
        for batch in (64, args.batch, 4096):
            z = torch.randn(batch, 32)
            ours, plain = best_times(lambda: model.decode_tokens(z), lambda: plain_decode(model, z).argmax(dim=2),
                                     args.repeats)
            print(f"inference decode batch {batch:5d}       sent {ours * 1e3:6.1f} ms  plain {plain * 1e3:6.1f} ms  "
                  f"ratio {plain / ours:.2f}x  ({batch / ours:,.0f} codes/s)")


if __name__ == "__main__":
    main()
