"""The `mercato` application: its command groups, console and error handling.

The command line and the engine behind it come with the ray extra, not the core install: a
missing package is one line naming the extra, before typer is imported.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import Any

# The command line and the engine behind it come with the ray extra, not the core install.
_ENGINE = ("typer", "rich", "ray", "pyarrow", "pydantic", "orjson", "matplotlib")
_MISSING = [name for name in _ENGINE if importlib.util.find_spec(name) is None]
if _MISSING:
    raise SystemExit(
        f"mercato: the command line needs the ray extra ({', '.join(_MISSING)} missing): "
        "pip install 'mercato[ray]'"
    )

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

app = typer.Typer(
    help="mercato: simulated markets, games, trials and dialogues for AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Local language models: pull and list.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks, reported as ratios measured in one run.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
app.add_typer(bench_app, name="bench")
console = Console()
EXIT_RUN_FAILED = 3
"""`mercato run`'s exit status for a run that ended ``failed`` (its LLM decisions fell back)."""


def exits_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected failures into one `error: ...` line on stderr and exit status 2 (bad input,
    a run another writer holds), 1 (storage failures); a run that ended ``failed`` (too many LLM
    fallbacks) exits with `EXIT_RUN_FAILED`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sim.engine.fallbacks import FallbackRateError
        from sim.llm.errors import LLMError
        from sim.store.storage import StoreError

        try:
            return command(*args, **kwargs)
        except StoreError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        except FallbackRateError as error:
            typer.echo(f"error: {error}", err=True)
            typer.echo(f"run directory: {error.run_dir}", err=True)
            raise typer.Exit(EXIT_RUN_FAILED) from None
        except (LLMError, ValueError) as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


def main() -> None:
    """Entry point for `python -m sim.cli`."""
    app()
