"""The client test endpoint (issue 7, acceptance 3): what `openssl s_client -tls1/-tls1_2/
-tls1_3` and Python clients offer and negotiate, read from their raw ClientHello, their
User-Agent judged, the answer page, the JSON log, and a clean stop. Loopback only; the
endpoint's certificate is made at test time."""

from __future__ import annotations

import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies.tls_policy import load_tls_policy
from services.compliance.client_endpoint import ClientEndpoint, ClientRecord, judge_client
from services.compliance.client_hello import (
    NEED_MORE,
    ClientHello,
    NotClientHello,
    parse_client_hello,
)
from services.compliance.tls_probe import build_client_hello

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 5.0
OLD_CURL = "curl/7.29.0"


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[ClientEndpoint]:
    server = ClientEndpoint("127.0.0.1", 0, json_log=tmp_path / "clients.jsonl", timeout=2.0)
    server.start()
    yield server
    server.stop()


def hello_of(data: bytes) -> ClientHello:
    parsed = parse_client_hello(data)
    assert isinstance(parsed, ClientHello)
    return parsed


def wait_for_records(endpoint: ClientEndpoint, count: int) -> list[ClientRecord]:
    records = endpoint.wait_for(count, TIMEOUT)
    assert len(records) >= count, f"only {len(records)} of {count} clients"
    return records


def s_client(endpoint: ClientEndpoint, flag: str, request: bytes = b"") -> int:
    """`openssl s_client` with one version flag; security level 0 so that the local OpenSSL
    is willing to speak TLS 1.0 at all."""
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{endpoint.port}", flag,
         "-servername", "client.test", "-cipher", "DEFAULT:@SECLEVEL=0"],
        input=request, capture_output=True, timeout=30, check=False)
    return done.returncode


# ---- openssl s_client ------------------------------------------------------------------------


@pytest.mark.parametrize(("flag", "version", "verdict"), [
    ("-tls1", "TLSv1", "no_tls12"),
    ("-tls1_2", "TLSv1.2", "compliant"),
    ("-tls1_3", "TLSv1.3", "compliant"),
])
def test_openssl_s_client_offered_and_negotiated(endpoint: ClientEndpoint, flag: str,
                                                 version: str, verdict: str) -> None:
    s_client(endpoint, flag)
    [record] = wait_for_records(endpoint, 1)
    assert record.offered is not None
    assert record.highest_offered == version
    assert record.server_name == "client.test"
    assert record.verdict == verdict
    assert record.compliant is (verdict == "compliant")
    assert record.offered.suite_names, "the offered suites are read from the ClientHello"
    if version in endpoint.local_versions:
        assert record.negotiated_version == version
        assert record.negotiated_cipher in record.offered.suite_names
        assert not record.local_limitation
    else:
        # This machine's OpenSSL cannot accept the version: reported as ours, never the client's.
        assert record.negotiated_version == ""
        assert record.local_limitation
        assert "local limitation" in record.handshake_detail
    if version == "TLSv1.3":
        assert set(record.offered.suite_names) <= {
            "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
            "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"}


def test_s_client_http_request_is_judged_by_user_agent_too(endpoint: ClientEndpoint) -> None:
    s_client(endpoint, "-tls1_2",
             f"GET /check HTTP/1.0\r\nUser-Agent: {OLD_CURL}\r\n\r\n".encode())
    [record] = wait_for_records(endpoint, 1)
    assert record.request == "GET /check"
    assert record.user_agent == OLD_CURL
    assert record.ua_verdict is not None and record.ua_verdict.family == "curl"
    assert record.negotiated_version == "TLSv1.2" and record.compliant
    assert any(reason.startswith("User-Agent:") for reason in record.reasons)


# ---- Python clients --------------------------------------------------------------------------


def python_client(port: int, *, low: ssl.TLSVersion | None = None,
                  high: ssl.TLSVersion | None = None, ciphers: str | None = None,
                  request: bytes | None = None) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLS 1.0 is deprecated: an old client is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        if low is not None:
            ctx.minimum_version = low
        if high is not None:
            ctx.maximum_version = high
    if ciphers:
        ctx.set_ciphers(ciphers)
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw, \
            ctx.wrap_socket(raw, server_hostname="python.test") as tls:
        if request is not None:
            tls.sendall(request)
            while chunk := tls.recv(65536):
                answer += chunk
    return answer


