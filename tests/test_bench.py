"""The benchmarks still run (at toy sizes) and print their comparison against the reference: a
refactoring of the package must not leave `make bench` broken. No timing is checked.
(bench_pairs.py is left out: it always searches the full test split with its brute force, minutes
at any size; findpairs itself is checked against the brute force in test_pairs.)"""

import subprocess
import sys

import pytest
from helpers import ROOT


def run_bench(name, *args):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / name), *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("name, args, expected", [
    ("bench_attributes.py", ("--reference-rows", 100), "ratio vs music21 stream reference"),
    ("bench_vae.py", ("--threads", 1, "--batch", 8, "--repeats", 1), "inference decode batch"),
    ("bench_sent.py", ("--pairs", 128, "--rows", 10_000), "simulated loss:"),
    ("bench_verify.py", ("--edits", 2, "--rows", 10_000), "the same one at a time"),
])
def test_benchmark_runs_and_reports_its_ratio(name, args, expected):
    out = run_bench(name, *args)
    assert expected in out and "x" in out.split(expected)[1].splitlines()[0]
