"""Setting up a new store: the company's organisation and the first platform admin."""

from __future__ import annotations

from sqlalchemy import func, select

from services.authz import SYSTEM
from services.context import Context
from services.errors import AlreadyExists
from services.orgs import insert_org, validate_org
from services.password_hash import hash_password
from services.store.schema import identity
from services.users import IdentityDetail, add_identity

COMPANY_CODE, COMPANY_NAME = "XOS", "Xoserve"


def check_admin_password(email: str, password: str, *, given_name: str, family_name: str,
                         org_code: str, org_name: str) -> None:
    """The first admin's password must pass the same policy as everyone's.

    Usable before any store exists, so that ``init`` refuses a weak password having created
    nothing.
    """
    from services.credentials import PasswordRejected
    from services.passwords import PasswordContext, validate_new_password

    context = PasswordContext(given_name=given_name, family_name=family_name, email=email,
                              org_name=org_name, org_code=org_code)
    evaluation = validate_new_password(password, context)
    if not evaluation.accepted:
        raise PasswordRejected(reasons=tuple(f.message for f in evaluation.failures))


def has_identities(ctx: Context) -> bool:
    with ctx.store.read() as conn:
        return bool(conn.execute(select(func.count()).select_from(identity)).scalar_one())


def ensure_company(ctx: Context, code: str = COMPANY_CODE, name: str = COMPANY_NAME) -> None:
    code, name, org_type = validate_org(code, name, "cdsp")
    from services.store.schema import organisation

    with ctx.store.write() as conn:
        exists = conn.execute(select(organisation.c.id).where(organisation.c.code == code)).first()
        if not exists:
            insert_org(ctx, conn, SYSTEM, code, name, org_type)


def init_admin(ctx: Context, email: str, password: str, *, given_name: str = "Platform",
               family_name: str = "Admin", org_code: str = COMPANY_CODE,
               org_name: str = COMPANY_NAME) -> IdentityDetail:
    """Create the first platform admin; refused once the store holds any identity."""
    if has_identities(ctx):
        raise AlreadyExists("This store is already set up; sign in as one of its admins, or "
                            "choose a new store with --db.")
    check_admin_password(email, password, given_name=given_name, family_name=family_name,
                         org_code=org_code, org_name=org_name)
    ensure_company(ctx, org_code, org_name)
    return add_identity(ctx, SYSTEM, email, given_name, family_name, org_code,
                        ["GATEHOUSE:platform_admin"], password_hash=hash_password(password))
