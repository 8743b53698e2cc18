"""Result directories as written by `perform tables` (table-r2.csv, table-valid.csv,
baselines.csv, comparison.csv, and `two_at_once-<model id>.csv` beside them): merging the
directories of separately trained models into one, and the markdown of docs/results.md and of
the README's summary table.

Merging exists because each shipped model's SeNT is trained and tabulated on its own (runs/*/
sent-repro/), and the repositories behind a table are too large to keep: the published tables
are the concatenation of the per-model ones, never recomputed by hand.
"""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

from sent.evaluation.tables import pool_seed_rows, write_rows_csv
from sent.util.errors import SentError
from sent.util.io import atomic_path

RESULT_TABLES = ("table-r2.csv", "table-valid.csv", "baselines.csv", "comparison.csv")
HEADERLESS = ("table-r2.csv", "table-valid.csv")  # the authors' layout: setting, then one value per attribute
TEXT_COLUMNS = ("setting", "attribute", "first", "second", "model", "method", "models")
WITHIN = 0.05  # "reaches the paper": R^2 at least the paper's minus this
VERIFIED_GOOD = (0.98, 0.95)  # verified R^2 and valid fraction counted as a good cell (bold)


def merge_results(directories, out) -> list[str]:
    """Concatenate the result tables of DIRECTORIES into OUT (headers must agree, a setting may
    appear in one directory only) and copy their two_at_once-*.csv files; the settings merged."""
    directories = [Path(d) for d in directories]
    if not directories:
        raise SentError("give at least one results directory")
    owner: dict[str, int] = {}  # setting -> index of the directory that holds it
    merged: dict[str, tuple[str, list[str]]] = {}
    for name in RESULT_TABLES:
        header, lines, width = None, [], None
        for i, d in enumerate(directories):
            path = d / name
            if not path.is_file():
                raise SentError(f"{path}: no such file (not a `perform tables` output directory?)")
            text = path.read_text()
            if text and not text.endswith("\n"):  # every table is written whole, line by line
                raise SentError(f"{path}: truncated (the last line has no end)")
            rows = [line for line in text.splitlines() if line.strip()]
            if not rows:
                raise SentError(f"{path}: empty table")
            if name not in HEADERLESS:
                if header is not None and rows[0] != header:
                    raise SentError(f"{path}: columns differ from {directories[0] / name}'s")
                header, rows = rows[0], rows[1:]
            for line in rows:
                fields = line.count(",") + 1
                width = width or (header.count(",") + 1 if header else fields)
                if fields != width:
                    raise SentError(f"{path}: a row of {fields} fields where the table has {width}: {line[:60]!r}")
                setting = line.split(",", 1)[0]
                if owner.setdefault(setting, i) != i:
                    raise SentError(f"{path}: setting {setting} is also in {directories[owner[setting]]}")
            lines += rows
        merged[name] = (header, lines)
    Path(out).mkdir(parents=True, exist_ok=True)
    for name, (header, lines) in merged.items():
        with atomic_path(Path(out) / name, ".csv") as tmp:
            tmp.write_text("".join(f"{line}\n" for line in ([header] if header else []) + lines))
    for d in directories:
        for path in sorted(d.glob("two_at_once-*.csv")):
            if path.resolve() != (Path(out) / path.name).resolve():
                with atomic_path(Path(out) / path.name, ".csv") as tmp:
                    shutil.copyfile(path, tmp)
    return list(owner)


def pool_results(directories, out) -> list[dict]:
    """Pool the seeds.csv of DIRECTORIES (`perform tables` outputs, one or more seeds of each
    setting) into OUT (pooled.csv layout: per setting, method and attribute the seeds' pairs taken
    together, with the single seeds' lowest and highest figures); the pooled rows."""
    rows = [r for d in directories for r in _read_csv(Path(d) / "seeds.csv")]
    if not rows:
        raise SentError(f"{', '.join(map(str, directories))}: no seeds.csv rows to pool")
    pooled = pool_seed_rows(rows)
    write_rows_csv(out, pooled)
    return pooled


