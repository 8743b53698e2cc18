"""SeNT performance: R^2, valid fraction, target/untargeted errors, figures and result tables (step 8)."""

from pathlib import Path

from sent.core.baselines import BASELINES, CEILINGS
from sent.core.repository import Repository
from sent.evaluation import plots
from sent.evaluation.predictions import export_csv, has_predictions, predictions_dir
from sent.evaluation.report import method_suffix, write_report
from sent.evaluation.results import perform, write_perform_csv
from sent.evaluation.shipped import ship
from sent.evaluation.summary import merge_results, page, pool_results
from sent.evaluation.summary import overview as summary_overview
from sent.evaluation.tables import (
    baseline_rows,
    comparison_rows,
    gather_tables,
    read_reference,
    seed_rows,
    write_rows_csv,
    write_table,
)
from sent.util import cli, validate
from sent.util.errors import SentError
from sent.util.io import load_json


class Perform:
    """`perform run REPO [REPO ...]` scores one repository or several pooled (the seeds of one
    setting); `perform tables REPO ...` gathers many into the paper's table layout (and seeds.csv,
    what `perform pool` adds up over seeds); `perform
    export REPO` writes the CSV layout of the predictions; `perform merge` and `perform markdown`
    combine and print the tables of separately trained models."""

    def run(self, *repositories, out: str = None, attribute=None, method: str = "sent"):
        """Write OUT/perform.csv and figures (PDF and PNG): target vs achieved, deviation curves,
        untargeted-error heat map. OUT defaults to the (first) repository. Another method's files
        are named by it (perform-verified.csv, target_vs_achieved-verified.png, ...); every figure
        is titled with the model, the method and the number of test pairs.

        Args:
            repositories: one or more evaluated repository directories.
            out: output directory.
            attribute: only this attribute index (default: every attribute that was evaluated).
            method: sent, or a baseline evaluated by `evaluate --baselines`.
        """
        if not repositories:
            raise SentError("give at least one repository")
        attribute = validate.whole("attribute", attribute, minimum=0, optional=True)
        out = Path(out or repositories[0])
        names = load_json(Path(repositories[0]) / "config.json")["fNames"]
        done = [k for k in range(len(names))
                if all(has_predictions(r, k, method) for r in repositories)]
        wanted = done if attribute is None else [int(attribute)]
        if not wanted:
            raise SentError(f"{predictions_dir(repositories[0], method)}: no evaluated attributes "
                            f"(no predictions_<k>.npz; run evaluate first)")
        results = perform(list(repositories), wanted, method)
        suffix = method_suffix(method)
        write_perform_csv(out / f"perform{suffix}.csv", results, names)
        pairs = [len(results[k]["a"][0]) for k in wanted]
        n = str(min(pairs)) if min(pairs) == max(pairs) else f"{min(pairs)}-{max(pairs)}"
        title = load_json(Path(repositories[0]) / "config.json").get("model_id", "") + \
            (f" (+{len(repositories) - 1} pooled)" if len(repositories) > 1 else "") + \
            f" · {method} · n = {n} test pairs per attribute"
        plots.target_vs_achieved(results, names, title, out / f"target_vs_achieved{suffix}")
        plots.deviation_curves(results, names, title, out / f"deviation{suffix}")
        plots.untargeted_heatmap(results, names, title, out / f"untargeted{suffix}")
        for k in wanted:
            print(f"{names[k]:12s} R^2 {results[k]['r2']:7.3f}  valid {results[k]['valid']:.3f}  "
                  f"deltaTarget {results[k]['deltaTarget']:.3f}")

    def ship(self, repository: str, out: str):
        """Write the shipped form of a trained repository into OUT (e.g. prebuilt/sent/<model id>/):
        config, per attribute the traversal function, surrogate, index files, training logs and
        mover_<k>.npz (the verified method's proposal statistics), and perform.csv; no latent
        codes or pairs. `traverse MELODY <model id> ATTRIBUTE ...` then finds it by model id.

        Args:
            repository: a repository with trained traversal functions.
            out: output directory.
        """
        out = validate.output_dir(out, "out")
        attributes = ship(repository, out)
        print(f"shipped {len(attributes)} traversal function(s) to {out}")

    def export(self, repository: str, out: str = None, attribute=None, method: str = "all"):
        """Write the original code's CSV layout for an evaluated repository: sp_<k>.csv
        (predicted codes), z2_<k>.csv (target codes) and cp_<k>.csv (decoded attributes, header =
        attribute names, -1 = invalid), next to its predictions_<k>.npz or under OUT.

        Args:
            repository: an evaluated repository directory.
            out: output directory (default: beside each method's predictions; under OUT the
                baselines go to OUT/baselines/<method>/).
            attribute: only this attribute (name or index; default: every evaluated one).
            method: sent, a baseline, or all (every method evaluated).
        """
        if method not in ("all", "sent", *BASELINES):
            raise SentError(f"unknown method {method!r}; valid: all, sent, {', '.join(BASELINES)}")
        repo = Repository(repository)
        methods = ["sent", *BASELINES] if method == "all" else [method]
        written = 0
        for m in methods:
            for k in repo.attributes_to_run(attribute):
                if has_predictions(repo.dir, k, m):
                    target = None if out is None else predictions_dir(out, m)
                    written += len(export_csv(repo, k, m, target))
        if not written:
            raise SentError(f"{repo.dir}: no evaluated predictions to export (run evaluate first)")
        print(f"{repo.dir}: {written} CSV files written")

    def tables(self, *repositories, out: str = ".", reference: str = None, report: str = None,
               link_prefix: str = None):
        """Write OUT/table-r2.csv and OUT/table-valid.csv (setting x attribute, seeds pooled),
        OUT/baselines.csv (SeNT and every evaluated baseline side by side) and, with REFERENCE (a
        directory holding the authors' table-r2.csv and table-valid.csv), OUT/comparison.csv
        (the reference valid figures divided by 3). With REPORT, also a self-contained HTML page
        (tables, every repository's figures, links to its example MIDI files).

        Args:
            link_prefix: example links as LINK_PREFIX/<repository name>/examples/<file>
                (default: relative to the report).
        """
        if not repositories:
            raise SentError("give at least one repository")
        validate.output_dir(out, "out")
        reference_tables = read_reference(reference) if reference else None
        tables = gather_tables(list(repositories))
        rows = baseline_rows(tables)
        if not rows:  # checked before any table is written
            raise SentError(f"{', '.join(map(str, repositories))}: no evaluated attributes "
                            "(no predictions_<k>.npz; run evaluate first)")
        comparison = comparison_rows(tables, reference_tables) if reference else []
        write_table(Path(out) / "table-r2.csv", tables, "r2")
        write_table(Path(out) / "table-valid.csv", tables, "valid")
        write_rows_csv(Path(out) / "baselines.csv", rows)
        write_rows_csv(Path(out) / "seeds.csv", seed_rows(repositories), precision=".17g")
        methods = ["sent", *(k[:-3] for k in rows[0] if k.endswith("_r2") and k != "sent_r2")]
        heads = [f"{m[:15]}*" if m in CEILINGS else m[:16] for m in methods]
        print(f"{'setting':36s} {'attribute':12s} " + " ".join(f"{h:>16s}" for h in heads) +
              "   (R^2 / valid; * a ceiling that uses the target's code z2)")
        for r in rows:
            print(f"{r['setting']:36s} {r['attribute']:12s} " +
                  " ".join(f"{r[m + '_r2']:7.3f}/{r[m + '_valid']:5.3f}  " for m in methods))
        if report:
            write_report(report, comparison, rows, repositories, link_prefix)
        if reference:
            write_rows_csv(Path(out) / "comparison.csv", comparison)
            for r in comparison:
                print(f"{r['setting']:38s} {r['attribute']:12s} R^2 {r['r2']:7.3f} (ref {r['r2_reference']:7.3f})  "
                      f"valid {r['valid']:.3f} (ref {r['valid_reference']:.3f})")

    def merge(self, *results, out: str):
        """Merge the `perform tables` outputs of separately trained models (each a directory with
        table-r2.csv, table-valid.csv, baselines.csv, comparison.csv and any two_at_once-*.csv)
        into OUT, e.g. the shipped models' runs/*/sent-repro/ into docs/data/results/."""
        validate.output_dir(out, "out")
        settings = merge_results(results, out)
        print(f"{out}: {len(settings)} settings ({', '.join(settings)})")

    def pool(self, *results, out: str):
        """Pool the seeds of each setting from the `perform tables` outputs RESULTS (their
        seeds.csv, e.g. runs/*/sent-repro/ of seeds 0, 1 and 2) into the CSV file OUT: per
        setting, method and attribute, R^2 and valid fraction of all the seeds' test pairs taken
        together (as the paper pools) and the lowest and highest single seed's."""
        if not results:
            raise SentError("give at least one results directory")
        rows = pool_results(results, validate.output_file(out, "out"))
        print(f"{out}: {len({r['setting'] for r in rows})} settings, "
              f"{sum(r['method'] == 'sent' for r in rows)} SeNT cells pooled")

    def markdown(self, results: str, overview: bool = False):
        """Print docs/results.md from a results directory: the result tables (paper, SeNT,
        verified edits, baselines; the counts quoted under them; strict success; two-at-once
        means) under an explanation of every column; with --overview the README's summary table.
        """
        print(summary_overview(results) if overview else page(results), end="")



def main(argv=None):
    cli.main(Perform, name="perform", argv=argv)
