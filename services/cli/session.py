"""CLI: command-line sessions — sign in once (password and authenticator code), run several
commands with GATEHOUSE_SESSION, sign out."""

from __future__ import annotations

import argparse
import os

from services.cli.common import Groups, emit, open_ctx, password_sign_in


def cmd_signin(args: argparse.Namespace) -> int:
    from services.auth import MfaStep
    from services.errors import InvalidInput
    from services.mfa.cli_session import issue_cli_session

    ctx = open_ctx(args)
    try:
        session = password_sign_in(ctx)
        if session.mfa is MfaStep.CODE_NEEDED:
            raise InvalidInput("Your account uses two-step verification: set GATEHOUSE_OTP to "
                               "the code your authenticator app shows now and sign in again.")
        if session.mfa is MfaStep.ENROL_NOW:
            raise InvalidInput("Two-step verification is required for your account and its "
                               "deadline has passed: set it up first with python main.py mfa "
                               "enrol YOUR-EMAIL, then mfa confirm YOUR-EMAIL --session.")
        issued = issue_cli_session(ctx, session.operator)
    finally:
        ctx.close()
    # The token alone on stdout, so that a script can write
    # export GATEHOUSE_SESSION="$(python main.py signin)".
    emit(args, {"session": issued.token, "expires_at": issued.expires_at.isoformat(),
                "mfa_verified": issued.mfa_verified}, issued.token)
    return 0


def cmd_signout(args: argparse.Namespace) -> int:
    from services.errors import InvalidInput
    from services.mfa.cli_session import end_cli_session

    token = os.environ.get("GATEHOUSE_SESSION", "")
    if not token:
        raise InvalidInput("Set GATEHOUSE_SESSION to the session to end.")
    ctx = open_ctx(args)
    try:
        ended = end_cli_session(ctx, token)
    finally:
        ctx.close()
    emit(args, {"ended": ended}, "Signed out." if ended else "That session had already ended.")
    return 0


def register(cli: Groups) -> None:
    cli.top("signin", cmd_signin,
            "sign in once (GATEHOUSE_OPERATOR, GATEHOUSE_PASSWORD, GATEHOUSE_OTP) and print a "
            "session token for GATEHOUSE_SESSION")
    cli.top("signout", cmd_signout, "end the session in GATEHOUSE_SESSION")
