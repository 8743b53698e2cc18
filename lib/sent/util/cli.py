"""Shared entry point of the tools (`sent TOOL`, bin/TOOL): fire argument parsing and one-line errors."""

from __future__ import annotations

import signal
import sys

import fire

from sent.util import validate
from sent.util.errors import SentError


def set_threads(threads: int | None) -> None:
    """Limit torch and numba to `threads` so parallel pipeline tasks do not oversubscribe cores."""
    threads = validate.size("threads", threads, optional=True)
    if threads is None:
        return
    import numba
    import torch

    torch.set_num_threads(int(threads))
    numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))


def merge_repeated(args: list[str], repeatable: tuple[str, ...] = ()) -> list[str]:
    """fire keeps only the last of a flag given twice, silently. A flag in `repeatable` (e.g.
    `--set a=1 --set b=2`) becomes one `--flag=a=1,b=2`; any other flag given twice is an error."""
    def flag_name(token):
        return token[2:].split("=", 1)[0].replace("-", "_") if token.startswith("--") and len(token) > 2 else None

    seen, kept, collected = set(), [], {}
    i = 0
    while i < len(args):
        name = flag_name(args[i])
        if name in repeatable:
            value = args[i].split("=", 1)[1] if "=" in args[i] else (args[i + 1] if i + 1 < len(args) else "")
            collected.setdefault(name, []).append(value)
            i += 1 if "=" in args[i] else 2
            continue
        if name is not None and name != "help":
            if name in seen:
                raise SentError(f"--{name} given twice (only the last would count)")
            seen.add(name)
        kept.append(args[i])
        i += 1
    return kept + [f"--{name}={','.join(values)}" for name, values in collected.items()]


def main(component, name: str, argv: list[str] | None = None, repeatable: tuple[str, ...] = ()) -> None:
    """Run `component` as tool `name` with fire on `argv` (default: the command line's arguments);
    a SentError becomes `name: error: message` and exit code 2.

    SIGTERM (what schedulers and `kill` send) becomes SystemExit(143), so that the cleanup of
    partly written temporary files runs as it does for Ctrl-C. Flags in `repeatable` may be
    given several times (see merge_repeated).
    """
    tool = name
    args = sys.argv[1:] if argv is None else list(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        fire.Fire(component, command=merge_repeated(args, repeatable), name=tool)
    except SentError as exc:
        print(f"{tool}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # Ctrl-C: partial files were already removed on the way out
        print(f"{tool}: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as exc:  # disk full, read-only or vanished paths met while reading or writing
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{tool}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
