"""Importing mercato stays cheap: every process pays it (CLI calls, Ray workers, notebook
kernels), so `import sim` and `import envs` load no heavy library. Mesa (with pandas, scipy and
networkx, about 1.2 s) comes with the env that simulates on it; torch, Ray, transformers and the
table libraries with the code that uses them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("mesa", "pandas", "pyarrow", "scipy", "networkx", "torch", "ray", "transformers")


@pytest.mark.parametrize("package", ["envs", "sim", "agents"])
def test_importing_a_package_loads_no_heavy_library(package):
    code = f"import sys, {package}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", f"import {package} loads {done.stdout.strip()}"


def test_a_marketplace_env_still_builds_on_mesa():
    code = (
        "import sys; from envs.core.registry import make_env; "
        "import envs; make_env('mercato/Marketplace-v0', {'n_customers': 2}); "
        "print('mesa' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "True"
