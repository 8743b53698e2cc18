"""Shared entry point of the bin/ tools: fire argument parsing and one-line errors."""

from __future__ import annotations

import os
import signal
import sys

import fire

from sent.errors import SentError


def set_threads(threads: int | None) -> None:
    """Limit torch and numba to `threads` so parallel pipeline tasks do not oversubscribe cores."""
    from sent import validate

    threads = validate.size("threads", threads, optional=True)
    if threads is None:
        return
    import numba
    import torch

    torch.set_num_threads(int(threads))
    numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))


def main(component) -> None:
    """Run `component` with fire; a SentError becomes `tool: error: message` and exit code 2.

    SIGTERM (what schedulers and `kill` send) becomes SystemExit(143), so that the cleanup of
    partly written temporary files runs as it does for Ctrl-C.
    """
    tool = os.path.basename(sys.argv[0])
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        fire.Fire(component, name=tool)
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
