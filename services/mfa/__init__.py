"""TOTP multi-factor authentication for privileged users (issue 6), with no Qt.

- ``totp``: the RFC 6238 arithmetic (pyotp) and the provisioning URI;
- ``engine``: per-identity state, code checks with replay refusal, failure counting, lockout;
- ``enrolment``: enrol, confirm, recovery codes, the status a screen shows;
- ``recovery``: recovery codes, kept as keyed hashes;
- ``admin``: a platform admin's reset of someone's MFA (lost device);
- ``campaign``: requiring a population to enrol by a date, reminders, the coverage report;
- ``check``: the ``MfaCheck`` that password resets and changes ask;
- ``cli_session``: short-lived command-line sessions (a TOTP code works once).
"""
