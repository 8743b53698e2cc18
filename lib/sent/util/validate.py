"""One validation layer for the tools' arguments.

fire parses values loosely ("abc" stays a string, 2.7 a float, -5 an int that Python slicing would
accept), so every tool checks its options here, after parsing and before it reads or writes
anything. Conventions, the same for every tool:
- sizes and counts (epochs, batch sizes, rows, pairs, threads) are whole numbers >= 1; an
  optional one is None for "all" or "the default", never 0 or a negative number;
- seeds are whole numbers >= 0;
- rates and thresholds are finite numbers in their stated range;
- attribute indices are whole numbers (names are accepted where the tool knows them).
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

from sent.util.errors import SentError


def whole(name: str, value, minimum: int | None = None, maximum: int | None = None, optional: bool = False):
    """`value` as an int: a whole number (2 or 2.0, not 2.7, True or "abc") within the bounds."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value != int(value):
        raise SentError(f"--{name} must be a whole number, got {value!r}")
    return _within(name, int(value), minimum, maximum)


def size(name: str, value, optional: bool = False):
    """A count or size: a whole number >= 1 (optional: None means all / the default)."""
    return whole(name, value, minimum=1, optional=optional)


def seed(name: str, value, optional: bool = False):
    return whole(name, value, minimum=0, maximum=2 ** 32 - 1, optional=optional)


def real(name: str, value, minimum: float | None = None, maximum: float | None = None,
         above: float | None = None, optional: bool = False):
    """`value` as a finite float within [minimum, maximum] and strictly above `above`."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise SentError(f"--{name} must be a finite number, got {value!r}")
    value = _within(name, float(value), minimum, maximum)
    if above is not None and value <= above:
        raise SentError(f"--{name} must be greater than {above}, got {value}")
    return value


def flag(name: str, value) -> bool:
    """A switch: `--name` or `--noname` (fire would pass `--name=abc` on as the string "abc")."""
    if not isinstance(value, bool):
        raise SentError(f"--{name} is a switch (--{name} or --no{name}), got {value!r}")
    return value


def choice(name: str, value, choices) -> str:
    """One of a fixed set of words."""
    if value not in choices:
        raise SentError(f"--{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def items(value) -> tuple:
    """The items of a comma-separated flag: fire gives a tuple, one number, or a string (when an
    item is not a number, e.g. "3e-3,fast"), whose number-like items become floats so that the
    checks above name the one bad item. "" is none."""
    if isinstance(value, str):
        return tuple(_number(v) for v in texts(value))
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def texts(value) -> tuple[str, ...]:
    """The items of a comma-separated flag of words (labels, names), kept as text: a string's
    items are not turned into numbers, so the label "1" stays "1". "" is none."""
    if isinstance(value, str):
        return tuple(value.split(",")) if value.strip() else ()
    return tuple(map(str, value)) if isinstance(value, (tuple, list)) else (str(value),)


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def positive_reals(name: str, value) -> tuple[float, ...]:
    """A comma-separated list (fire gives a tuple, or one number) of finite numbers > 0; "" is none."""
    return tuple(real(name, v, above=0.0) for v in items(value))


def increasing_wholes(name: str, value) -> tuple[int, ...]:
    """A comma-separated list (fire gives a tuple, or one number) of increasing whole numbers >= 1;
    "" is none."""
    if isinstance(value, str) and not value.strip():
        return ()
    values = tuple(size(name, v) for v in (value if isinstance(value, (tuple, list)) else (value,)))
    if any(b <= a for a, b in zip(values, values[1:])):
        raise SentError(f"--{name} must be increasing, got {','.join(map(str, values))}")
    return values


def _within(name: str, value, minimum, maximum):
    if minimum is not None and value < minimum:
        raise SentError(f"--{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SentError(f"--{name} must be at most {maximum}, got {value}")
    return value


def output_file(path, name: str = "output") -> Path:
    """A file path that can be written: not a directory, its parent not a file and writable."""
    path = Path(str(path))
    if path.is_dir():
        raise SentError(f"{path}: is a directory; --{name} needs a file path")
    _writable_parent(path, name)
    return path


def output_dir(path, name: str = "out") -> Path:
    """A directory path that can be written into: not an existing file, under a writable directory."""
    path = Path(str(path))
    if path.exists() and not path.is_dir():
        raise SentError(f"{path}: is a file; --{name} needs a directory")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise SentError(f"{path}: directory is not writable")
        return path
    _writable_parent(path, name)
    return path


def _writable_parent(path: Path, name: str) -> None:
    """The nearest existing ancestor must be a writable directory (missing ones are created)."""
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise SentError(f"{path}: {parent} is a file, not a directory (--{name})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SentError(f"{path}: directory {parent} is not writable (--{name})")


def column(names, name_or_index) -> int:
    """The column of an attribute given by name or index among `names`, with a clear error."""
    names = list(names)
    if isinstance(name_or_index, str) and name_or_index in names:
        return names.index(name_or_index)
    try:
        k = int(name_or_index)
        if k != float(name_or_index) or isinstance(name_or_index, bool):  # 2.7 or True is no index
            k = -1
    except (TypeError, ValueError, OverflowError):
        k = -1
    if 0 <= k < len(names):
        return k
    raise SentError(f"unknown attribute {name_or_index!r}; valid: 0..{len(names) - 1} or {', '.join(names)}")