def test_python_default_client_with_json_answer(endpoint: ClientEndpoint) -> None:
    answer = python_client(endpoint.port, request=(
        b"GET / HTTP/1.1\r\nHost: python.test\r\nUser-Agent: python-requests/2.31.0\r\n"
        b"Accept: application/json\r\n\r\n"))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head
    document = json.loads(body)
    [record] = wait_for_records(endpoint, 1)
    assert document["verdict"] == record.verdict == "compliant"
    assert document["highest_offered"] == "TLSv1.3"
    assert document["negotiated_version"] == "TLSv1.3"
    assert document["offered"]["offered_versions"][:2] == ["TLSv1.3", "TLSv1.2"]
    assert document["ua_verdict"]["verdict"] == "compliant"
    assert document["server_name"] == "python.test"


def test_python_tls12_client_negotiates_a_policy_suite(endpoint: ClientEndpoint) -> None:
    python_client(endpoint.port, high=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE+AESGCM")
    [record] = wait_for_records(endpoint, 1)
    assert record.highest_offered == "TLSv1.2"
    assert record.negotiated_version == "TLSv1.2"
    assert record.negotiated_cipher in load_tls_policy().tls12_ciphers
    assert record.verdict == "compliant" and record.user_agent == ""


def test_python_client_with_tls12_but_no_policy_suite(endpoint: ClientEndpoint) -> None:
    python_client(endpoint.port, high=ssl.TLSVersion.TLSv1_2, ciphers="AES128-SHA:@SECLEVEL=0")
    [record] = wait_for_records(endpoint, 1)
    assert record.negotiated_version == "TLSv1.2"
    assert record.negotiated_cipher == "AES128-SHA"
    assert record.verdict == "no_policy_suite" and not record.compliant


def test_python_tls10_client_gets_a_page_saying_not_compliant(endpoint: ClientEndpoint) -> None:
    if "TLSv1" not in endpoint.local_versions:
        # A Python client here cannot speak TLS 1.0 either; the raw ClientHello test below
        # covers the endpoint's side. Prove that the endpoint says so.
        assert "TLSv1" in endpoint.local_note()
        return
    ua = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0) <script>"
    answer = python_client(endpoint.port, low=ssl.TLSVersion.TLSv1, high=ssl.TLSVersion.TLSv1,
                           ciphers="DEFAULT:@SECLEVEL=0",
                           request=f"GET / HTTP/1.1\r\nUser-Agent: {ua}\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"text/html" in head
    page = body.decode()
    assert "does NOT meet" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    [record] = wait_for_records(endpoint, 1)
    assert (record.highest_offered, record.negotiated_version) == ("TLSv1", "TLSv1")
    assert record.verdict == "no_tls12"
    assert record.ua_verdict is not None and record.ua_verdict.verdict.value == "no_tls12"


# ---- what no local OpenSSL can accept: judged from the offer ----------------------------------


def raw_client(endpoint: ClientEndpoint, hello: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=TIMEOUT) as sock:
        sock.sendall(hello)
        try:
            return sock.recv(4096)
        except OSError:
            return b""


def test_sslv3_client_is_judged_and_the_failure_called_local(endpoint: ClientEndpoint) -> None:
    reply = raw_client(endpoint, build_client_hello(0x0300, "old.test"))
    assert reply[:1] == b"\x15", "the client is told with an alert"
    [record] = wait_for_records(endpoint, 1)
    assert record.highest_offered == "SSLv3"
    assert record.offered is not None and "DES-CBC3-SHA" in record.offered.suite_names
    assert record.server_name == "old.test"
    assert record.negotiated_version == ""
    assert record.local_limitation and "local limitation" in record.handshake_detail
    assert record.verdict == "no_tls12" and not record.compliant


def test_plain_http_is_not_tls(endpoint: ClientEndpoint) -> None:
    raw_client(endpoint, b"GET / HTTP/1.0\r\n\r\n")
    [record] = wait_for_records(endpoint, 1)
    assert record.offered is None and record.verdict == "not_tls"
    assert "https://" in record.reasons[0]


# ---- the log, the callback and a clean stop --------------------------------------------------


def test_json_log_callback_and_clean_stop(tmp_path: Path) -> None:
    seen: list[ClientRecord] = []
    log = tmp_path / "log.jsonl"
    server = ClientEndpoint("127.0.0.1", 0, json_log=log, on_client=seen.append, timeout=1.0)
    server.start()
    port = server.port
    python_client(server.port)
    idle = socket.create_connection(("127.0.0.1", port))  # says nothing: stop() must end it
    wait_for_records(server, 1)
    before = {t.name for t in threading.enumerate()}
    assert any(name.startswith("client-endpoint") for name in before)
    server.stop()
    idle.close()
    assert not any(t.name.startswith("client-endpoint") for t in threading.enumerate())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["negotiated_version"] for line in lines] == ["TLSv1.3"]
    assert [r.peer for r in seen] == [lines[0]["peer"]]


