"""Train the ZtoC surrogate (z -> attribute) of a repository for one or all attributes (SeNT step 5)."""

import sys

from sent.core.repository import Repository
from sent.core.traversal import train_zc
from sent.util import cli, validate
from sent.util.cli import set_threads


def run(repository: str, attribute=None, epochs: int = 400, batch_size: int = 64, lr: float = 0.002,
        target_loss: float = 0.01, max_restarts: int = 10, one_hot: bool = False, max_pairs: int = None,
        seed: int = 0, threads: int = None, verbose: bool = False):
    """Write sent_ZC_<k>.model (the best epoch) and train_zc_<k>.csv into REPOSITORY.

    Each batch backpropagates MSE(zc(z1), c1) and MSE(zc(z2), c2) before the Adam step. Training
    restarts with a fresh model until the best epoch loss is below TARGET_LOSS, at most
    MAX_RESTARTS times; a line per restart goes to stderr, and a warning when the target is
    missed.

    Args:
        repository: a repository directory made by `init`.
        attribute: name or index; default all nine.
        one_hot: one-hot attribute encoding (variant "h"); must match train-sent's.
        max_pairs: train on at most this many training pairs.
    """
    set_threads(threads)
    epochs, batch_size = validate.size("epochs", epochs), validate.size("batch_size", batch_size)
    lr, target_loss = validate.real("lr", lr, above=0), validate.real("target_loss", target_loss, minimum=0)
    max_restarts = validate.whole("max_restarts", max_restarts, minimum=0)
    max_pairs, seed = validate.size("max_pairs", max_pairs, optional=True), validate.seed("seed", seed)
    repo = Repository(repository)
    for k in repo.attributes_to_run(attribute):
        meta = train_zc(repo, k, epochs=epochs, batch_size=batch_size, lr=lr, target_loss=target_loss,
                        max_restarts=max_restarts, one_hot=one_hot, max_pairs=max_pairs, seed=seed, progress=verbose,
                        log=lambda line: print(line, file=sys.stderr, flush=True))
        print(f"{repo.names[k]}: surrogate best loss {meta['best_loss']:.3g} after {meta['restarts']} restart(s)")
        if not meta["reached"]:
            print(f"{repo.names[k]}: warning: the surrogate missed its target loss {target_loss:g} "
                  f"(best {meta['best_loss']:.3g}); SeNT's perceptual loss follows its gradient, so "
                  f"consider more --epochs or --max_restarts", file=sys.stderr)



def main(argv=None):
    cli.main(run, name="train-zc", argv=argv)
