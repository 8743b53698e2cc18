"""The main job: the demo pipeline over one prebuilt model per type x 9 attributes, then a result table."""

import csv
import subprocess
import sys
import time
from pathlib import Path

from sent.util import cli
from sent.util.errors import SentError

ROOT = Path(__file__).resolve().parents[3]  # the project checkout: lib/sent/tools/demo.py


def run(outdir: str = "results", profile: str = "demo", resume: bool = True):
    """Run `nextflow run main.nf -profile PROFILE` in the project directory and print
    R^2 and valid fraction per model x attribute next to the authors' published values.

    Args:
        outdir: results directory (relative to the project directory).
        profile: Nextflow profile(s).
        resume: reuse cached tasks of an earlier run.
    """
    # the demo launches from its own directory, so that -resume always continues the last demo run
    # (Nextflow resumes the last run launched from the current directory, whatever it was)
    launch = ROOT / ".demo"
    launch.mkdir(exist_ok=True)
    command = ["nextflow", "run", str(ROOT / "main.nf"), "-profile", profile, "--outdir", str(ROOT / outdir),
               "-work-dir", str(ROOT / "work")]
    if resume:
        command.append("-resume")
    if not sys.stdout.isatty():  # one line per task event instead of redrawn progress blocks
        command[2:2] = ["-ansi-log", "false"]
    start = time.time()
    if subprocess.run(command, cwd=launch).returncode != 0:
        raise SentError(f"the pipeline failed; see {launch / '.nextflow.log'}")
    table = ROOT / outdir / "tables" / "comparison.csv"
    if not table.exists():
        raise SentError(f"{table}: missing after the pipeline run")
    print(f"\nPipeline finished in {time.time() - start:.0f} s. Results: {ROOT / outdir}")
    print(f"  per model: {outdir}/models/<id>/  (perform.csv, figures)   tables: {outdir}/tables/\n")
    print(f"{'setting':36s} {'attribute':12s} {'R^2':>7s} {'ref':>7s}   {'valid':>6s} {'ref':>6s}")
    for r in csv.DictReader(table.open()):
        print(f"{r['setting']:36s} {r['attribute']:12s} {float(r['r2']):7.3f} {float(r['r2_reference']):7.3f}   "
              f"{float(r['valid']):6.3f} {float(r['valid_reference']):6.3f}")
    print("\nref: the authors' run1e, seeds pooled (valid divided by 3, see docs/results.md).", file=sys.stderr)



def main(argv=None):
    cli.main(run, name="demo", argv=argv)
