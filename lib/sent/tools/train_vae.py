"""Train one dMelodies VAE of the zoo (beta-, ar-, interp-, s2-VAE) and write its model file."""

import json
import sys
from pathlib import Path

from sent.core.disentanglement import metrics
from sent.dmelodies import data
from sent.dmelodies.control import compare_control, markdown_table, model_control
from sent.dmelodies.plugin import encode_rows, test_rows
from sent.dmelodies.training import TrainConfig, card_markdown, dead_token_report, evaluate, train, zoo_markdown
from sent.dmelodies.vae import ModelSpec, load_model, save_model, zoo_ids
from sent.evaluation.plots import control_curves
from sent.evaluation.shipped import MODELS
from sent.util import cli, validate
from sent.util.cli import set_threads
from sent.util.errors import SentError
from sent.util.io import load_json, load_npz, read_csv, save_json, save_text


def _control_figures(path: str) -> dict:
    """The control figures of a model file or of its .json card."""
    from pathlib import Path

    card = load_json(path) if Path(path).suffix == ".json" else load_model(path)[1]
    if not card.get("control"):
        raise SentError(f"{path}: no decoder-control figures; run `train-vae control --write-card` on the model first")
    return card["control"]


def _model_control(vae, card: dict, pairs: int, seed: int | None) -> dict:
    """Control figures of a loaded model on `pairs` pairs of its own test split (seed default: the model's)."""
    split = card["split"]
    test = data.split_indices(data.NUM_MELODIES, split["seed"], tuple(split["fractions"]))[2]
    return model_control(vae, test, pairs=pairs, seed=vae.spec.seed if seed is None else seed)


def _card_files(model: str, card: dict) -> list[str]:
    """MODEL.json and a readable MODEL.md beside MODEL; their paths."""
    stem = str(Path(model).with_suffix(""))  # ids contain dots: append, never with_suffix
    save_json(f"{stem}.json", card)
    save_text(f"{stem}.md", card_markdown(card))
    return [f"{stem}.json", f"{stem}.md"]


def _write_card(vae, model: str, card: dict) -> None:
    """Store an updated card in the model file and rewrite the card files beside it."""
    save_model(vae, model, card)
    print(f"card written: {', '.join([model, *_card_files(model, card)])}", file=sys.stderr)



def _split(split) -> tuple[float, float, float]:
    try:
        fractions = tuple(float(x) for x in validate.items(split))
    except (TypeError, ValueError):
        raise SentError(f"--split needs three fractions train,val,test, got {split!r}") from None
    if len(fractions) != 3:
        raise SentError(f"--split needs three fractions, got {fractions}")
    return fractions


def _control_pairs(pairs) -> int:
    pairs = validate.whole("control_pairs", pairs, minimum=0)
    if 0 < pairs < 8:
        raise SentError(f"--control_pairs must be 0 (no log) or at least 8, got {pairs}")
    return pairs


