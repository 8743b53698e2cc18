"""Helpers shared by the tests."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_tool(name, *args, check=True, cwd=None, env=None):
    """Run a bin/ tool as a user would; returns the CompletedProcess."""
    full_env = dict(os.environ, **(env or {}))
    full_env["PATH"] = f"{ROOT / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{full_env['PATH']}"
    proc = subprocess.run([str(ROOT / "bin" / name), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc
