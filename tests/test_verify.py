"""Verified edits: candidate selection on hand-built cases, a decoder whose answer is known, and
the tools (evaluate --verify, traverse --verify) on a real tiny model."""

import csv
import json

import numpy as np
import pytest
import torch
from helpers import prepare_repository, run_tool

from sent.core.verify import (
    MISSED,
    Judge,
    SurrogateSearch,
    VerifyOptions,
    _lexicographic_argmin,
    rank_keys,
    rebuild_codes,
    verified_codes,
)
from sent.dmelodies import data
from sent.util.errors import SentError
from sent.util.io import load_npz

SCALE, RHYTHM = 2, 3


def _pick(achieved, start, target, codes=None, z1=None, attribute=SCALE):
    achieved = np.asarray(achieved)[None]
    codes = np.zeros((1, achieved.shape[1], 2)) if codes is None else np.asarray(codes, dtype=float)[None]
    z1 = np.zeros((1, codes.shape[2])) if z1 is None else np.asarray(z1, dtype=float)[None]
    keys = rank_keys(achieved, np.asarray(start)[None], attribute, np.array([target]), codes, z1)
    return int(_lexicographic_argmin(keys)[0]), keys


START = [0, 2, 0, 5, 5, 0, 0, 1, 1]


def test_a_candidate_that_moves_another_attribute_loses_to_one_that_moves_nothing():
    moves_rhythm = [0, 2, 1, 6, 5, 0, 0, 1, 1]
    clean = [0, 2, 1, 5, 5, 0, 0, 1, 1]
    best, keys = _pick([moves_rhythm, clean], START, 1, codes=[[0.1, 0], [5, 5]])  # clean is farther away
    assert best == 1 and keys[1][0].tolist() == [1, 0]


def test_reaching_the_value_comes_first_then_fewest_then_smallest_changes_then_distance():
    misses = [0, 2, 2, 5, 5, 0, 0, 1, 1]          # scale 2, wanted 1
    reaches_two_moved = [1, 3, 1, 5, 5, 0, 0, 1, 1]
    reaches_one_far = [0, 2, 1, 5, 5, 0, 0, 1, 0]
    reaches_one_near = [0, 2, 1, 5, 5, 1, 0, 1, 1]  # arp 0 -> 1: same count, same relative size
    best, _ = _pick([misses, reaches_two_moved, reaches_one_far, reaches_one_near], START, 1,
                    codes=[[0, 0], [0, 0], [3, 0], [1, 0]])
    assert best == 3
    big_jump = [0, 2, 1, 11, 5, 0, 0, 1, 1]     # rhythm 5 -> 11 vs rhythm 5 -> 6: same count, larger change
    small_jump = [0, 2, 1, 6, 5, 0, 0, 1, 1]
    assert _pick([big_jump, small_jump], START, 1, codes=[[0, 0], [9, 9]])[0] == 1


def test_invalid_values_count_against_a_candidate():
    invalid_target = [0, 2, -1, 5, 5, 0, 0, 1, 1]
    invalid_other = [0, 2, 1, 5, 5, -1, 0, 1, 1]
    best, keys = _pick([invalid_target, invalid_other], START, 1)
    assert best == 1 and keys[0][0, 0] == MISSED
    start_invalid = [0, 2, 0, 5, 5, -1, 0, 1, 1]  # an attribute invalid at the start is not counted
    assert _pick([invalid_other], start_invalid, 1)[1][1][0].tolist() == [0]


class KnownDecoder:
    """Decodes a code to the dMelodies melody whose factors are its first 9 values rounded: the
    attributes of every code are known exactly."""

    def decode_tokens(self, z):
        counts = torch.as_tensor(data.FACTOR_COUNTS)
        factors = torch.minimum(torch.clamp(torch.round(z[:, :9]), min=0), counts - 1).long()
        return torch.as_tensor(data.melody_tokens(factors.numpy()).astype(np.int64))