def _pooled_table(rows: list[dict], paper: dict) -> list[str]:
    """SeNT per cell, the seeds taken together beside the paper (which pools 3 seeds), the single
    seeds' spread, verified edits and the attribute-vector baseline pooled alike, and for a cell
    below the paper the measured reason (`_why_below`), counted under the table."""
    sent = [r for r in rows if r["method"] == "sent"]
    if not sent:
        return []
    others = {(r["setting"], r["attribute"], r["method"]): r for r in rows}
    out = ["", "## Seeds pooled", "",
           "SeNT's R² and valid fraction over the test pairs of every seed of a setting trained so far taken "
           "together, as the paper pools its 3 seeds (`perform pool`), with the lowest and highest single "
           "seed's R² beside them; the seeds column says how many are pooled. Verified edits and the "
           f"attribute-vector baseline are pooled over the same pairs. A cell more than {WITHIN} below the paper "
           "gives its reason where one is measured: **ceiling**, SeNT is no more than "
           f"{WITHIN} above the pooled sent-target* (SeNT's dims set to the target melody's values), which is itself "
           "below the paper, so the VAEs' codes in those dims do not carry the paper's figure; **seed spread**, at "
           "least one single seed reaches the paper; **open**, neither.", "",
           "| model | attribute | seeds | paper R² / valid | SeNT pooled R² / valid | single seeds' R² (min - max) "
           "| verified pooled | attribute-vector pooled | below the paper: why |",
           "|---|---|---|---|---|---|---|---|---|"]
    reasons: dict[str, list[str]] = {}
    for r in sent:
        ref = paper.get((r["setting"], r["attribute"]))
        pooled = [others.get((r["setting"], r["attribute"], m)) for m in ("verified", "attribute-vector")]
        why = _why_below(r, ref, others.get((r["setting"], r["attribute"], "sent-target")))
        if why is not None:
            reasons.setdefault(why[0], []).append(f"{label(r['setting'])} {r['attribute']}")
        out.append(f"| {label(r['setting'])} | {r['attribute']} | {int(r['seeds'])} | "
                   f"{_pair(ref['r2_reference'], ref['valid_reference']) if ref else '-'} | "
                   f"{_pair(r['r2'], r['valid'])} | {r['r2_min']:.3f} - {r['r2_max']:.3f} | " +
                   " | ".join(_pair(p["r2"], p["valid"]) if p else "-" for p in pooled) +
                   f" | {' '.join(why) if why and why[0] != 'reached' else ''} |")
    reached = len(reasons.pop("reached", []))
    below = "; ".join(f"{why} {len(cells)} ({', '.join(cells)})" for why, cells in reasons.items())
    return out + ["", f"Pooled SeNT within {WITHIN} of the paper: {reached} of {reached + sum(map(len, reasons.values()))} "
                  f"cells" + (f"; below it: {below}." if below else ".")]


def _why_below(sent: dict, paper: dict | None, ceiling: dict | None) -> tuple[str, ...] | None:
    """('reached',), ('ceiling', detail), ('seed spread', detail) or ('open',) for a pooled SeNT cell
    against the paper (None without a reference). sent-target* bounds SeNT only where SeNT does not
    beat it (on the beta-VAEs SeNT's own values beat the target's by up to 2.4), hence both tests;
    the ceiling comes first, as it holds for the setting whatever the seed."""
    if paper is None or math.isnan(paper["r2_reference"]):
        return None
    if _reaches(sent["r2"], paper["r2_reference"]):
        return ("reached",)
    if ceiling is not None and not _reaches(ceiling["r2"], paper["r2_reference"]) \
            and sent["r2"] <= ceiling["r2"] + WITHIN:
        return ("ceiling", f"(sent-target* {ceiling['r2']:.3f})")
    if _reaches(sent["r2_max"], paper["r2_reference"]):
        return ("seed spread", f"(best seed {sent['r2_max']:.3f})")
    return ("open",)


def _reaches(r2: float, paper_r2: float) -> bool:
    """R^2 at least the paper's minus WITHIN (despite float rounding)."""
    return r2 >= paper_r2 - WITHIN - 1e-9


def label(setting: str) -> str:
    """ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0 -> 'ar-VAE g=10.0'; beta-VAE_b_1.0_c_50.0 -> 'beta-VAE b=1.0'
    (the hyper-parameter the paper's table varies per model type)."""
    kind, *rest = setting.split("_")
    params = dict(zip(rest[::2], rest[1::2]))
    key = "b" if kind == "beta-VAE" else "g"
    return f"{kind} {key}={params[key]}" if key in params else setting


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        raise SentError(f"{path}: no such file")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            if k not in TEXT_COLUMNS:
                try:
                    r[k] = float(v)
                except (TypeError, ValueError):
                    raise SentError(f"{path}: column {k} holds {v!r}, not a number") from None
    return rows


def _pair(r2, valid) -> str:
    return "-" if math.isnan(r2) else f"{r2:.3f} / {valid:.3f}"


def markdown(results_dir) -> str:
    """The result tables of docs/results.md from a results directory: per cell the paper, SeNT, verified
    edits and two baselines (R^2 / valid), the counts quoted under it, strict success per model,
    and two-at-once means where two_at_once-*.csv files are present."""
    d = Path(results_dir)
    rows = _read_csv(d / "baselines.csv")
    paper = {(r["setting"], r["attribute"]): r for r in _read_csv(d / "comparison.csv")}
    if not rows:
        raise SentError(f"{d / 'baselines.csv'}: no rows")
    out = _cells_table(rows, paper) + [""] + _success_table(rows) + _two_at_once_table(sorted(d.glob("two_at_once-*.csv")))
    if (d / "pooled.csv").is_file():
        out += _pooled_table(_read_csv(d / "pooled.csv"), paper)
    return "\n".join(out) + "\n"


