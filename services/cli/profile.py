"""CLI: profile details — a person's own, or those of the people an LSO or admin manages —
and the confirmed change of e-mail (the login ID)."""

from __future__ import annotations

import argparse

from services.cli.common import Groups, emit, open_ctx, operator

_FIELDS = (("given", "given_name"), ("family", "family_name"), ("phone", "phone"),
           ("job_title", "job_title"))


def cmd_profile_update(args: argparse.Namespace) -> int:
    from services.profile import update_profile

    changes = {name: getattr(args, option) for option, name in _FIELDS
               if getattr(args, option) is not None}
    ctx = open_ctx(args)
    try:
        detail = update_profile(ctx, operator(ctx), args.email, changes,
                                expected_version=args.expect_version)
    finally:
        ctx.close()
    emit(args, detail.as_dict(), f"Updated {detail.login_id} (version {detail.version}).")
    return 0


def cmd_profile_change_email(args: argparse.Namespace) -> int:
    from services.profile import request_email_change

    ctx = open_ctx(args)
    try:
        request, _code = request_email_change(ctx, operator(ctx), args.old, args.new,
                                              allow_flagged=args.allow_confusable)
    finally:
        ctx.close()
    # The code went to the new address only: whoever confirms proves they receive its mail.
    emit(args, {"subject": request.subject, "new_login_id": request.new_login_id,
                "expires_at": request.expires_at},
         f"A confirmation code was sent to {request.new_login_id} (valid until "
         f"{request.expires_at}). The login ID changes when it is confirmed with: "
         "python main.py profile confirm-email --token CODE")
    return 0


def cmd_profile_confirm_email(args: argparse.Namespace) -> int:
    from services.cli.common import read_secret
    from services.profile import confirm_email_change

    token = args.token or read_secret("Confirmation code")
    ctx = open_ctx(args)
    try:
        detail = confirm_email_change(ctx, token)
    finally:
        ctx.close()
    emit(args, detail.as_dict(), f"The login ID is now {detail.login_id}.")
    return 0


def register(cli: Groups) -> None:
    group = cli.group("profile", "your own details, or those of the people you manage")
    p = cli.command(group, "update", cmd_profile_update,
                    "correct names, phone or job title (the fields your role may edit)")
    p.add_argument("email", help="whose profile: a login ID or subject id")
    p.add_argument("--given", help="given name")
    p.add_argument("--family", help="family name")
    p.add_argument("--phone", help="phone number (empty to clear)")
    p.add_argument("--job-title", dest="job_title", help="job title (empty to clear)")
    p.add_argument("--expect-version", type=int, metavar="N",
                   help="refuse if the identity changed since you read version N")
    p = cli.command(group, "change-email", cmd_profile_change_email,
                    "change a login ID: a code goes to the new address to confirm it")
    p.add_argument("old", help="the current login ID")
    p.add_argument("new", help="the new e-mail address")
    p.add_argument("--allow-confusable", action="store_true",
                   help="accept an address with look-alike characters after checking it")
    p = cli.command(group, "confirm-email", cmd_profile_confirm_email,
                    "confirm a new e-mail address with the code sent to it (code on standard "
                    "input if --token is not given)")
    p.add_argument("--token", help="the code from the mail (prefer standard input: a command "
                   "line is visible to other users of this machine)")
