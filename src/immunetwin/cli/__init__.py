"""The ``immunetwin`` command line (Typer). Thin: parses, calls public verbs, prints."""

from ._app import app as app
from ._app import main as main
