"""perform merge / perform markdown: the published tables are the per-model ones concatenated, and
the counts quoted under them follow their definitions (hand-made tables, known answers)."""

import pytest
from helpers import ROOT, run_tool

BASELINE_COLUMNS = ["setting", "attribute", "sent_r2", "sent_valid", "verified_r2", "verified_valid",
                    "oracle_r2", "oracle_valid", "sent-target_r2", "sent-target_valid", "attribute-vector_r2",
                    "attribute-vector_valid", "sent_untargeted", "verified_untargeted", "sent_success",
                    "verified_success", "oracle_success", "attribute-vector_success"]


def _results(directory, setting, cells, paper):
    """A `perform tables`-shaped directory: cells = {attribute: {column: value}}, paper = {attribute: r2}."""
    directory.mkdir(parents=True)
    lines = [",".join(BASELINE_COLUMNS)]
    for attribute, values in cells.items():
        lines.append(",".join([setting, attribute] + [str(values.get(c, 0.5)) for c in BASELINE_COLUMNS[2:]]))
    (directory / "baselines.csv").write_text("\n".join(lines) + "\n")
    (directory / "comparison.csv").write_text(
        "setting,attribute,seeds,r2,r2_reference,valid,valid_reference\n" + "".join(
            f"{setting},{a},1,{cells[a]['sent_r2']},{r2},1,0.9\n" for a, r2 in paper.items()))
    for name, column in (("table-r2.csv", "sent_r2"), ("table-valid.csv", "sent_valid")):
        (directory / name).write_text(setting + "," + ",".join(str(cells[a].get(column, 0.5)) for a in cells) + "\n")
    return directory


@pytest.fixture
def two_models(tmp_path):
    ar = _results(tmp_path / "ar", "ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0", {
        "tonic": {"sent_r2": 0.30, "verified_r2": 0.98, "verified_valid": 0.95, "sent_untargeted": 0.1,
                  "verified_untargeted": 0.1, "attribute-vector_r2": 0.7, "sent_success": 0.25, "verified_success": 0.75},
        "octave": {"sent_r2": 0.10, "verified_r2": 0.979, "verified_valid": 1.0, "sent_untargeted": 0.1,
                   "verified_untargeted": 0.2, "attribute-vector_r2": 0.0, "sent_success": 0.75, "verified_success": 0.25},
    }, paper={"tonic": 0.35, "octave": 0.16})  # tonic within 0.05 (0.30 >= 0.30), octave not (0.10 < 0.11)
    beta = _results(tmp_path / "beta", "beta-VAE_b_1.0_c_50.0", {
        "tonic": {"sent_r2": 0.9, "verified_r2": 0.99, "verified_valid": 0.949, "sent_untargeted": 0.3,
                  "verified_untargeted": 0.2, "attribute-vector_r2": 0.95},
        "octave": {"sent_r2": 0.8, "verified_r2": 1.0, "verified_valid": 1.0, "sent_untargeted": 0.3,
                   "verified_untargeted": 0.2, "attribute-vector_r2": 0.1},
    }, paper={"tonic": 0.1, "octave": 0.84})
    (beta / "two_at_once-beta-VAE_b_1.0_c_50.0_r_0.csv").write_text(
        "first,second,pairs,sent_twice_success,sent_twice_reached,verified_success,verified_reached\n"
        "tonic,octave,200,0.1,0.2,0.5,0.7\ntonic,scale,200,0.3,0.4,0.7,0.9\n")
    return ar, beta


