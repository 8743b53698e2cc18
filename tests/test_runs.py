"""runs/resume, which keeps the long VAE trainings going across restarts, runs/checkpoints, which
carries their checkpoints, runs/finish, which takes a finished one through its card, SeNT and
disentanglement, and runs/publish, which regenerates the published tables. Each runs on a copy in a
temporary directory (the first three with stand-ins for python, a "training" of 3 seconds, and for
SeNT's pipeline), so no real run is touched."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from helpers import ROOT, published_cards

SEED1 = "ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0_r_1"  # the run in quarter-seed1/
BETA = "beta-VAE_b_0.2_c_50.0_r_0"  # the run in its own directory, listed after quarter-seed1
# called as: PY -m sent.tools train-vae run ID --out ID.pt ...; writes ID.pt unless FAKE_CRASH names ID
FAKE_PYTHON = """#!/usr/bin/env bash
echo "training $5 ($*)"
sleep 3  # still training at runs/resume's next checks (FOLLOW_SECONDS apart)
[ "$5" = "${FAKE_CRASH:-}" ] && exit 1
touch "$7"
"""


def _resume(tmp_path, *runs, **env):
    (tmp_path / "runs").mkdir(exist_ok=True)
    shutil.copy(ROOT / "runs" / "resume", tmp_path / "runs" / "resume")
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    env = {**os.environ, "PY": str(fake), "FOLLOW": "1", "FOLLOW_SECONDS": "0.2", **env}
    return subprocess.run([str(tmp_path / "runs" / "resume"), *runs], env=env, capture_output=True, text=True,
                          timeout=120)


def test_follow_starts_the_next_run_when_one_finishes(tmp_path):
    done = _resume(tmp_path, "quarter-seed1", BETA, RUNS_AT_ONCE="1", THREADS="2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("quarter-seed1: started (log quarter-seed1/train.out)")
    assert f"{BETA}: waiting (1 runs already training)" in lines
    assert [line.split(" ", 2)[2] for line in lines if "started" in line] == [
        "quarter-seed1: started (log quarter-seed1/train.out)", f"{BETA}: started (log {BETA}/train.out)"]
    assert (tmp_path / "runs" / "quarter-seed1" / f"{SEED1}.pt").exists()
    assert (tmp_path / "runs" / BETA / f"{BETA}.pt").exists()
    log = (tmp_path / "runs" / "quarter-seed1" / "train.out").read_text()
    assert "--threads 2" in log and "--split_seed 0" in log  # the run's own arguments, THREADS passed on


def test_a_run_that_stops_unfinished_is_reported_and_not_restarted(tmp_path):
    done = _resume(tmp_path, "quarter-seed1", BETA, FAKE_CRASH=SEED1)
    assert done.returncode == 1
    assert "quarter-seed1: stopped unfinished, not restarted (see quarter-seed1/train.out)" in done.stdout
    assert done.stdout.count("quarter-seed1: stopped unfinished") == 1
    log = (tmp_path / "runs" / "quarter-seed1" / "train.out").read_text()
    assert log.count("training ") == 1
    assert not (tmp_path / "runs" / "quarter-seed1" / f"{SEED1}.pt").exists()
    assert (tmp_path / "runs" / BETA / f"{BETA}.pt").exists()  # the other run is not held up


def test_finished_runs_are_left_alone(tmp_path):
    (tmp_path / "runs" / BETA).mkdir(parents=True)
    (tmp_path / "runs" / BETA / f"{BETA}.pt").write_text("")
    done = _resume(tmp_path, BETA)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{BETA}: finished"]
    assert not (tmp_path / "runs" / BETA / "train.out").exists()


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _checkpoint_repo(tmp_path):
    """A repository with runs/checkpoints and two run directories, and a runner of the tool in it."""
    repo = tmp_path / "repo"
    (repo / "runs" / "a").mkdir(parents=True)
    (repo / "runs" / "done").mkdir()
    shutil.copy(ROOT / "runs" / "checkpoints", repo / "runs" / "checkpoints")
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    _git(tmp_path, "init", "-q", "-b", "main", str(repo))
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "start")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}

    def tool(*args, where=repo):
        return subprocess.run([str(where / "runs" / "checkpoints"), *args], capture_output=True, text=True,
                              env=env, check=True).stdout
    return repo, tool


def test_parked_checkpoints_travel_with_the_branch(tmp_path):
    """park stages a copy of each unfinished run's checkpoint (the live one stays ignored), a clone
    of the branch restores from it, refresh keeps the committed copy current without staging it, and
    once the run has finished park takes the copy out again."""
    repo, tool = _checkpoint_repo(tmp_path)
    ckpt = repo / "runs" / "a" / "a.ckpt"
    ckpt.write_bytes(b"epoch 3")
    assert tool("park").strip() == "parked runs/a/a.parked.ckpt (staged: commit it)"
    assert _git(repo, "diff", "--cached", "--name-only").split() == ["runs/a/a.parked.ckpt"]
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "park")
    ckpt.write_bytes(b"epoch 4")
    assert _git(repo, "status", "--porcelain").strip() == ""  # the live checkpoint is not tracked
    os.utime(ckpt, (ckpt.stat().st_mtime + 5,) * 2)  # newer than the parked copy, as a later epoch is
    assert tool("refresh") == ""
    parked = repo / "runs" / "a" / "a.parked.ckpt"
    assert parked.read_bytes() == b"epoch 4"  # kept current as an unstaged change to a tracked file
    assert _git(repo, "status", "--porcelain").strip() == "M runs/a/a.parked.ckpt"
    _git(repo, "checkout", "--", "runs/a/a.parked.ckpt")
    os.utime(parked, (ckpt.stat().st_mtime + 5,) * 2)
    assert tool("refresh") == "" and parked.read_bytes() == b"epoch 3"  # an older checkpoint leaves it

    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert tool("restore", where=clone).strip() == "restored runs/a/a.ckpt (parked)"
    assert (clone / "runs" / "a" / "a.ckpt").read_bytes() == b"epoch 3"
    assert tool("restore", where=clone).strip() == ""  # a run with a checkpoint is left alone

    ckpt.unlink()
    (repo / "runs" / "a" / "a.pt").write_bytes(b"model")
    assert tool("park").strip() == "unparked runs/a/a.parked.ckpt (finished)"
    assert _git(repo, "diff", "--cached", "--name-status").split() == ["D", "runs/a/a.parked.ckpt"]


def test_checkpoints_are_stored_outside_the_branch_and_restored(tmp_path):
    """runs/checkpoints keeps one parentless commit of the current checkpoints (it does not grow
    with saves), a clone does not download it, and restore puts back only what a run lacks."""
    repo, tool = _checkpoint_repo(tmp_path)
    ckpt, finished = repo / "runs" / "a" / "a.ckpt", repo / "runs" / "done" / "done.ckpt"
    ckpt.write_bytes(b"epoch 1")
    finished.write_bytes(b"epoch 9")
    assert "stored 2 checkpoint(s)" in tool("save")
    ckpt.write_bytes(b"epoch 2")
    tool("save")
    assert _git(repo, "rev-list", "--count", "refs/checkpoints/runs").strip() == "1"  # no history
    assert _git(repo, "log", "--oneline", "main").count("\n") == 1  # the branch is untouched

    ckpt.unlink()
    finished.unlink()
    (repo / "runs" / "done" / "done.pt").write_bytes(b"model")  # a finished run needs no checkpoint
    assert tool("restore").strip() == "restored runs/a/a.ckpt"
    assert ckpt.read_bytes() == b"epoch 2" and not finished.exists()

    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert "refs/checkpoints" not in _git(clone, "for-each-ref")  # a clone does not download them
    (clone / "runs" / "a").mkdir(parents=True)
    tool("restore", where=clone)
    assert (clone / "runs" / "a" / "a.ckpt").read_bytes() == b"epoch 2"  # restore fetched them from origin


# runs/finish with stand-ins: PY answers `-m sent.tools train-vae card|disentanglement ID.pt ...` by
# writing the card as the real tool does (ID.json, then the disentanglement key added); SENT_REPRO
# writes RUN/sent-repro/, or fails when FAKE_FAIL is set. Each call is logged to calls.txt.
FINISH_PYTHON = """#!/usr/bin/env bash
echo "$4 $5" >> "$CALLS"
id=${5%.pt}
case $4 in
  card) echo '{"id": "'$id'"}' > "$id.json" ;;
  disentanglement) echo '{"id": "'$id'", "disentanglement": {"mig": 0.8}}' > "$id.json" ;;
