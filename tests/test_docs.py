"""What a newcomer reads and runs first: the README and docs/ pages, the `sent` command, bin/ run
without an activated environment, the example MIDI files, and the plug-in walkthrough of
docs/plugins.md run exactly as written."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, published_cards, run_tool_in_process

from sent.dmelodies import data
from sent.dmelodies.edit import domain_problem, melody_tokens
from sent.evaluation.summary import overview, page
from sent.tools import TOOLS

DOCS = ROOT / "docs"
RESULTS = DOCS / "data" / "results"
PAGES = sorted(DOCS.glob("*.md"))
# what a lab notebook says and a user's page must not: work-tracking words and numbers
JARGON = re.compile(r"\bsessions?\b|\bissues?\b|(?:^|[\s(])#\d+\b|spec/\w+\.md", re.IGNORECASE)


def test_readme_is_short_and_links_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "make demo" in readme and "make test" in readme
    for path in PAGES:
        assert f"](docs/{path.name})" in readme, path.name


@pytest.mark.parametrize("path", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_user_docs_speak_to_users_and_their_links_resolve(path):
    text = path.read_text()
    assert not JARGON.findall(text), JARGON.findall(text)[:5]
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith("http"):
            assert (path.parent / target).exists(), target


@pytest.mark.parametrize("path", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_every_table_has_a_header_row_of_its_width(path):
    """Markdown renders a separator row without a header row above it as plain text."""
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines[1:], start=2):
        if re.fullmatch(r"\|(?:\s*:?-+:?\s*\|)+", line):
            header = lines[number - 2]
            assert header.startswith("|") and header.count("|") == line.count("|"), f"{path.name}:{number}"


def test_published_tables_are_generated_from_the_data():
    assert (DOCS / "results.md").read_text() == page(RESULTS)
    assert overview(RESULTS) in (ROOT / "README.md").read_text()
    code, table, _ = run_tool_in_process("train-vae", "table", *published_cards())
    assert code == 0 and table in (DOCS / "models.md").read_text()


def test_sent_lists_every_tool_and_runs_one():
    proc = subprocess.run([Path(sys.executable).parent / "sent"], capture_output=True, text=True)
    assert proc.returncode == 0 and all(f"  {tool} " in proc.stdout for tool in TOOLS)
    code, out, err = run_tool_in_process("traverse", "--help")
    assert code == 0 and "MELODY" in out + err
    proc = subprocess.run([Path(sys.executable).parent / "sent", "travers"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("sent: error: unknown tool 'travers'")


def test_bin_tools_find_the_project_python_without_activation(tmp_path):
    """bin/TOOL with a bare PATH uses the project's .venv; in a copy without one and without the
    package on PATH's python3, it says in one line what to do."""
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    proc = subprocess.run([ROOT / "bin" / "mi", "--help"], capture_output=True, text=True, env=bare)
    assert proc.returncode == 0 and "REPOSITORY" in proc.stdout + proc.stderr
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()
    shutil.copy(ROOT / "bin" / "mi", tmp_path / "bin" / "mi")
    shutil.copy(ROOT / "lib" / "launch.sh", tmp_path / "lib" / "launch.sh")
    if subprocess.run(["python3", "-c", "import sent"], env=bare, capture_output=True).returncode == 0:
        pytest.skip("the system python3 has the sent package: no error to show")
    proc = subprocess.run([tmp_path / "bin" / "mi", "--help"], capture_output=True, text=True, env=bare)
    assert proc.returncode == 2
    assert proc.stderr == (f"mi: error: no Python with the sent package: run `make setup` in {tmp_path} "
                           f"(or `pip install {tmp_path}`)\n")


