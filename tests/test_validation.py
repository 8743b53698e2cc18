"""Bad arguments: one validation layer (sent.util.validate), and every tool ending with one line
`tool: error: ...`, exit code 2 and nothing written."""

import os

import pytest
from helpers import ROOT, run_tool, run_tool_in_process

from sent.dmelodies import data
from sent.util import validate
from sent.util.errors import SentError

MODEL = ROOT / "prebuilt" / "vae" / "s2-VAE_b_0.2_c_50.0_g_10.0_r_0.pt"
MODEL_ID = "s2-VAE_b_0.2_c_50.0_g_10.0_r_0"


@pytest.mark.parametrize("value, kwargs, expected", [
    (3, {}, 3), (3.0, {}, 3), (0, {"minimum": 0}, 0), (None, {"optional": True}, None), (16, {"maximum": 16}, 16),
])
def test_whole_accepts(value, kwargs, expected):
    assert validate.whole("n", value, **kwargs) == expected


@pytest.mark.parametrize("value, kwargs, message", [
    ("abc", {}, "--n must be a whole number, got 'abc'"),
    (2.7, {}, "--n must be a whole number, got 2.7"),
    (True, {}, "--n must be a whole number, got True"),
    (float("nan"), {}, "whole number, got nan"),
    (float("inf"), {}, "whole number, got inf"),
    (None, {}, "whole number, got None"),
    (-5, {"minimum": 1}, "--n must be at least 1, got -5"),
    (17, {"maximum": 16}, "--n must be at most 16, got 17"),
])
def test_whole_refuses(value, kwargs, message):
    with pytest.raises(SentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate.whole("n", value, **kwargs)


@pytest.mark.parametrize("value, kwargs, message", [
    (0, {}, "at least 1, got 0"), (-4, {}, "at least 1, got -4"), (0, {"optional": True}, "at least 1, got 0"),
])
def test_sizes_are_never_zero_or_negative(value, kwargs, message):
    with pytest.raises(SentError, match=message):
        validate.size("n", value, **kwargs)


@pytest.mark.parametrize("value, kwargs, message", [
    ("fast", {}, "--x must be a finite number, got 'fast'"),
    (float("nan"), {}, "finite number, got nan"),
    (-1.0, {"minimum": 0}, "at least 0, got -1.0"),
    (1.5, {"maximum": 1}, "at most 1, got 1.5"),
    (0.0, {"above": 0}, "greater than 0, got 0.0"),
])
def test_real_refuses(value, kwargs, message):
    with pytest.raises(SentError, match=message):
        validate.real("x", value, **kwargs)


def test_seeds_and_reals_accept():
    assert validate.seed("seed", 0) == 0 and validate.real("lr", 1e-3, above=0) == 1e-3
    with pytest.raises(SentError, match="at least 0, got -1"):
        validate.seed("split_seed", -1)


def test_comma_separated_items_as_numbers_or_as_text():
    # a string reaches the tool when fire could not make every item a number
    assert validate.items("3e-3,fast") == (3e-3, "fast") and validate.items((1, 2)) == (1, 2)
    assert validate.texts("1,quarter") == ("1", "quarter") and validate.texts((1, "b")) == ("1", "b")
    assert validate.items("") == () == validate.texts(" ") and validate.texts(2) == ("2",)


def test_output_paths(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SentError, match="is a directory"):
        validate.output_file(tmp_path, "out")
    with pytest.raises(SentError, match="is a file, not a directory"):
        validate.output_file(tmp_path / "file" / "m.pt", "out")
    with pytest.raises(SentError, match="is a file; --out needs a directory"):
        validate.output_dir(tmp_path / "file", "out")
    assert validate.output_file(tmp_path / "new" / "deeper" / "m.pt") == tmp_path / "new" / "deeper" / "m.pt"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(SentError, match="is not writable"):
            validate.output_file(locked / "m.pt")


@pytest.mark.parametrize("value", [2.7, True, -1, 9, "nine", None])
def test_attribute_indices_are_whole_and_in_range(value):
    with pytest.raises(SentError, match="unknown attribute"):
        data.attribute_index(value)
    assert data.attribute_index(2.0) == 2 and data.attribute_index("scale") == 2


# (tool and arguments, with {out} for a fresh output path and {file} for an existing plain file;
#  fragment of the one-line message)
CASES = [
    (["dataset", "--out", "{tmp}"], "is a directory"),
    (["dataset", "--out", "{file}/d.npz"], "is a file, not a directory"),
    (["extract", MODEL, "--out", "{out}", "--limit", "-5"], "--limit must be at least 1, got -5"),
    (["extract", MODEL, "--out", "{out}", "--limit", "0"], "--limit must be at least 1, got 0"),
    (["extract", MODEL, "--out", "{out}", "--limit", "abc"], "--limit must be a whole number, got 'abc'"),
    (["extract", MODEL, "--out", "{out}", "--limit", "2.7"], "--limit must be a whole number, got 2.7"),
    (["extract", MODEL, "--out", "{out}", "--batch_size", "0"], "--batch_size must be at least 1"),
    (["extract", MODEL, "--out", "{out}", "--seed", "-1"], "--seed must be at least 0"),
    (["extract", MODEL, "--out", "{out}", "--threads", "-1"], "--threads must be at least 1, got -1"),
    (["extract", MODEL, "--out", "{out}", "--threads", "two"], "--threads must be a whole number"),
    (["extract", MODEL, "--out", "{tmp}"], "is a directory"),
    (["extract", "{file}", "--out", "{out}"], "not a readable model file"),
    (["findpairs", "--split-seed", "-1", "--out", "{out}"], "--split_seed must be at least 0"),
    (["findpairs", "--split-seed", "0", "--out", "{out}", "--threshold", "nan"], "--threshold must be a finite number"),
    (["findpairs", "--split-seed", "0", "--out", "{out}", "--threshold", "-0.1"], "--threshold must be at least 0"),
    (["findpairs", "--split-seed", "0", "--out", "{out}", "--limit", "-5"], "--limit must be at least 1"),
    (["findpairs", "--split-seed", "0", "--out", "{out}", "--attribute", "2.7"], "unknown attribute 2.7"),
    (["findpairs", "--split-seed", "0", "--out", "{file}"], "is a file; --out needs a directory"),
    (["findpairs", "{attrs99}", "--out", "{out}"], "not a value index 0..2"),
    (["findpairs", "{generic}", "--out", "{out}", "--attribute", "1.5"], "--attribute must be a whole number"),
    (["findpairs", "{generic}", "--out", "{out}", "--attribute", "7"], "--attribute must be at most 2"),
    (["init-repo", "{file}", "{tmp}/latents.npz", "{tmp}/pairs.npz"], "is a file; --repository needs a directory"),
    (["mi", "{tmp}/nowhere", "--gamma", "0"], "--gamma must be at least 1"),
    (["mi", "{tmp}/nowhere", "--max_samples", "-5"], "--max_samples must be at least 1"),
    (["mi", "{tmp}/nowhere", "--n_neighbors", "abc"], "--n_neighbors must be a whole number"),
    (["train-zc", "{tmp}/nowhere", "-e", "abc"], "--epochs must be a whole number"),
    (["train-zc", "{tmp}/nowhere", "-b", "-4"], "--batch_size must be at least 1, got -4"),
    (["train-zc", "{tmp}/nowhere", "--lr", "fast"], "--lr must be a finite number"),
    (["train-zc", "{tmp}/nowhere", "--lr", "0"], "--lr must be greater than 0"),
    (["train-zc", "{tmp}/nowhere", "--max_pairs", "-5"], "--max_pairs must be at least 1"),
    (["train-zc", "{tmp}/nowhere", "--max_restarts", "-1"], "--max_restarts must be at least 0"),
    (["train-zc", "{tmp}/nowhere", "--target_loss", "nan"], "--target_loss must be a finite number"),
    (["train-sent", "{tmp}/nowhere", MODEL, "-b", "-4"], "--batch_size must be at least 1, got -4"),
    (["train-sent", "{tmp}/nowhere", MODEL, "-e", "0"], "--epochs must be at least 1, got 0"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--lambdas", "1,1"], "--lambdas needs three numbers"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--lambdas", "1,a,1"], "--lambdas must be a finite number, got 'a'"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--lambdas", "1,-1,1"], "--lambdas must be at least 0"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--iscale", "0"], "--iscale must be at least 1"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--lr", "3e-3,fast"], "--lr must be a finite number, got 'fast'"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--lr", "3e-3,0"], "--lr must be greater than 0"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--seed", "1.5"], "--seed must be a whole number"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--steps", "0"], "--steps must be at least 1, got 0"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--validation", "0"], "--validation must be at least 1, got 0"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--score_every", "2.5"], "--score_every must be a whole number"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--schedule", "linear"],
     "--schedule must be one of constant, cosine, got 'linear'"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--select", "best"], "--select must be one of loss, validation"),
    (["train-sent", "{tmp}/nowhere", MODEL, "--select", "validation"], "--select validation needs held-out pairs"),
    (["evaluate", "{tmp}/nowhere", MODEL, "--examples", "abc"], "--examples must be a whole number"),
    (["evaluate", "{tmp}/nowhere", MODEL, "--examples", "-2"], "--examples must be at least 0"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}.pt", "--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}.pt", "--batch_size", "0"], "--batch_size must be at least 1"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}.pt", "--val_rows", "0"], "--val_rows must be at least 1"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}.pt", "--split_seed", "-1"], "--split_seed must be at least 0"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}.pt", "--teacher_forcing", "1.5"], "--teacher_forcing must be at most 1"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}.pt", "--lr", "-1"], "--lr must be greater than 0"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}.pt", "--control_pairs", "3"], "--control_pairs must be 0 (no log)"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}.pt", "--revive_dead_logits", "yes"],
     "--revive_dead_logits is a switch"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}.pt", "--split", "0.7,a,0.25"], "--split needs three fractions"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}.pt", "--split", "0.7,0.3"], "--split needs three fractions"),
    (["train-vae", "run", MODEL_ID, "--out", "{out}"], "must end in .pt"),
    (["train-vae", "run", MODEL_ID, "--out", "{tmp}"], "must end in .pt"),
    (["train-vae", "run", "s2-VAE_b_1_c_50_g_10_r_0", "--out", "{out}.pt"], "unknown model id"),
    (["train-vae", "control", MODEL, "--pairs", "4"], "--pairs must be at least 8"),
    (["train-vae", "compare", MODEL, MODEL, "--pairs", "4"], "--pairs must be at least 8"),
    (["train-vae", "compare", MODEL, MODEL, "--pairs", "8", "--seed", "-2"], "--seed must be at least 0"),
    (["train-vae", "evaluate", MODEL, "--rows", "0"], "--rows must be at least 1"),
    (["perform", "tables", "{tmp}/nowhere", "--reference", "{tmp}/nonexistent", "--out", "{out}"],
     "nonexistent/table-r2.csv: no such file"),
    (["perform", "run", "{tmp}/nowhere", "--attribute", "2.5"], "--attribute must be a whole number"),
    (["traverse", "4242", MODEL, "{tmp}/nowhere", "scale", "--value", "minor", "--out", "{file}"],
     "is a file; --out needs a directory"),
    (["traverse", "4242", MODEL, "{tmp}/nowhere", "scale", "--value", "minor", "--min_reconstruction", "17",
      "--out", "{out}"], "--min_reconstruction must be at most 16"),
    (["traverse", "4242", MODEL, "{tmp}/nowhere", "scale", "--value", "minor", "--threads", "0", "--out", "{out}"],
     "--threads must be at least 1"),
]


