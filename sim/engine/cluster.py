"""Joining Ray: a local instance sized to the machine, or a cluster with the project shipped.

On a cluster (``address``: ``auto``, ``host:port`` or Ray Client's ``ray://host:10001``) the
driver's runtime environment ships this source tree (`project_root`, minus what .gitignore and
`SHIPPED_EXCLUDES` leave out) to every node, so workers run the driver's code, and passes the
settings workers need. Dependencies come from the node image (deploy/Containerfile); a
``runtime_env`` file (``mercato run --runtime-env``) can add more (``pip``, ``env_vars``, ...). A
driver started by ``ray job submit`` already runs in its job's environment and adds nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RAY_NAMESPACE = "mercato"
CLIENT_RETRY_S = 2.0
SHIPPED_EXCLUDES = [".venv", ".git", "runs", "**/__pycache__", "*.egg-info", "*.parquet"]
FORWARDED_ENV = ("MERCATO_TORCH_THREADS", "MERCATO_CACHE", "RAY_AUTH_MODE")
"""Settings a worker must share with the driver (never credentials: nodes read their own)."""


def project_root() -> Path | None:
    """The source tree mercato runs from, when it is a checkout (it has pyproject.toml)."""
    root = Path(__file__).resolve().parents[2]  # sim/engine/cluster.py -> the checkout
    return root if (root / "pyproject.toml").is_file() and (root / "sim").is_dir() else None


def inside_ray_job() -> bool:
    """Whether this process is the driver of a submitted Ray job (its environment is set)."""
    return "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ or "RAY_JOB_ID" in os.environ


def cluster_runtime_env(extra: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The runtime environment a driver joining a cluster gives its workers (None in a job)."""
    if inside_ray_job() and not extra:
        return None
    env: dict[str, Any] = {}
    root = project_root()
    if root is not None and not inside_ray_job():
        env["working_dir"] = str(root)
        env["excludes"] = list(SHIPPED_EXCLUDES)
    forwarded = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    if forwarded:
        env["env_vars"] = forwarded
    for key, value in (extra or {}).items():
        if key == "env_vars":
            env["env_vars"] = {**env.get("env_vars", {}), **value}
        elif key == "excludes":
            env["excludes"] = [*env.get("excludes", []), *value]
        else:
            env[key] = value
    return env or None


def connect_ray(
    address: str | None, workers: int | None, runtime_env: Mapping[str, Any] | None = None
) -> None:
    """Join the cluster at ``address``, or start a local instance sized to the machine (once)."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if address:
        options = {
            "address": address,
            "namespace": RAY_NAMESPACE,
            "log_to_driver": False,
            "runtime_env": cluster_runtime_env(runtime_env),
        }
        try:
            ray.init(**options)
        except Exception:
            if not address.startswith("ray://"):
                raise
            # Ray Client's proxy sometimes fails to start a session's server on the first
            # connection to a fresh head (seen: a zombie startup process); the next one works.
            time.sleep(CLIENT_RETRY_S)
            ray.init(**options)
    else:
        ray.init(  # "local": always a fresh instance, never a stale cluster left on this machine
            address="local",
            num_cpus=max(os.cpu_count() or 1, workers or 0),
            namespace=RAY_NAMESPACE,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env=dict(runtime_env) if runtime_env else None,
        )
