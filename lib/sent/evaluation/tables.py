"""The paper's tables: results gathered per setting, baseline rows, the published reference tables
and the comparison of ours with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sent.core.baselines import BASELINES
from sent.core.repository import Repository
from sent.core.scores import SUMS, pooled, scores, sums
from sent.core.verify import DEFAULT_TOLERANCE, Judge
from sent.evaluation.predictions import METHODS, has_predictions
from sent.evaluation.results import load_results
from sent.util.errors import SentError
from sent.util.io import atomic_path, load_json


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


def seed_rows(repo_dirs) -> list[dict]:
    """Per repository (one seed), method and evaluated attribute: the `sums` that pool seeds
    exactly, and the seed's own R^2 and valid fraction from them."""
    rows = []
    for d in repo_dirs:
        repo = Repository(d)
        for method in (*METHODS, *BASELINES):
            for k, name in enumerate(repo.config["fNames"]):
                if not has_predictions(d, k, method):
                    continue
                (_, a2, ap), _ = load_results([repo], k, method=method)
                part = sums(a2, ap, k)
                rows.append({"setting": setting_of(d), "model": repo.model_id, "method": method,
                             "attribute": name, **part, **pooled([part])})
    return rows


def pool_seed_rows(rows: list[dict]) -> list[dict]:
    """Per setting, method and attribute: R^2 and valid fraction of the seeds' pairs taken together
    (as the paper pools its 3 seeds), and the lowest and highest single seed's beside them."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["setting"], r["method"], r["attribute"]), []).append(r)
    out = []
    for (setting, method, attribute), parts in groups.items():
        models = [p["model"] for p in parts]
        if len(set(models)) != len(models):
            raise SentError(f"setting {setting}: model {max(models, key=models.count)} is given twice")
        together = pooled([{k: float(p[k]) for k in SUMS} for p in parts])
        r2s, valids = [float(p["r2"]) for p in parts], [float(p["valid"]) for p in parts]
        out.append({"setting": setting, "method": method, "attribute": attribute, "seeds": len(parts),
                    "models": " ".join(sorted(models)), "r2": together["r2"], "r2_min": min(r2s), "r2_max": max(r2s),
                    "valid": together["valid"], "valid_min": min(valids), "valid_max": max(valids)})
    return out


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


def write_rows_csv(path, rows: list[dict], precision: str = ".6g") -> None:
    """Rows as CSV, floats to PRECISION (sums that must add up exactly: ".17g")."""
    if not rows:
        raise SentError(f"{path}: nothing to write (no evaluated attributes)")
    keys = list(rows[0])
    fmt = lambda v: format(v, precision) if isinstance(v, float) else str(v)  # noqa: E731
    with atomic_path(path, ".csv") as tmp:
        tmp.write_text(",".join(keys) + "\n" + "".join(",".join(fmt(r[k]) for k in keys) + "\n" for r in rows))
