"""Apply trained traversal functions to a repository's test pairs (SeNT step 7)."""

import numpy as np

from sent.core.baselines import BASELINES, applicable, baseline_codes
from sent.core.networks import decode_attributes
from sent.core.plugin import invalid
from sent.core.repository import Repository
from sent.core.traversal import predict
from sent.core.verify import DEFAULT_TOLERANCE, Judge, VerifyOptions, verified_codes
from sent.dmelodies.edit import Editor
from sent.dmelodies.examples import write_examples
from sent.dmelodies.multi import multi_rows
from sent.evaluation.predictions import write_predictions
from sent.evaluation.tables import write_rows_csv
from sent.util import cli, validate
from sent.util.cli import set_threads
from sent.util.errors import SentError


def run(repository: str, model: str, attribute=None, baselines: bool = False, verify: bool = False,
        scales=None, line=None, search=None, tolerance: float = DEFAULT_TOLERANCE, examples: int = 0,
        two_at_once: int = 0, skip_single: bool = False, threads: int = None):
    """Write predictions_<k>.npz: the predicted latent codes and the attributes of the melodies
    they decode to (-1 = invalid). `perform export` writes the original code's CSV layout.

    Args:
        repository: a repository with sent_<k>.model files.
        model: the VAE model file of the repository.
        attribute: name or index; default all nine.
        baselines: also evaluate identity, oracle, sent-target, attribute-vector, linear-direction and
            regularised-dimension on the same test pairs (into REPOSITORY/baselines/<method>/; their
            codes are not stored, being a function of the repository).
        verify: also the verified method (into REPOSITORY/verified/): SeNT's code, its move scaled,
            the attribute-vector and regularised-dimension codes, a short line search and, for
            edits still imperfect, a search with the repository's surrogates, all decoded and
            checked; the one that reaches the value and keeps the others wins.
        scales: factors for SeNT's move among the candidates (default 0.5,1.5,2,3).
        line: factors of the line search along the best move (default 0.75,1.25,1.75,2.5; "" none).
        search: surrogate-search steps after which the code is a candidate (default 10,25,50; ""
            none); uses every sent_ZC_<k>.model in the repository, the edited attribute's at least.
        tolerance: a continuous attribute (of a plug-in) counts as reached, and as kept, within
            this fraction of its range; categorical ones must be equal.
        two_at_once: also edit TWO_AT_ONCE test pairs per pair of trained attributes whose melodies
            differ in exactly those two, with SeNT twice and with two verified steps; writes
            REPOSITORY/two_at_once.csv (both values reached and the other seven kept, per method).
        skip_single: only the two-at-once edits (the single-attribute predictions exist already).
        examples: write the first EXAMPLES test pairs as MIDI files (start melody, target
            example, SeNT's edit, the verified edit with --verify) into REPOSITORY/examples/, and
            their tokens into examples/<attribute>.json for the report's players.
    """
    set_threads(threads)
    examples = validate.whole("examples", examples, minimum=0)
    two_at_once = validate.whole("two_at_once", two_at_once, minimum=0)
    options = VerifyOptions.from_arguments(scales, line, search)
    tolerance = validate.real("tolerance", tolerance, minimum=0)
    repo = Repository(repository)
    vae, card = repo.load_model(model)
    for flag, used in (("--two_at_once", two_at_once), ("--examples", examples)):
        if used:
            repo.require_builtin(flag)
    if skip_single and not two_at_once:
        raise SentError("--skip_single leaves nothing to do without --two_at_once N")
    for k in ([] if skip_single else repo.attributes_to_run(attribute)):
        sp, cp = predict(repo, k, vae)
        write_predictions(repo.dir, k, "sent", cp, codes=sp)
        print(f"{repo.names[k]}: {len(cp):,} test pairs, {100 * (~invalid(cp[:, k])).mean():.1f}% valid (sent)")
        edits = {"sent": sp[:examples]}
        if verify:
            edits["verified"] = _verified(repo, vae, k, sp, options, tolerance)[:examples]
        if examples:
            write_examples(repo, k, vae, edits)
        if baselines:
            _baselines(repo, vae, k)
    if two_at_once:
        _two_at_once(repo, vae, two_at_once, options)


def _verified(repo, vae, k: int, sp, options: VerifyOptions, tolerance: float):
    """Write the verified method's predictions of attribute k; its codes."""
    z1, a1, _, a2 = repo.raw_pairs(k, "test")
    editor = Editor(repo, vae, k, options)
    proposals = editor.proposals(z1, a1[:, k], a2[:, k])
    result = verified_codes(vae, z1, a1, k, a2[:, k], sp, proposals, options, Judge.of(repo, tolerance),
                            search=editor.search)
    # its choices instead of its codes (but the few a search won): with the repository and
    # SeNT's codes they rebuild them
    write_predictions(repo.dir, k, "verified", result["achieved"], candidate=result["candidate"].astype(np.int16),
                      first=result["first"].astype(np.int16), candidate_names=np.array(result["names"]),
                      proposals=np.array(list(proposals), dtype=str), scales=np.array(options.scales),
                      line=np.array(options.line), search=np.array(options.search, dtype=np.int64),
                      searched=result["searched"].astype(np.float32))
    print(f"{repo.names[k]}: {100 * result['reached'].mean():.1f}% reached (verified)")
    return result["codes"]


def _baselines(repo, vae, k: int) -> None:
    for method in BASELINES:
        if applicable(method, repo):
            cp = decode_attributes(vae, baseline_codes(repo, k, method), plugin=repo.plugin)
            write_predictions(repo.dir, k, method, cp)
            print(f"{repo.names[k]}: {100 * (~invalid(cp[:, k])).mean():.1f}% valid ({method})")


def _two_at_once(repo, vae, pairs: int, options: VerifyOptions) -> None:
    trained = [k for k in range(len(repo.names)) if repo.path(f"sent_{k}.model").exists()]
    rows = multi_rows(repo, vae, trained, pairs=pairs, options=options)
    if not rows:
        raise SentError(f"{repo.dir}: --two_at_once needs traversal functions for at least two attributes")
    write_rows_csv(repo.path("two_at_once.csv"), rows)
    for r in rows:
        print(f"{r['first']} + {r['second']}: {r['pairs']} pairs, both reached and the rest kept: "
              f"SeNT twice {r['sent_twice_success']:.3f}, verified {r['verified_success']:.3f}")


def main(argv=None):
    cli.main(run, name="evaluate", argv=argv)