def test_listening_on_a_port_in_use_is_a_sentence() -> None:
    from services.errors import InvalidInput

    with socket.create_server(("127.0.0.1", 0)) as taken:
        server = ClientEndpoint("127.0.0.1", taken.getsockname()[1])
        with pytest.raises(InvalidInput, match="choose another port"):
            server.start()


# ---- the ClientHello parser ------------------------------------------------------------------


def test_client_hello_split_over_records_and_partial_input() -> None:
    record = build_client_hello(0x0303, "split.test")
    handshake = record[5:]
    first, second = handshake[:20], handshake[20:]
    two = (struct.pack("!BHH", 0x16, 0x0301, len(first)) + first
           + struct.pack("!BHH", 0x16, 0x0301, len(second)) + second)
    for cut in (0, 3, 5, 30, len(two) - 1):
        assert parse_client_hello(two[:cut]) is NEED_MORE
    hello = hello_of(two)
    assert hello.server_name == "split.test" and hello.highest_version_name == "TLSv1.2"


def test_grease_and_supported_versions() -> None:
    hello = build_client_hello(0x0303, "")
    body = bytearray(hello[5:])
    # Append supported_versions (GREASE, TLS 1.3, 1.2) and a GREASE suite, as Chrome sends.
    ext = struct.pack("!HHB3H", 0x002B, 7, 6, 0x3A3A, 0x0304, 0x0303)
    suites_at = 4 + 2 + 32 + 1
    count = struct.unpack("!H", body[suites_at:suites_at + 2])[0]
    body[suites_at:suites_at + 2] = struct.pack("!H", count + 2)
    body[suites_at + 2:suites_at + 2] = b"\x1a\x1a"
    ext_at = suites_at + 2 + count + 2 + 2
    length = struct.unpack("!H", body[ext_at:ext_at + 2])[0]
    body[ext_at:ext_at + 2] = struct.pack("!H", length + len(ext))
    body += ext
    body[1:4] = (len(body) - 4).to_bytes(3, "big")
    parsed = hello_of(struct.pack("!BHH", 0x16, 0x0301, len(body)) + bytes(body))
    assert parsed.highest_version_name == "TLSv1.3"
    assert list(parsed.offered_versions) == [0x0304, 0x0303]
    assert 0x1A1A not in parsed.cipher_suites


def test_sslv2_compatible_client_hello() -> None:
    specs = bytes([0, 0x00, 0x0A, 0x01, 0x00, 0x80, 0, 0x00, 0x2F])  # 3DES, SSL2 RC4, AES128
    body = b"\x01" + struct.pack("!HHHH", 0x0301, len(specs), 0, 16) + specs + os.urandom(16)
    hello = hello_of(struct.pack("!H", 0x8000 | len(body)) + body)
    assert hello.sslv2_format and hello.highest_version_name == "TLSv1"
    assert hello.suite_names == ("DES-CBC3-SHA", "AES128-SHA")


@pytest.mark.parametrize("data", [b"GET / HTTP/1.1\r\n", b"\x17\x03\x03\x00\x01x",
                                  b"\x16\x03\x01\x00\x04\x02\x00\x00\x00"])
def test_what_is_not_a_client_hello_is_refused(data: bytes) -> None:
    with pytest.raises(NotClientHello):
        parse_client_hello(data)


def test_judge_without_an_offer_or_with_an_unsupported_browser() -> None:
    from services.compliance.browsers import judge_user_agent

    policy = load_tls_policy()
    assert judge_client(None, None, policy)[:2] == ("not_tls", False)
    hello = hello_of(build_client_hello(0x0303, "", [0xC02F]))
    ie11 = judge_user_agent("Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko")
    verdict, compliant, _ = judge_client(hello, ie11, policy)
    assert (verdict, compliant) == ("unsupported_browser", False)
    assert judge_client(hello, None, policy)[:2] == ("compliant", True)


# ---- the command -----------------------------------------------------------------------------


def test_check_client_command(tmp_path: Path) -> None:
    log = tmp_path / "clients.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "main.py", "check", "client", "--listen", "127.0.0.1:0", "--count",
         "1", "--json-log", str(log), "--json", "--timeout", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("Listening on https://127.0.0.1:"), first
    port = int(first.split("https://127.0.0.1:")[1].split("/")[0])
    python_client(port, high=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE+AESGCM")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    document = json.loads(out)
    assert [c["negotiated_version"] for c in document["clients"]] == ["TLSv1.2"]
    assert document["compliant"] is True
    assert json.loads(log.read_text())["highest_offered"] == "TLSv1.2"


def test_check_client_bad_address_is_exit_2() -> None:
    done = subprocess.run([sys.executable, "main.py", "check", "client", "--listen", "8443"],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "HOST:PORT" in done.stderr
