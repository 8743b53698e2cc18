"""Attribute extractor: sequences per second of sent.dmelodies.attributes vs the music21 reference, one run.

usage: python bench/bench_attributes.py [--reference-rows 5000]
"""

import argparse
import sys
import time
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_m21 import reference_attributes, reference_attributes_from_stream  # noqa: E402

from sent.dmelodies import data
from sent.dmelodies.attributes import extract_attributes


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference-rows", type=int, default=5000)
    args = parser.parse_args()
    numba.set_num_threads(1)
    tokens = data.generate()["tokens"]
    extract_attributes(tokens[:10])  # compile outside the timing

    best = min(_timed(lambda: extract_attributes(tokens)) for _ in range(5))
    fast_rate = len(tokens) / best
    sample = tokens[:: len(tokens) // args.reference_rows][: args.reference_rows].tolist()
    ref_time = _timed(lambda: [reference_attributes(s) for s in sample])
    ref_rate = len(sample) / ref_time
    print(f"extractor (numba, 1 thread): full data set {len(tokens):,} rows in {best:.3f} s "
          f"= {fast_rate:,.0f} seq/s")
    print(f"music21 reference (cached Pitch objects): {len(sample):,} rows in {ref_time:.2f} s = {ref_rate:,.0f} seq/s")
    stream_sample = sample[: max(1, len(sample) // 5)]
    stream_time = _timed(lambda: [reference_attributes_from_stream(s) for s in stream_sample])
    stream_rate = len(stream_sample) / stream_time
    print(f"music21 stream reference (new Note objects per melody, as the public code): "
          f"{len(stream_sample):,} rows in {stream_time:.2f} s = {stream_rate:,.0f} seq/s")
    print(f"ratio vs music21 reference (cached pitches): {fast_rate / ref_rate:,.0f}x")
    print(f"ratio vs music21 stream reference: {fast_rate / stream_rate:,.0f}x")


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
