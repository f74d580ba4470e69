"""Load a module of the collector's SQL as it was at a git revision, for before/after figures
measured in the same run on the same store (the ``spans`` table is the same at both)."""

from __future__ import annotations

import subprocess
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE_ROLLUP = "d1c1768"
"""The last commit before the ``requests`` rollup (queries grouped spans per request)."""


def sql_module(rev: str, path: str) -> types.ModuleType:
    """``path`` (e.g. ``collector/store/cohort_sql.py``) at ``rev``, executed as a module
    (it must import nothing of the package: the SQL modules import only the standard library)."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    module = types.ModuleType(f"before_{Path(path).stem}")
    module.__file__ = f"{rev}:{path}"
    exec(compile(text, module.__file__, "exec"), module.__dict__)
    return module
