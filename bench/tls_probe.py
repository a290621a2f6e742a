"""Benchmark: server probes against loopback TLS servers, with sslyze as a peer. Prints one
JSON object.

A child process (so that the servers' handshakes do not share the probing process's GIL)
serves, on 127.0.0.1, ``--per-config`` listeners of each configuration (Python ``ssl``,
``@SECLEVEL=0`` where TLS 1.0 is involved, one throwaway RSA 2048 certificate):

- ``tls10_only``: TLS 1.0 only with a legacy-only suite list (AES128-SHA);
- ``tls10_12``: TLS 1.0 to 1.2; ``tls12_only``; ``tls12_13``; ``tls13_only``.

Measured, with the issue's targets in brackets:

- the full probe (:func:`services.compliance.tls_probe.probe`: protocol matrix, TLS 1.2
  suites, certificate) of one target of each configuration, median of 3 [<= 0.2 s];
- all ``5 x per-config`` targets (200 by default) with ``probe_many`` [<= 5 s];
- sslyze 6.x, installed in its own virtual environment under the user cache directory
  (``platformdirs.user_cache_dir("gatehouse")/sslyze-venv``, created on first run; it is a
  benchmark peer, never a dependency of Gatehouse), run as a subprocess on the same servers
  for the same protocols: its verdicts are compared with ours and with the configuration,
  and the time ratio reported (sslyze's wall time, which includes its start-up, and its own
  scan time from its JSON).

    .venv/bin/python bench/tls_probe.py [--per-config N] [--no-sslyze]
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import ipaddress  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import selectors  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from multiprocessing.connection import Connection  # noqa: E402
from typing import Any  # noqa: E402

V = ssl.TLSVersion
PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# name → (lowest, highest, server suite list, protocols a correct probe finds accepted)
CONFIGS: dict[str, tuple[ssl.TLSVersion, ssl.TLSVersion, str | None, tuple[str, ...]]] = {
    "tls10_only": (V.TLSv1, V.TLSv1, "AES128-SHA:@SECLEVEL=0", ("TLSv1",)),
    "tls10_12": (V.TLSv1, V.TLSv1_2, "DEFAULT:@SECLEVEL=0", ("TLSv1", "TLSv1.1", "TLSv1.2")),
    "tls12_only": (V.TLSv1_2, V.TLSv1_2, "ECDHE+AESGCM:ECDHE+CHACHA20", ("TLSv1.2",)),
    "tls12_13": (V.TLSv1_2, V.TLSv1_3, "ECDHE+AESGCM:ECDHE+CHACHA20", ("TLSv1.2", "TLSv1.3")),
    "tls13_only": (V.TLSv1_3, V.TLSv1_3, None, ("TLSv1.3",)),
}
SSLYZE_KEYS = {"ssl_3_0_cipher_suites": "SSLv3", "tls_1_0_cipher_suites": "TLSv1",
               "tls_1_1_cipher_suites": "TLSv1.1", "tls_1_2_cipher_suites": "TLSv1.2",
               "tls_1_3_cipher_suites": "TLSv1.3"}
SSLYZE_SPEC = "sslyze>=6,<7"
ONE_TARGET_LIMIT_S = 0.2
MANY_TARGETS_LIMIT_S = 5.0


# ---- the servers (child process) -------------------------------------------------------------


def _certificate(folder: Path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench.gatehouse.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def _context(config: str, cert: str, key: str) -> ssl.SSLContext:
    low, high, ciphers, _ = CONFIGS[config]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():  # TLS 1.0 is deprecated: the legacy servers mean it
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version, ctx.maximum_version = low, high
    if ciphers:
        ctx.set_ciphers(ciphers)
    ctx.load_cert_chain(cert, key)
    return ctx


def _handshake(conn: socket.socket, ctx: ssl.SSLContext) -> None:
    try:
        conn.settimeout(5)
        with ctx.wrap_socket(conn, server_side=True):
            pass
    except (OSError, ssl.SSLError):
        pass  # a refused version, or a raw probe that hung up after the ServerHello
    finally:
        conn.close()


def serve(pipe: Connection, per_config: int) -> None:
    """The child: listen, send the (config, port) list, serve until the pipe says stop."""
    with tempfile.TemporaryDirectory() as folder:
        cert, key = _certificate(Path(folder))
        contexts = {name: _context(name, cert, key) for name in CONFIGS}
    selector = selectors.DefaultSelector()
    listeners = []
    for _ in range(per_config):
        for name in CONFIGS:
            sock = socket.create_server(("127.0.0.1", 0), backlog=128)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, name)
            listeners.append((name, sock.getsockname()[1]))
    stop = threading.Event()

    def wait_for_stop() -> None:
        pipe.recv()
        stop.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    pipe.send(listeners)
    with ThreadPoolExecutor(max_workers=64) as pool:
        while not stop.is_set():
            for key_, _ in selector.select(0.1):
                listener = key_.fileobj
                assert isinstance(listener, socket.socket)
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(True)
                pool.submit(_handshake, conn, contexts[key_.data])


# ---- Gatehouse's probe -----------------------------------------------------------------------


def accepted(report: Any) -> tuple[str, ...]:
    return tuple(report.accepted_protocols())


def bench_gatehouse(targets: list[tuple[str, int]]) -> dict[str, Any]:
    from services.compliance.tls_probe import probe, probe_many

    first: dict[str, int] = {}
    for name, port in targets:
        first.setdefault(name, port)
    for port in first.values():  # warm-up: imports, the policy, the OpenSSL suite list
        probe("127.0.0.1", port, timeout=5)
    one: dict[str, float] = {}
    one_matrix: dict[str, tuple[str, ...]] = {}
    for name, port in first.items():
        times = []
        for _ in range(3):
            started = time.perf_counter()
            report = probe("127.0.0.1", port, timeout=5)
            times.append(time.perf_counter() - started)
        one[name] = round(statistics.median(times), 4)
        one_matrix[name] = accepted(report)
    started = time.perf_counter()
    reports = probe_many([("127.0.0.1", port) for _, port in targets], timeout=5)
    many_seconds = time.perf_counter() - started
    return {
        "one_seconds": one, "one_matrix": one_matrix,
        "many_seconds": many_seconds,
        "many_matrix": {port: accepted(r) for (_, port), r in zip(targets, reports, strict=True)},
        "unreachable": sum(r.status.value != "ok" for r in reports),
    }


# ---- sslyze in its own virtual environment ----------------------------------------------------


def sslyze_venv() -> tuple[Path | None, dict[str, Any]]:
    import platformdirs

    venv = Path(platformdirs.user_cache_dir("gatehouse")) / "sslyze-venv"
    executable = venv / "bin" / "sslyze"
    note: dict[str, Any] = {"venv": str(venv)}
    if not executable.exists():
        started = time.perf_counter()
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                           capture_output=True, timeout=300)
            subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", SSLYZE_SPEC],
                           check=True, capture_output=True, timeout=900)
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            note["error"] = (f"sslyze could not be installed ({exc}): "
                             f"{detail.decode(errors='replace')[-300:]}")
            return None, note
        note["installed_seconds"] = round(time.perf_counter() - started, 1)
    version = subprocess.run([str(executable), "--help"], capture_output=True, text=True,
                             timeout=120, check=False).stdout
    note["version"] = next((line.split()[-1] for line in version.splitlines()
                            if line.startswith("SSLyze version")), "unknown")
    return executable, note


def run_sslyze(executable: Path, ports: list[int]) -> tuple[float, float, dict[int, Any]]:
    """(wall seconds, sslyze's own scan seconds, port → accepted protocols or an error)."""
    with tempfile.TemporaryDirectory() as folder:
        targets = Path(folder) / "targets.txt"
        targets.write_text("".join(f"127.0.0.1:{port}\n" for port in ports))
        out = Path(folder) / "out.json"
        started = time.perf_counter()
        subprocess.run([str(executable), "--quiet", "--mozilla_config=disable", "--sslv3",
                        "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3",
                        f"--json_out={out}", f"--targets_in={targets}"],
                       capture_output=True, timeout=1800, check=False)
        wall = time.perf_counter() - started
        document = json.loads(out.read_text())
    begun = dt.datetime.fromisoformat(document["date_scans_started"])
    ended = dt.datetime.fromisoformat(document["date_scans_completed"])
    results: dict[int, Any] = {}
    for server in document["server_scan_results"]:
        port = server["server_location"]["port"]
        if server.get("scan_status") != "COMPLETED":
            results[port] = {"error": server.get("connectivity_error_trace")
                             or server.get("connectivity_status") or "not completed"}
            continue
        found, errors = [], []
        for key, protocol in SSLYZE_KEYS.items():
            attempt = server["scan_result"][key]
            if attempt.get("status") != "COMPLETED":
                errors.append(f"{protocol}: {attempt.get('error_reason') or attempt['status']}")
            elif attempt["result"]["accepted_cipher_suites"]:
                found.append(protocol)
        results[port] = {"accepted": tuple(found), "errors": errors}
    return wall, (ended - begun).total_seconds(), results


# ---- the run ---------------------------------------------------------------------------------


def verdict(protocols: tuple[str, ...]) -> str:
    """The policy verdict on a protocol matrix: TLS 1.2+ only, and at least one of them."""
    allowed = {"TLSv1.2", "TLSv1.3"}
    return "compliant" if protocols and set(protocols) <= allowed else "non_compliant"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--per-config", type=int, default=40)
    parser.add_argument("--no-sslyze", action="store_true")
    args = parser.parse_args()

    spawn = multiprocessing.get_context("spawn")
    ours_end, theirs_end = spawn.Pipe()
    child = spawn.Process(target=serve, args=(theirs_end, args.per_config), daemon=True)
    child.start()
    try:
        targets: list[tuple[str, int]] = ours_end.recv()
        expected = {port: CONFIGS[name][3] for name, port in targets}
        ours = bench_gatehouse(targets)
        one_max = max(ours["one_seconds"].values())
        first = {name: port for name, port in reversed(targets)}
        result: dict[str, Any] = {
            "benchmark": "tls_probe",
            "local_openssl": ssl.OPENSSL_VERSION,
            "servers": {"configs": list(CONFIGS), "per_config": args.per_config,
                        "targets": len(targets)},
            "one_target": {
                "median_seconds_by_config": ours["one_seconds"],
                "max_seconds": one_max, "limit_seconds": ONE_TARGET_LIMIT_S,
                "within_limit": one_max <= ONE_TARGET_LIMIT_S,
                "matrix_right": all(ours["one_matrix"][n] == CONFIGS[n][3] for n in CONFIGS),
            },
            "many_targets": {
                "targets": len(targets), "seconds": round(ours["many_seconds"], 3),
                "limit_seconds": MANY_TARGETS_LIMIT_S,
                "within_limit": ours["many_seconds"] <= MANY_TARGETS_LIMIT_S,
                "matrix_right": sum(ours["many_matrix"][p] == expected[p] for p in expected),
                "unreachable": ours["unreachable"],
            },
        }
        if args.no_sslyze:
            result["sslyze"] = {"skipped": "--no-sslyze was given"}
        else:
            result["sslyze"] = compare_sslyze(first, targets, expected, ours)
    finally:
        ours_end.send("stop")
        child.join(10)
        if child.is_alive():
            child.terminate()
    print(json.dumps(result))


def compare_sslyze(first: dict[str, int], targets: list[tuple[str, int]],
                   expected: dict[int, tuple[str, ...]], ours: dict[str, Any]) -> dict[str, Any]:
    executable, note = sslyze_venv()
    if executable is None:
        return note
    one_wall, one_scan = {}, {}
    one_results: dict[int, Any] = {}
    for name, port in first.items():
        wall, scan, found = run_sslyze(executable, [port])
        one_wall[name], one_scan[name] = round(wall, 3), round(scan, 3)
        one_results.update(found)
    ports = [port for _, port in targets]
    many_wall, many_scan, many = run_sslyze(executable, ports)
    disagreements: list[dict[str, Any]] = []
    agree_matrix = agree_verdict = 0
    for name, port in targets:
        theirs = many.get(port, {"error": "no result"})
        mine = ours["many_matrix"][port]
        if "accepted" in theirs and theirs["accepted"] == mine:
            agree_matrix += 1
        if "accepted" in theirs and verdict(theirs["accepted"]) == verdict(mine):
            agree_verdict += 1
        elif len(disagreements) < 10:
            disagreements.append({"config": name, "port": port, "gatehouse": mine,
                                  "sslyze": theirs, "expected": expected[port]})
    sslyze_right = sum(many.get(p, {}).get("accepted") == expected[p] for p in expected)
    local_errors = sorted({e for r in many.values() for e in r.get("errors", [])})[:5]
    ours_one = statistics.mean(ours["one_seconds"].values())
    return {
        **note,
        "one_target_wall_seconds_by_config": one_wall,
        "one_target_scan_seconds_by_config": one_scan,
        "one_target_matrix_right": all(one_results[p].get("accepted") == CONFIGS[n][3]
                                       for n, p in first.items()),
        "many_targets_wall_seconds": round(many_wall, 2),
        "many_targets_scan_seconds": round(many_scan, 2),
        "matrix_right": sslyze_right,
        "agreement": {"targets": len(targets), "same_protocol_matrix": agree_matrix,
                      "same_verdict": agree_verdict, "disagreements": disagreements},
        "sslyze_errors": local_errors,
        "time_ratio_one_target_wall": round(statistics.mean(one_wall.values()) / ours_one, 1),
        "time_ratio_one_target_scan": round(statistics.mean(one_scan.values()) / ours_one, 1),
        "time_ratio_many_targets_wall": round(many_wall / ours["many_seconds"], 1),
    }


if __name__ == "__main__":
    main()