esac
"""
FINISH_REPRO = """#!/usr/bin/env bash
echo "sent-repro $(basename "$1")" >> "$CALLS"
[ -z "${FAKE_FAIL:-}" ] || { echo "nextflow failed"; exit 1; }
mkdir "$1/sent-repro"
"""
SETTLED = "ar-VAE_b_0.2_c_50.0_g_10.0_d_10.0_r_1"  # its log: the settle epoch after a dip, kept in last-epoch/


def _finish_run(tmp_path, log):
    """runs/finish copied into tmp_path with one run whose model exists and whose training log is LOG."""
    (tmp_path / "runs").mkdir(exist_ok=True)
    shutil.copy(ROOT / "runs" / "finish", tmp_path / "runs" / "finish")
    run = tmp_path / "runs" / SETTLED
    run.mkdir()
    shutil.copy(log, run / f"{SETTLED}.log.csv")
    (run / f"{SETTLED}.pt").write_text("")
    return run


def _finish(tmp_path, *args, wait=True, **env):
    for name, text in (("fake-python", FINISH_PYTHON), ("fake-repro", FINISH_REPRO)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    env = {**os.environ, "PY": str(tmp_path / "fake-python"), "SENT_REPRO": str(tmp_path / "fake-repro"),
           "CALLS": str(tmp_path / "calls.txt"), "FOLLOW_SECONDS": "0.2", **env}
    proc = subprocess.Popen([str(tmp_path / "runs" / "finish"), *args], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc.communicate(timeout=60) + (proc.returncode,) if wait else proc


def _calls(tmp_path):
    calls = tmp_path / "calls.txt"
    return calls.read_text().splitlines() if calls.exists() else []


def test_finish_runs_each_step_once_in_order(tmp_path):
    run = _finish_run(tmp_path, ROOT / "runs" / SETTLED / f"{SETTLED}.log.csv")
    out, err, code = _finish(tmp_path)
    assert code == 0, err
    assert _calls(tmp_path) == [f"card {SETTLED}.pt", f"sent-repro {SETTLED}", f"disentanglement {SETTLED}.pt"]
    assert [line.split(" ", 2)[2].rsplit(" in ", 1)[0] for line in out.splitlines()[:3]] == [
        f"{SETTLED}: card done", f"{SETTLED}: sent-repro done", f"{SETTLED}: disentanglement done"]
    assert out.splitlines()[3] == f"{SETTLED}: finished (card, sent-repro, disentanglement)"
    assert "== " in (run / "finish.out").read_text()
    out, err, code = _finish(tmp_path)  # all done: nothing runs again
    assert code == 0 and out.splitlines() == [f"{SETTLED}: finished (card, sent-repro, disentanglement)"]
    assert len(_calls(tmp_path)) == 3


def test_finish_refuses_a_model_that_ended_on_a_dip(tmp_path):
    """The real log of ar-VAE g=10 seed 1's 100 epochs, which ended at validation accuracy 0.885."""
    _finish_run(tmp_path, ROOT / "runs" / SETTLED / "last-epoch" / f"{SETTLED}.log.csv")
    out, err, code = _finish(tmp_path)
    assert code == 1
    assert out.strip() == (f"{SETTLED}: ended on a dip, validation accuracy 0.885475 "
                           "(best of the 10 epochs before: 1): settle it first")
    assert _calls(tmp_path) == []


