"""mercato's engine: language models, rollouts, batch runs, trajectory store, CLI."""

__version__ = "0.1.0"
