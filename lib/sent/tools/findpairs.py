"""Greedy no-repeat attribute-change pairs per attribute (SeNT step 2), Numba-jitted and exact."""

import time

import numpy as np

from sent.core.pairs import find_pairs, normalise
from sent.core.repository import read_pairs_text, save_pairs
from sent.dmelodies import data
from sent.util import cli, validate
from sent.util.cli import set_threads
from sent.util.errors import SentError
from sent.util.io import load_npz


def run(source: str = None, out: str = "pairs", split_seed: int = None, attribute=None, threshold: float = 0.0,
        limit: int = 300_000, categorical: bool = False, threads: int = None):
    """Write OUT/p_<k>.csv (rows i,j,distance in the order found) and OUT/pairs.npz.

    The attributes come from SOURCE (an `extract` .npz, or the original text format: a line
    `rows cols`, then one row per line) or, with --split-seed, from the test split of that seed
    directly: pairs depend only on attributes, so one run serves every model of that seed.
    Distance is Euclidean over the normalised other attributes (categorical: their count of
    differences).

    Args:
        source: .npz with `attributes`, or a text file.
        out: output directory.
        split_seed: use the test split of this data split seed instead of SOURCE.
        attribute: one attribute (name or index) or several (3,4); default all.
        threshold: maximum distance over the other attributes (0 = exact match).
        limit: maximum pairs per attribute.
        categorical: count differing attributes instead of Euclidean distance.
    """
    set_threads(threads)
    if (source is None) == (split_seed is None):
        raise SentError("give either SOURCE or --split-seed")
    split_seed = validate.seed("split_seed", split_seed, optional=True)
    threshold, limit = validate.real("threshold", threshold, minimum=0), validate.size("limit", limit)
    validate.output_dir(out, "out")
    if split_seed is not None:
        attributes = data.factors_of(data.split_indices(seed=int(split_seed))[2])
        names = list(data.ATTRIBUTE_NAMES)
    elif str(source).endswith(".npz"):
        arrays = load_npz(source, required=("attributes",))
        attributes = arrays["attributes"]
        names = [str(n) for n in arrays.get("fNames", data.ATTRIBUTE_NAMES)]
    else:
        attributes = read_pairs_text(source)
        names = [f"f{k}" for k in range(attributes.shape[1])]
    if attributes.ndim != 2 or len(names) != attributes.shape[1]:
        raise SentError(f"{source}: attributes of shape {attributes.shape} do not match {len(names)} names")
    if names == list(data.ATTRIBUTE_NAMES):  # dMelodies attributes: value indices within each range
        bad = (attributes != np.round(attributes)) | (attributes < 0) | (attributes >= np.array(data.FACTOR_COUNTS))
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            raise SentError(f"{source}: row {row} has {names[col]} = {attributes[row, col]}, not a value index "
                            f"0..{data.FACTOR_COUNTS[col] - 1} ({int(bad.sum())} such entries)")
    requested = attribute if isinstance(attribute, (list, tuple)) else [attribute]
    if attribute is None:
        wanted = range(attributes.shape[1])
    elif names == list(data.ATTRIBUTE_NAMES):
        wanted = [data.attribute_index(a) for a in requested]
    else:  # a plug-in's attributes (by name or index), or unnamed columns of a text file
        wanted = [names.index(a) if isinstance(a, str) and a in names else
                  validate.whole("attribute", a, minimum=0, maximum=attributes.shape[1] - 1) for a in requested]
    x, _ = normalise(attributes)
    results = {}
    for k in wanted:
        start = time.perf_counter()
        results[k] = find_pairs(x, k, threshold, limit, categorical)
        print(f"{names[k]}: {len(results[k][0]):,} pairs in {time.perf_counter() - start:.2f} s")
    save_pairs(out, np.asarray(attributes), names, results, threshold, limit, categorical)



def main(argv=None):
    cli.main(run, name="findpairs", argv=argv)
