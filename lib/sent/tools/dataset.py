"""Generate the full dMelodies data set (1,354,752 melodies) into one .npz file."""

import time

from sent.dmelodies import data
from sent.util import cli, validate
from sent.util.io import save_npz


def dataset(out: str = "dmelodies.npz"):
    """Write tokens (N x 16), factors (N x 9), attribute_names, token_names, token_midi to OUT.

    Args:
        out: path of the .npz to write (atomically).
    """
    validate.output_file(out, "out")
    start = time.perf_counter()
    arrays = data.generate()
    save_npz(out, **arrays)
    print(f"{out}: {len(arrays['tokens']):,} melodies in {time.perf_counter() - start:.1f} s")



def main(argv=None):
    cli.main(dataset, name="dataset", argv=argv)
