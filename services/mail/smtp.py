"""SMTP delivery over TLS 1.2 or newer only (DESIGN.md: the tool's own outbound connections
require TLS 1.2+), with the server's certificate and host name always verified.

Two ways in: ``starttls`` (RFC 3207: a plain greeting, then STARTTLS before anything else is
said) and ``implicit`` (RFC 8314: TLS from the first byte, usually port 465). There is no
plaintext mode: a server that does not offer STARTTLS is refused, as is one that offers only
TLS 1.1 or older, or whose certificate does not verify. The password is sent only inside TLS
and never appears in an error message or in ``repr``.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from services.errors import InvalidInput
from services.mail.transport import DeliveryError

SECURITY_MODES = ("starttls", "implicit")
ACCEPTED_TLS = ("TLSv1.2", "TLSv1.3")
# OpenSSL's reasons for "no protocol version in common" (client- or server-side alert).
_VERSION_REASONS = frozenset({
    "UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE",
    "WRONG_SSL_VERSION", "UNSUPPORTED_SSL_VERSION", "VERSION_TOO_LOW",
})


def tls_context(ca_file: str | Path | None = None, *,
                setting: str = "smtp_ca_file") -> ssl.SSLContext:
    """Verification and host-name check on, TLS 1.2 minimum; ``ca_file`` replaces the system
    trust store (for an organisation's private certificate authority), named by ``setting``
    in the error when it is not usable."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except FileNotFoundError:
        raise InvalidInput(f"The certificate authority file {ca_file} does not exist; fix "
                           f"the {setting} setting.") from None
    except ssl.SSLError:
        raise InvalidInput(f"The certificate authority file {ca_file} is not a PEM "
                           f"certificate; fix the {setting} setting.") from None
    # Set, not assumed: these are the whole point of TLS here.
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def tls_failure_kind(exc: ssl.SSLError) -> str:
    """What a failed handshake most likely means: ``version`` (no TLS version in common,
    said by an alert), ``hangup`` (the server closed the connection mid-handshake — what
    many do instead of that alert when they offer only TLS 1.1 or older), ``not_tls`` (the
    server answered in plaintext) or ``other``."""
    reason = exc.reason or ""
    if reason in _VERSION_REASONS:
        return "version"
    if isinstance(exc, ssl.SSLEOFError) or reason == "UNEXPECTED_EOF_WHILE_READING":
        return "hangup"
    return "not_tls" if reason == "WRONG_VERSION_NUMBER" else "other"


class SmtpTransport:
    def __init__(self, host: str, port: int, security: str = "starttls",
                 username: str | None = None, password: str | None = None,
                 ca_file: str | Path | None = None, timeout: float = 30.0) -> None:
        if security not in SECURITY_MODES:
            raise InvalidInput(f"SMTP security must be 'starttls' or 'implicit', not "
                               f"{security!r}: Gatehouse never sends mail without TLS.")
        if not host:
            raise InvalidInput("No SMTP server is set: python main.py mail settings set "
                               "smtp_host HOST")
        self.host, self.port, self.security = host, port, security
        self.username = username or None
        self._password = password
        self.timeout = timeout
        self.context = tls_context(ca_file)
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:
        return (f"SmtpTransport({self.host!r}, {self.port}, {self.security!r}, "
                f"username={self.username!r})")

    @property
    def description(self) -> str:
        return f"SMTP {self.host}:{self.port} ({self.security}, TLS 1.2+)"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    # ---- connecting ------------------------------------------------------------------------

    def _open(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self.security == "implicit":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=self.context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"The mail server {self.where} does not offer STARTTLS, and Gatehouse "
                        "never sends mail unencrypted. Ask its administrator to enable TLS, or "
                        "use implicit TLS (smtp_security implicit, usually port 465).",
                        connection=True)
                smtp.starttls(context=self.context)  # raises unless the server answers 220
                smtp.ehlo()
            version = smtp.sock.version() if isinstance(smtp.sock, ssl.SSLSocket) else None
            if version not in ACCEPTED_TLS:  # belt and braces: the context already insists
                raise DeliveryError(f"The connection to {self.where} is not TLS 1.2 or newer "
                                    f"({version or 'no TLS'}); nothing was sent.",
                                    connection=True)
            if self.username:
                smtp.login(self.username, self._password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _connect(self) -> smtplib.SMTP:
        try:
            return self._open()
        except DeliveryError:
            raise
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"The certificate of the mail server {self.where} was not accepted "
                f"({exc.verify_message}); nothing was sent. If your organisation uses its own "
                "certificate authority, set smtp_ca_file to its PEM file.",
                connection=True) from None
        except ssl.SSLError as exc:
            raise DeliveryError(self._tls_failure(exc), connection=True) from None
        except UnicodeEncodeError:  # smtplib's AUTH sends ASCII only
            raise DeliveryError(
                f"The SMTP user name or password holds characters other than ASCII, which "
                f"sign-in to {self.where} cannot carry; nothing was sent. Ask the mail "
                "administrator for an ASCII password, or an app password.",
                connection=True) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"The mail server {self.where} refused the user name or password (reply "
                f"{exc.smtp_code}); check smtp_username and set smtp_password again.",
                connection=True) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                f"The mail server {self.where} does not offer sign-in (AUTH) over this "
                "connection; clear smtp_username or ask its administrator.",
                connection=True) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"The mail server {self.where} refused the connection (reply "
                f"{exc.smtp_code}: {_reply_text(exc.smtp_error)}); nothing was sent.",
                connection=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise DeliveryError(
                f"Cannot reach the mail server {self.where} ({detail}); check smtp_host, "
                "smtp_port and smtp_security, and that the server is running.",
                connection=True) from None

    def _tls_failure(self, exc: ssl.SSLError) -> str:
        reason, kind = exc.reason or "", tls_failure_kind(exc)
        if kind == "version":
            return (f"The mail server {self.where} does not offer TLS 1.2 or newer (TLS said: "
                    f"{reason.lower().replace('_', ' ')}); Gatehouse refuses older TLS versions "
                    "and sent nothing. Ask the mail administrator to enable TLS 1.2 or 1.3.")
        if kind == "hangup":
            return (f"The mail server {self.where} closed the connection during the TLS "
                    "handshake instead of agreeing on TLS 1.2 or newer: it most likely offers "
                    "only TLS 1.1 or older, which Gatehouse refuses. Nothing was sent; ask the "
                    "mail administrator to enable TLS 1.2 or 1.3.")
        if kind == "not_tls":
            return (f"The mail server {self.where} did not answer with TLS; check that "
                    "smtp_security matches the port (implicit: usually 465, starttls: 587).")
        return (f"The TLS connection to the mail server {self.where} failed "
                f"({reason.lower().replace('_', ' ') or exc}); nothing was sent.")

    # ---- sending ---------------------------------------------------------------------------

    def send(self, message: EmailMessage) -> None:
        reused = self._smtp is not None
        smtp = self._smtp or self._connect()
        self._smtp = smtp
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self.close()
            if reused:  # an idle connection the server dropped: once more on a fresh one
                self.send(message)
                return
            raise DeliveryError(f"The mail server {self.where} closed the connection before "
                                "accepting the message; it will be tried again.") from None
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _text in exc.recipients.values()]
            raise DeliveryError(
                f"The mail server {self.where} refused the recipient (reply "
                f"{', '.join(map(str, codes))}).",
                permanent=all(code >= 500 for code in codes)) from None
        except smtplib.SMTPSenderRefused as exc:
            self.close()
            raise DeliveryError(
                f"The mail server {self.where} refused the sender address (reply "
                f"{exc.smtp_code}); check the mail_from setting.", connection=True) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise DeliveryError(
                f"The mail server {self.where} did not accept the message (reply "
                f"{exc.smtp_code}: {_reply_text(exc.smtp_error)}).",
                permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPNotSupportedError:
            self.close()
            raise DeliveryError(
                f"The mail server {self.where} cannot carry this message (it needs SMTPUTF8 "
                "for a non-ASCII address).", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise DeliveryError(f"Sending through {self.where} failed ({detail}); it will be "
                                "tried again.", connection=True) from None
        if refused:
            raise DeliveryError(f"The mail server {self.where} refused the recipient.",
                                permanent=True)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]
