"""Decoder control: does a model's decoder follow the latent dims that carry an attribute?

SeNT moves 3 latent dims; it can only succeed where those dims drive the decoder. For test pairs
(x1, x2) that differ in attribute k only, z1 takes z2's values in a set of dims, is decoded, and
the decoded attribute k is scored against x2's as SeNT's edits are (R^2 over valid decodings,
valid fraction), plus the fraction that hits x2's value exactly. Cases:

    regularised       dim k only: the dim the regulariser binds to attribute k (not beta-VAE)
    not-regularised   every dim but dim k
    mi-top3           the 3 dims with the highest MI with attribute k: SeNT's design ceiling
    not-mi-top3       every dim but those 3
    all               z2 itself: the decoder's own fidelity, the ceiling of every case

Beside them, per attribute: how well a linear map reads attribute k from the other 31 dims
(held-out R^2; copies of the attribute outside dim k), and dim k's spread of posterior means
against its posterior noise.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from sent.core.baselines import replaced
from sent.core.mi import mutual_information
from sent.core.scores import scores
from sent.dmelodies import data
from sent.dmelodies.attributes import extract_attributes
from sent.util.errors import SentError

CASES = ("regularised", "not-regularised", "mi-top3", "not-mi-top3", "all")
MI_DIMS = 3


def pairs_differing_in(test_rows: np.ndarray, attribute: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Up to n pairs (rows1, rows2) of test-split rows whose factors differ in `attribute` only.

    dMelodies holds every factor combination, so each melody's partners are found by changing
    one factor; partners outside the test split are skipped. Same seed, same pairs.
    """
    test_rows = np.asarray(test_rows, dtype=np.int64)
    in_test = np.zeros(data.NUM_MELODIES, dtype=bool)
    in_test[test_rows] = True
    rng = np.random.default_rng([seed, attribute])
    count = data.FACTOR_COUNTS[attribute]
    starts = rng.permutation(test_rows)[:16 * n]
    factors = data.factors_of(starts)
    others = (factors[:, attribute, None] + np.arange(1, count)) % count  # every other value
    partner_factors = np.repeat(factors[:, None, :], count - 1, axis=1)
    partner_factors[:, :, attribute] = others
    partners = np.ravel_multi_index(tuple(np.moveaxis(partner_factors, -1, 0)), data.FACTOR_COUNTS)
    usable = in_test[partners]
    choice = np.where(usable, rng.random(usable.shape), -1.0).argmax(axis=1)  # a random test partner
    keep = usable.any(axis=1)
    return starts[keep][:n], partners[keep, choice[keep]][:n]


def decoder_control(encode: Callable, decode: Callable, tokens1: np.ndarray, tokens2: np.ndarray,
                    attribute: int, regularised_dim: int | None, seed: int = 0) -> dict:
    """Control figures of one attribute over pairs of melodies (tokens1 -> tokens2).

    encode(tokens) -> (mean, std) arrays (N, D); decode(codes) -> tokens (N, 16).
    regularised_dim: the dim bound to the attribute, None where the model has none.
    """
    if len(tokens1) < 2 * MI_DIMS + 2:
        raise SentError(f"decoder control needs at least {2 * MI_DIMS + 2} pairs, got {len(tokens1)}")
    a1, a2 = extract_attributes(tokens1), extract_attributes(tokens2)
    (z1, s1), (z2, s2) = encode(tokens1), encode(tokens2)
    dims = z1.shape[1]
    codes = np.concatenate([z1, z2])
    values = np.concatenate([a1[:, attribute], a2[:, attribute]])
    mi = mutual_information(codes, values, seed=seed)
    top = np.sort(np.argsort(-mi, kind="stable")[:MI_DIMS])
    case_dims = {"mi-top3": top, "not-mi-top3": np.setdiff1d(np.arange(dims), top), "all": np.arange(dims)}
    if regularised_dim is not None:
        case_dims["regularised"] = [regularised_dim]
        case_dims["not-regularised"] = np.setdiff1d(np.arange(dims), [regularised_dim])
    cases = [c for c in CASES if c in case_dims]
    decoded = extract_attributes(decode(np.concatenate([replaced(z1, z2, case_dims[c]) for c in cases])))
    f_range = [[0] * len(data.FACTOR_COUNTS), [c - 1 for c in data.FACTOR_COUNTS]]
    out = {"pairs": len(tokens1), "mi_dims": top.tolist(), "mi": [round(float(mi[d]), 4) for d in top]}
    for i, case in enumerate(cases):
        ap = decoded[i * len(z1):(i + 1) * len(z1)]
        s = scores(a1, a2, ap, f_range, attribute)
        out[case] = {"r2": _number(s["r2"]), "valid": s["valid"],
                     "hit": float((ap[:, attribute] == a2[:, attribute]).mean())}
    held_out = regularised_dim if regularised_dim is not None else top[0]
    out["readout_without_dim"] = int(held_out)
    out["readout_r2"] = _number(_linear_readout(np.delete(codes, held_out, axis=1), values, seed))
    if regularised_dim is not None:
        out["dim_spread"] = float(codes[:, regularised_dim].std())
        out["dim_noise"] = float(np.sqrt(np.mean(np.concatenate([s1, s2])[:, regularised_dim] ** 2)))
    return out