def test_merge_concatenates_and_markdown_counts(two_models, tmp_path):
    ar, beta = two_models
    out = tmp_path / "merged"
    run_tool("perform", "merge", ar, beta, "--out", out)
    baselines = (out / "baselines.csv").read_text().splitlines()
    assert baselines[0] == ",".join(BASELINE_COLUMNS) and len(baselines) == 5
    assert [line.split(",")[0] for line in (out / "table-r2.csv").read_text().splitlines()] == \
        ["ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0", "beta-VAE_b_1.0_c_50.0"]
    assert (out / "two_at_once-beta-VAE_b_1.0_c_50.0_r_0.csv").read_text() == \
        (beta / "two_at_once-beta-VAE_b_1.0_c_50.0_r_0.csv").read_text()

    md = run_tool("perform", "markdown", out).stdout
    assert "| ar-VAE g=10.0 | tonic | 0.350 / 0.900 | 0.300 / 0.500 | **0.980 / 0.950** |" in md
    assert "| ar-VAE g=10.0 | octave | 0.160 / 0.900 | 0.100 / 0.500 | 0.979 / 1.000 |" in md  # R^2 short of 0.98
    assert "| beta-VAE b=1.0 | tonic | 0.100 / 0.900 | 0.900 / 0.500 | 0.990 / 0.949 |" in md  # valid short of 0.95
    assert ("SeNT within 0.05 of the paper: 3 of 4 cells (ar-VAE g=10.0 1 of 2, not octave; "
            "beta-VAE b=1.0 2 of 2).") in md
    # bold: ar tonic, beta octave; verified no busier than SeNT: all but ar octave; attribute-vector above SeNT: ar tonic, beta tonic
    assert "(bold): 2 of 4 cells; verified untargeted <= SeNT's: 3 of 4; attribute-vector R^2 above SeNT's: 2 of 4." in md
    assert "| tonic | 0.25 / 0.75 / 0.50 / 0.50 | 0.50 / 0.50 / 0.50 / 0.50 |" in md
    assert "sent 0.50, 0.50; verified 0.50, 0.50;" in md
    assert "| beta-VAE b=1.0 | 0.200 / 0.300 | 0.600 / 0.800 |" in md
    # the README's table: without a pooled.csv, no pooled column
    assert run_tool("perform", "markdown", out, "--overview").stdout.splitlines()[2:] == [
        "| ar-VAE g=10.0 | 1 of 2 | 0.255 / 0.900 | 0.200 / 0.500 | 0.980 / 0.975 | 0.50 / 0.50 |",
        "| beta-VAE b=1.0 | 2 of 2 | 0.470 / 0.900 | 0.850 / 0.500 | 0.995 / 0.974 | 0.50 / 0.50 |"]


def test_merge_refuses_what_would_mix_tables(two_models, tmp_path):
    ar, beta = two_models
    proc = run_tool("perform", "merge", ar, ar, "--out", tmp_path / "x", check=False)
    assert proc.returncode != 0 and "setting ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0 is also in" in proc.stderr
    (beta / "comparison.csv").write_text("setting,attribute,r2\n")
    proc = run_tool("perform", "merge", ar, beta, "--out", tmp_path / "y", check=False)
    assert proc.returncode != 0 and "comparison.csv: columns differ" in proc.stderr
    (beta / "baselines.csv").unlink()
    proc = run_tool("perform", "merge", ar, beta, "--out", tmp_path / "z", check=False)
    assert proc.returncode != 0 and "baselines.csv: no such file" in proc.stderr
    assert not (tmp_path / "z" / "baselines.csv").exists()
    (ar / "baselines.csv").write_text((ar / "baselines.csv").read_text().replace("0.3,", "high,", 1))
    proc = run_tool("perform", "markdown", ar, check=False)
    assert proc.returncode != 0 and "column sent_r2 holds 'high', not a number" in proc.stderr


def test_published_results_are_the_shipped_runs_tables(tmp_path):
    """docs/data/results/ is exactly `perform merge` of the shipped models' tables (docs/data/results/SOURCES:
    their runs/*/sent-repro/ directories) and `perform pool` of the seeds listed in POOLED, so no
    published figure is edited by hand."""
    published = ROOT / "docs" / "data" / "results"
    sources = (published / "SOURCES").read_text().split()
    run_tool("perform", "merge", *(ROOT / s for s in sources), "--out", tmp_path)
    seeds = (published / "POOLED").read_text().split()
    run_tool("perform", "pool", *(ROOT / s for s in seeds), "--out", tmp_path / "pooled.csv")
    names = sorted(p.name for p in published.glob("*.csv"))
    assert names == sorted(p.name for p in tmp_path.glob("*.csv"))
    for name in names:
        assert (tmp_path / name).read_text() == (published / name).read_text(), name