def _get(r: dict, column: str) -> float:
    return r.get(column, float("nan"))


def _cells_table(rows: list[dict], paper: dict) -> list[str]:
    """Per cell: paper, SeNT, verified, sent-target and attribute-vector (R^2 / valid), then the counts."""
    get = _get
    out = ["| model | attribute | paper R² / valid | SeNT R² / valid | verified R² / valid | sent-target* R² / valid "
           "| attribute-vector R² / valid | SeNT untargeted | verified untargeted |",
           "|---|---|---|---|---|---|---|---|---|"]
    reach, good, calmer, av_beats = {}, [], [], []
    for r in rows:
        cell = (r["setting"], r["attribute"])
        ref = paper.get(cell)
        verified = _pair(get(r, "verified_r2"), get(r, "verified_valid"))
        if get(r, "verified_r2") >= VERIFIED_GOOD[0] and get(r, "verified_valid") >= VERIFIED_GOOD[1]:
            verified, good = f"**{verified}**", good + [cell]
        if get(r, "verified_untargeted") <= get(r, "sent_untargeted"):
            calmer.append(cell)
        if get(r, "attribute-vector_r2") > get(r, "sent_r2"):
            av_beats.append(cell)
        if ref is not None and not math.isnan(ref["r2_reference"]):
            reached = _reaches(r["sent_r2"], ref["r2_reference"])
            reach.setdefault(r["setting"], []).append((r["attribute"], reached))
        out.append(f"| {label(r['setting'])} | {r['attribute']} | "
                   f"{_pair(ref['r2_reference'], ref['valid_reference']) if ref else '-'} | "
                   f"{_pair(r['sent_r2'], r['sent_valid'])} | {verified} | "
                   f"{_pair(get(r, 'sent-target_r2'), get(r, 'sent-target_valid'))} | "
                   f"{_pair(get(r, 'attribute-vector_r2'), get(r, 'attribute-vector_valid'))} | "
                   f"{get(r, 'sent_untargeted'):.3f} | {get(r, 'verified_untargeted'):.3f} |")
    n = len(rows)
    hits = sum(ok for cells in reach.values() for _, ok in cells)
    return out + ["", f"SeNT within {WITHIN} of the paper: {hits} of {sum(map(len, reach.values()))} cells ("
                  + "; ".join(f"{label(s)} {sum(ok for _, ok in c)} of {len(c)}"
                              + (f", not {', '.join(a for a, ok in c if not ok)}" if not all(ok for _, ok in c) else "")
                              for s, c in reach.items()) + ").",
                  f"Verified R^2 >= {VERIFIED_GOOD[0]} with valid >= {VERIFIED_GOOD[1]} (bold): {len(good)} of {n} "
                  f"cells; verified untargeted <= SeNT's: {len(calmer)} of {n}; attribute-vector R^2 above SeNT's: "
                  f"{len(av_beats)} of {n}."]


def _success_table(rows: list[dict]) -> list[str]:
    """Strict success per attribute and model for four methods, and their means per model."""
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    methods = ("sent", "verified", "attribute-vector", "oracle")
    by_cell = {(r["setting"], r["attribute"]): r for r in rows}
    attributes = list(dict.fromkeys(r["attribute"] for r in rows))
    out = ["Success (reached, nothing else changed): SeNT / verified / attribute-vector / oracle*", "",
           "| attribute | " + " | ".join(label(s) for s in settings) + " |",
           "|---|" + "---|" * len(settings)]
    for a in attributes:
        out.append(f"| {a} | " + " | ".join(
            " / ".join(f"{_get(by_cell[s, a], m + '_success'):.2f}" for m in methods) if (s, a) in by_cell else "-"
            for s in settings) + " |")
    means = {m: [_mean(_get(r, m + "_success") for r in rows if r["setting"] == s) for s in settings] for m in methods}
    return out + ["", "Means over the attributes (" + ", ".join(label(s) for s in settings) + "): "
                  + "; ".join(f"{m} {', '.join(f'{v:.2f}' for v in means[m])}" for m in methods) + "."]


def _two_at_once_table(paths: list[Path]) -> list[str]:
    if not paths:
        return []
    out = ["", "| model | SeNT twice: success / both reached | verified twice: success / both reached |",
           "|---|---|---|"]
    for path in paths:
        t = _read_csv(path)
        setting = path.stem[len("two_at_once-"):].rsplit("_r_", 1)[0]
        out.append(f"| {label(setting)} | {_mean(r['sent_twice_success'] for r in t):.3f} / "
                   f"{_mean(r['sent_twice_reached'] for r in t):.3f} | "
                   f"{_mean(r['verified_success'] for r in t):.3f} / {_mean(r['verified_reached'] for r in t):.3f} |")
    return out


