"""CLI: the signed-in person's own account."""

from __future__ import annotations

import argparse
import os

from services.cli.common import Groups, emit, open_ctx, operator, read_secret


def cmd_account_password(args: argparse.Namespace) -> int:
    from services.reset import change_password

    new_password = read_secret("New password")
    ctx = open_ctx(args)
    try:
        op = operator(ctx)
        change_password(ctx, op, os.environ.get("GATEHOUSE_PASSWORD", ""), new_password,
                        otp=os.environ.get("GATEHOUSE_OTP"))
    finally:
        ctx.close()
    emit(args, {"changed": True}, "Your password has been changed.")
    return 0


def register(cli: Groups) -> None:
    account = cli.group("account", "your own account")
    cli.command(account, "password", cmd_account_password,
                "change your password (current one in GATEHOUSE_PASSWORD, new one on standard "
                "input)")
