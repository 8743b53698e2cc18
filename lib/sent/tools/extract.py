"""Encode a model's test split: latent codes and ground-truth attributes into one .npz (SeNT step 1)."""

from sent.core.latents import extract
from sent.util import cli, validate
from sent.util.cli import set_threads


def run(model: str, out: str = "latents.npz", mean: bool = False, seed: int = 0, limit: int = None,
        batch_size: int = 4096, threads: int = None, quiet: bool = False, plugin: str = None):
    """Write OUT with latent_codes (N x 32 float32), attributes (N x 9), fNames, rows, model_id.

    Rows are the model's test split in split order, encoded in eval mode. By default each code is
    one posterior sample (z = mean + std * eps, eps seeded by SEED), as the paper's extraction did;
    --mean stores the posterior mean instead.

    Args:
        model: a model file from `train-vae` (e.g. prebuilt/vae/<id>.pt).
        out: .npz to write (atomically).
        mean: store the posterior mean instead of a sample.
        seed: seed of the posterior samples.
        limit: encode only the first LIMIT test rows.
        batch_size: melodies per encoder batch.
        threads: torch threads.
        plugin: a plug-in (.py file or module name, see docs/plugins.md) whose model,
            test items and attributes to use instead of the built-in dMelodies VAE zoo; every later
            step takes it from the repository.
    """
    set_threads(threads)
    seed, limit = validate.seed("seed", seed), validate.size("limit", limit, optional=True)
    batch_size = validate.size("batch_size", batch_size)
    validate.output_file(out, "out")
    arrays = extract(model, out, use_mean=mean, seed=seed, limit=limit, batch_size=batch_size, progress=not quiet,
                     plugin=plugin)
    print(f"{out}: {len(arrays['rows']):,} latent codes of {arrays['model_id']} ({arrays['encoding']})")



def main(argv=None):
    cli.main(run, name="extract", argv=argv)