def test_verified_finds_the_scale_of_an_undershooting_move_and_says_when_it_cannot():
    start = np.array([START, START], dtype=np.int64)
    z1 = np.zeros((2, 12), dtype=np.float32)
    z1[:, :9] = start
    target = np.array([3, 1])  # rhythm 5 -> 3 (reachable by scaling SeNT's move), -> 1 (not)
    sent = z1.copy()
    sent[0, RHYTHM] -= 0.8  # row 0: 40% of the way (x2 reaches, x3 too); row 1: no rhythm move at all
    sent[:, 0] += 0.2  # and a drift of tonic: harmless up to x2, moves tonic at x3
    wrong = z1.copy()
    wrong[:, RHYTHM] = target
    wrong[:, 4] += 2  # reaches the rhythm but moves rhythm_bar2: must lose to a clean candidate
    result = verified_codes(KnownDecoder(), z1, start, RHYTHM, target, sent, {"attribute-vector": wrong},
                            VerifyOptions(scales=(0.5, 1.5, 2.0, 3.0), line=(0.75, 1.25, 1.75, 2.5)))
    names = result["names"]
    assert result["reached"][0] and names[result["candidate"][0]] == "sent x2"
    assert result["achieved"][0].tolist() == [0, 2, 0, 3, 5, 0, 0, 1, 1]
    # row 1: only the proposal that moves rhythm_bar2 reaches the value; it is returned
    assert result["reached"][1] and names[result["candidate"][1]] == "attribute-vector"
    assert result["achieved"][1][4] == START[4] + 2
    rebuilt = rebuild_codes(z1, sent, {"attribute-vector": wrong}, result["first"], result["candidate"],
                            VerifyOptions(scales=(0.5, 1.5, 2.0, 3.0), line=(0.75, 1.25, 1.75, 2.5)))
    assert np.array_equal(rebuilt, result["codes"])
    # without the proposal nothing reaches rhythm 1: the closest is returned, not reached
    alone = verified_codes(KnownDecoder(), z1[1:], start[1:], RHYTHM, target[1:], sent[1:])
    assert not alone["reached"][0] and alone["achieved"][0][RHYTHM] == START[RHYTHM]


def test_line_search_along_the_best_move():
    start = np.array([START], dtype=np.int64)
    z1 = np.zeros((1, 9), dtype=np.float32)
    z1[0] = START
    sent = z1.copy()
    sent[0, RHYTHM] += 0.2 * 3  # a fifth of the way to 8: x3 gives 6.8 -> 7; x3 x1.75 = 5.25 -> 8.15 -> 8
    result = verified_codes(KnownDecoder(), z1, start, RHYTHM, np.array([8]), sent,
                            options=VerifyOptions(scales=(3.0,), line=(1.25, 1.75)))
    assert result["reached"][0] and result["names"][result["candidate"][0]] == "line x1.75"
    options = VerifyOptions(scales=(3.0,), line=(1.25, 1.75))
    assert np.array_equal(rebuild_codes(z1, sent, {}, result["first"], result["candidate"], options), result["codes"])
    plain = verified_codes(KnownDecoder(), z1, start, RHYTHM, np.array([8]), sent,
                           options=VerifyOptions(scales=(3.0,), line=()))
    assert not plain["reached"][0] and plain["achieved"][0][RHYTHM] == 7


class ScaledSpace:
    """The normalisation of a repository whose codes are KnownDecoder's factor values: codes / 30,
    attribute values / (their count - 1)."""

    def normalise_z(self, z):
        return (np.asarray(z) / 30).astype(np.float32)

    def denormalise_z(self, zn):
        return (np.asarray(zn) * 30).astype(np.float32)

    def normalise_c(self, c, attribute):
        return (np.asarray(c) / (data.FACTOR_COUNTS[attribute] - 1)).astype(np.float32)


class ExactSurrogate(torch.nn.Module):
    """Predicts attribute g of a normalised code exactly (its factor value, normalised)."""

    def __init__(self, g):
        super().__init__()
        self.g = g

    def forward(self, zn):
        return (zn[:, self.g:self.g + 1] * 30 / (data.FACTOR_COUNTS[self.g] - 1)).clamp(0, 1)


