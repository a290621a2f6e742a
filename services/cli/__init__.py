"""The command-line front end (``python main.py COMMAND``); see ``services.cli.main``."""

from services.cli.main import main

__all__ = ["main"]
