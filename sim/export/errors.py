"""`ExportError`: why a run cannot be exported as asked, in one line that names what is possible."""

from __future__ import annotations


class ExportError(ValueError):
    """A run that cannot be exported as asked; the message is one line (the CLI prints it)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