class TrainVAE:
    """Train a zoo model: `train-vae run MODEL_ID --out model.pt`; `train-vae zoo` lists the 36 ids."""

    def run(self, model_id: str, out: str, epochs: int = 100, batch_size: int = 512, lr: float = 1e-4,
            lr_final: float = None, batches_per_epoch: int = None, beta_warmup_epochs: int = 10,
            beta_ramp_batches: int = 100_000, split_seed: int = None, split=(0.70, 0.05, 0.25),
            teacher_forcing: float = 0.5, val_rows: int = 8192, test_rows: int = None, device: str = "cpu",
            threads: int = None, dataset: str = None, init: str = None, control_pairs: int = 500,
            revive_dead_logits: bool = False, quiet: bool = False):
        """Train MODEL_ID and write OUT (weights + model card), OUT.log.csv and, while running, OUT.ckpt.

        An interrupted run continues from OUT.ckpt when started again with the same arguments.
        Defaults are the paper's schedule (100 epochs, batch 512, Adam 1e-4).

        Args:
            model_id: e.g. s2-VAE_b_0.2_c_50.0_g_10.0_r_0 (see `train-vae zoo`).
            out: model file to write.
            lr_final: cosine-decay the learning rate from LR to this value over the run.
            batches_per_epoch: shorten each epoch to this many batches (default: the whole split).
            beta_warmup_epochs: beta is 0 while epoch <= this (-1: no warm-up).
            beta_ramp_batches: batches over which beta grows to its value.
            split_seed: data split seed (default: the model's seed).
            split: train/val/test fractions.
            teacher_forcing: probability that a batch is teacher-forced.
            val_rows: validation melodies scored after each epoch.
            test_rows: test melodies scored for the model card (default: the whole test split).
            device: cpu or cuda.
            threads: torch threads (default: torch's choice).
            dataset: a `dataset` .npz to train on (default: generated in memory, identical).
            init: a model file of the same type whose weights start the run (fine-tuning).
            control_pairs: test pairs per attribute for the decoder-control log written after
                each epoch to OUT.control.csv (see `train-vae control`); 0 = no log.
            revive_dead_logits: let the loss raise a token's logit that the spec's ReLU holds at 0
                for every input (a "dead" token, never predicted again); the forward pass stays the
                spec's. May be switched on when a run resumes; the card records from which epoch.
        """
        spec = ModelSpec.parse(model_id)
        set_threads(threads)
        if not str(out).endswith(".pt"):  # OUT.ckpt, OUT.log.csv are named by replacing .pt
            raise SentError(f"{out}: the model file name must end in .pt")
        validate.output_file(out, "out")
        config = TrainConfig(
            epochs=validate.size("epochs", epochs), batch_size=validate.size("batch_size", batch_size),
            lr=validate.real("lr", lr, above=0), lr_final=validate.real("lr_final", lr_final, above=0, optional=True),
            batches_per_epoch=validate.size("batches_per_epoch", batches_per_epoch, optional=True),
            beta_warmup_epochs=validate.whole("beta_warmup_epochs", beta_warmup_epochs, minimum=-1),
            beta_ramp_batches=validate.size("beta_ramp_batches", beta_ramp_batches),
            split_seed=validate.seed("split_seed", split_seed, optional=True), split=_split(split),
            teacher_forcing=validate.real("teacher_forcing", teacher_forcing, minimum=0, maximum=1),
            val_rows=validate.size("val_rows", val_rows),
            test_rows=validate.size("test_rows", test_rows, optional=True), device=device, threads=threads,
            init=init, control_pairs=_control_pairs(control_pairs),
            revive_dead_logits=validate.flag("revive_dead_logits", revive_dead_logits))
        arrays = None
        if dataset:
            arrays = load_npz(dataset, required=("tokens", "factors"))
        card = train(spec, config, out, dataset=arrays, progress=not quiet)
        print(json.dumps(card["metrics"], indent=2))

    def evaluate(self, model: str, rows: int = None, prior_samples: int = 10_000, write_card: bool = False,
                 threads: int = None):
        """Score MODEL on its own test split and print the metrics; with --write-card also store
        them in its model card (the model file, MODEL.json and MODEL.md).

        Args:
            model: a model file written by `train-vae run`.
            rows: score only the first ROWS test melodies (default: all).
            prior_samples: decoded N(0, I) samples for the valid fraction.
            write_card: store the metrics in the model card (rewrites MODEL).
        """
        set_threads(threads)
        rows, prior_samples = validate.size("rows", rows, optional=True), validate.size("prior_samples", prior_samples)
        vae, card = load_model(model)
        split = card["split"]
        test = data.split_indices(data.NUM_MELODIES, split["seed"], tuple(split["fractions"]))[2][:rows]
        tokens = data.melody_tokens(data.factors_of(test))
        card["metrics"].update(evaluate(vae, tokens, prior_samples=prior_samples))
        print(json.dumps(card["metrics"], indent=2))
        if write_card:
            _write_card(vae, model, card)

    def dead(self, *models: str, rows: int = 4096, threads: int = None):
        """Tokens each model never reconstructs (dead ReLU logits, see `run --revive_dead_logits`),
        on its first ROWS validation melodies; writes nothing.

        Args:
            models: model files (.pt) or training checkpoints (.ckpt) of running runs.
            rows: validation melodies to reconstruct.
        """
        set_threads(threads)
        rows = validate.size("rows", rows)
        if not models:
            raise SentError("name at least one model file or checkpoint")
        for path in models:
            r = dead_token_report(path, rows)
            print(f"{path} ({r['epochs']} epochs): dead {', '.join(r['dead_tokens']) or 'none'}; in {r['holding']:.3f} "
                  f"of {r['rows']} validation melodies; melody accuracy {r['melody_accuracy']:.3f}, "
                  f"{r['accuracy_without']:.3f} without them", flush=True)

    def control(self, model: str, pairs: int = 500, seed: int = None, write_card: bool = False, threads: int = None):
        """Measure how far MODEL's decoder follows the latent dims that carry each attribute and
        print the figures; with --write-card also store them in its model card (the model file,
        MODEL.json and MODEL.md). See sent.dmelodies.control for the cases.

        For PAIRS fixed test pairs per attribute that differ in that attribute only, z1 takes z2's
        values in dim k only (regularised), all dims but k, the top-3 MI dims (SeNT's ceiling),
        all but those, or all (z2); each decoded attribute is scored like a SeNT edit.

        Args:
            model: a model file written by `train-vae run`.
            pairs: test pairs per attribute.
            seed: pair sampling and MI seed (default: the model's seed).
            write_card: store the figures in the model card (rewrites MODEL).
        """
        set_threads(threads)
        pairs = validate.whole("pairs", pairs, minimum=8)
        seed = validate.seed("seed", seed, optional=True)
        vae, card = load_model(model)
        card["control"] = _model_control(vae, card, pairs, seed)
        print("\n".join(markdown_table(card["control"])))
        if write_card:
            _write_card(vae, model, card)

    def compare(self, reference: str, other: str, tolerance: float = 0.05, pairs: int = None, seed: int = None,
                threads: int = None):
        """Do OTHER's decoder-control figures match REFERENCE's? Per attribute and case, both R^2
        and whether they lie within TOLERANCE; exits non-zero unless all do.

        The cards' figures come from 500 pairs per attribute, where one model on two samples of pairs
        can miss itself by more than 0.05 on many figures; --pairs measures both models anew on the
        same PAIRS pairs and the reference once more on a second sample, so that a mismatch on a
        figure the reference reproduces is a real difference.

        Args:
            reference: a model file or model card (.json) with control figures (`train-vae control`);
                a model file with --pairs.
            other: the same for the model to compare, e.g. a cheaper schedule's.
            tolerance: largest R^2 difference counted as a match.
            pairs: measure anew on this many test pairs per attribute (both must be model files).
            seed: pair sampling and MI seed of the measurement (default: the reference's seed);
                the reference's second sample uses SEED + 1.
        """
        import sys

        tolerance = validate.real("tolerance", tolerance, minimum=0)
        if pairs is None:
            figures = [_control_figures(path) for path in (reference, other)]
            result = compare_control(*figures, tolerance=tolerance)
            print(f"| attribute | case | {reference} R^2 | {other} R^2 | within {tolerance:g} |\n|---|---|---|---|---|")
        else:
            set_threads(threads)
            pairs = validate.whole("pairs", pairs, minimum=8)
            seed = validate.seed("seed", seed, optional=True)
            (ref_vae, ref_card), (other_vae, other_card) = load_model(reference), load_model(other)
            first_seed = ref_vae.spec.seed if seed is None else seed
            figures = [_model_control(vae, card, pairs, s) for vae, card, s in
                       ((ref_vae, ref_card, first_seed), (other_vae, other_card, first_seed),
                        (ref_vae, ref_card, first_seed + 1))]
            result = compare_control(*figures[:2], tolerance, figures[2])
            print(f"| attribute | case | {reference} R^2 | same, second pair sample | {other} R^2 | within {tolerance:g} |"
                  "\n|---|---|---|---|---|---|")
        for r in result["rows"]:
            values = [r[key] for key in ("reference", "reference_again", "other") if key in r]
            cells = " | ".join("–" if v is None else f"{v:.3f}" for v in values)
            print(f"| {r['attribute']} | {r['case']} | {cells} | {'yes' if r['match'] else 'no'} |")
        print(f"{result['matched']} of {result['compared']} figures within {tolerance:g}")
        if "steady" in result:
            print(f"the reference matches itself on {result['steady']} of {result['compared']} (pairs seeds "
                  f"{first_seed}, {first_seed + 1}); {result['differ']} of those differ in the other model")
        if result["matched"] < result["compared"]:
            sys.exit(1)

    def curves(self, out: str, *control_logs: str, labels: str = None, total_steps: str = None):
        """Plot the decoder control of training runs against their progress: OUT.png and OUT.pdf.

        Args:
            out: figure path without suffix.
            control_logs: OUT.control.csv files written by `train-vae run`.
            labels: comma-separated run names (default: the file names).
            total_steps: comma-separated step count of each run's whole schedule; the x axis is
                then the fraction of the schedule done, so runs of different lengths line up.
        """
        from pathlib import Path

        if not control_logs:
            raise SentError("curves: give at least one OUT.control.csv")
        names = list(validate.texts(labels)) if labels else [Path(p).name.removesuffix(".control.csv") for p in control_logs]
        try:
            totals = [float(t) for t in validate.items(total_steps)] if total_steps else [1.0] * len(control_logs)
        except ValueError:
            raise SentError(f"curves: --total_steps needs numbers, got {total_steps!r}") from None
        if len(names) != len(control_logs) or len(totals) != len(control_logs):
            raise SentError(f"curves: {len(control_logs)} logs but {len(names)} labels and {len(totals)} step counts")
        runs = {}
        for name, path, total in zip(names, control_logs, totals):
            frame = read_csv(path, required=("epoch", "step", "attribute", "kl", "beta", "regularised_hit",
                                             "mi-top3_hit", "all_hit", "readout_r2"))
            runs[name] = (frame["step"].to_numpy() / total, frame)
        written = control_curves(runs, Path(out), "fraction of the schedule" if total_steps else "optimiser step")
        print(", ".join(map(str, written)))

    def card(self, model: str):
        """Write the model card of MODEL next to it as MODEL.json and a readable MODEL.md."""
        _, card = load_model(model)
        print(", ".join(_card_files(model, card)))

    def disentanglement(self, model: str, rows: int = 201 * 512, seed: int = 0, write_card: bool = False,
                        threads: int = None):
        """Measure MODEL's disentanglement as the dMelodies benchmark reports it (MIG, Modularity,
        SAP, explicitness; see sent.core.disentanglement) and its reconstruction accuracy, on one
        seeded posterior sample of each of the first ROWS melodies of its own test split; print
        them, and with --write-card store them in its model card. About 10 minutes on one core.

        Args:
            model: a model file written by `train-vae run`.
            rows: test melodies (default 201 x 512, the benchmark's).
            seed: posterior sampling seed.
            write_card: store the figures in the model card (rewrites MODEL).
        """
        import numpy as np
        import torch

        set_threads(threads)
        rows, seed = validate.size("rows", rows), validate.seed("seed", seed)
        vae, card = load_model(model)
        test = test_rows(card)[:rows]
        codes = encode_rows(vae, test, use_mean=False, seed=seed)
        tokens = data.melody_tokens(data.factors_of(test))
        with torch.no_grad():
            decoded = np.concatenate([vae.decode_tokens(torch.as_tensor(codes[s:s + 4096])).numpy()
                                      for s in range(0, len(codes), 4096)])
        figures = {**metrics(codes, data.factors_of(test)), "reconstruction_accuracy": float(np.mean(decoded == tokens)),
                   "rows": int(len(test)), "seed": seed, "encoding": f"posterior sample (seed {seed})"}
        print(json.dumps(figures, indent=2))
        if write_card:
            _write_card(vae, model, {**card, "disentanglement": figures})

    def table(self, *models: str):
        """Print a markdown table of model files or cards (.pt or .json): schedule, training
        cost, test accuracies, prior validity, and whether each is shipped in prebuilt/vae/."""
        if not models:
            raise SentError("name at least one model file or card")
        cards = [load_json(m) if Path(m).suffix == ".json" else load_model(m)[1] for m in models]
        print(zoo_markdown(cards, {p.stem for p in MODELS.glob("*.pt")}), end="")

    def zoo(self):
        """Print the 36 model ids of the paper's zoo."""
        print("\n".join(zoo_ids()))



def main(argv=None):
    cli.main(TrainVAE, name="train-vae", argv=argv)
