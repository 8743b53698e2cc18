"""Latency of one verified edit (traverse --verify) on one core: median over melodies, against a
plain SeNT edit, and the verified edit without its surrogate search against a straightforward
verifier that decodes and checks the same candidates one at a time.

The cost hardly depends on the weights, so a freshly initialised VAE and a one-epoch traversal
function (and its one surrogate) are used unless --model is given; with --shipped, a shipped
model's functions and all nine surrogates (prebuilt/sent/<id>/), as `traverse ID --verify` uses
them; how many edits need the surrogate search then depends on the attribute.
usage: python bench/bench_verify.py [--model prebuilt/vae/<id>.pt | --shipped <id>] [--attribute 3] [--edits 40] [--rows 30000]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from small_repository import small_repository, tool

from sent.core.repository import Repository
from sent.core.verify import VerifyOptions
from sent.dmelodies import data
from sent.dmelodies.attributes import extract_attributes
from sent.dmelodies.edit import Editor
from sent.dmelodies.vae import load_model

ROOT = Path(__file__).resolve().parent.parent


def one_at_a_time(editor, tokens, value, options):
    """The reference: the same candidates (SeNT's move scaled, then the line), each decoded and
    extracted on its own."""
    vae = editor.vae
    start = extract_attributes(tokens.reshape(1, -1))[0]
    mean, _ = vae.encoder(torch.as_tensor(tokens, dtype=torch.long).reshape(1, -1))
    z1 = mean
    k = editor.attribute
    move = torch.as_tensor(editor.sent_codes(mean.numpy(), [start[k]], [value])) - mean
    best = None
    for s in (1.0, *options.scales, *options.line):
        got = extract_attributes(vae.decode_tokens(z1 + s * move))[0]
        changed = int(((got != start) & (start >= 0)).sum()) - int(got[k] != start[k])
        key = (got[k] != value, changed)
        best = key if best is None or key < best else best
    return best


def times_ms(fn, melodies) -> list[float]:
    times = []
    for m in melodies:
        start = time.perf_counter()
        fn(m)
        times.append(1000 * (time.perf_counter() - start))
    return times


def median_ms(fn, melodies):
    return statistics.median(times_ms(fn, melodies))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model")
    parser.add_argument("--shipped", help="a shipped model id (prebuilt/sent/<id>/ and prebuilt/vae/<id>.pt)")
    parser.add_argument("--attribute", type=int, default=3)
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--rows", type=int, default=30_000, help="test melodies of the surrogate's pairs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    attribute = args.attribute
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        tmp = Path(tmp)
        if args.shipped:
            repo = Repository(ROOT / "prebuilt" / "sent" / args.shipped)
            vae, _ = load_model(ROOT / "prebuilt" / "vae" / f"{args.shipped}.pt")
        else:
            model = small_repository(tmp, args.model, attribute, args.rows)
            tool("train-sent", tmp / "repo", model, "--attribute", attribute, "--epochs", 1, "--max-pairs", 640)
            repo = Repository(tmp / "repo")
            vae, _ = load_model(model)
        rng = np.random.default_rng(0)
        rows = rng.choice(data.NUM_MELODIES, args.edits, replace=False)
        melodies = [(t.astype(np.int64), int(v)) for t, v in
                    zip(data.melody_tokens(data.factors_of(rows)),
                        rng.integers(0, data.FACTOR_COUNTS[attribute], args.edits))]
        options, no_search = VerifyOptions(), VerifyOptions(search=())
        plain_editor, verifier = Editor(repo, vae, attribute), Editor(repo, vae, attribute, options)
        without_search = Editor(repo, vae, attribute, no_search)
        verifier.edit(*melodies[0][:1], [melodies[0][1]])  # warm up
        plain = median_ms(lambda m: plain_editor.edit(m[0], [m[1]]), melodies)
        verified_times = times_ms(lambda m: verifier.edit(m[0], [m[1]]), melodies)
        verified, slowest = statistics.median(verified_times), statistics.quantiles(verified_times, n=10)[-1]
        unsearched = median_ms(lambda m: without_search.edit(m[0], [m[1]]), melodies)
        reference = median_ms(lambda m: one_at_a_time(plain_editor, m[0], m[1], no_search), melodies)
    print(f"{data.ATTRIBUTE_NAMES[attribute]}: one edit, one core, median of {args.edits} (up to {options.budget} "
          "candidates + proposals; the function, the surrogates and the proposals' statistics loaded once):")
    print(f"  plain SeNT edit            {plain:7.1f} ms")
    print(f"  verified edit              {verified:7.1f} ms   ({verified / plain:.1f}x plain; 90th percentile "
          f"{slowest:.1f} ms: edits that need the surrogate search)")
    print(f"  verified, no search        {unsearched:7.1f} ms   ({unsearched / plain:.1f}x plain)")
    print(f"  the same one at a time     {reference:7.1f} ms   (batched is {reference / unsearched:.1f}x faster)")


if __name__ == "__main__":
    main()
