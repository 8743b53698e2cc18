"""Mutual information of each latent dim with an attribute; relevant/irrelevant dims (SeNT step 4)."""

from sent.core.mi import relevant_dims
from sent.core.repository import Repository
from sent.util import cli, validate
from sent.util.cli import set_threads


def run(repository: str, attribute=None, gamma: int = 3, max_samples: int = None, n_neighbors: int = 10,
        seed: int = 0, threads: int = None):
    """Write corr_index_<k>.txt (top GAMMA dims), uncorr_index_<k>.txt, mi_<k>.csv and mi_<k>.png.

    MI is scikit-learn's mutual_info_regression (continuous, N_NEIGHBORS) between each latent dim
    of z1 and the attribute c1 over the attribute's training pairs.

    Args:
        repository: a repository directory made by `init`.
        attribute: name or index; default all nine.
        gamma: number of relevant dims.
        max_samples: estimate on a random subset of this many pairs (default: all, as the paper).
        seed: seed of the subset and of scikit-learn's noise.
    """
    set_threads(threads)
    gamma, n_neighbors = validate.size("gamma", gamma), validate.size("n_neighbors", n_neighbors)
    max_samples, seed = validate.size("max_samples", max_samples, optional=True), validate.seed("seed", seed)
    repo = Repository(repository)
    for k in repo.attributes_to_run(attribute):
        mi, corr, _ = relevant_dims(repo, k, gamma=gamma, max_samples=max_samples, seed=seed,
                                    n_neighbors=n_neighbors)
        print(f"{repo.names[k]}: relevant dims {corr.tolist()} (MI {', '.join(f'{mi[d]:.3f}' for d in corr)})")



def main(argv=None):
    cli.main(run, name="mi", argv=argv)
