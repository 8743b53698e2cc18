"""SeNT convergence study: validation R^2 of a traversal function against optimiser steps
and wall seconds, for the paper's recipe and for each speed lever, on cells across the 4 models.

Each run trains one function on one thread (train_sent with held-out training pairs scored by
decoding), keeps the network train_sent keeps, then scores it on the cell's test pairs next to
the sent-target ceiling (z1 with SeNT's 3 relevant dims taken from z2) and the paper's figure.
Runs are resumable: a finished run's curve and row are kept and skipped on the next call.

usage: python bench/sent_convergence.py RESULTS --out docs/data/convergence [--models DIR] [--scale 0.5]
       [--cells interp-0,ar-6] [--configs paper,...] [--no-plot]
RESULTS holds published repositories (results/models/<id>/, e.g. what `make demo` writes: MI
index files and surrogates are taken from there); the models whose codes they hold are
DIR/<id>.pt (default prebuilt/vae).
Writes OUT/curves/<cell>_<config>.csv, OUT/summary.csv, OUT/summary.md and OUT.png.
"""

import argparse
import csv
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from sent.core.baselines import baseline_codes
from sent.core.networks import decode_attributes
from sent.core.repository import Repository
from sent.core.scores import scores
from sent.core.traversal import SentOptions, predict, train_sent
from sent.evaluation.tables import read_reference_table

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"ar": "ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0_r_0", "beta": "beta-VAE_b_1.0_c_50.0_r_0",
          "interp": "interp-VAE_n_1_b_0.2_c_50.0_g_10.0_r_0", "s2": "s2-VAE_b_0.2_c_50.0_g_10.0_r_0"}
CELLS = [("ar", 6), ("ar", 2), ("beta", 0), ("s2", 2), ("interp", 3), ("interp", 0)]
VALIDATION = 2000
# name -> (options, steps at scale 1, validation scores per run). SeNT's lossC carries the
# surrogate's gradient whatever the decoded value is, so a "simulated" run (no decoding while
# training) follows the same trajectory as the decoded one: decoding only chooses the network
# kept. "paper" (decoded) measures the recipe's true cost per step; "paper-simulated" follows
# its trajectory 10x further (120,000 steps; the paper ran 212k-786k).
CONFIGS = {
    "paper": (dict(batch_size=64, lr=1e-3), 12_000, 12),
    "paper-simulated": (dict(batch_size=64, lr=1e-3, simulate=True, select="validation"), 120_000, 30),
    "batch512-cosine-simulated": (dict(batch_size=512, lr=3e-3, schedule="cosine", simulate=True,
                                       select="validation"), 6_000, 20),
    "batch2048-cosine-simulated": (dict(batch_size=2048, lr=6e-3, schedule="cosine", simulate=True,
                                        select="validation"), 2_000, 20),
    # which of the repro recipe's choices (batch 512, lr 3e-3, cosine) a cell is sensitive to
    "batch512-constant-simulated": (dict(batch_size=512, lr=3e-3, simulate=True, select="validation"), 6_000, 30),
    "batch512-lr1e-3-cosine-simulated": (dict(batch_size=512, lr=1e-3, schedule="cosine", simulate=True,
                                              select="validation"), 6_000, 30),
    "batch64-lr3e-3-cosine-simulated": (dict(batch_size=64, lr=3e-3, schedule="cosine", simulate=True,
                                             select="validation"), 6_000, 30),
}
STUDY_CONFIGS = ("paper", "paper-simulated", "batch512-cosine-simulated", "batch2048-cosine-simulated")


def scratch_repository(source: Path, dest: Path) -> Path:
    """A repository sharing `source`'s files (links) where a run can write its own function."""
    source = source.resolve()  # the links and paths below must not depend on the working directory
    dest.mkdir(parents=True, exist_ok=True)
    config = json.loads((source / "config.json").read_text())
    for name in os.listdir(source):
        if name.startswith(("corr_index_", "uncorr_index_", "sent_ZC_")):
            link = dest / name
            if not link.exists():
                link.symlink_to(source / name)
    config["source"] = str(source / config["source"])
    config["pairs"] = str((source / config["pairs"]).resolve())
    (dest / "config.json").write_text(json.dumps(config))
    return dest


def test_scores(repo: Repository, k: int, vae, codes: np.ndarray | None = None) -> dict:
    _, a1, _, a2 = repo.raw_pairs(k, "test")
    achieved = predict(repo, k, vae)[1] if codes is None else decode_attributes(vae, codes)
    return scores(a1, a2, achieved, repo.config["fRange"], k)