def exact_search(attributes=range(9)):
    return SurrogateSearch(ScaledSpace(), {g: (ExactSurrogate(g), {"width": 1}) for g in attributes})


def test_surrogate_search_reaches_what_no_move_along_sent_does():
    start = np.array([START, START], dtype=np.int64)
    z1 = np.zeros((2, 9), dtype=np.float32)
    z1[:] = START
    sent = z1.copy()
    sent[1, RHYTHM] = 8  # row 1: SeNT itself is perfect, so no search runs for it
    target = np.array([8, 8])
    options = VerifyOptions(scales=(2.0,), line=(1.5,), search=(10, 25, 50))
    plain = verified_codes(KnownDecoder(), z1, start, RHYTHM, target, sent, options=VerifyOptions(search=()))
    assert plain["reached"].tolist() == [False, True] and len(plain["searched"]) == 0
    result = verified_codes(KnownDecoder(), z1, start, RHYTHM, target, sent, options=options, search=exact_search())
    assert result["reached"].tolist() == [True, True]
    assert result["names"][result["candidate"][0]].startswith("search ") and result["candidate"][1] == 0
    assert result["achieved"][0].tolist() == [*START[:RHYTHM], 8, *START[RHYTHM + 1:]]  # the others kept
    assert len(result["searched"]) == 1
    assert np.array_equal(rebuild_codes(z1, sent, {}, result["first"], result["candidate"], options,
                                        result["searched"]), result["codes"])
    with pytest.raises(SentError, match="1 verified edits chose a surrogate-search code, but 0 such codes"):
        rebuild_codes(z1, sent, {}, result["first"], result["candidate"], options)
    # without the edited attribute's surrogate there is no search; the candidates are as without one
    no_target = verified_codes(KnownDecoder(), z1, start, RHYTHM, target, sent, options=options,
                               search=exact_search(attributes=[0, 1]))
    assert no_target["reached"].tolist() == [False, True] and len(no_target["searched"]) == 0


def test_surrogate_search_keeps_the_other_attributes_and_skips_invalid_ones():
    z1 = np.array([START], dtype=np.float32)
    wanted = np.array([[*START[:RHYTHM], 12, *START[RHYTHM + 1:]]])
    wanted_invalid = wanted.copy()
    wanted_invalid[0, 0] = -1  # tonic invalid: not a target; its surrogate leaves the code's tonic alone
    for w in (wanted, wanted_invalid):
        snapshots = exact_search()(z1, w, RHYTHM, (50, 200))
        assert len(snapshots) == 2 and snapshots[0].shape == z1.shape
        final = np.round(snapshots[-1][0])
        assert final[RHYTHM] == 12 and np.array_equal(np.delete(final, RHYTHM), np.delete(z1[0], RHYTHM))


def test_surrogates_of_one_shape_are_evaluated_as_one_stack():
    from sent.core.networks import ZtoC
    from sent.core.verify import _StackedZtoC

    torch.manual_seed(0)
    models = [ZtoC(32, 1) for _ in range(3)]
    z = torch.rand(5, 32) * 2 - 1
    stacked = _StackedZtoC(models)(z)
    assert stacked.shape == (3, 5, 1)
    assert torch.allclose(stacked, torch.stack([m(z) for m in models]), atol=1e-6)
    # ZtoC networks of two widths and a network of another kind: three groups, one search
    search = SurrogateSearch(ScaledSpace(), {0: (models[0], {"width": 1}), 1: (models[1], {"width": 1}),
                                             2: (ZtoC(32, 3), {"width": 3}), 3: (ExactSurrogate(3), {"width": 1})})
    assert sorted(len(members) for members, _ in search.groups) == [1, 1, 2]
    start = np.zeros((4, 32), dtype=np.float32)
    start[:, :9] = START
    wanted = np.repeat(np.array([START]), 4, axis=0)
    snapshots = search(start, wanted, 3, (2, 4))
    assert len(snapshots) == 2 and all(s.shape == (4, 32) and np.isfinite(s).all() for s in snapshots)


