"""CLI: two-step verification (TOTP) — enrol, confirm, verify, reset, campaigns, report."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from services.cli.common import Groups, emit, open_ctx, operator, password_sign_in, read_code, table

if TYPE_CHECKING:
    from services.authz import Operator


def _must_be_self(op: Operator, email: str) -> None:
    from services.errors import InvalidInput
    from services.identity import login_key

    if login_key(email) != op.login_id:
        raise InvalidInput(f"Only the person can enrol or check their own authenticator: sign "
                           f"in as {email} (GATEHOUSE_OPERATOR) to do this.")


def cmd_enrol(args: argparse.Namespace) -> int:
    from services.mfa.enrolment import start_enrolment

    ctx = open_ctx(args)
    try:
        op = operator(ctx, enrolling=True)
        _must_be_self(op, args.email)
        enrolment = start_enrolment(ctx, op)
    finally:
        ctx.close()
    # Shown once, to the person enrolling (they asked for it with their own password).
    emit(args, {"login_id": enrolment.login_id, "uri": enrolment.uri,
                "secret": enrolment.secret, "issuer": enrolment.issuer,
                "algorithm": enrolment.algorithm, "digits": enrolment.digits,
                "period": enrolment.period},
         "Add this account to your authenticator app, from this link (or as a QR code):\n\n"
         f"    {enrolment.uri}\n\nor by typing the key:\n\n    {enrolment.secret_groups}\n\n"
         f"Then confirm with the code it shows: python main.py mfa confirm {args.email} "
         "(code on standard input).")
    return 0


def cmd_confirm(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from services.auth import operator_for
    from services.mfa.cli_session import issue_cli_session
    from services.mfa.enrolment import confirm_enrolment
    from services.users import load_detail

    code = read_code()
    ctx = open_ctx(args)
    try:
        op = operator(ctx, enrolling=True)
        _must_be_self(op, args.email)
        confirmed = confirm_enrolment(ctx, op, code)
        token = None
        if args.session:
            # The code just confirmed proves the new factor: this is a verified sign-in.
            with ctx.store.read() as conn:
                detail = load_detail(conn, op.subject)
            token = issue_cli_session(ctx, replace(operator_for(detail),
                                                   mfa_verified=True)).token
    finally:
        ctx.close()
    codes = list(confirmed.recovery_codes)
    document: dict[str, object] = {"confirmed": True, "recovery_codes": codes}
    if token is not None:
        document["session"] = token
    emit(args, document,
         "Two-step verification is on. Keep these recovery codes somewhere safe; each works "
         "once if you lose your device, and they will not be shown again:\n\n"
         + "\n".join(f"    {c}" for c in codes)
         + (f"\n\nSession for GATEHOUSE_SESSION:\n{token}" if token else ""))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from services.auth import MfaStep, complete_sign_in
    from services.errors import InvalidInput
    from services.identity import login_key
    from services.mfa.errors import CodeRejected

    code = read_code()
    ctx = open_ctx(args)
    try:
        session = password_sign_in(ctx, with_otp=False)
        if login_key(args.email) != session.identity.login_id:
            raise InvalidInput(f"Only the person can check their own code: sign in as "
                               f"{args.email} (GATEHOUSE_OPERATOR) to do this.")
        if session.mfa is not MfaStep.CODE_NEEDED:
            raise InvalidInput(f"{session.identity.login_id} has no authenticator to check; "
                               "enrol one first with python main.py mfa enrol.")
        try:
            complete_sign_in(ctx, session, code)
        except CodeRejected as exc:
            emit(args, {"accepted": False, "message": str(exc)}, str(exc))
            return 1
    finally:
        ctx.close()
    emit(args, {"accepted": True}, "The code is correct.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from services.mfa.enrolment import my_status

    ctx = open_ctx(args)
    try:
        status = my_status(ctx, operator(ctx, enrolling=True))
    finally:
        ctx.close()
    data = {name: (value.isoformat() if isinstance(value, datetime) else value)
            for name, value in status.__dict__.items()}
    emit(args, data, "\n".join(f"{k}: {'-' if v is None else v}" for k, v in data.items()))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from services.mfa.admin import reset_mfa

    ctx = open_ctx(args)
    try:
        reset_mfa(ctx, operator(ctx), args.email, args.reason)
    finally:
        ctx.close()
    emit(args, {"reset": args.email},
         f"Two-step verification of {args.email} was reset; they must enrol again at their "
         "next sign-in, and a notice was queued for their stored address.")
    return 0


def _deadline(text: str) -> datetime:
    """A date means the end of that day, UTC; a date-time needs its zone."""
    from services.errors import InvalidInput

    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date; write it as YYYY-MM-DD.") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{text!r} has no time zone; write YYYY-MM-DD, or add +00:00.")
    return moment.astimezone(UTC)


def cmd_campaign_start(args: argparse.Namespace) -> int:
    from services.mfa.campaign import start_campaign

    by = _deadline(args.by)
    ctx = open_ctx(args)
    try:
        summary = start_campaign(ctx, operator(ctx), role=args.role, enrol_by=by,
                                 org_codes=args.org or ())
    finally:
        ctx.close()
    where = ", ".join(summary.org_codes) or "every organisation"
    emit(args, summary.as_dict(),
         f"Campaign {summary.id}: {summary.targets} {summary.role} holder(s) in {where} must "
         f"enrol by {summary.enrol_by:%Y-%m-%d %H:%M} UTC; {summary.reminders_queued} "
         "reminder(s) queued (python main.py mail send-pending delivers them).")
    return 0


def cmd_campaign_remind(args: argparse.Namespace) -> int:
    from services.mfa.campaign import send_reminders

    ctx = open_ctx(args)
    try:
        queued = send_reminders(ctx, operator(ctx), args.id)
    finally:
        ctx.close()
    emit(args, {"campaign": args.id, "reminders_queued": queued},
         f"{queued} reminder(s) queued for campaign {args.id}.")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from services.mfa.campaign import coverage_report

    ctx = open_ctx(args)
    try:
        report = coverage_report(ctx, operator(ctx), campaign_id=args.campaign,
                                 status=args.status)
    finally:
        ctx.close()
    counts = [*report.organisations, report.totals]
    text = table([(c.org_code, c.total, c.enrolled, c.pending, c.overdue, c.locked, c.reset,
                   f"{c.coverage_percent:.1f}%") for c in counts],
                 ("org", "total", "enrolled", "pending", "overdue", "locked", "reset",
                  "coverage"))
    if args.people:
        text += "\n\n" + table([(r.login_id, r.org_code, r.status,
                                 f"{r.enrol_by:%Y-%m-%d}" if r.enrol_by else "-")
                                for r in report.rows], ("login ID", "org", "status", "enrol by"))
    emit(args, report.as_dict(), text)
    return 0


def register(cli: Groups) -> None:
    mfa = cli.group("mfa", "two-step verification with an authenticator app (TOTP)")
    p = cli.command(mfa, "enrol", cmd_enrol, "start enrolling your authenticator app: prints "
                    "the provisioning link and key once")
    p.add_argument("email", metavar="EMAIL")
    p = cli.command(mfa, "confirm", cmd_confirm, "confirm enrolment with the app's current code "
                    "(on standard input); prints your recovery codes once")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--session", action="store_true",
                   help="also print a session token for GATEHOUSE_SESSION")
    p = cli.command(mfa, "verify", cmd_verify, "check a code from your app (on standard "
                    "input): exit 0 if accepted, 1 if not; each code works once")
    p.add_argument("email", metavar="EMAIL")
    cli.command(mfa, "status", cmd_status, "your own two-step verification status")
    p = cli.command(mfa, "reset", cmd_reset, "reset someone's two-step verification after a "
                    "lost device (platform admin; never your own)")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--reason", required=True, metavar="TEXT")
    campaign = mfa.add_parser("campaign", help="enrolment campaigns",
                              description="enrolment campaigns")
    actions = campaign.add_subparsers(dest="campaign_action", metavar="ACTION", required=True,
                                      parser_class=type(campaign))
    p = cli.command(actions, "start", cmd_campaign_start, "require the holders of a role to "
                    "enrol by a date, and queue reminders")
    p.add_argument("--role", required=True, metavar="ROLE", help="lso, platform_admin or "
                   "security_reviewer")
    p.add_argument("--org", nargs="+", metavar="CODE", help="only these organisations")
    p.add_argument("--by", required=True, metavar="DATE", help="YYYY-MM-DD (end of that day, "
                   "UTC)")
    p = cli.command(actions, "remind", cmd_campaign_remind,
                    "queue another reminder to everyone in the campaign not yet enrolled")
    p.add_argument("id", type=int, metavar="ID")
    p = cli.command(mfa, "report", cmd_report, "enrolment coverage per organisation")
    p.add_argument("--campaign", type=int, metavar="ID", help="only this campaign's targets")
    p.add_argument("--status", metavar="STATUS", help="only people with this status "
                   "(enrolled, pending, overdue, locked, reset)")
    p.add_argument("--people", action="store_true", help="list each person too")
