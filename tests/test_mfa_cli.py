"""``python main.py mfa …`` and ``signin`` as a person runs them, in subprocesses on the system
clock, on both backends: enrol → confirm → verify, one code accepted once across two
processes, privileged commands only with a second factor, reset, campaign and report."""

from __future__ import annotations

import time

import pyotp

from tests.conftest import Call, Cli

ADMIN = ("dana.admin@xoserve.example", "amber falcon river quartz")
OTHER = ("robin.second@xoserve.example", "walnut signal meadow twelve")


def test_enrol_confirm_verify_and_replay_across_processes(db_url: str, cli: Cli,
                                                          secrets_to_scan: set[str]) -> None:
    secrets_to_scan.update({ADMIN[1]})
    cli.auto_mfa = False  # this test is the second factor
    db = ("--db", db_url)
    assert cli(*db, "init", "--admin", ADMIN[0], stdin=ADMIN[1] + "\n").code == 0
    cli.operator = ADMIN

    # Before enrolment: reading works, a privileged change is refused with what to do.
    listed, refused = cli.many((*db, "users", "list"),
                               (*db, "orgs", "add", "ABC", "--name", "Abc", "--type", "other"))
    assert listed.code == 0, listed.err
    assert refused.code == 2 and "two-step verification" in refused.err
    assert len(refused.err.splitlines()) == 1

    other = cli(*db, "mfa", "enrol", "someone.else@xoserve.example")
    assert other.code == 2 and "Only the person" in other.err
    started = cli(*db, "mfa", "enrol", ADMIN[0], "--json")
    assert started.code == 0, started.err
    enrolment = started.json()
    assert isinstance(enrolment, dict)
    secret = enrolment["secret"]
    secrets_to_scan.add(secret)
    assert enrolment["uri"].startswith("otpauth://totp/Gatehouse:dana.admin%40xoserve.example?")
    assert "issuer=Gatehouse" in enrolment["uri"] and f"secret={secret}" in enrolment["uri"]
    assert (enrolment["algorithm"], enrolment["digits"], enrolment["period"]) == ("SHA1", 6, 30)

    totp = pyotp.TOTP(secret)
    reference = time.time()
    wrong = cli(*db, "mfa", "confirm", ADMIN[0], stdin="123456\n")
    assert wrong.code == 2 and "does not match" in wrong.err
    confirmed = cli(*db, "mfa", "confirm", ADMIN[0], "--session", "--json",
                    stdin=totp.at(reference) + "\n")
    assert confirmed.code == 0, confirmed.err
    document = confirmed.json()
    assert isinstance(document, dict)
    assert len(document["recovery_codes"]) == 10
    secrets_to_scan.update(document["recovery_codes"])
    token = document["session"]
    secrets_to_scan.add(token)

    # The next step's code (inside the window, later than the confirmation's step), offered
    # by two processes at once: exactly one accepts it.
    following = totp.at(reference + 30)
    first, second = cli.many(Call((*db, "mfa", "verify", ADMIN[0], "--json"),
                                  stdin=following + "\n"),
                             Call((*db, "mfa", "verify", ADMIN[0], "--json"),
                                  stdin=following + "\n"))
    assert sorted((first.code, second.code)) == [0, 1], (first.err, second.err)
    answers = sorted([first.json(), second.json()], key=lambda d: not d["accepted"])  # type: ignore[index]
    assert answers[0] == {"accepted": True}
    assert answers[1]["accepted"] is False  # type: ignore[index]

    # Password and a used code together: the generic sign-in answer, exit 2.
    again = cli(*db, "users", "list", extra_env={"GATEHOUSE_OTP": following})
    assert again.code == 2 and "password or authenticator code is wrong" in again.err
    without = cli(*db, "users", "list")
    assert without.code == 2 and "GATEHOUSE_OTP" in without.err

    # The session from the confirmation carries the verified sign-in to later commands.
    session = {"GATEHOUSE_SESSION": token}
    added, own_reset, report = cli.many(
        Call((*db, "orgs", "add", "ABC", "--name", "Abc", "--type", "other"),
             extra_env=session),
        Call((*db, "mfa", "reset", ADMIN[0], "--reason", "testing"), extra_env=session),
        Call((*db, "mfa", "report", "--json"), extra_env=session))
    assert added.code == 0, added.err
    assert own_reset.code == 2 and "separation of duties" in own_reset.err
    assert report.code == 0, report.err
    totals = report.json()["totals"]  # type: ignore[index]
    assert (totals["total"], totals["enrolled"], totals["coverage_percent"]) == (1, 1, 100.0)

    out = cli(*db, "signout", extra_env=session)
    assert out.code == 0
    ended = cli(*db, "users", "list", extra_env=session)
    assert ended.code == 2 and "python main.py signin" in ended.err