PAGE_INTRO = r"""# Results

Generated by `sent perform markdown docs/data/results` from the tables in `docs/data/results/`
(`perform merge` of each model's own `perform tables` output, listed in `SOURCES`, and `perform
pool` of the seeds listed in `POOLED`); do not edit by
hand. Every figure is over **all test pairs** of the model's own test split, R² of the edited
attribute beside the fraction of valid edits.

- **paper**: the authors' run1e, their 3 seeds pooled (their valid counts divided by 3). Ours are
  **seed 0 alone**, so a cell can differ by seed noise (on scale one seed moved R² by up to 1.05;
  see [models.md](models.md), "The seed yardstick"); "Seeds pooled", where present, pools the
  seeds trained so far.
- **SeNT**: our traversal functions, trained with the `repro` profile (batch 512, cosine schedule,
  6,000 steps, learning rates 3e-3 and 1e-3, the network of lowest held-out training objective
  kept; see [reproduction.md](reproduction.md)). The shipped models' functions are in
  `prebuilt/sent/`.
- **verified**: verified edits (`evaluate --verify`): candidate codes decoded and checked, using
  the requested value only, no target melody. Bold: R² >= 0.98 with valid >= 0.95.
- **sent-target\***: z1 with SeNT's 3 dims set to z2's, a ceiling that uses the target melody's code,
  not a competitor. **attribute-vector**: mean code differences, a plain baseline. The other
  baselines are in `docs/data/results/baselines.csv`.
- **untargeted**: mean normalised change of the other eight attributes (lower is better).
- beta-VAE b=4.0 is tabulated but not shipped (test token accuracy 0.84).

## R² and valid fraction per cell

"""


def page(results_dir) -> str:
    """docs/results.md: the result tables of `markdown` under an explanation of every column."""
    return PAGE_INTRO + markdown(results_dir)


def overview(results_dir) -> str:
    """The README's summary: per model, SeNT's cells within WITHIN of the paper, the mean R² and
    valid fraction of the paper, SeNT and verified edits, and the mean strict success; with a
    pooled.csv, also the cells within WITHIN once the setting's seeds are pooled as the paper pools
    its own."""
    d = Path(results_dir)
    rows = _read_csv(d / "baselines.csv")
    paper = {(r["setting"], r["attribute"]): r for r in _read_csv(d / "comparison.csv")}
    pooled = [r for r in _read_csv(d / "pooled.csv") if r["method"] == "sent"] if (d / "pooled.csv").is_file() else None
    out = [f"| model | SeNT within {WITHIN} of the paper | paper R² / valid | SeNT R² / valid | verified R² / valid "
           "| success: SeNT / verified |" + (f" seeds pooled: SeNT within {WITHIN} |" if pooled is not None else ""),
           "|---|---|---|---|---|---|" + ("---|" if pooled is not None else "")]
    for setting in dict.fromkeys(r["setting"] for r in rows):
        cells = [r for r in rows if r["setting"] == setting]
        refs = [paper[setting, r["attribute"]] for r in cells if (setting, r["attribute"]) in paper]
        reached = sum(_reaches(r["sent_r2"], paper[setting, r["attribute"]]["r2_reference"])
                      for r in cells if (setting, r["attribute"]) in paper)
        means = [_pair(_mean(r["r2_reference"] for r in refs), _mean(r["valid_reference"] for r in refs))]
        for method in ("sent", "verified"):
            means.append(_pair(_mean(r.get(f"{method}_r2", math.nan) for r in cells),
                               _mean(r.get(f"{method}_valid", math.nan) for r in cells)))
        out.append(f"| {label(setting)} | {reached} of {len(refs)} | " + " | ".join(means) + " | "
                   f"{_mean(r['sent_success'] for r in cells):.2f} / "
                   f"{_mean(r.get('verified_success', math.nan) for r in cells):.2f} |" +
                   (f" {_pooled_reached(pooled, setting, paper)} |" if pooled is not None else ""))
    return "\n".join(out) + "\n"


def _pooled_reached(pooled: list[dict], setting: str, paper: dict) -> str:
    """'8 of 9 (2 seeds)': a setting's pooled SeNT cells within WITHIN of the paper; '-' if not pooled."""
    cells = [r for r in pooled if r["setting"] == setting and (setting, r["attribute"]) in paper]
    if not cells:
        return "-"
    reached = sum(_reaches(r["r2"], paper[setting, r["attribute"]]["r2_reference"]) for r in cells)
    seeds = sorted({int(r["seeds"]) for r in cells})
    return f"{reached} of {len(cells)} ({'-'.join(map(str, seeds))} seeds)"


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")