@pytest.mark.parametrize("name, row", [("dmelodies-12345.mid", 12345), ("dmelodies-700000.mid", 700000)])
def test_example_midi_files_are_the_data_set_melodies_they_name(name, row):
    tokens = melody_tokens(str(ROOT / "prebuilt" / "examples" / name))
    np.testing.assert_array_equal(tokens, data.melody_tokens(data.factors_of([row]))[0])
    assert domain_problem(tokens) is None


@pytest.mark.parametrize("tokens, reason", [
    ([0] * 16, "it has no notes (all rests)"),
    (melody_tokens(str(ROOT / "prebuilt" / "examples" / "twinkle.mid")),
     "outside the dMelodies domain: no valid rhythm_bar1, rhythm_bar2, arp_chord1"),
    # melody 0 ([2, 3, 4, 5, 6, 7, 0, 0, 4, 8, ...]) with its second note repeating the first: every
    # attribute is still readable, but no data set melody has these notes
    ([2, 2, 4, 5, 6, 7, 0, 0, 4, 8, 9, 2, 3, 4, 0, 0],
     "its attributes are valid, but the data set's melody with them differs at slots [1]"),
])
def test_a_melody_outside_the_data_set_is_named_as_such(tokens, reason):
    assert reason in domain_problem(np.asarray(tokens, dtype=np.int64))


@pytest.mark.parametrize("melody, message", [
    (ROOT / "prebuilt" / "examples" / "twinkle.mid", "outside the dMelodies domain: no valid rhythm_bar1"),
    (",".join(["0"] * 16), "it has no notes (all rests); there is nothing to edit"),
])
def test_traverse_says_why_it_refuses_a_melody(melody, message, tmp_path):
    code, _, err = run_tool_in_process("traverse", melody, "s2-VAE_b_0.2_c_50.0_g_10.0_r_0", "scale", "--value",
                                       "minor", "--out", tmp_path / "edit")
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "edit").exists()


def _blocks(markdown: str, title: str) -> str:
    """The fenced block of docs/plugins.md whose info string names `title`."""
    match = re.search(r'```\w+ title="' + re.escape(title) + r'"\n(.*?)```', markdown, re.DOTALL)
    assert match, title
    return match.group(1)


@pytest.mark.slow
def test_the_plugin_walkthrough_runs_as_written(tmp_path):
    """docs/plugins.md's numpy PCA plug-in and its commands, exactly as a reader copies them."""
    text = (DOCS / "plugins.md").read_text()
    (tmp_path / "pca_plugin.py").write_text(_blocks(text, "pca_plugin.py"))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for line in _blocks(text, "walkthrough").splitlines():
        command = line.split("#")[0].strip()
        proc = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
    result = json.loads((tmp_path / "edit" / "traverse.json").read_text())
    assert "slope" in json.dumps(result)
    assert "slope" in proc.stdout and "verified" in proc.stdout
    repo = tmp_path / "repo"
    assert (repo / "perform.csv").read_text() != (repo / "perform-verified.csv").read_text()
    assert (repo / "target_vs_achieved-verified.png").exists() and (repo / "target_vs_achieved.png").exists()
    verified = dict(line.split(",") for line in (repo / "perform-verified.csv").read_text().splitlines()[1:])
    assert float(verified["c:r^2"]) > 0.9  # the verified edits of a linear model reach the slope

    code, _, _ = run_tool_in_process("perform", "tables", repo, "--out", tmp_path / "tables", "--report",
                                     tmp_path / "report.html")
    report = (tmp_path / "report.html").read_text()
    assert code == 0 and "<h3>method: sent</h3>" in report and "<h3>method: verified</h3>" in report
    assert "plug-in " in report and "n test pairs: offset" in report and "SeNT recipe" in report

    # a missed target loss is said, with a line per restart
    code, _, err = run_tool_in_process("train-zc", repo, "--attribute", "slope", "--epochs", 1, "--max_restarts", 1,
                                       "--target_loss", 0)
    assert code == 0 and err.count("surrogate restart") == 2
    assert "slope: warning: the surrogate missed its target loss 0" in err
