"""SeNT performance measures (spec step 8): R^2, valid fraction, target and untargeted errors;
and, not in the paper, success: the fraction of edits that do exactly what was asked.

A prediction is valid when its target attribute decodes to a value (not -1, or NaN for a
continuous attribute). R^2 is
scikit-learn's coefficient of determination of the achieved against the requested (normalised)
value over the valid predictions; `valid` is the true fraction valid/N. (The original pooled three
seeds but divided by one seed's N, so its published "valid" figures are about 3x this.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sent.errors import SentError
from sent.io import atomic_path, load_json
from sent.plugin import invalid
from sent.repository import Repository
from sent.baselines import BASELINES
from sent.predictions import METHODS, has_predictions, predictions_dir, read_achieved, read_codes, target_codes
from sent.verify import DEFAULT_TOLERANCE, Judge


def pair_attributes(repo: Repository, attribute: int):
    """(a1, a2) attributes of an attribute's test pairs."""
    _, a1, _, a2 = repo.raw_pairs(attribute, "test")
    return a1, a2


def scores(a1: np.ndarray, a2: np.ndarray, ap: np.ndarray, f_range, attribute: int, zp=None, z2=None,
           judge: Judge | None = None) -> dict:
    """Measures for one target attribute from the attributes of start (a1), target (a2) and
    achieved (ap, invalid marked as sent.plugin.invalid says) items, each (N, K); normalised by
    f_range ([min list, max list]). "success": the fraction of edits that reach the target value
    and change no other attribute, by `judge`'s comparisons (default: equality), the strict
    measure R^2 and the untargeted change average over."""
    from sklearn.metrics import r2_score

    lo, hi = (np.asarray(v, dtype=np.float64) for v in f_range)
    span = np.where(hi > lo, hi - lo, 1.0)
    c1, c2, cp = ((np.asarray(a, dtype=np.float64) - lo) / span for a in (a1, a2, ap))
    bad = invalid(ap)
    valid = ~bad[:, attribute]
    n = len(ap)
    out = {"n": n, "valid": float(valid.sum() / n) if n else float("nan")}
    if valid.sum() >= 2:
        out["r2"] = float(r2_score(c2[valid, attribute], cp[valid, attribute]))
        out["deltaTarget"] = float(np.abs(cp[valid, attribute] - c2[valid, attribute]).mean())
    else:
        out["r2"] = out["deltaTarget"] = float("nan")
    untargeted = np.full(ap.shape[1], np.nan)
    for g in range(ap.shape[1]):
        both = valid & ~bad[:, g]
        if g != attribute and both.any():
            untargeted[g] = np.abs(cp[both, g] - c1[both, g]).mean()
    out["deltaUntarget"] = untargeted
    out["success"] = success_fraction(a1, a2, ap, attribute, judge or Judge.exact(ap.shape[1]))
    if zp is not None and z2 is not None and valid.sum() >= 2:
        out["z_r2"] = float(r2_score(z2[valid], zp[valid]))
    else:
        out["z_r2"] = float("nan")
    return out


def success_fraction(a1: np.ndarray, a2: np.ndarray, ap: np.ndarray, attribute: int, judge: Judge) -> float:
    """Fraction of edits whose achieved attributes (ap) reach the target's value (a2) of
    `attribute` and change none of the start's (a1) other attributes, as the verified method
    judges an edit perfect (Judge.reached, Judge.changed: an attribute invalid at the start is
    not held, one that becomes invalid has changed)."""
    if not len(ap):
        return float("nan")
    others = [g for g in range(ap.shape[1]) if g != attribute]
    changed = judge.changed(a1[:, others], ap[:, others], others).any(axis=1)
    return float((judge.reached(ap, attribute, a2[:, attribute]) & ~changed).mean())