def test_pooled_cells_below_the_paper_give_their_measured_reason(two_models, tmp_path):
    """Each pooled SeNT cell more than 0.05 below the paper is classed by the figures beside it:
    ceiling (SeNT at its pooled sent-target*, which is below the paper too), seed spread (a single
    seed reaches it), open."""
    out = tmp_path / "merged"
    run_tool("perform", "merge", *two_models, "--out", out)
    ar, beta = "ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0", "beta-VAE_b_1.0_c_50.0"
    rows = [  # setting, method, attribute, r2, r2_min, r2_max; paper: ar 0.35 / 0.16, beta 0.1 / 0.84
        (ar, "sent", "tonic", 0.30, 0.2, 0.4),            # reached: exactly the paper minus 0.05
        (ar, "sent", "octave", 0.05, 0.0, 0.2),           # a seed reaches 0.11, but the ceiling comes first
        (ar, "sent-target", "octave", 0.08, 0.07, 0.09),
        (beta, "sent", "tonic", 0.0, -0.1, 0.05),         # seed spread: 0.05 >= 0.1 - 0.05
        (beta, "sent-target", "tonic", 0.9, 0.9, 0.9),
        (beta, "sent", "octave", 0.5, 0.3, 0.7),          # open: no seed reaches 0.79, and SeNT beats
        (beta, "sent-target", "octave", 0.2, 0.1, 0.3),   # its sent-target by more than 0.05 (no ceiling)
    ]
    (out / "pooled.csv").write_text("setting,method,attribute,seeds,models,r2,r2_min,r2_max,valid,valid_min,valid_max\n" +
                                    "".join(f"{s},{m},{a},2,x y,{r2},{lo},{hi},1,1,1\n" for s, m, a, r2, lo, hi in rows))
    md = run_tool("perform", "markdown", out).stdout
    assert "| ar-VAE g=10.0 | tonic | 2 | 0.350 / 0.900 | 0.300 / 1.000 | 0.200 - 0.400 | - | - |  |" in md
    assert "| ar-VAE g=10.0 | octave | 2 | 0.160 / 0.900 | 0.050 / 1.000 | 0.000 - 0.200 | - | - | ceiling (sent-target* 0.080) |" in md
    assert "| beta-VAE b=1.0 | tonic | 2 | 0.100 / 0.900 | 0.000 / 1.000 | -0.100 - 0.050 | - | - | seed spread (best seed 0.050) |" in md
    assert "| beta-VAE b=1.0 | octave | 2 | 0.840 / 0.900 | 0.500 / 1.000 | 0.300 - 0.700 | - | - | open |" in md
    assert ("Pooled SeNT within 0.05 of the paper: 1 of 4 cells; below it: ceiling 1 (ar-VAE g=10.0 octave); "
            "seed spread 1 (beta-VAE b=1.0 tonic); open 1 (beta-VAE b=1.0 octave).") in md
    overview = run_tool("perform", "markdown", out, "--overview").stdout.splitlines()
    assert overview[0].endswith("| seeds pooled: SeNT within 0.05 |")
    assert overview[2].startswith("| ar-VAE g=10.0 | 1 of 2 |") and overview[2].endswith("| 1 of 2 (2 seeds) |")
    # beta's seed 0 alone reaches both cells (0.9 and 0.8 against 0.1 and 0.84), its pooled seeds neither
    assert overview[3].startswith("| beta-VAE b=1.0 | 2 of 2 |") and overview[3].endswith("| 0 of 2 (2 seeds) |")
    # a setting without pooled seeds says so
    pooled = (out / "pooled.csv").read_text().splitlines()
    (out / "pooled.csv").write_text("\n".join(line for line in pooled if not line.startswith("beta")) + "\n")
    assert run_tool("perform", "markdown", out, "--overview").stdout.splitlines()[3].endswith("| 0.50 / 0.50 | - |")
