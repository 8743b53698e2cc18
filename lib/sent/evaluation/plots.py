"""Figures of SeNT results: target vs achieved, deviation curves, untargeted-error heat map."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sent.core.plugin import invalid
from sent.dmelodies.data import ATTRIBUTE_NAMES, FIRST_UNUSED_TOKEN, REST, TOKEN_MIDI
from sent.util.io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, stem: Path) -> list[Path]:
    """Save a figure as PDF and PNG, atomically."""
    written = []
    for fmt in ("pdf", "png"):
        path = stem.with_suffix(f".{fmt}")
        with atomic_path(path, f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=110)
        written.append(path)
    _plt().close(fig)
    return written


def _grid(n):
    cols = 3
    return (n + cols - 1) // cols, cols


def target_vs_achieved(results: dict, names, title: str, stem: Path) -> list[Path]:
    """Per target attribute: requested vs achieved value, point size = count."""
    plt = _plt()
    targets = sorted(results)
    rows, cols = _grid(len(targets))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3 * rows), squeeze=False)
    for ax, k in zip(axes.ravel(), targets):
        a1, a2, ap = results[k]["a"]
        valid = ~invalid(ap[:, k])
        pts, counts = np.unique(np.stack([a2[valid, k], ap[valid, k]], axis=1), axis=0, return_counts=True)
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=5 + 200 * counts / counts.max(), alpha=0.6)
        low, top = float(a2[:, k].min()), float(a2[:, k].max())
        top = top if top > low else low + 1
        ax.plot([low, top], [low, top], color="grey", lw=0.8, ls="--")
        ax.set_title(f"{names[k]}: R² {results[k]['r2']:.2f}, valid {results[k]['valid']:.2f}, n {len(a1)}",
                     fontsize=8)
        ax.set_xlabel("requested", fontsize=7)
        ax.set_ylabel("achieved", fontsize=7)
    for ax in axes.ravel()[len(targets):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, stem)


def deviation_curves(results: dict, names, title: str, stem: Path) -> list[Path]:
    """Mean |achieved - requested| (normalised) against the size of the requested change."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for k in sorted(results):
        a1, a2, ap = results[k]["a"]
        lo, hi = (np.asarray(v, dtype=float) for v in results[k]["f_range"])
        span = hi[k] - lo[k] if hi[k] > lo[k] else 1.0
        valid = ~invalid(ap[:, k])
        change = np.abs(a2[valid, k] - a1[valid, k]) / span
        error = np.abs(ap[valid, k] - a2[valid, k]) / span
        if not len(change):
            continue
        bins = np.unique(np.round(change, 2))
        means = [error[np.round(change, 2) == b].mean() for b in bins]
        ax.plot(bins, means, marker=".", label=names[k])
    ax.set_xlabel("requested change |c2 - c1| (normalised)")
    ax.set_ylabel("mean deviation |cp - c2|")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    return _save(fig, stem)


def untargeted_heatmap(results: dict, names, title: str, stem: Path) -> list[Path]:
    """9 x 9: row = target attribute, column = mean change of another attribute."""
    plt = _plt()
    targets = sorted(results)
    m = np.array([results[k]["deltaUntarget"] for k in targets])
    fig, ax = plt.subplots(figsize=(6.5, 5))
    im = ax.imshow(np.nan_to_num(m, nan=0.0), cmap="viridis", vmin=0)
    for r in range(m.shape[0]):
        for c in range(m.shape[1]):
            if np.isfinite(m[r, c]):
                ax.text(c, r, f"{m[r, c]:.2f}", ha="center", va="center", fontsize=6, color="white")
    ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
    ax.set_yticks(range(len(targets)), [names[k] for k in targets], fontsize=7)
    ax.set_xlabel("untargeted attribute")
    ax.set_ylabel("target attribute")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="mean |cp - c1| (normalised)")
    fig.tight_layout()
    return _save(fig, stem)


def piano_roll(melodies: list, labels: list, title: str, path: Path) -> Path:
    """One row per melody: 16 slots x pitch, notes as bars (slurs extend them). PNG."""
    plt = _plt()
    fig, axes = plt.subplots(len(melodies), 1, figsize=(7, 1.6 * len(melodies)), squeeze=False, sharex=True)
    for ax, tokens, label in zip(axes[:, 0], melodies, labels):
        pitch, start = None, 0
        events = []
        for slot, tok in enumerate(list(tokens) + [REST]):
            holds = tok == 1 or tok >= FIRST_UNUSED_TOKEN
            if holds and pitch is not None and slot < len(tokens):
                continue
            if pitch is not None:
                events.append((start, slot - start, pitch))
            pitch, start = (int(TOKEN_MIDI[tok]), slot) if 2 <= tok < FIRST_UNUSED_TOKEN else (None, slot)
        for s, length, p in events:
            ax.broken_barh([(s, length - 0.1)], (p - 0.4, 0.8), color="tab:blue")
        if events:
            lo, hi = min(e[2] for e in events), max(e[2] for e in events)
            ax.set_ylim(lo - 2, hi + 2)
        ax.set_xlim(0, 16)
        ax.axvline(8, color="grey", lw=0.6)
        ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=6)
    axes[-1, 0].set_xlabel("eighth-note slot")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def control_curves(runs: dict, stem: Path, x_label: str = "optimiser step") -> list[Path]:
    """Decoder control over training: per attribute, the exact-hit fraction when z1 takes z2's
    regularised dim (solid), top-3 MI dims (dashed) or all dims (dotted, the decoder's fidelity); then KL and the linear readout without the
    regularised dim. `runs`: {label: (x values per row, pandas frame of a `*.control.csv`)}."""
    plt = _plt()
    fig, axes = plt.subplots(3, 4, figsize=(15, 9), sharex=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, (label, (x, frame)) in zip(colours, runs.items()):
        for ax, name in zip(axes.flat, ATTRIBUTE_NAMES):
            rows = (frame["attribute"] == name).to_numpy()
            ax.plot(x[rows], frame["regularised_hit"][rows], color=colour, marker=".", label=f"{label}: dim k")
            ax.plot(x[rows], frame["mi-top3_hit"][rows], color=colour, ls="--", label=f"{label}: top-3 MI")
            ax.plot(x[rows], frame["all_hit"][rows], color=colour, ls=":", alpha=0.6, label=f"{label}: all (z2)")
            ax.set_title(name, fontsize=9)
            ax.set_ylim(-0.03, 1.03)
        first = (frame["attribute"] == ATTRIBUTE_NAMES[0]).to_numpy()
        axes.flat[9].plot(x[first], frame["kl"][first], color=colour, label=label)
        readout = frame.groupby("epoch", sort=True)["readout_r2"].mean().to_numpy()
        axes.flat[10].plot(x[first], readout, color=colour, label=label)
        axes.flat[11].plot(x[first], frame["beta"][first], color=colour, label=label)
    axes.flat[0].set_ylabel("exact hits")
    axes.flat[9].set_title("KL (nats, epoch mean)", fontsize=9)
    axes.flat[10].set_title("mean linear readout R^2 without dim k", fontsize=9)
    axes.flat[11].set_title("beta_t", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel(x_label)
    axes.flat[0].legend(fontsize=7)
    axes.flat[9].legend(fontsize=7)
    fig.suptitle("Decoder control over training: does setting z1's dims to z2's give z2's attribute?")
    fig.tight_layout()
    return _save(fig, Path(stem))
