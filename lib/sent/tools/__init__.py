"""The command suite: `sent TOOL ARGS...` (the `sent` console script) and bin/TOOL (for Nextflow
and by-hand use) run the same tool modules. Each module has `run` (or a class of subcommands)
for fire and `main(argv)`."""

from __future__ import annotations

import importlib
import sys

# in pipeline order; the one-line summaries are the modules' docstrings
TOOLS = ("dataset", "train-vae", "extract", "findpairs", "init-repo", "mi", "train-zc", "train-sent",
         "evaluate", "perform", "traverse", "demo")


def module(tool: str):
    """The module of `tool` (a name of TOOLS)."""
    return importlib.import_module(f"sent.tools.{tool.replace('-', '_')}")


def usage() -> str:
    lines = ["usage: sent TOOL [ARGS...]      (sent TOOL --help: that tool's arguments)", "", "tools:"]
    for tool in TOOLS:
        summary = (module(tool).__doc__ or "").strip().splitlines()[0]
        lines.append(f"  {tool:11s} {summary}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """`sent TOOL ARGS...`: run one tool; `sent`, `sent --help`: list them."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return
    tool, rest = args[0], args[1:]
    if tool not in TOOLS:
        print(f"sent: error: unknown tool {tool!r}; tools: {', '.join(TOOLS)}", file=sys.stderr)
        sys.exit(2)
    module(tool).main(rest)
