import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _test_profile_env() -> dict:
    """The env block of conf/test.config: the scalar float kernels the test profile pins."""
    text = (Path(__file__).resolve().parents[1] / "conf" / "test.config").read_text()
    block = re.search(r"^env \{(.*?)^\}", text, re.S | re.M).group(1)
    return dict(re.findall(r"(\w+)\s*=\s*'([^']*)'", block))


# Set before torch loads (here and in every tool the tests start): the tiny models trained in the
# tests, and every result checked on them, then come out the same on any x86 CPU. Unpinned, an
# AVX-512 machine trained a tiny VAE that decodes no valid rhythm, where others' did.
os.environ.update(_test_profile_env())


@pytest.fixture(scope="session")
def dataset():
    from sent.dmelodies import data

    return data.generate()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, dataset):
    """A small s2-VAE trained for a few dozen steps: a real model file for the SeNT tools."""
    from sent.dmelodies.training import TrainConfig, train
    from sent.dmelodies.vae import ModelSpec

    out = tmp_path_factory.mktemp("vae") / "s2-VAE_b_0.2_c_50.0_g_10.0_r_0.pt"
    config = TrainConfig(epochs=2, batch_size=128, lr=3e-3, batches_per_epoch=40, beta_warmup_epochs=0,
                         beta_ramp_batches=40, val_rows=256, test_rows=2048, control_pairs=50)
    train(ModelSpec.parse(out.stem), config, out, dataset=dataset, progress=False)
    return out
