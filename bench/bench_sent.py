"""SeNT training step: true perceptual loss (VAE decoder + attribute extractor) vs simulated
(surrogate only), and the share of the true-loss step spent in attribute extraction.

The decoder's cost does not depend on its weights, so a freshly initialised VAE is used unless
--model is given. usage: python bench/bench_sent.py [--model prebuilt/vae/<id>.pt] [--threads 1] [--rows 60000]
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from small_repository import small_repository

from sent.core.repository import Repository
from sent.core.traversal import Perception, SentOptions, train_sent
from sent.dmelodies.vae import load_model


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=6400, help="training pairs (100 batches of 64)")
    parser.add_argument("--rows", type=int, default=60_000, help="test melodies the pairs are found among")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    attribute = 3
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = small_repository(tmp, args.model, attribute, args.rows)
        repo = Repository(tmp / "repo")
        vae, _ = load_model(model)
        Perception(repo, vae, attribute).attributes(torch.zeros(4, 32))  # compile the extractor
        results = {}
        for simulate in (False, True):
            opts = SentOptions(epochs=2, max_pairs=args.pairs, simulate=simulate)
            start = time.perf_counter()
            summary = train_sent(repo, attribute, vae, opts)
            elapsed = time.perf_counter() - start
            steps = 2 * -(-min(args.pairs, len(repo.pair_indices(attribute))) // 64)
            results[simulate] = (steps / elapsed, summary["extract_seconds"] / elapsed)
    true_rate, share = results[False]
    sim_rate, _ = results[True]
    print(f"threads {args.threads}, batch 64, {args.pairs:,} pairs x 2 epochs")
    print(f"true perceptual loss: {true_rate:,.0f} steps/s; attribute extraction {100 * share:.2f}% of the time")
    print(f"simulated loss:       {sim_rate:,.0f} steps/s ({sim_rate / true_rate:.1f}x faster)")


if __name__ == "__main__":
    main()