def load_results(repos, attribute: int, with_codes: bool = False, method: str = "sent"):
    """Pooled (a1, a2, ap[, sp, z2]) of one attribute and method over repositories (directories or
    open Repository objects, which saves reading their codes again), and their common fRange."""
    a1s, a2s, aps, sps, z2s, ranges = [], [], [], [], [], []
    for repo in repos:
        repo = repo if isinstance(repo, Repository) else Repository(repo)
        d = repo.dir
        a1, a2 = pair_attributes(repo, attribute)
        ap = read_achieved(d, attribute, method)
        if ap.shape != a1.shape:
            raise SentError(f"{predictions_dir(d, method)}: predictions for attribute {attribute} hold "
                            f"{ap.shape[0]} rows x {ap.shape[1]} columns, "
                            f"but the repository has {a1.shape[0]} test pairs x {a1.shape[1]} attributes")
        a1s.append(a1), a2s.append(a2), aps.append(ap), ranges.append(repo.config["fRange"])
        if with_codes:
            sp = read_codes(repo, attribute, method)
            if sp.shape != (len(a1), repo.latent_dim):
                raise SentError(f"{predictions_dir(d, method)}: codes for attribute {attribute} are {sp.shape}, "
                                f"but the repository has {len(a1)} test pairs x {repo.latent_dim} dims")
            sps.append(sp), z2s.append(target_codes(repo, attribute))
    lo = np.min([r[0] for r in ranges], axis=0)
    hi = np.max([r[1] for r in ranges], axis=0)
    pooled = [np.concatenate(a1s), np.concatenate(a2s), np.concatenate(aps)]
    if with_codes:
        pooled += [np.concatenate(sps), np.concatenate(z2s)]
    return pooled, [lo.tolist(), hi.tolist()]


def perform(repo_dirs, attributes=None, method: str = "sent") -> dict:
    """Scores per target attribute (index -> dict) over one or several pooled repositories."""
    names = load_json(Path(repo_dirs[0]) / "config.json")["fNames"]
    attributes = range(len(names)) if attributes is None else attributes
    repos = [Repository(d) for d in repo_dirs]
    results = {}
    for k in attributes:
        (a1, a2, ap, sp, z2), f_range = load_results(repos, k, with_codes=True, method=method)
        results[k] = scores(a1, a2, ap, f_range, k, sp, z2)
        results[k]["a"] = (a1, a2, ap)
        results[k]["f_range"] = f_range
    return results


def write_perform_csv(path, results: dict, names) -> None:
    """Rows deltaTarget, valid, c:r^2 (achieved attribute), r:r^2 (latent code vs z2),
    deltaUntarget-<name>; one column per target attribute."""
    targets = sorted(results)
    lines = ["measure," + ",".join(names[k] for k in targets)]
    for label, key in (("deltaTarget", "deltaTarget"), ("valid", "valid"), ("c:r^2", "r2"), ("r:r^2", "z_r2")):
        lines.append(label + "," + ",".join(f"{results[k][key]:.6g}" for k in targets))
    for g, name in enumerate(names):
        lines.append(f"deltaUntarget-{name}," + ",".join(f"{results[k]['deltaUntarget'][g]:.6g}" for k in targets))
    with atomic_path(path, ".csv") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def setting_of(repo_dir) -> str:
    """The result-table row of a repository: its model id without the seed (`_r_<seed>`)."""
    model_id = load_json(Path(repo_dir) / "config.json").get("model_id", "")
    if "_r_" not in model_id:
        raise SentError(f"{Path(repo_dir) / 'config.json'}: model id {model_id!r} does not end in _r_<seed>, "
                        "which groups the seeds of one setting")
    return model_id.rsplit("_r_", 1)[0]


def gather_tables(repo_dirs) -> dict:
    """{setting: {"scores": {attribute: scores}, "baselines": {method: {attribute: scores}}, ...}}
    ("scores": SeNT's; "baselines": every other method evaluated, verified edits included)
    with the seeds of each setting pooled; only attributes evaluated in every repository of the
    setting."""
    groups: dict[str, list] = {}
    for d in repo_dirs:
        groups.setdefault(setting_of(d), []).append(d)
    tables = {}
    for setting, dirs in sorted(groups.items()):
        names = load_json(Path(dirs[0]) / "config.json")["fNames"]
        tables[setting] = {"seeds": len(dirs), "names": names, "scores": {}, "baselines": {}}
        repos = [Repository(d) for d in dirs]
        for method in (*METHODS, *BASELINES):
            done = [k for k in range(len(names))
                    if all(has_predictions(d, k, method) for d in dirs)]
            target = tables[setting]["scores"] if method == "sent" else \
                tables[setting]["baselines"].setdefault(method, {})
            for k in done:
                (a1, a2, ap), f_range = load_results(repos, k, method=method)
                target[k] = scores(a1, a2, ap, f_range, k,
                                   judge=Judge.for_plugin(repos[0].plugin, f_range, DEFAULT_TOLERANCE))
    return tables