def test_finish_follows_a_training_until_its_model_exists(tmp_path):
    run = _finish_run(tmp_path, ROOT / "runs" / SETTLED / f"{SETTLED}.log.csv")
    model = run / f"{SETTLED}.pt"
    model.unlink()
    proc = _finish(tmp_path, f"runs/{SETTLED}", wait=False, FOLLOW="1")  # a path from the caller's directory
    time.sleep(1)
    assert proc.poll() is None and _calls(tmp_path) == []  # waiting for the model
    model.write_text("")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(_calls(tmp_path)) == 3


def test_finish_reports_a_failed_step_and_does_not_retry_it(tmp_path):
    run = _finish_run(tmp_path, ROOT / "runs" / SETTLED / f"{SETTLED}.log.csv")
    out, err, code = _finish(tmp_path, FOLLOW="1", FAKE_FAIL="1")
    assert code == 1
    assert out.splitlines()[1].endswith(f"{SETTLED}: sent-repro failed, not retried (see {run}/finish.out)")
    assert _calls(tmp_path) == [f"card {SETTLED}.pt", f"sent-repro {SETTLED}"]  # disentanglement not tried
    assert "nextflow failed" in (run / "finish.out").read_text()


def test_finish_refuses_a_model_without_its_training_log(tmp_path):
    run = _finish_run(tmp_path, ROOT / "runs" / SETTLED / f"{SETTLED}.log.csv")
    (run / f"{SETTLED}.log.csv").unlink()
    out, err, code = _finish(tmp_path)
    assert code == 1
    assert out.strip() == (f"{SETTLED}: no training log {run}/{SETTLED}.log.csv, so no check for a dip: "
                           "restore it first")
    assert _calls(tmp_path) == []


