"""Who may do what. Every mutating service function calls ``require`` itself: the GUI hiding a
button is not security (DESIGN.md, Security model)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.errors import PermissionDenied


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    LSO = "lso"  # scoped to their own organisation
    SECURITY_REVIEWER = "security_reviewer"  # read-only
    USER = "user"  # self-service


class Action(StrEnum):
    IDENTITY_READ = "identity.read"
    IDENTITY_CREATE = "identity.create"
    IDENTITY_UPDATE = "identity.update"
    IDENTITY_DISABLE = "identity.disable"
    TOOL_ROLE_GRANT = "tool_role.grant"  # roles of Gatehouse itself
    ORG_READ = "org.read"
    ORG_CREATE = "org.create"
    AUDIT_READ = "audit.read"
    DEMO_SEED = "demo.seed"
    RESET_FORCE = "reset.force"  # start a reset for someone else; never see the password
    INTAKE_REVIEW = "intake.review"  # DES ACCESS mailbox queue
    MAIL_SEND = "mail.send"  # deliver the outbox, change mail settings
    IDENTITY_DELETE = "identity.delete"  # delete (restorable) and restore
    IDENTITY_MERGE = "identity.merge"  # merge and unmerge one person's accounts
    IDENTITY_CLAIM = "identity.claim"  # give a deleted account's login ID to a new identity
    MIGRATION_READ = "migration.read"  # plans, status, progress reports
    MIGRATION_RUN = "migration.run"  # sign off and run a migration, send reminders
    MFA_READ = "mfa.read"  # enrolment coverage and campaign reports
    MFA_MANAGE = "mfa.manage"  # reset another person's MFA, start campaigns


# What an operator may only read; every other action changes something.
READ_ACTIONS = frozenset({Action.IDENTITY_READ, Action.ORG_READ, Action.AUDIT_READ,
                          Action.MIGRATION_READ, Action.MFA_READ})


class Restriction(StrEnum):
    """A sign-in that is not finished: the operator holds no role until it is."""

    CODE_NEEDED = "code_needed"  # password accepted; the authenticator code is still due
    ENROL_ONLY = "enrol_only"  # MFA is required and overdue: enrolment is all that is allowed


@dataclass(frozen=True)
class Operator:
    """The person acting (signed in), or the system itself during set-up.

    ``mfa_verified``: this sign-in proved a second factor (a TOTP or recovery code, or the
    confirmation of a new authenticator). Every privileged change needs it (issue 6).
    """

    subject: str
    login_id: str
    organisation_id: int | None
    roles: frozenset[Role]
    mfa_verified: bool = False
    restriction: Restriction | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_reviewer_only(self) -> bool:
        return Role.SECURITY_REVIEWER in self.roles and not self.roles & {
            Role.PLATFORM_ADMIN, Role.LSO}


# Set-up and demo data act as the system, which has no second factor to prove.
SYSTEM = Operator(subject="system", login_id="system", organisation_id=None,
                  roles=frozenset({Role.PLATFORM_ADMIN}), mfa_verified=True)

_ANY_ORG: dict[Role, frozenset[Action]] = {
    Role.PLATFORM_ADMIN: frozenset(Action),
    Role.SECURITY_REVIEWER: frozenset({Action.IDENTITY_READ, Action.ORG_READ, Action.AUDIT_READ,
                                       Action.MIGRATION_READ, Action.MFA_READ}),
}
_OWN_ORG: dict[Role, frozenset[Action]] = {
    Role.LSO: frozenset({Action.IDENTITY_READ, Action.IDENTITY_CREATE, Action.IDENTITY_UPDATE,
                         Action.IDENTITY_DISABLE, Action.ORG_READ, Action.RESET_FORCE,
                         Action.IDENTITY_DELETE, Action.MFA_READ}),
}
_SELF: frozenset[Action] = frozenset({Action.IDENTITY_READ})


def allowed(op: Operator, action: Action, *, org_id: int | None = None,
            subject: str | None = None) -> bool:
    """The role allows it, and a change comes from a sign-in that proved its second factor."""
    if op.restriction is not None:
        return False
    if action not in READ_ACTIONS and not op.mfa_verified:
        return False
    return role_allows(op, action, org_id=org_id, subject=subject)


def role_allows(op: Operator, action: Action, *, org_id: int | None = None,
                subject: str | None = None) -> bool:
    """What the roles alone allow, before the second factor is considered."""
    for role in op.roles:
        if action in _ANY_ORG.get(role, frozenset()):
            return True
        if action in _OWN_ORG.get(role, frozenset()) and org_id is not None \
                and org_id == op.organisation_id:
            return True
    return action in _SELF and subject is not None and subject == op.subject


MFA_NEEDED_MESSAGE = (
    "This change needs a sign-in with two-step verification: sign in again with the code from "
    "your authenticator app (set it up first if you have not: My account, or python main.py "
    "mfa enrol YOUR-EMAIL).")
RESTRICTED_MESSAGES = {
    Restriction.CODE_NEEDED: "Sign-in is not finished: enter the code from your authenticator "
                             "app first.",
    Restriction.ENROL_ONLY: "Two-step verification is required for your account and its "
                            "deadline has passed: set it up now (python main.py mfa enrol "
                            "YOUR-EMAIL); nothing else is allowed until it is done.",
}


def require(op: Operator, action: Action, *, org_id: int | None = None,
            subject: str | None = None) -> None:
    if op.restriction is not None:
        raise PermissionDenied(RESTRICTED_MESSAGES[op.restriction])
    if not role_allows(op, action, org_id=org_id, subject=subject):
        raise PermissionDenied(
            f"Your role does not allow {action.value.replace('.', ' ').replace('_', ' ')}"
            + (" for this organisation" if org_id is not None else "")
            + "; ask a platform admin if you need it."
        )
    if action not in READ_ACTIONS and not op.mfa_verified:
        raise PermissionDenied(MFA_NEEDED_MESSAGE)
