"""Latency of one verified edit (traverse --verify) on one core: median over melodies, against a
plain SeNT edit and against a straightforward verifier that decodes and checks its candidates one
at a time.

The cost does not depend on the weights, so a freshly initialised VAE and a one-epoch traversal
function are used unless --model is given.
usage: python bench/bench_verify.py [--model prebuilt/vae/<id>.pt] [--edits 40]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sent import data
from sent.attributes import extract_attributes
from sent.edit import Editor
from sent.repository import Repository
from sent.vae import load_model
from sent.verify import VerifyOptions
from small_repository import small_repository, tool

ATTRIBUTE = 3


def one_at_a_time(editor, tokens, value, options):
    """The reference: the same candidates (SeNT's move scaled, then the line), each decoded and
    extracted on its own."""
    from sent.traversal import encode_attribute

    repo, vae, net = editor.repo, editor.vae, editor.net
    start = extract_attributes(tokens.reshape(1, -1))[0]
    mean, _ = vae.encoder(torch.as_tensor(tokens, dtype=torch.long).reshape(1, -1))
    c1 = torch.as_tensor(repo.normalise_c(np.array([float(start[ATTRIBUTE])]), ATTRIBUTE))
    c2 = torch.as_tensor(repo.normalise_c(np.array([float(value)]), ATTRIBUTE))
    out = net(torch.as_tensor(repo.normalise_z(mean.numpy())), encode_attribute(c1, ATTRIBUTE, False),
              encode_attribute(c2, ATTRIBUTE, False))
    z1, move = mean, repo.denormalise_z(out) - mean
    best = None
    for s in (1.0, *options.scales, *options.line):
        got = extract_attributes(vae.decode_tokens(z1 + s * move))[0]
        changed = int(((got != start) & (start >= 0)).sum()) - int(got[ATTRIBUTE] != start[ATTRIBUTE])
        key = (got[ATTRIBUTE] != value, changed)
        best = key if best is None or key < best else best
    return best


def median_ms(fn, melodies):
    times = []
    for m in melodies:
        start = time.perf_counter()
        fn(m)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model")
    parser.add_argument("--edits", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        tmp = Path(tmp)
        model = small_repository(tmp, args.model, ATTRIBUTE, 30_000)
        tool("train-sent", tmp / "repo", model, "--attribute", ATTRIBUTE, "--epochs", 1, "--max-pairs", 640)
        repo = Repository(tmp / "repo")
        vae, _ = load_model(model)
        rng = np.random.default_rng(0)
        rows = rng.choice(data.NUM_MELODIES, args.edits, replace=False)
        melodies = [(t.astype(np.int64), int(v)) for t, v in
                    zip(data.melody_tokens(data.factors_of(rows)), rng.integers(0, 28, args.edits))]
        options = VerifyOptions()
        plain_editor, verifier = Editor(repo, vae, ATTRIBUTE), Editor(repo, vae, ATTRIBUTE, options)
        verifier.edit(*melodies[0][:1], [melodies[0][1]])  # warm up
        plain = median_ms(lambda m: plain_editor.edit(m[0], [m[1]]), melodies)
        verified = median_ms(lambda m: verifier.edit(m[0], [m[1]]), melodies)
        reference = median_ms(lambda m: one_at_a_time(plain_editor, m[0], m[1], options), melodies)
    print(f"one edit, one core, median of {args.edits} (up to {options.budget} candidates + proposals; "
          "the function and the proposals' statistics loaded once):")
    print(f"  plain SeNT edit            {plain:7.1f} ms")
    print(f"  verified edit (batched)    {verified:7.1f} ms   ({verified / plain:.1f}x plain)")
    print(f"  one candidate at a time    {reference:7.1f} ms   (batched is {reference / verified:.1f}x faster)")


if __name__ == "__main__":
    main()
