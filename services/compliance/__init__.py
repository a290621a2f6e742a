"""TLS 1.2-only compliance: which browsers, API clients, servers and users fail the rule.

No Qt and no store: the engine takes strings and files and returns verdicts, so that the CLI,
the GUI and the access-log analysis share it.
"""
