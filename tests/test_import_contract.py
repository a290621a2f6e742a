"""The layering (DESIGN.md): ``ui → services → policies``; services and policies never import
PySide6 or ui. Checked twice: by import-linter with the contracts in pyproject.toml, and by
importing every services and policies module in a fresh interpreter and looking at what loaded."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO_ROOT

PROBE = """
import importlib, json, pkgutil, sys
import policies, services
names = []
for package in (services, policies):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if ".migrations" in info.name:  # alembic scripts, run only by alembic
            continue
        importlib.import_module(info.name)
        names.append(info.name)
from services.cli.main import build_parser
build_parser()  # the whole CLI, every command group registered
loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in ("PySide6", "shiboken6", "ui"))
print(json.dumps({"imported": names, "qt_or_ui": loaded}))
"""


def test_import_linter_contracts_are_kept(tmp_path: Path) -> None:
    contracts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"][
        "importlinter"]["contracts"]
    assert {c["type"] for c in contracts} == {"forbidden", "layers"}
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache", "--no-logo"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in done.stdout


def test_services_and_policies_load_no_qt_in_a_fresh_interpreter() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, check=False,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "services.cli.main" in report["imported"]
    assert "services.users" in report["imported"]
    assert "policies.loader" in report["imported"]
    assert report["qt_or_ui"] == []
