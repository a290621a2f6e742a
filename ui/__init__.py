"""The PySide6 desktop front end. It calls the same service functions as the CLI, always off the
GUI thread through ``ui.task_runner``; nothing below ``ui`` imports Qt."""