@pytest.fixture(scope="module")
def trained_repo(tmp_path_factory, tiny_model, tiny_latents):
    d = prepare_repository(tmp_path_factory.mktemp("verify"), tiny_latents)
    run_tool("mi", d, "--attribute", RHYTHM)
    run_tool("train-zc", d, "--attribute", RHYTHM, "--epochs", 1)
    run_tool("train-sent", d, tiny_model, "--attribute", RHYTHM, "--epochs", 1, "--max-pairs", 1000)
    run_tool("mi", d, "--attribute", 4)
    run_tool("train-zc", d, "--attribute", 4, "--epochs", 1)
    run_tool("train-sent", d, tiny_model, "--attribute", 4, "--epochs", 1, "--max-pairs", 1000)
    return d


def test_evaluate_verify_never_reaches_less_than_sent(trained_repo, tiny_model, tmp_path):
    from sent.core.repository import Repository
    from sent.dmelodies.attributes import extract_attributes
    from sent.dmelodies.vae import load_model

    run_tool("evaluate", trained_repo, tiny_model, "--attribute", RHYTHM, "--verify")
    sent = load_npz(trained_repo / f"predictions_{RHYTHM}.npz")
    verified = load_npz(trained_repo / "verified" / f"predictions_{RHYTHM}.npz")
    _, _, _, a2 = Repository(trained_repo).raw_pairs(RHYTHM, "test")
    sent_hits = sent["achieved"][:, RHYTHM] == a2[:, RHYTHM]
    verified_hits = verified["achieved"][:, RHYTHM] == a2[:, RHYTHM]
    assert not (sent_hits & ~verified_hits).any()  # SeNT's own code is a candidate
    assert verified_hits.mean() >= sent_hits.mean()
    assert "codes" not in verified  # its choices are stored; the codes are rebuilt from them
    from sent.evaluation.predictions import read_codes

    codes = read_codes(Repository(trained_repo), RHYTHM, "verified")
    vae, _ = load_model(tiny_model)
    tokens = vae.decode_tokens(torch.as_tensor(codes[:300]))
    assert np.array_equal(extract_attributes(tokens), verified["achieved"][:300])
    names = [str(n) for n in verified["candidate_names"]]
    assert names[0] == "sent" and "regularised-dimension" in names and verified["candidate"].max() < len(names)
    run_tool("perform", "tables", trained_repo, "--out", tmp_path)
    header = (tmp_path / "baselines.csv").read_text().splitlines()[0]
    assert header.startswith("setting,attribute,sent_r2,sent_valid,verified_r2,verified_valid,identity_r2")
    assert ",sent_untargeted,verified_untargeted,sent_success,verified_success,identity_success," in header
    # success = the value reached and no other attribute moved, by the judge's own comparisons (the
    # tiny model moves another attribute in nearly every edit; test_metrics has hand-made cases)
    row = next(csv.DictReader((tmp_path / "baselines.csv").open()))
    _, a1, _, a2 = Repository(trained_repo).raw_pairs(RHYTHM, "test")
    judge, others = Judge.builtin(), [g for g in range(9) if g != RHYTHM]
    achieved = verified["achieved"]
    kept = judge.reached(achieved, RHYTHM, a2[:, RHYTHM]) & ~judge.changed(a1[:, others], achieved[:, others],
                                                                          others).any(axis=1)
    assert abs(float(row["verified_success"]) - kept.mean()) < 1e-6


def test_traverse_verify_reports_both_methods(trained_repo, tiny_model, tmp_path):
    out = tmp_path / "edit"
    proc = run_tool("traverse", 4321, tiny_model, trained_repo, "rhythm_bar1", "--sweep", "--verify",
                    "--min_reconstruction", 0, "--out", out)
    header = proc.stdout.splitlines()[0]
    assert "sent achieved" in header and "verified achieved" in header
    report = json.loads((out / "traverse.json").read_text())
    assert len(report["edits"]) == data.FACTOR_COUNTS[RHYTHM]
    for edit in report["edits"]:
        assert edit["achieved"] or not edit["sent"]["achieved"]  # never worse than SeNT's own edit
        assert isinstance(edit["candidate"], str) and isinstance(edit["moved"], list)