def run(results: Path, models: Path, out: Path, cell, config: str, scale: float) -> dict:
    model_key, k = cell
    model_id = MODELS[model_key]
    name = f"{model_key}-{k}_{config}"
    curve_file = out / "curves" / f"{name}.csv"
    row_file = out / "rows" / f"{name}.json"
    if row_file.exists():
        return json.loads(row_file.read_text())
    options, steps, evaluations = CONFIGS[config]
    steps = max(1, round(steps * scale))
    repo = Repository(scratch_repository(results / "models" / model_id, out / "work" / config / model_id))
    vae, _ = repo.load_model(models / f"{model_id}.pt")
    opts = SentOptions(epochs=10**6, steps=steps, validation=VALIDATION,
                       score_every=max(1, steps // evaluations), **options)
    start = time.perf_counter()
    summary = train_sent(repo, k, vae, opts)
    wall = time.perf_counter() - start
    curve_file.parent.mkdir(parents=True, exist_ok=True)
    os.replace(repo.path(f"curve_{k}.csv"), curve_file)
    final = test_scores(repo, k, vae)
    ceiling = test_scores(repo, k, vae, baseline_codes(repo, k, "sent-target"))
    row = {"cell": f"{model_key}-{k}", "model": model_id, "attribute": repo.names[k], "config": config,
           "steps": summary["steps"], "train_seconds": round(summary["seconds"], 1), "wall_seconds": round(wall, 1),
           "r2": final["r2"], "valid": final["valid"], "untargeted": float(np.nanmean(final["deltaUntarget"])),
           "sent_target_r2": ceiling["r2"], "sent_target_valid": ceiling["valid"],
           "sent_target_untargeted": float(np.nanmean(ceiling["deltaUntarget"]))}
    row_file.parent.mkdir(parents=True, exist_ok=True)
    row_file.write_text(json.dumps(row))
    print(json.dumps(row), flush=True)
    return row


def kept_validation_loss(out: Path, row: dict) -> float:
    """The lowest held-out lossC a run scored after step 0: what select='validation' keeps, and
    what `train-sent --lr a,b` compares between rates."""
    with open(out / "curves" / f"{row['cell']}_{row['config']}.csv") as f:
        return min(float(r["lossC"]) for r in list(csv.DictReader(f))[1:])


def markdown(out: Path, rows: list[dict], results: Path, reference: dict) -> str:
    """One line per cell and configuration: test R^2 / valid of the network kept, its held-out
    lossC and cost, and beside it the paper's figure, sent-target and the paper recipe's full
    length (400 epochs of batch 64) timed at the decoded rate measured here."""
    lines = ["| cell | paper R² | sent-target* R² / valid | configuration | steps | training s | held-out lossC | "
             "R² / valid | untargeted |",
             "|---|---|---|---|---|---|---|---|---|"]
    for cell in dict.fromkeys(r["cell"] for r in rows):
        cell_rows = {r["config"]: r for r in rows if r["cell"] == cell}
        first = next(iter(cell_rows.values()))
        k = int(cell.split("-")[1])
        paper = reference.get(first["model"].rsplit("_r_", 1)[0])
        config = json.loads((results / "models" / first["model"] / "config.json").read_text())
        begin, end = config["ttPairs"][k][0]
        full_steps = 400 * math.ceil((end - begin) / 64)
        head = (f"| {first['model'].split('_')[0]} {first['attribute']} | "
                f"{paper[k]:.3f} | {first['sent_target_r2']:.3f} / {first['sent_target_valid']:.3f} |"
                if paper is not None else f"| {cell} | | |")
        for name, r in cell_rows.items():
            lines.append(f"{head} {name} | {r['steps']:,} | {r['train_seconds']:,.0f} | "
                         f"{kept_validation_loss(out, r):.4f} | {r['r2']:.3f} / {r['valid']:.3f} | {r['untargeted']:.3f} |")
            head = "| | | |"
        if "paper" in cell_rows:
            rate = cell_rows["paper"]["train_seconds"] / cell_rows["paper"]["steps"]
            lines.append(f"{head} paper, full length (estimate) | {full_steps:,} | {full_steps * rate:,.0f} | | | |")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def plot(out: Path, rows: list[dict], reference: dict):
    """Validation R^2 and valid fraction against optimiser steps and against training seconds,
    one column per cell; beside them the test-pair figures of sent-target and (R^2) the paper."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    cells = list(dict.fromkeys(r["cell"] for r in rows))
    panels = (("steps", "r2"), ("steps", "valid"), ("seconds", "r2"), ("seconds", "valid"))
    fig, axes = plt.subplots(len(panels), len(cells), figsize=(3.2 * len(cells), 2.9 * len(panels)), squeeze=False)
    colours = {name: f"C{i}" for i, name in enumerate(CONFIGS)}
    for col, cell in enumerate(cells):
        cell_rows = [r for r in rows if r["cell"] == cell]
        decoded_rate = {r["config"]: r["train_seconds"] / r["steps"] for r in cell_rows}.get("paper")
        for row in cell_rows:
            with open(out / "curves" / f"{cell}_{row['config']}.csv") as f:
                records = list(csv.DictReader(f))[1:]  # step 0: the untrained network
            curve = {key: np.array([float(c[key]) for c in records]) for key in ("step", "seconds", "r2", "valid")}
            curve["steps"] = curve.pop("step")
            for ax, (x, y) in zip(axes[:, col], panels):
                ax.plot(curve[x], curve[y], color=colours[row["config"]], label=row["config"])
                if x == "seconds" and row["config"] == "paper-simulated" and decoded_rate:
                    ax.plot(curve["steps"] * decoded_rate, curve[y], color=colours["paper"], ls="--", lw=1,
                            label="paper-simulated timed as decoded")
        first = cell_rows[0]
        paper = reference.get(first["model"].rsplit("_r_", 1)[0])
        k = int(cell.split("-")[1])
        for ax, (x, y) in zip(axes[:, col], panels):
            ax.axhline(first[f"sent_target_{y}"], color="grey", ls="--", lw=1, label="sent-target (test pairs)")
            if paper is not None and y == "r2":
                ax.axhline(paper[k], color="black", ls=":", lw=1, label="paper")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            if y == "r2":
                ax.set_ylim(max(-3.1, ax.get_ylim()[0]), 1.05)
            else:
                ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            ax.set_xlabel("optimiser steps" if x == "steps" else "training seconds (1 thread)")
            if col == 0:
                ax.set_ylabel(f"validation {'R^2' if y == 'r2' else 'valid fraction'}")
        axes[0, col].set_title(f"{first['model'].split('_')[0]} {first['attribute']}", fontsize=9)
    axes[2, 0].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(f"{out}.png", dpi=100)


def cells(spec: str) -> list[tuple[str, int]]:
    """"interp-0,ar-6" -> [("interp", 0), ("ar", 6)]"""
    chosen = []
    for item in spec.split(","):
        model, _, k = item.partition("-")
        if model not in MODELS or not k.isdigit():
            raise SystemExit(f"--cells: {item!r} is not MODEL-INDEX with MODEL one of {', '.join(MODELS)}")
        chosen.append((model, int(k)))
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "data" / "convergence")
    parser.add_argument("--models", type=Path, default=ROOT / "prebuilt" / "vae")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every run's steps")
    parser.add_argument("--configs", default=",".join(STUDY_CONFIGS), help=f"of {', '.join(CONFIGS)}")
    parser.add_argument("--cells", default=",".join(f"{m}-{k}" for m, k in CELLS),
                        help=f"model-attribute index pairs, models {', '.join(MODELS)}")
    parser.add_argument("--no-plot", action="store_true", help="tables only (one figure column per cell is "
                        "unreadable beyond about 8 cells)")
    args = parser.parse_args()
    unknown = set(args.configs.split(",")) - set(CONFIGS)
    if unknown:
        raise SystemExit(f"--configs: unknown {', '.join(sorted(unknown))} (known: {', '.join(CONFIGS)})")
    torch.set_num_threads(1)
    rows = [run(args.results, args.models, args.out, cell, config, args.scale)
            for cell in cells(args.cells) for config in args.configs.split(",")]
    with open(args.out / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: (f"{v:.4f}" if isinstance(v, float) and not math.isnan(v) else v)
                          for k, v in r.items()} for r in rows)
    reference = read_reference_table(ROOT / "prebuilt" / "reference" / "table-r2.csv")
    if not args.no_plot:
        plot(args.out, rows, reference)
    print(markdown(args.out, rows, args.results, reference))
    print(f"wrote {args.out}/summary.csv, {args.out}/summary.md" + ("" if args.no_plot else f" and {args.out}.png"))


if __name__ == "__main__":
    main()
