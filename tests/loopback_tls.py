"""TLS contexts for the loopback mail servers (SMTP in test_mail_smtp, IMAP in
test_intake_imap), with certificates from the ``ca`` fixture (tests/conftest.py): a sound
TLS 1.2+ server, a TLS 1.1-only one, and the lenient client that shows the TLS 1.1 server
really works."""

from __future__ import annotations

import ssl
import warnings
from pathlib import Path

import trustme


def server_context(ca: trustme.CA, *, names: tuple[str, ...] = ("127.0.0.1", "localhost"),
                   tls11_only: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(context)
    if tls11_only:
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        # OpenSSL 3 refuses to offer TLS 1.1 at its default security level.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def permissive_client_context(ca_file: Path) -> ssl.SSLContext:
    """What an old, lenient client would use: shows the TLS 1.1 server really works."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context
