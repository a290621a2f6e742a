"""Gatehouse: no arguments opens the desktop application; a sub-command runs the CLI."""

import sys


def main() -> int:
    if len(sys.argv) == 1:
        from ui.app import run

        return run()
    from services.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