def _number(x: float) -> float | None:
    """None for an undefined figure (e.g. R^2 with no valid decoding): model cards are strict JSON."""
    return float(x) if np.isfinite(x) else None


def _linear_readout(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    """Held-out R^2 of a least-squares linear map from x to the attribute index y (fit on one half,
    scored on the other). A regression, not a classifier: an ordinal copy of a 12-valued attribute
    in one dim is a perfect linear readout, though no linear classifier separates its 12 classes."""
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    order = np.random.default_rng(seed).permutation(len(y))
    fit, held = order[:len(y) // 2], order[len(y) // 2:]
    if np.ptp(y[held]) == 0:
        return float("nan")
    return float(r2_score(y[held], LinearRegression().fit(x[fit], y[fit]).predict(x[held])))


def model_control(model, test_rows: np.ndarray, pairs: int = 500, attributes=range(len(data.FACTOR_COUNTS)),
                  seed: int = 0, batch_size: int = 4096) -> dict:
    """Control figures of a zoo VAE for each attribute on `pairs` fixed test pairs (eval mode,
    posterior means). Returns {attribute name: figures}."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device

    @torch.no_grad()
    def encode(tokens):
        means, stds = [], []
        for start in range(0, len(tokens), batch_size):
            x = torch.as_tensor(tokens[start:start + batch_size].astype(np.int64), device=device)
            _, mean, log_std = model.encode(x, sample=False)
            means.append(mean.cpu().numpy()), stds.append(log_std.exp().cpu().numpy())
        return np.concatenate(means), np.concatenate(stds)

    def decode(codes):
        return np.concatenate([model.decode_tokens(torch.as_tensor(codes[s:s + batch_size], device=device)).cpu().numpy()
                               for s in range(0, len(codes), batch_size)])

    regularised = model.spec.type != "beta-VAE"
    out = {}
    for k in attributes:
        rows1, rows2 = pairs_differing_in(test_rows, k, pairs, seed)
        tokens1, tokens2 = (data.melody_tokens(data.factors_of(r)) for r in (rows1, rows2))
        out[data.ATTRIBUTE_NAMES[k]] = decoder_control(encode, decode, tokens1, tokens2, k,
                                                       k if regularised else None, seed)
    model.train(was_training)
    return out


def compare_control(reference: dict, other: dict, tolerance: float = 0.05, reference_again: dict = None) -> dict:
    """Whether `other`'s control figures match `reference`'s: per attribute and case present in
    both, the two R^2 values and whether they lie within `tolerance` (an undefined R^2 matches only
    an undefined one). `reference_again`, the reference measured on a second sample of pairs, tells
    which figures are steady enough for a mismatch to mean anything: each row then also says
    whether the reference matches itself. Returns {"rows": [...], "matched": n, "compared": m}, plus
    "steady" (rows where the reference matches itself) and "differ" (mismatches among those)."""
    rows = []
    for name, fig in reference.items():
        for figures in (other, reference_again):
            if figures is not None and name not in figures:
                raise SentError(f"control figures to compare lack attribute {name!r}")
        for case in CASES:
            if case not in fig or case not in other[name]:
                continue
            row = {"attribute": name, "case": case, "reference": fig[case]["r2"], "other": other[name][case]["r2"]}
            row["match"] = _within(row["reference"], row["other"], tolerance)
            if reference_again is not None:
                row["reference_again"] = reference_again[name][case]["r2"]
                row["steady"] = _within(row["reference"], row["reference_again"], tolerance)
            rows.append(row)
    result = {"rows": rows, "matched": sum(r["match"] for r in rows), "compared": len(rows)}
    if reference_again is not None:
        result["steady"] = sum(r["steady"] for r in rows)
        result["differ"] = sum(r["steady"] and not r["match"] for r in rows)
    return result


def _within(a: float | None, b: float | None, tolerance: float) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= tolerance)


def _text(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


LOG_COLUMNS = tuple(f"{case}_{m}" for case in CASES for m in ("r2", "valid", "hit")) + (
    "mi_dims", "readout_r2", "dim_spread", "dim_noise")


def log_rows(control: dict, **prefix) -> list[dict]:
    """One flat row per attribute (prefix columns first), for a CSV of control over training."""
    rows = []
    for name, fig in control.items():
        row = {**prefix, "attribute": name}
        for col in LOG_COLUMNS:
            case, _, metric = col.rpartition("_")
            if col == "mi_dims":
                row[col] = " ".join(map(str, fig["mi_dims"]))
                continue
            value = fig.get(case, {}).get(metric) if case in CASES else fig.get(col)
            row[col] = float("nan") if value is None else value
        rows.append(row)
    return rows


def markdown_table(control: dict) -> list[str]:
    """Markdown lines: per attribute, hit fraction / R^2 / valid of each case."""
    lines = ["| attribute | " + " | ".join(f"{c} hit / R^2 / valid" for c in CASES) + " | MI dims | readout R^2 w/o dim |",
             "|---|" + "---|" * (len(CASES) + 2)]
    for name, fig in control.items():
        cells = [f"{fig[c]['hit']:.2f} / {_text(fig[c]['r2'])} / {fig[c]['valid']:.2f}" if c in fig else "–"
                 for c in CASES]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {' '.join(map(str, fig['mi_dims']))} | "
                     f"{_text(fig['readout_r2'])} (w/o {fig['readout_without_dim']}) |")
    return lines