def test_a_real_process_gets_the_same_line_and_exit_code(tmp_path):
    proc = run_tool("train-sent", tmp_path / "nowhere", MODEL, "-b", "-4", check=False)
    assert proc.returncode == 2
    assert proc.stderr == "train-sent: error: --batch_size must be at least 1, got -4\n"


@pytest.mark.parametrize("args, message", CASES, ids=[f"{c[0][0]}-{i}" for i, c in enumerate(CASES)])
def test_tools_refuse_bad_arguments_in_one_line_and_write_nothing(args, message, tmp_path):
    import numpy as np

    from sent.util.io import save_npz

    (tmp_path / "file").write_text("not a model")
    attrs = data.factors_of(np.arange(50))
    attrs[7, 2] = 99
    save_npz(tmp_path / "attrs99.npz", attributes=attrs, fNames=np.array(data.ATTRIBUTE_NAMES))
    save_npz(tmp_path / "generic.npz", attributes=np.random.default_rng(0).random((40, 3)),
             fNames=np.array(["a", "b", "c"]))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    filled = [str(a).format(tmp=tmp_path, out=tmp_path / "out", file=tmp_path / "file",
                            attrs99=tmp_path / "attrs99.npz", generic=tmp_path / "generic.npz") for a in args]
    code, _, stderr = run_tool_in_process(filled[0], *filled[1:])
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith(f"{filled[0]}: error: ") and message in lines[0], stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_a_full_disk_is_one_line_naming_the_output(tmp_path, monkeypatch):
    import errno

    import numpy as np

    def no_space(fh, **arrays):  # what a write on a full disk raises: no file name
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez_compressed", no_space)
    code, _, stderr = run_tool_in_process("dataset", "--out", tmp_path / "d.npz")
    assert code == 2 and stderr == f"dataset: error: {tmp_path / 'd.npz'}: No space left on device\n"
    assert not list(tmp_path.iterdir())
