"""The lock-out list (issue 7, access logs): users mapped to organisations through the identity
store, users without a name through the policy's address ranges, and each organisation's LSOs
as the contacts to notify. Requests below TLS 1.2 and requests from non-compliant clients both
count. Runs on SQLite and PostgreSQL; the store is only read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from policies.loader import POLICY_DIR
from policies.tls_policy import load_tls_policy
from services.authz import Operator
from services.cli.check import _noncompliant
from services.compliance.access_logs import analyse
from services.compliance.lockout import UNMAPPED, lockout_by_organisation
from services.context import Context
from services.errors import PermissionDenied
from tests.conftest import Cli

PASSWORD = "lock-out list reviewer passphrase 2026"
CHROME_120 = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
IE_11 = "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko"
CURL_OLD = "curl/7.19.7 (x86_64-redhat-linux-gnu) libcurl/7.19.7 NSS/3.12.9.0 zlib/1.2.3"


def line(ip: str, user: str, protocol: str, ua: str) -> str:
    cipher = "ECDHE-RSA-AES128-GCM-SHA256" if protocol == "TLSv1.2" else "AES128-SHA"
    return (f'{ip} - {user} [29/Nov/2026:10:00:00 +0000] "GET /des HTTP/1.1" 200 512 "-" '
            f'{protocol} {cipher} "{ua}"\n')


TRAFFIC = [
    ("198.51.100.1", "Alice@ShipA.example", "TLSv1", CHROME_120),  # old TLS, case differs
    ("198.51.100.1", "alice@shipa.example", "TLSv1", CHROME_120),
    ("198.51.100.1", "alice@shipa.example", "TLSv1.2", CHROME_120),  # fine: not counted
    ("198.51.100.2", "bob@supb.example", "TLSv1.2", IE_11),  # non-compliant client
    ("198.51.100.3", "carol@nowhere.example", "TLSv1.1", CHROME_120),  # not in the store
    ("203.0.113.7", "-", "TLSv1", CURL_OLD),  # no user: SHIPA by address range
    ("192.0.2.1", "-", "TLSv1", CHROME_120),  # no user, no range: unmapped
    ("192.0.2.9", "dave@shipa.example", "TLSv1.3", CHROME_120),  # compliant
]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    path.write_text("".join(line(*row) for row in TRAFFIC))
    return path


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    text = (POLICY_DIR / "tls.toml").read_text()
    assert "ip_ranges = {}" in text
    path = tmp_path / "tls.toml"
    path.write_text(text.replace("ip_ranges = {}",
                                 'ip_ranges = { SHIPA = ["203.0.113.0/24"] }'))
    return path


@pytest.fixture
def people(ctx: Context, make_person: Callable[..., Operator]) -> Operator:
    reviewer = make_person("security_reviewer", email="reviewer@xoserve.example",
                           password=PASSWORD)
    make_person("lso", org="SHIPA", email="lso@shipa.example")
    make_person(org="SHIPA", email="alice@shipa.example")
    make_person(org="SHIPA", email="dave@shipa.example")
    make_person(org="SUPB", email="bob@supb.example")  # SUPB has no LSO
    return reviewer


def test_lockout_list_by_organisation_with_lso_contacts(ctx: Context, people: Operator,
                                                        log: Path, policy_file: Path) -> None:
    policy = load_tls_policy(policy_file)
    report = analyse(log, noncompliant=_noncompliant, client_ips=True)
    result = lockout_by_organisation(report, policy, ctx=ctx, op=people)
    by_code = {org.code: org for org in result.organisations}
    assert [org.code for org in result.organisations] == ["SHIPA", "SUPB", UNMAPPED]

    shipa = by_code["SHIPA"]
    assert shipa.name == "Organisation SHIPA"
    assert (shipa.requests, shipa.legacy_tls, shipa.non_compliant_client) == (3, 3, 1)
    users = {u.user: (u.mapped_by, u.lockout.requests) for u in shipa.users}
    # Both spellings of Alice's login are hers; the address maps by the policy's range.
    assert users == {"Alice@ShipA.example": ("store", 1), "alice@shipa.example": ("store", 1),
                     "address 203.0.113.7": ("ip_range", 1)}
    assert [c.login_id for c in shipa.contacts] == ["lso@shipa.example"]

    supb = by_code["SUPB"]
    assert (supb.requests, supb.legacy_tls, supb.non_compliant_client) == (1, 0, 1)
    assert [u.user for u in supb.users] == ["bob@supb.example"] and supb.contacts == []

    unmapped = by_code[UNMAPPED]
    assert {u.user for u in unmapped.users} == {"carol@nowhere.example", "address 192.0.2.1"}
    assert result.requests == 6
    assert json.loads(json.dumps(result.as_dict()))["store_used"] is True


def test_without_a_store_only_address_ranges_map(log: Path, policy_file: Path) -> None:
    policy = load_tls_policy(policy_file)
    report = analyse(log, noncompliant=_noncompliant, client_ips=True)
    result = lockout_by_organisation(report, policy)
    codes = [org.code for org in result.organisations]
    assert codes == ["SHIPA", UNMAPPED]
    assert result.organisations[0].name == "SHIPA" and not result.store_used


def test_only_reviewers_and_admins_may_map_people(ctx: Context, people: Operator, log: Path,
                                                  make_person: Callable[..., Operator]) -> None:
    lso = make_person("lso", org="SHIPA")
    report = analyse(log, noncompliant=_noncompliant)
    with pytest.raises(PermissionDenied, match="security reviewer"):
        lockout_by_organisation(report, load_tls_policy(), ctx=ctx, op=lso)
    with pytest.raises(PermissionDenied):
        lockout_by_organisation(report, load_tls_policy(), ctx=ctx, op=None)


def test_check_logs_with_a_store(ctx: Context, people: Operator, db_url: str, cli: Cli,
                                 log: Path, policy_file: Path, tmp_path: Path,
                                 secrets_to_scan: set[str]) -> None:
    secrets_to_scan.add(PASSWORD)
    cli.share_keys()
    report = tmp_path / "lockout.csv"
    run = cli("--db", db_url, "check", "logs", str(log), "--policy", str(policy_file),
              "--json", "--report", str(report),
              operator=("reviewer@xoserve.example", PASSWORD))
    assert run.code == 1, run.err
    document = run.json()
    assert isinstance(document, dict)
    organisations = document["lockout_list"]["organisations"]
    assert [o["code"] for o in organisations] == ["SHIPA", "SUPB", ""]
    assert organisations[0]["contacts"][0]["email"] == "lso@shipa.example"
    rows = report.read_text().splitlines()
    assert rows[0].startswith("organisation,name,user,mapped_by")
    assert any("lso@shipa.example" in row for row in rows)
