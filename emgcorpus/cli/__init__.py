"""The ``emgcorpus`` command line: every click command of the project, one module per area.

``main`` (the console script) and ``cli`` (the click group) live in :mod:`emgcorpus.cli.main`.
"""

from emgcorpus.cli.main import cli, main

__all__ = ["cli", "main"]