def test_repeated_flags_merge_or_fail():
    from sent.util.cli import merge_repeated
    from sent.util.errors import SentError

    assert merge_repeated(["1", "--set", "scale=minor", "--out", "x", "--set=rhythm_bar1=12"], ("set",)) == \
        ["1", "--out", "x", "--set=scale=minor,rhythm_bar1=12"]
    with pytest.raises(SentError, match="--out given twice"):
        merge_repeated(["--out", "a", "--value", "3", "--out=b"])


@pytest.mark.parametrize("text, message", [("scale", "expected attribute=value"), ("mode=minor", "unknown attribute"),
                                           ("scale=dorian", "unknown value 'dorian'"),
                                           ("scale=minor,scale=major", "scale given twice")])
def test_settings_errors(text, message):
    from sent.dmelodies.edit import parse_settings
    from sent.util.errors import SentError

    with pytest.raises(SentError, match=message):
        parse_settings(text)


def test_traverse_sets_two_attributes_plain_and_verified(trained_repo, tiny_model, tmp_path):
    out = tmp_path / "two"
    proc = run_tool("traverse", 4321, tiny_model, trained_repo, "--set", "rhythm_bar1=3", "--set", "rhythm_bar2=10",
                    "--verify", "--min_reconstruction", 0, "--out", out)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["attribute", "original", "requested", "sent", "verified"]
    assert lines[4].split()[:3] == ["rhythm_bar1", data.ATTRIBUTE_VALUES[3][data.factors_of([4321])[0][3]], "3"]
    report = json.loads((out / "traverse.json").read_text())
    assert report["set"] == {"rhythm_bar1": "3", "rhythm_bar2": "10"}
    for method in ("sent", "verified"):
        run = report["methods"][method]
        assert [s["attribute"] for s in run["steps"]] == [3, 4]
        done = [s for s in run["steps"] if "skipped" not in s]  # the tiny model's melodies may lose rhythm_bar2
        assert done and done[-1]["tokens"] == run["tokens"]  # the last edit's melody is the result
        for step in run["steps"]:
            assert "tokens" in step or step["skipped"].endswith("has no valid rhythm_bar2 to start from")
        assert set(run["reached"]) == {"rhythm_bar1", "rhythm_bar2"}
    assert report["result"] == report["methods"]["verified"]
    assert (out / "edited.mid").read_bytes()[:4] == b"MThd"
    fails = run_tool("traverse", 4321, tiny_model, trained_repo, "rhythm_bar1", "--set", "rhythm_bar2=10",
                     "--out", tmp_path / "x", check=False)
    assert fails.returncode == 2 and "give either --set" in fails.stderr


def test_two_attribute_pairs_differ_in_exactly_those_two(trained_repo):
    from sent.core.repository import Repository
    from sent.dmelodies.multi import two_attribute_pairs

    repo = Repository(trained_repo)
    ij = two_attribute_pairs(repo, 2, 5, 300, seed=1)
    assert 100 < len(ij) <= 300  # 30,000 of 1.35M melodies: a partner exists for about 2% of starts
    differ = repo.attributes[ij[:, 0]] != repo.attributes[ij[:, 1]]
    assert differ[:, [2, 5]].all() and not differ[:, [0, 1, 3, 4, 6, 7, 8]].any()
    assert np.array_equal(ij, two_attribute_pairs(repo, 2, 5, 300, seed=1))


def test_two_at_once_scores():
    from sent.dmelodies.multi import score_two

    requested = np.array([[0, 2, 1, 5, 7, 0, 0, 1, 1]] * 3)
    plain = requested.copy()
    plain[1, 3] = 4  # first value missed
    plain[2, 0] = 3  # both reached, tonic moved
    verified = requested.copy()
    scores = score_two(plain, verified, requested, 3, 4)
    assert scores["sent_twice_success"] == pytest.approx(1 / 3) and scores["sent_twice_reached"] == pytest.approx(2 / 3)
    assert scores["verified_success"] == 1.0


