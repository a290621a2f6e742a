"""What a client offered: a ClientHello read from raw bytes, before any TLS library sees it.

The client test endpoint must report the highest version and the suites a client *offered*,
which the ``ssl`` module does not expose (it only tells what was negotiated). This module reads
them from the bytes of the first flight:

- a TLS ClientHello in one or more handshake records (RFC 8446 4.1.2; RFC 5246 7.4.1.2),
  with the ``server_name`` (RFC 6066 3) and ``supported_versions`` (RFC 8446 4.2.1)
  extensions; GREASE values (RFC 8701) are left out;
- an SSL 2.0-compatible ClientHello (RFC 5246 appendix E.2), which Java 6 and other old
  clients still send.

``parse_client_hello`` is given the bytes read so far and answers ``NEED_MORE`` until the whole
message is there, so the caller can read exactly as much as it needs.
"""

from __future__ import annotations

import functools
import ssl
import struct
from dataclasses import dataclass
from typing import Any, Final

from services.compliance.tls_probe import LEGACY_SUITES

VERSION_NAMES: Final = {0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1",
                        0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
_TLS13_SUITES: Final = {0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384",
                        0x1303: "TLS_CHACHA20_POLY1305_SHA256", 0x1304: "TLS_AES_128_CCM_SHA256",
                        0x1305: "TLS_AES_128_CCM_8_SHA256"}
_SIGNALLING: Final = {0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", 0x5600: "TLS_FALLBACK_SCSV"}
_MAX_HELLO = 1 << 16  # a ClientHello larger than this is not a client we can judge


class NeedMore:
    """The bytes so far are the start of a ClientHello: read more."""

    __slots__ = ()


NEED_MORE: Final = NeedMore()


class NotClientHello(ValueError):
    """The bytes are not a ClientHello (plain HTTP, another protocol, garbage)."""


def _is_grease(value: int) -> bool:
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


@functools.cache
def _suite_names() -> dict[int, str]:
    names: dict[int, str] = dict(LEGACY_SUITES)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    for cipher in ctx.get_ciphers():
        names[int(cipher["id"]) & 0xFFFF] = str(cipher["name"])
    names.update(_TLS13_SUITES)
    names.update(_SIGNALLING)
    return names


def suite_name(code: int) -> str:
    """The OpenSSL name of a suite (IANA name for TLS 1.3), or ``0x....`` when unknown."""
    return _suite_names().get(code, f"0x{code:04x}")


def version_name(code: int) -> str:
    return VERSION_NAMES.get(code, f"0x{code:04x}")


@dataclass(frozen=True)
class ClientHello:
    legacy_version: int  # client_version of the hello (0x0303 for every TLS 1.3 client)
    offered_versions: tuple[int, ...]  # supported_versions, or (legacy_version,)
    cipher_suites: tuple[int, ...]  # as offered, GREASE left out
    server_name: str  # SNI; "" when none was sent
    sslv2_format: bool = False

    @property
    def highest_version(self) -> int:
        return max(self.offered_versions)

    @property
    def highest_version_name(self) -> str:
        return version_name(self.highest_version)

    @property
    def suite_names(self) -> tuple[str, ...]:
        return tuple(suite_name(code) for code in self.cipher_suites if code not in _SIGNALLING)

    def as_dict(self) -> dict[str, Any]:
        return {"highest_version": self.highest_version_name,
                "offered_versions": [version_name(v) for v in self.offered_versions],
                "cipher_suites": list(self.suite_names), "server_name": self.server_name,
                "sslv2_format": self.sslv2_format}


def _stated(version: int) -> tuple[int, ...]:
    # Without supported_versions a ClientHello states only its highest version; which lower
    # ones the client would accept is not on the wire, so none are claimed.
    return (version,)


def _parse_sslv2(data: bytes) -> ClientHello | NeedMore:
    if len(data) < 2:
        return NEED_MORE
    length = ((data[0] & 0x7F) << 8) | data[1]
    if len(data) < 2 + length:
        return NEED_MORE
    body = data[2:2 + length]
    if len(body) < 9 or body[0] != 0x01:
        raise NotClientHello("an SSL 2.0 record that is not a ClientHello")
    version, spec_len, session_len, challenge_len = struct.unpack("!HHHH", body[1:9])
    specs = body[9:9 + spec_len]
    if len(specs) != spec_len or spec_len % 3 or session_len > 32 or challenge_len > 32:
        raise NotClientHello("a malformed SSL 2.0 ClientHello")
    # Three-byte specs: those with a zero first byte are TLS suites; the rest are SSL 2.0 kinds.
    suites = tuple((specs[i + 1] << 8) | specs[i + 2] for i in range(0, spec_len, 3)
                   if specs[i] == 0)
    offered = (0x0002,) if version == 0x0002 else _stated(version)
    return ClientHello(version, offered, suites, "", sslv2_format=True)


def _handshake_bytes(data: bytes) -> bytes | NeedMore:
    """The ClientHello handshake message, joined from as many records as it spans."""
    message = b""
    offset = 0
    while True:
        if len(data) < offset + 5:
            return NEED_MORE
        kind, _, length = struct.unpack("!BHH", data[offset:offset + 5])
        if kind != 0x16:
            raise NotClientHello("a TLS record that is not a handshake")
        if len(data) < offset + 5 + length:
            return NEED_MORE
        message += data[offset + 5:offset + 5 + length]
        offset += 5 + length
        if len(message) >= 4:
            if message[0] != 0x01:
                raise NotClientHello("a handshake message that is not a ClientHello")
            needed = 4 + int.from_bytes(message[1:4], "big")
            if needed > _MAX_HELLO:
                raise NotClientHello("a ClientHello larger than 64 KiB")
            if len(message) >= needed:
                return message[4:needed]


def _parse_extensions(data: bytes) -> tuple[str, tuple[int, ...]]:
    server_name = ""
    versions: tuple[int, ...] = ()
    offset = 0
    while offset + 4 <= len(data):
        kind, length = struct.unpack("!HH", data[offset:offset + 4])
        body = data[offset + 4:offset + 4 + length]
        offset += 4 + length
        if kind == 0x0000 and len(body) >= 5 and body[2] == 0:
            name_length = struct.unpack("!H", body[3:5])[0]
            server_name = body[5:5 + name_length].decode("ascii", "replace")
        elif kind == 0x002B and body:
            count = body[0] // 2
            values = struct.unpack(f"!{count}H", body[1:1 + 2 * count])
            versions = tuple(v for v in values if not _is_grease(v))
    return server_name, versions


def parse_client_hello(data: bytes) -> ClientHello | NeedMore:
    """The ClientHello at the start of ``data``, or ``NEED_MORE`` if it is not all there yet.

    Raises :class:`NotClientHello` when the bytes cannot be the start of one."""
    if not data:
        return NEED_MORE
    if data[0] & 0x80:
        return _parse_sslv2(data)
    body = _handshake_bytes(data)
    if isinstance(body, NeedMore):
        return body
    try:
        version = struct.unpack("!H", body[0:2])[0]
        at = 2 + 32
        at += 1 + body[at]  # session id
        suites_length = struct.unpack("!H", body[at:at + 2])[0]
        raw_suites = body[at + 2:at + 2 + suites_length]
        at += 2 + suites_length
        at += 1 + body[at]  # compression methods
        extensions = b""
        if len(body) >= at + 2:
            extensions_length = struct.unpack("!H", body[at:at + 2])[0]
            extensions = body[at + 2:at + 2 + extensions_length]
    except (IndexError, struct.error) as exc:
        raise NotClientHello("a truncated ClientHello") from exc
    if len(raw_suites) != suites_length or suites_length % 2:
        raise NotClientHello("a ClientHello with a malformed suite list")
    suites = tuple(c for c in struct.unpack(f"!{suites_length // 2}H", raw_suites)
                   if not _is_grease(c))
    server_name, versions = _parse_extensions(extensions)
    return ClientHello(version, versions or _stated(version), suites, server_name)
