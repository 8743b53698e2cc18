"""Train the SeNT traversal function of a repository for one or all attributes (SeNT step 6)."""

from sent.core.repository import Repository
from sent.core.traversal import SCHEDULES, SELECTIONS, SentOptions, train_sent
from sent.util import cli, validate
from sent.util.cli import set_threads
from sent.util.errors import SentError


def run(repository: str, model: str, attribute=None, variant: str = "", epochs: int = 400, batch_size: int = 64,
        lr=1e-3, lambdas=(1.0, 1.0, 1.0), one_hot: bool = False, simulate: bool = False, iscale: int = 1,
        pre_stages: bool = False, with_target: bool = False, max_pairs: int = None, seed: int = 0,
        steps: int = None, schedule: str = "constant", validation: int = None,
        score_every: int = None, select: str = "loss", threads: int = None, verbose: bool = False):
    """Write sent_<k>.model (best epoch) and train_<k>.csv (epoch, loss, lossR, lossI, lossC, best);
    with --validation also curve_<k>.csv (step, training seconds, validation r2, valid, lossC,
    lossR, lossI, loss).

    Loss = l1 MSE on the relevant dims (corr_index_<k>.txt, towards z2) + l2 MSE on the irrelevant
    dims (towards z1) + l3 lossC, the perceptual loss: MODEL's decoder and the attribute extractor
    give its value, the surrogate sent_ZC_<k>.model its gradient.

    Args:
        repository: a repository with corr/uncorr index files and surrogates.
        model: the VAE model file the repository's latent codes came from.
        attribute: name or index; default all nine.
        variant: the original run-name letters: h one-hot, s simulate, i wider, p pre-stages,
            c with target ("e" is the repository's pair split and is accepted here).
        lr: Adam's learning rate, or several (e.g. 3e-3,1e-3): one function is trained per rate and
            the one of lowest selected validation score kept (needs --select validation or
            validation-loss).
        seed: the initial network's seed, or several (e.g. 0,1,2): one function per seed and rate,
            the one of lowest selected validation score kept (needs --select validation or
            validation-loss), for an attribute whose function can stall on a plateau.
        lambdas: l1,l2,l3.
        simulate: lossC from the surrogate only, no decoding (variant "s").
        iscale: internal width multiplier (variant "i" = 2).
        max_pairs: train on at most this many training pairs.
        steps: stop after this many optimiser steps (default: all epochs).
        schedule: constant, or cosine (the learning rate decays to 0 over the run).
        validation: hold out the last this-many training pairs and score the function on them.
        score_every: steps between validation scores (default: every epoch).
        select: loss (the epoch of lowest mean training loss, the paper's choice), validation
            (the scored step of lowest validation perceptual loss lossC) or validation-loss (of
            lowest validation lossR + lossI + lossC, the training objective with the decoded
            lossC; lossC alone can keep an early network that moves the irrelevant dims);
            both need --validation.
    """
    set_threads(threads)
    lrs = validate.positive_reals("lr", lr)
    if not lrs:
        raise SentError("--lr needs at least one learning rate")
    seeds = _seeds(seed)
    common = dict(epochs=validate.size("epochs", epochs), batch_size=validate.size("batch_size", batch_size),
                  lr=lrs[0], lambdas=_lambdas(lambdas), max_pairs=validate.size("max_pairs", max_pairs, optional=True),
                  seed=seeds[0], **_levers(steps, schedule, validation, score_every, select, lrs, seeds))
    if variant:
        options = SentOptions.from_letters(str(variant), **common)
    else:
        options = SentOptions(one_hot=one_hot, simulate=simulate, iscale=validate.size("iscale", iscale),
                              pre_stages=pre_stages, with_target=with_target, **common)
    repo = Repository(repository)
    vae, card = repo.load_model(model)
    for k in repo.attributes_to_run(attribute):
        summary = train_sent(repo, k, vae, options, progress=verbose, lrs=lrs, seeds=seeds)
        share = summary["extract_seconds"] / summary["seconds"] if summary["seconds"] else 0.0
        print(f"{repo.names[k]}: best loss {summary['best_loss']:.4f}{_chosen(summary, lrs, seeds)} after "
              f"{summary['steps']} steps in {summary['seconds']:.1f} s (attribute extraction {100 * share:.1f}% of it)")


def _chosen(summary: dict, lrs: tuple, seeds: tuple) -> str:
    """Which candidate was kept, and every candidate's score, when there were several."""
    if len(lrs) == len(seeds) == 1:
        return ""
    def name(c: dict) -> str:  # the seed only where it varies
        return f"{c['lr']:g}" + (f"/{c['seed']}" if len(seeds) > 1 else "")
    kept = summary["options"]
    seed = f" seed {kept['seed']}" if len(seeds) > 1 else ""
    return (f" at lr {kept['lr']:g}{seed} (of " +
            ", ".join(f"{name(c)}: {c['loss']:.4f}" for c in summary["candidates"]) + ")")


def _seeds(seed) -> tuple[int, ...]:
    seeds = tuple(validate.seed("seed", s) for s in validate.items(seed))
    if not seeds:
        raise SentError("--seed needs at least one seed")
    return seeds


def _lambdas(lambdas) -> tuple[float, float, float]:
    values = validate.items(lambdas)
    if len(values) != 3:
        raise SentError(f"--lambdas needs three numbers l1,l2,l3, got {values!r}")
    return tuple(float(validate.real("lambdas", v, minimum=0)) for v in values)


def _levers(steps, schedule, validation, score_every, select, lrs, seeds) -> dict:
    """The run-length, schedule and selection options, checked together."""
    levers = dict(steps=validate.size("steps", steps, optional=True),
                  schedule=validate.choice("schedule", schedule, SCHEDULES),
                  validation=validate.size("validation", validation, optional=True) or 0,
                  score_every=validate.size("score_every", score_every, optional=True) or 0,
                  select=validate.choice("select", select, SELECTIONS))
    if levers["select"] != "loss" and not levers["validation"]:
        raise SentError(f"--select {levers['select']} needs held-out pairs: give --validation N")
    if len(lrs) > 1 and levers["select"] == "loss":
        raise SentError(f"--lr {','.join(f'{v:g}' for v in lrs)}: several learning rates need --select validation or "
                        f"validation-loss (and --validation N) to choose between them")
    if len(seeds) > 1 and levers["select"] == "loss":
        raise SentError(f"--seed {','.join(map(str, seeds))}: several seeds need --select validation or "
                        f"validation-loss (and --validation N) to choose between them")
    return levers


def main(argv=None):
    cli.main(run, name="train-sent", argv=argv)
