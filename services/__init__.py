"""Gatehouse behaviour: everything a person can do, with no Qt (the CLI and the GUI share it)."""