def test_finish_without_arguments_takes_runs_started_while_it_follows(tmp_path):
    """runs/resume starts the next seed run when one finishes; a following runs/finish takes it too."""
    run = _finish_run(tmp_path, ROOT / "runs" / SETTLED / f"{SETTLED}.log.csv")
    (run / f"{SETTLED}.pt").unlink()
    proc = _finish(tmp_path, wait=False, FOLLOW="1")
    time.sleep(1)
    later = "beta-VAE_b_1.0_c_50.0_r_2"
    (tmp_path / "runs" / later).mkdir()
    shutil.copy(ROOT / "runs" / SETTLED / f"{SETTLED}.log.csv", tmp_path / "runs" / later / f"{later}.log.csv")
    (tmp_path / "runs" / later / f"{later}.pt").write_text("")
    deadline = time.monotonic() + 30  # its three steps, however loaded the machine
    while len(_calls(tmp_path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None  # the first run is still training
    assert _calls(tmp_path) == [f"card {later}.pt", f"sent-repro {later}", f"disentanglement {later}.pt"]
    (run / f"{SETTLED}.pt").write_text("")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(_calls(tmp_path)) == 6


def test_publish_regenerates_stale_tables_from_the_data(tmp_path):
    """runs/publish on a copy whose README summary, zoo table and results page are stale (or gone)
    writes them back exactly as committed (the committed ones match the data: tests/test_docs.py)."""
    repo = tmp_path / "repo"
    pooled = (ROOT / "docs" / "data" / "results" / "POOLED").read_text().split()
    for path in [*pooled, "docs/data/results"]:
        shutil.copytree(ROOT / path, repo / path)
    for path in [*(card.relative_to(ROOT) for card in published_cards()), "runs/publish", "README.md", "docs/models.md"]:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, repo / path)
    _git(tmp_path, "init", "-q", str(repo))
    readme, models = (ROOT / "README.md").read_text(), (ROOT / "docs" / "models.md").read_text()
    zoo_row = next(line for line in models.splitlines() if line.startswith("| beta-VAE_b_0.2_c_50.0_r_1 |"))
    summary_row = next(line for line in readme.splitlines() if line.startswith("| ar-VAE g=1.0 |"))
    (repo / "README.md").write_text(readme.replace(summary_row, "| ar-VAE g=1.0 | 9 of 9 |"))
    (repo / "docs" / "models.md").write_text(models.replace(zoo_row + "\n", ""))
    (repo / "docs" / "data" / "results" / "pooled.csv").unlink()
    (repo / "docs" / "results.md").write_text("stale\n")
    env = {**os.environ, "SENT": str(Path(sys.executable).parent / "sent"), "PYTHON": sys.executable}
    proc = subprocess.run([str(repo / "runs" / "publish")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Pooled SeNT within 0.05 of the paper:" in proc.stdout
    for path in ["README.md", "docs/models.md", "docs/results.md", "docs/data/results/pooled.csv"]:
        assert (repo / path).read_bytes() == (ROOT / path).read_bytes(), path
