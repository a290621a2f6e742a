"""CLI: the mail outbox and the mail settings."""

from __future__ import annotations

import argparse

from services.cli.common import Groups, Parser, emit, open_ctx, operator, read_secret, table


def cmd_mail_send_pending(args: argparse.Namespace) -> int:
    from services.mail.delivery import deliver_pending, transport_from_settings

    ctx = open_ctx(args)
    try:
        op = operator(ctx)
        report = deliver_pending(ctx, op, transport_from_settings(ctx), limit=args.limit)
    finally:
        ctx.close()
    lines = [f"Sent {report.sent} of {report.due} due messages through {report.transport}."]
    if report.retrying or report.failed:
        lines.append(f"{report.retrying} will be tried again later; {report.failed} failed "
                     "for good (see: python main.py mail outbox --status failed).")
    lines += [f"  message {e['id']}: {e['error']}" for e in report.errors]
    if report.stopped:
        lines.append("Delivery stopped early: the remaining messages wait for the next run.")
    emit(args, report.as_dict(), "\n".join(lines))
    return 0 if report.ok else 1


def cmd_mail_outbox(args: argparse.Namespace) -> int:
    from services.mail.outbox import list_outbox

    ctx = open_ctx(args)
    try:
        items = list_outbox(ctx, operator(ctx), status=args.status, limit=args.limit)
    finally:
        ctx.close()
    emit(args, {"count": len(items), "messages": [i.as_dict() for i in items]},
         table([(i.id, i.status, i.kind, i.to_address, i.attempts,
                 (i.sent_at or i.next_attempt_at or i.created_at).strftime("%Y-%m-%d %H:%M"),
                 (i.last_error or "")[:60]) for i in items],
               ("id", "status", "kind", "to", "attempts", "when (UTC)", "last error"))
         + f"\n{len(items)} messages")
    return 0


def cmd_mail_settings_show(args: argparse.Namespace) -> int:
    from services.settings import describe

    ctx = open_ctx(args)
    try:
        views = describe(ctx, operator(ctx))
    finally:
        ctx.close()
    emit(args, {"settings": [v.as_dict() for v in views]},
         table([(v.name, v.value, "" if v.is_default else "changed") for v in views],
               ("setting", "value", "")))
    return 0


def cmd_mail_settings_set(args: argparse.Namespace) -> int:
    from services.errors import InvalidInput
    from services.settings import set_secret, set_value, setting

    declared = setting(args.name)
    if declared.secret and args.value is not None:
        raise InvalidInput(f"{args.name} is a secret and is never given on the command line "
                           "(it would stay in the shell history): pipe it on standard input "
                           f"or type it when asked: python main.py mail settings set {args.name}")
    if not declared.secret and args.value is None:
        raise InvalidInput(f"Give the new value: python main.py mail settings set {args.name} "
                           "VALUE")
    ctx = open_ctx(args)
    try:
        op = operator(ctx)
        if declared.secret:
            set_secret(ctx, op, args.name, read_secret(args.name.replace("_", " ")))
            shown = "(set)"
        else:
            shown = declared.text(set_value(ctx, op, args.name, args.value))
    finally:
        ctx.close()
    emit(args, {"name": args.name, "value": shown}, f"{args.name} = {shown}")
    return 0


def cmd_mail_settings_unset(args: argparse.Namespace) -> int:
    from services.settings import setting, unset_value

    declared = setting(args.name)
    ctx = open_ctx(args)
    try:
        unset_value(ctx, operator(ctx), args.name)
    finally:
        ctx.close()
    shown = "(not set)" if declared.secret else declared.text(declared.default)
    emit(args, {"name": args.name, "value": shown}, f"{args.name} = {shown} (default)")
    return 0


def register(cli: Groups) -> None:
    mail = cli.group("mail", "the outbox of messages Gatehouse sends, and how they are sent")
    p = cli.command(mail, "send-pending", cmd_mail_send_pending,
                    "deliver the due messages with the configured transport (exit 1 if some "
                    "could not be delivered)")
    p.add_argument("--limit", type=int, metavar="N", help="send at most N messages")
    p = cli.command(mail, "outbox", cmd_mail_outbox, "list the outbox (never message bodies)")
    p.add_argument("--status", choices=("pending", "sent", "failed"))
    p.add_argument("--limit", type=int, metavar="N")

    settings = mail.add_parser("settings", help="show or change the mail settings",
                               description="show or change the mail settings")
    actions = settings.add_subparsers(dest="settings_action", metavar="ACTION", required=True,
                                      parser_class=Parser)
    cli.command(actions, "show", cmd_mail_settings_show, "every setting with its value")
    p = cli.command(actions, "set", cmd_mail_settings_set,
                    "change a setting (smtp_password is read from standard input)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("value", metavar="VALUE", nargs="?")
    p = cli.command(actions, "unset", cmd_mail_settings_unset, "return a setting to its default")
    p.add_argument("name", metavar="NAME")