def baseline_rows(tables: dict) -> list[dict]:
    """Per setting and attribute: SeNT and every baseline's R^2 and valid fraction side by side;
    then the mean untargeted change (deltaUntarget over the other attributes) of SeNT and, when
    evaluated, of the verified edits; at the end every method's success (the value reached and
    nothing else changed)."""
    rows = []
    own = [m for m in METHODS[1:] if any(t["baselines"].get(m) for t in tables.values())]  # when evaluated
    for setting, t in tables.items():
        for k, s in sorted(t["scores"].items()):
            row = {"setting": setting, "attribute": t["names"][k], "sent_r2": s["r2"], "sent_valid": s["valid"]}
            for method in (*own, *BASELINES):
                b = t["baselines"].get(method, {}).get(k)
                row[f"{method}_r2"] = b["r2"] if b else float("nan")
                row[f"{method}_valid"] = b["valid"] if b else float("nan")
            for method, result in (("sent", s), *((m, t["baselines"].get(m, {}).get(k)) for m in own)):
                untargeted = result["deltaUntarget"] if result else np.array([np.nan])
                row[f"{method}_untargeted"] = float(np.nanmean(untargeted)) if np.isfinite(untargeted).any() \
                    else float("nan")
            row["sent_success"] = s["success"]
            for method in (*own, *BASELINES):
                b = t["baselines"].get(method, {}).get(k)
                row[f"{method}_success"] = b["success"] if b else float("nan")
            rows.append(row)
    return rows


def write_table(path, tables: dict, key: str, n_attributes: int = 9) -> None:
    """The reference layout: one row per setting, `setting,v_0,...,v_8` (no header; nan = not run)."""
    lines = []
    for setting, t in tables.items():
        values = [t["scores"][k][key] if k in t["scores"] else float("nan") for k in range(n_attributes)]
        lines.append(setting + "," + ",".join(f"{v:.6g}" for v in values))
    with atomic_path(path, ".csv") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def read_reference_table(path) -> dict[str, np.ndarray]:
    """A table in the reference layout (`setting,v_0,...` per line, no header), with a one-line
    error naming the line for anything else; every row must have as many values as the first."""
    path = Path(path)
    if not path.is_file():
        raise SentError(f"{path}: no such file (--reference needs the authors' tables)")
    table, width = {}, None
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise SentError(f"{path}: not a text table") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name, *values = line.split(",")
        try:
            row = np.array([float(v) for v in values])
        except ValueError:
            raise SentError(f"{path}: line {number}: not `setting,number,...`: {line[:60]!r}") from None
        width = width or len(row)
        if len(row) != width or not width:
            raise SentError(f"{path}: line {number}: {len(row)} values where the first row has {width}")
        table[name] = row
    if not table:
        raise SentError(f"{path}: empty reference table")
    return table


def read_reference(reference_dir) -> tuple[dict, dict]:
    """The reference's R^2 and valid tables (table-r2.csv, table-valid.csv in one directory)."""
    return (read_reference_table(Path(reference_dir) / "table-r2.csv"),
            read_reference_table(Path(reference_dir) / "table-valid.csv"))


def comparison_rows(tables: dict, reference: tuple[dict, dict]) -> list[dict]:
    """Our R^2 and valid fraction next to the reference's (its valid divided by 3, see module doc)."""
    ref_r2, ref_valid = reference
    rows = []
    for setting, t in tables.items():
        for k, s in sorted(t["scores"].items()):
            rows.append({"setting": setting, "attribute": t["names"][k], "seeds": t["seeds"],
                         "r2": s["r2"], "r2_reference": _reference_value(ref_r2, setting, k),
                         "valid": s["valid"], "valid_reference": _reference_value(ref_valid, setting, k) / 3})
    return rows


def _reference_value(table: dict, setting: str, k: int) -> float:
    row = table.get(setting)
    return float(row[k]) if row is not None and k < len(row) else float("nan")


def write_rows_csv(path, rows: list[dict]) -> None:
    if not rows:
        raise SentError(f"{path}: nothing to write (no evaluated attributes)")
    keys = list(rows[0])
    fmt = lambda v: f"{v:.6g}" if isinstance(v, float) else str(v)  # noqa: E731
    with atomic_path(path, ".csv") as tmp:
        tmp.write_text(",".join(keys) + "\n" + "".join(",".join(fmt(r[k]) for k in keys) + "\n" for r in rows))
