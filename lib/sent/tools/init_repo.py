"""Initialise a SeNT repository: config.json for one model's latents and its pairs (SeNT step 3)."""

import json

from sent.core.repository import init_repository
from sent.util import cli, validate


def run(repository: str, source: str, pairs: str, extended: bool = True):
    """Write REPOSITORY/config.json (source, pairs, sRange, fRange, fNames, length, nFeatures, ttPairs).

    Args:
        repository: directory of the repository (created if missing).
        source: the model's `extract` .npz.
        pairs: the `findpairs` pairs.npz computed from the same attributes.
            A relative SOURCE or PAIRS is stored relative to the repository, so that the tree
            can be moved or copied as a whole; an absolute one is stored as given.
        extended: split each attribute's pairs 80/20 into train/test (the paper's "e");
            --noextended takes the first 32,000 for training and the next 10,000 for testing.
    """
    validate.output_dir(repository, "repository")
    config = init_repository(repository, source, pairs, extended=extended)
    sizes = {name: [b - a for a, b in tt] for name, tt in zip(config["fNames"], config["ttPairs"])}
    print(f"{repository}/config.json: {config['length']:,} codes; train/test pairs {json.dumps(sizes)}")



def main(argv=None):
    cli.main(run, name="init-repo", argv=argv)