def test_signin_reset_and_campaign(db_url: str, cli: Cli, secrets_to_scan: set[str]) -> None:
    """The fixture's session for the admin (auto MFA); a second person enrols by the CLI."""
    secrets_to_scan.update({ADMIN[1], OTHER[1]})
    db = ("--db", db_url)
    assert cli(*db, "init", "--admin", ADMIN[0], stdin=ADMIN[1] + "\n").code == 0
    cli.operator = ADMIN
    added = cli(*db, "users", "add", OTHER[0], "--given", "Robin", "--family", "Second",
                "--org", "XOS", "--role", "GATEHOUSE:lso", "--json")
    assert added.code == 0, added.err
    assert cli(*db, "reset", "force", OTHER[0]).code == 0
    # The new LSO has no password: they set one with the reset code mailed to them.
    from services.context import open_context
    from tests.ui.conftest import mailed_codes

    cli.adopt_keys()
    ctx = open_context(db_url, create=False)
    try:
        code = mailed_codes(ctx, OTHER[0])[-1]
    finally:
        ctx.close()
    done = cli(*db, "reset", "complete", extra_env={"GATEHOUSE_RESET_CODE": code},
               stdin=OTHER[1] + "\n", operator=("", ""))
    assert done.code == 0, done.err

    cli.auto_mfa = False
    started = cli(*db, "mfa", "enrol", OTHER[0], "--json", operator=OTHER)
    assert started.code == 0, started.err
    secret = started.json()["secret"]  # type: ignore[index]
    secrets_to_scan.add(secret)
    reference = time.time()
    assert cli(*db, "mfa", "confirm", OTHER[0], operator=OTHER,
               stdin=pyotp.TOTP(secret).at(reference) + "\n").code == 0
    signed = cli(*db, "signin", operator=OTHER,
                 extra_env={"GATEHOUSE_OTP": pyotp.TOTP(secret).at(reference + 30)})
    assert signed.code == 0, signed.err
    token = signed.out.strip()
    secrets_to_scan.add(token)
    status = cli(*db, "mfa", "status", "--json", extra_env={"GATEHOUSE_SESSION": token})
    assert status.json()["enrolled"] is True  # type: ignore[index]

    cli.auto_mfa = True
    bad_date, campaign = cli.many((*db, "mfa", "campaign", "start", "--role", "lso", "--by",
                                   "next week"),
                                  (*db, "mfa", "campaign", "start", "--role", "lso", "--org",
                                   "XOS", "--by", "2099-12-31", "--json"))
    assert bad_date.code == 2 and "YYYY-MM-DD" in bad_date.err
    assert campaign.code == 0, campaign.err
    summary = campaign.json()
    assert summary["targets"] == 1 and summary["reminders_queued"] == 0  # type: ignore[index]
    assert summary["enrol_by"] == "2100-01-01T00:00:00+00:00"  # type: ignore[index]

    reset = cli(*db, "mfa", "reset", OTHER[0], "--reason", "phone lost")
    assert reset.code == 0, reset.err
    # The reset ended their session and they must enrol before anything else.
    ended = cli(*db, "mfa", "status", extra_env={"GATEHOUSE_SESSION": token})
    assert ended.code == 2
    cli.auto_mfa = False
    must = cli(*db, "users", "list", operator=OTHER)
    assert must.code == 2 and "nothing else is allowed" in must.err
    report = cli(*db, "mfa", "report", "--campaign", str(summary["id"]),  # type: ignore[index]
                 "--people", operator=ADMIN, extra_env={"GATEHOUSE_SESSION": cli.sessions[
                     (db_url, ADMIN[0], ADMIN[1])]})
    assert report.code == 0, report.err
    assert OTHER[0] in report.out and "reset" in report.out
