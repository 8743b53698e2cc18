import fcntl
import os
import re
import shutil
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

# `make test` runs the tests in one pytest-xdist worker per core. A worker then keeps to one
# thread, it and the tools it starts (torch, MKL and numba's OpenMP layer): OpenMP threads that
# spin while waiting for a busy core slowed the tests several-fold on an oversubscribed machine.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")


def _shared_path(tmp_path_factory, name: str) -> Path:
    """A path that every xdist worker of this run sees (the run's base temp directory), so that
    what one worker builds the others reuse."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / name


def build_once(tmp_path_factory, name: str, build) -> Path:
    """The file NAME, built by build(path) in the first worker that asks and then reused: the
    others wait on a lock meanwhile. build must write the file atomically."""
    path = _shared_path(tmp_path_factory, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            build(path)
    return path


@pytest.fixture(scope="session")
def dataset():
    from sent.dmelodies import data

    return data.generate()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, request):
    """A small s2-VAE trained for a few dozen steps: a real model file for the SeNT tools."""
    from sent.dmelodies.training import TrainConfig, train
    from sent.dmelodies.vae import ModelSpec

    def build(out):
        config = TrainConfig(epochs=2, batch_size=128, lr=3e-3, batches_per_epoch=40, beta_warmup_epochs=0,
                             beta_ramp_batches=40, val_rows=256, test_rows=2048, control_pairs=50)
        train(ModelSpec.parse(out.stem), config, out, dataset=request.getfixturevalue("dataset"), progress=False)

    return build_once(tmp_path_factory, "vae/s2-VAE_b_0.2_c_50.0_g_10.0_r_0.pt", build)


@pytest.fixture(scope="session")
def tiny_latents(tmp_path_factory, tiny_model):
    """The tiny model's latents of the first TINY_ROWS test melodies and their pairs
    (helpers.extract_and_pair), made once for every module that builds a repository of them."""
    from helpers import TINY_ROWS, extract_and_pair

    def build(d):
        part = d.with_name(d.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir()
        extract_and_pair(part, tiny_model, TINY_ROWS)
        part.rename(d)

    return build_once(tmp_path_factory, "tiny-latents", build)
