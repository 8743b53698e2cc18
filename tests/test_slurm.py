"""The pipeline through a real single-node SLURM cluster (tests/slurm/cluster.sh)."""

import os
import re
import subprocess

import pytest
from helpers import ROOT, nextflow_command, read_trace
from test_pipeline import N_TASKS, check_outputs

pytestmark = [pytest.mark.slurm, pytest.mark.nextflow]
CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"


@pytest.fixture()
def slurm_cluster(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the SLURM test starts munged, slurmctld and slurmd and must run as root")
    env = dict(os.environ, SENT_SLURM_DIR=str(tmp_path / "slurm"))
    start = subprocess.run(["bash", CLUSTER, "start"], env=env, capture_output=True, text=True, timeout=900)
    try:
        assert start.returncode == 0, start.stdout + start.stderr
        env["SLURM_CONF"] = str(tmp_path / "slurm" / "slurm.conf")
        yield env, tmp_path / "slurm"
    finally:
        subprocess.run(["bash", CLUSTER, "stop"], env=env, timeout=120)


def test_test_profile_runs_as_slurm_jobs(tmp_path, slurm_cluster):
    env, state = slurm_cluster
    sinfo = subprocess.run(["sinfo", "-h", "-o", "%P %a %T"], env=env, capture_output=True, text=True)
    assert "up idle" in sinfo.stdout, sinfo.stdout + sinfo.stderr
    outdir, trace = tmp_path / "results", tmp_path / "trace.txt"
    proc = subprocess.run(
        nextflow_command("run", ROOT / "main.nf", "-profile", "test,slurm", "--outdir", outdir,
                         "-work-dir", tmp_path / "work", "-with-trace", trace),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = read_trace(trace)
    assert len(records) == N_TASKS and all(r["status"] == "COMPLETED" for r in records)
    job_ids = {r["native_id"] for r in records}
    assert all(j.isdigit() for j in job_ids), job_ids
    # slurmctld's own job completion log lists every task as a completed job
    log = (state / "log" / "jobcomp.log").read_text()
    completed = set(re.findall(r"JobId=(\d+) .*?JobState=COMPLETED", log))
    assert job_ids <= completed
    assert "Name=nf-SENT_TRAIN_SENT" in log  # the process inside workflow SENT
    check_outputs(outdir)
