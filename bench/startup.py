"""Cold start, measured with the process as a whole (targets: --help ≤ 0.5 s; GUI launch to the
sign-in dialog ≤ 1.5 s). Baselines in the same run: a bare interpreter, and importing Qt's
widgets alone. Prints one JSON object."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7


def timed(argv: list[str], env: dict[str, str], stdin: str | None = None,
          expect: str | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or (expect and expect not in done.stdout):
        raise SystemExit(f"{argv} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return elapsed


def median_ms(argv: list[str], env: dict[str, str], expect: str | None = None) -> dict[str, float]:
    timed(argv, env, expect=expect)  # warm the file cache: "cold" means a new process
    samples = [timed(argv, env, expect=expect) * 1000 for _ in range(RUNS)]
    return {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


def main() -> None:
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen",
                   XDG_DATA_HOME=tmp,
                   PYTHON_KEYRING_BACKEND="tests.memory_keyring.FileKeyring",
                   GATEHOUSE_TEST_KEYRING=str(Path(tmp) / "keyring.json"),
                   GATEHOUSE_DB=f"sqlite:///{Path(tmp) / 'bench.db'}")
        timed([py, "main.py", "init", "--admin", "admin@bench.example"], env,
              stdin="a long enough bench password\n")
        result = {
            "benchmark": "startup",
            "runs": RUNS,
            "help": median_ms([py, "main.py", "--help"], env, expect="usage"),
            "gui_to_sign_in": median_ms([py, "main.py"], dict(env, GATEHOUSE_BENCH_READY="1"),
                                        expect="READY"),
            "baseline_python": median_ms([py, "-c", "pass"], env),
            "baseline_import_qtwidgets": median_ms(
                [py, "-c", "from PySide6 import QtWidgets; QtWidgets.QApplication([])"], env),
            "targets": {"help_ms": 500, "gui_to_sign_in_ms": 1500},
        }
    result["meets_targets"] = (result["help"]["median_ms"] <= 500
                               and result["gui_to_sign_in"]["median_ms"] <= 1500)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
