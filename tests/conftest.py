import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def dataset():
    from sent import data

    return data.generate()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, dataset):
    """A small s2-VAE trained for a few dozen steps: a real model file for the SeNT tools."""
    from sent.vae import ModelSpec
    from sent.vae_training import TrainConfig, train

    out = tmp_path_factory.mktemp("vae") / "s2-VAE_b_0.2_c_50.0_g_10.0_r_0.pt"
    config = TrainConfig(epochs=2, batch_size=128, lr=3e-3, batches_per_epoch=40, beta_warmup_epochs=0,
                         beta_ramp_batches=40, val_rows=256, test_rows=2048, control_pairs=50)
    train(ModelSpec.parse(out.stem), config, out, dataset=dataset, progress=False)
    return out