def test_evaluate_two_at_once_writes_its_table(trained_repo, tiny_model):
    import csv

    before = (trained_repo / f"predictions_{RHYTHM}.npz").stat().st_mtime_ns
    run_tool("evaluate", trained_repo, tiny_model, "--two_at_once", 200, "--skip_single")
    assert (trained_repo / f"predictions_{RHYTHM}.npz").stat().st_mtime_ns == before
    (row,) = list(csv.DictReader((trained_repo / "two_at_once.csv").open()))
    assert (row["first"], row["second"]) == ("rhythm_bar1", "rhythm_bar2") and 0 < int(row["pairs"]) <= 200
    for key in ("sent_twice_success", "sent_twice_reached", "verified_success", "verified_reached"):
        assert 0.0 <= float(row[key]) <= 1.0
    assert float(row["sent_twice_success"]) <= float(row["sent_twice_reached"])


@pytest.mark.parametrize("scales, line, expected", [(None, None, VerifyOptions()), ((1.5, 2), "", VerifyOptions((1.5, 2.0), ())),
                                                    (3, (0.5,), VerifyOptions((3.0,), (0.5,)))])
def test_candidate_budget_arguments(scales, line, expected):
    assert VerifyOptions.from_arguments(scales, line) == expected


def test_candidate_budget_errors(trained_repo, tiny_model, tmp_path):
    for args, message in ((("--scales", "0,2"), "--scales must be greater than 0.0, got 0.0"),
                          (("--line", "nan"), "--line must be a finite number"),
                          (("--search", "25,10"), "--search must be increasing, got 25,10"),
                          (("--search", "0"), "--search must be at least 1, got 0")):
        proc = run_tool("traverse", 4321, tiny_model, trained_repo, "rhythm_bar1", "--value", 3, "--verify", *args,
                        "--out", tmp_path / "x", check=False)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    few = run_tool("traverse", 4321, tiny_model, trained_repo, "rhythm_bar1", "--value", 3, "--verify",
                   "--scales", 2, "--line", "", "--search", "", "--min_reconstruction", 0, "--out", tmp_path / "few")
    edit = json.loads((tmp_path / "few" / "traverse.json").read_text())["edits"][0]
    assert edit["candidate"] in ("sent", "sent x2", "attribute-vector", "regularised-dimension"), few.stdout


def test_continuous_attributes_are_judged_within_their_tolerance():
    """A plug-in's continuous attributes: the value counts as reached, and another as kept, within
    the tolerance (a fraction of the range); NaN is invalid, -1 a value."""
    from sent.core.verify import Judge

    judge = Judge(spans=np.array([10.0, 2.0, 4.0]), tolerances=np.array([0.5, 0.1, 0.2]), plugin=None)
    start = np.array([[1.0, -1.0, 0.0]])
    candidates = np.array([[
        [5.0, -1.0, 0.0],     # exactly on target, keeps the others
        [5.4, -1.05, 0.15],   # within every tolerance: as good on the first two keys
        [5.4, -0.8, 0.0],     # within on target, moves attribute 1 beyond its tolerance
        [6.0, -1.0, 0.0],     # misses the target by more than 0.5
        [np.nan, -1.0, 0.0],  # invalid target attribute
        [5.0, np.nan, 0.0],   # reaches, but attribute 1 becomes invalid: a full-range change
    ]])
    codes = np.array([[[0.0], [0.1], [0.0], [0.0], [0.0], [0.0]]])
    keys = rank_keys(candidates, start, 0, np.array([5.0]), codes, np.zeros((1, 1)), judge)
    assert keys[0][0].tolist() == [0.0, 0.0, 0.0, 1.0, MISSED, 0.0]
    assert keys[1][0].tolist() == [0, 0, 1, 0, 0, 1]
    assert keys[2][0][2] == pytest.approx(0.2 / 2.0) and keys[2][0][5] == 1.0
    assert int(_lexicographic_argmin(keys)[0]) == 0  # then the nearer code
    assert judge.reached(candidates[0], 0, np.array(5.0)).tolist() == [True, True, True, False, False, True]
