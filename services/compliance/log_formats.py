"""Access-log formats that record the negotiated TLS protocol: detection and one parser each.

Every parser turns one log line into a ``Record`` — (protocol, cipher, user agent, remote
user) — or ``None`` when the line does not have the format's shape (a malformed line, counted
by the caller, never fatal), or ``SKIP`` for a line that is not a request (IIS ``#``
directives, blank lines). The protocol is normalised to ``SSLv2``/``SSLv3``/``TLSv1``/
``TLSv1.1``/``TLSv1.2``/``TLSv1.3``, or ``None`` for a request made over plain HTTP.

Formats (field names from the servers' documentation, see
the shared research notes on TLS clients, ``research/tls-clients.md``):

``nginx``
    ``$ssl_protocol``, ``$ssl_cipher`` and ``$http_user_agent`` are not in nginx's default
    ``combined`` format; add this one and use it in the HTTPS server's ``access_log``::

        log_format gatehouse_tls '$remote_addr - $remote_user [$time_local] "$request" '
                                 '$status $body_bytes_sent "$http_referer" '
                                 '$ssl_protocol $ssl_cipher "$http_user_agent"';
        access_log /var/log/nginx/access_tls.log gatehouse_tls;

    A ``combined`` line with ``$ssl_protocol $ssl_cipher`` appended after the quoted user
    agent is read as well.

``apache``
    mod_ssl's ``%{SSL_PROTOCOL}x %{SSL_CIPHER}x`` with ``%{User-Agent}i``; the same layout
    as the nginx line above::

        LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\
                   %{SSL_PROTOCOL}x %{SSL_CIPHER}x \\"%{User-Agent}i\\"" gatehouse_tls
        CustomLog logs/access_tls.log gatehouse_tls

    and mod_ssl's stock ``ssl_request_log`` layout with the user agent appended
    (``%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x "%r" %b "%{User-Agent}i"``). Both are read by
    one parser: the protocol is the unquoted token that names a protocol, the cipher the
    token after it, the user agent the last quoted field, the user ``%u``/``$remote_user``.

``alb``
    AWS Application Load Balancer: space separated, ``"request" "user_agent" ssl_cipher
    ssl_protocol`` after the byte counts; ``-`` for plain HTTP. ALB logs carry no user.

``iis``
    W3C extended logging with the custom fields ``crypt-protocol`` (hex SChannel
    ``SP_PROT_*`` value: 10 SSL 3.0, 40 TLS 1.0, 100 TLS 1.1, 400 TLS 1.2, 1000 TLS 1.3; the
    client-side bits 20/80/200/800/2000 are read too) and ``crypt-cipher``; columns come from
    the ``#Fields:`` directive, the user from ``cs-username``, ``+`` in the user agent is a
    space.

``appgw`` / ``frontdoor``
    Azure diagnostic logs as JSON lines (one record per line, fields at the top or under
    ``properties``, names in any case): Application Gateway ``sslProtocol``, ``sslCipher``,
    ``userAgent``; Front Door ``securityProtocol`` (``TLS 1.2``), ``securityCipher``,
    ``userAgent``. Neither carries a user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from services.errors import InvalidInput

# (protocol, cipher, user agent, remote user)
Record = tuple[str | None, str | None, str, str | None]
LineParser = Callable[[str], "Record | _Skip | None"]

PROTOCOLS: Final = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
FORMATS: Final = ("nginx", "apache", "alb", "iis", "appgw", "frontdoor")


class _Skip:
    """A line that is not a request (IIS directive, blank line): neither counted nor bad."""

    __slots__ = ()

    def __bool__(self) -> bool:  # falsy like ``None``: ``filter(None, records)`` drops both
        return False


SKIP: Final = _Skip()
_BAD: Final = "\0bad"  # not a protocol name: the line is malformed

_PLAIN = {"-": None, "": None, "n/a": None, "none": None}
_NAMES: dict[str, str | None] = {
    **_PLAIN,
    "sslv2": "SSLv2", "ssl 2.0": "SSLv2", "sslv3": "SSLv3", "ssl 3.0": "SSLv3",
    "tlsv1": "TLSv1", "tlsv1.0": "TLSv1", "tls 1.0": "TLSv1", "tls1.0": "TLSv1",
    "tlsv1.1": "TLSv1.1", "tls 1.1": "TLSv1.1", "tls1.1": "TLSv1.1",
    "tlsv1.2": "TLSv1.2", "tls 1.2": "TLSv1.2", "tls1.2": "TLSv1.2",
    "tlsv1.3": "TLSv1.3", "tls 1.3": "TLSv1.3", "tls1.3": "TLSv1.3",
}
# The exact spellings the servers write, looked up before lower-casing (the hot path).
_EXACT: dict[str, str | None] = {"-": None, **{p: p for p in PROTOCOLS}}
# SChannel SP_PROT_* (schannel.h): server bit, and the client bit just above it.
_SCHANNEL: dict[str, str | None] = {
    "-": None, "0": None,
    "4": "SSLv2", "8": "SSLv2", "10": "SSLv3", "20": "SSLv3",
    "40": "TLSv1", "80": "TLSv1", "100": "TLSv1.1", "200": "TLSv1.1",
    "400": "TLSv1.2", "800": "TLSv1.2", "1000": "TLSv1.3", "2000": "TLSv1.3",
}


def normalise_protocol(raw: str) -> str | None:
    """The protocol as ``TLSv1.2`` etc., ``None`` for plain HTTP; ``InvalidInput`` otherwise."""
    value = _protocol(raw)
    if value is _BAD:
        raise InvalidInput(f"{raw!r} is not a TLS protocol name; expected e.g. TLSv1.2.")
    return value


def _protocol(raw: str) -> str | None:
    found = _EXACT.get(raw, _BAD)
    if found is _BAD:
        found = _NAMES.get(raw.strip().lower(), _BAD)
    return found


def _user(raw: str) -> str | None:
    return None if raw in ("-", "") else raw


def _dash(raw: str) -> str | None:
    return None if raw in ("-", "") else raw


# ---- nginx / Apache --------------------------------------------------------------------------

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\[[^\]]*\]|(\S+)')


def parse_combined_tls(line: str) -> Record | _Skip | None:
    """An nginx or Apache line with the protocol, cipher and user agent (see the module)."""
    parts = line.split('"')
    if len(parts) == 7:
        # ip - user [time] "request" status bytes "referer" PROTO CIPHER "ua"
        # or             ... "referer" "ua" PROTO CIPHER
        tail = parts[6]
        tls = (parts[4] if not tail or tail.isspace() else tail).split()
        if len(tls) == 2:
            protocol = _EXACT.get(tls[0], _BAD)
            if protocol is _BAD:
                protocol = _protocol(tls[0])
            if protocol is not _BAD:
                head = parts[0].split(" ", 3)
                if len(head) == 4:
                    # the hot path: conditional expressions rather than _dash()/_user() calls
                    cipher, user = tls[1], head[2]
                    return (protocol, None if cipher == "-" else cipher, parts[5],
                            None if user == "-" or not user else user)
    return _parse_combined_slow(line)


# The recommended layout (the log_format/LogFormat lines above), matched whole by one regex so
# that a chunk of lines is matched, keyed and counted without a Python call per line. The key is
# (remote user, 'PROTOCOL CIPHER "USER-AGENT'): two strings are cheaper to hash and compare than
# four, and ``decode_recommended`` turns each distinct key into a record once. Lines that do not
# match (other layouts, escaped quotes, malformed lines) go through ``parse_combined_tls``.
RECOMMENDED_LAYOUT: Final = re.compile(
    r'[^ ]++ [^ ]++ ([^ ]++) \[[^\]]*+\] "[^"]*+" [^ ]++ [^ ]++ "[^"]*+" '
    r'((?:TLSv1(?:\.[0-3])?+|SSLv[23]|-) [^ "]++ "[^"]*+)"')


def decode_recommended(key: tuple[str, str]) -> Record:
    """The record for a ``RECOMMENDED_LAYOUT`` key (the regex has checked the protocol)."""
    user, tail = key
    protocol, cipher, quoted_ua = tail.split(" ", 2)
    return (_EXACT[protocol], None if cipher == "-" else cipher, quoted_ua[1:],
            None if user == "-" else user)


def _parse_combined_slow(line: str) -> Record | _Skip | None:
    """Any order of fields, escaped quotes (``\\"``) in the user agent or request."""
    text = line.strip()
    if not text:
        return SKIP
    quoted: list[str] = []
    bare: list[tuple[int, str]] = []  # (token index, token) of unquoted, unbracketed tokens
    for index, match in enumerate(_TOKEN.finditer(text)):
        if match.group(1) is not None:
            quoted.append(match.group(1))
        elif match.group(2) is not None:
            bare.append((index, match.group(2)))
    if not quoted:
        return None
    for position, (_index, token) in enumerate(bare):
        protocol = _protocol(token)
        if protocol is _BAD or (token in _PLAIN and not _is_tls_pair(bare, position)):
            continue
        cipher = bare[position + 1][1] if position + 1 < len(bare) else "-"
        user = None
        if not text.startswith("[") and len(bare) >= 3 and bare[2][0] == 2:
            user = _user(bare[2][1])  # %h %l %u / $remote_addr - $remote_user
        ua = quoted[-1].replace('\\"', '"')
        return protocol, _dash(cipher), ua, user
    return None


def _is_tls_pair(bare: list[tuple[int, str]], position: int) -> bool:
    """A plain-HTTP ``- -`` pair: the protocol and cipher both empty, just before the UA."""
    return (position + 1 < len(bare) and bare[position + 1][1] == "-"
            and bare[position + 1][0] == bare[position][0] + 1 and position + 2 == len(bare))


# ---- AWS ALB ---------------------------------------------------------------------------------

_ALB_TYPES = frozenset({"http", "https", "h2", "ws", "wss", "grpcs"})


def parse_alb(line: str) -> Record | _Skip | None:
    """type time elb client:port target:port 3×time status status rx tx "request" "ua" cipher
    protocol target_group_arn …"""
    parts = line.split('"', 5)
    if len(parts) < 5:
        return SKIP if not line.strip() else None
    head = parts[0].split()
    tls = parts[4].split(None, 2)
    if len(head) != 12 or head[0] not in _ALB_TYPES or len(tls) < 2:
        return None
    protocol = _protocol(tls[1])
    if protocol is _BAD:
        return None
    return protocol, _dash(tls[0]), parts[3], None


# ---- IIS W3C ---------------------------------------------------------------------------------

_IIS_PROTOCOL = ("crypt-protocol", "crypt_protocol", "cryptprotocol")
_IIS_CIPHER = ("crypt-cipher", "crypt_cipher", "cryptcipher")


class IisParser:
    """W3C extended lines; the columns are those of the last ``#Fields:`` directive.
    ``user_field`` names the column that holds the user (default ``cs-username``)."""

    def __init__(self, user_field: str | None = None) -> None:
        self._columns: tuple[int, int, int, int | None, int] | None = None
        self._user_field = (user_field or "cs-username").lower()
        self._ip_at: int | None = None

    def client_ip(self, line: str) -> str | None:
        values = line.split()
        if self._ip_at is None or self._columns is None or len(values) != self._columns[4]:
            return None
        return _dash(values[self._ip_at])

    def __call__(self, line: str) -> Record | _Skip | None:
        if line.startswith("#"):
            if line.startswith("#Fields:"):
                self._set_fields(line[len("#Fields:"):].split())
            return SKIP
        if self._columns is None:
            return SKIP if not line.strip() else None
        protocol_at, ua_at, user_at, cipher_at, width = self._columns
        values = line.split()
        if not values:
            return SKIP
        if len(values) != width:
            return None
        raw = values[protocol_at].lower()
        protocol = _SCHANNEL.get(raw[2:] if raw.startswith("0x") else raw, _BAD)
        if protocol is _BAD:
            return None
        cipher = _dash(values[cipher_at]) if cipher_at is not None else None
        return protocol, cipher, values[ua_at].replace("+", " "), _user(values[user_at])

    def _set_fields(self, names: list[str]) -> None:
        lowered = [name.lower() for name in names]

        def find(options: Iterable[str]) -> int | None:
            return next((lowered.index(o) for o in options if o in lowered), None)

        protocol_at = find(_IIS_PROTOCOL)
        ua_at = find(("cs(user-agent)",))
        user_at = find((self._user_field,))
        self._ip_at = find(("c-ip",))
        if protocol_at is None or ua_at is None or user_at is None:
            raise InvalidInput(
                f"This IIS log has no crypt-protocol, cs(User-Agent) or {self._user_field} "
                "column; add the custom field crypt-protocol (server variable CRYPT_PROTOCOL) "
                "and the standard User Agent and User Name fields to the site's logging.")
        self._columns = (protocol_at, ua_at, user_at, find(_IIS_CIPHER), len(names))


# ---- Azure JSON ------------------------------------------------------------------------------


def _json_fields(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    inner = data.get("properties")
    fields = {**data, **inner} if isinstance(inner, dict) else data
    return {str(key).lower(): value for key, value in fields.items()}


def _json_parser(protocol_key: str, cipher_key: str, user_key: str | None = None) -> LineParser:
    def parse(line: str) -> Record | _Skip | None:
        if not line.strip():
            return SKIP
        fields = _json_fields(line)
        if fields is None or protocol_key not in fields:
            return None
        raw, ua = fields[protocol_key], fields.get("useragent")
        if not isinstance(raw, str) or not isinstance(ua, str):
            return None
        protocol = _protocol(raw)
        if protocol is _BAD:
            return None
        cipher = fields.get(cipher_key)
        user = fields.get(user_key) if user_key else None
        return (protocol, _dash(cipher) if isinstance(cipher, str) else None, ua,
                _dash(user) if isinstance(user, str) else None)

    return parse


def _json_client_ip(line: str) -> str | None:
    fields = _json_fields(line)
    value = fields.get("clientip") if fields else None
    return _dash(value) if isinstance(value, str) else None


def _combined_client_ip(line: str) -> str | None:
    # %h / $remote_addr comes first; in mod_ssl's ssl_request_log it follows the [time].
    text = line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line
    return _dash(text.split(" ", 1)[0])


def _alb_client_ip(line: str) -> str | None:
    head = line.split(" ", 4)
    return head[3].rsplit(":", 1)[0] if len(head) > 4 else None


# A record whose user slot holds a client address rather than a user starts with this mark
# (``client_ips``): no login ID or remote user starts with it.
CLIENT_IP_MARK: Final = "\0ip:"


def _with_client_ip(parser: LineParser, ip_of: Callable[[str], str | None]) -> LineParser:
    def parse(line: str) -> Record | _Skip | None:
        record = parser(line)
        if isinstance(record, tuple) and record[3] is None:
            address = ip_of(line)
            if address:
                return record[0], record[1], record[2], CLIENT_IP_MARK + address
        return record

    return parse


parse_appgw = _json_parser("sslprotocol", "sslcipher")
parse_frontdoor = _json_parser("securityprotocol", "securitycipher")


def make_parser(fmt: str, *, user_field: str | None = None,
                client_ips: bool = False) -> LineParser:
    """A fresh line parser for ``fmt`` (IIS parsers hold the ``#Fields:`` columns).

    ``user_field`` names the field or column holding the user where a format has no standard
    one (IIS column, Azure JSON field). With ``client_ips``, a request without a user carries
    ``CLIENT_IP_MARK`` + the client's address in the user slot, for mapping address ranges
    to organisations."""
    parser: LineParser
    if fmt in ("nginx", "apache"):
        parser, ip_of = parse_combined_tls, _combined_client_ip
    elif fmt == "alb":
        parser, ip_of = parse_alb, _alb_client_ip
    elif fmt == "iis":
        iis = IisParser(user_field)
        parser, ip_of = iis, iis.client_ip
    elif fmt == "appgw":
        parser = _json_parser("sslprotocol", "sslcipher", user_field and user_field.lower())
        ip_of = _json_client_ip
    elif fmt == "frontdoor":
        parser = _json_parser("securityprotocol", "securitycipher",
                              user_field and user_field.lower())
        ip_of = _json_client_ip
    else:
        raise InvalidInput(f"There is no log format {fmt!r}; use auto or one of "
                           f"{', '.join(FORMATS)}.")
    return _with_client_ip(parser, ip_of) if client_ips else parser


# ---- detection -------------------------------------------------------------------------------


def detect_format(first_lines: Iterable[str]) -> str:
    """The format of a log from its first lines; ``InvalidInput`` when none fits."""
    seen = 0
    for line in first_lines:
        text = line.strip()
        if not text:
            continue
        seen += 1
        if text.startswith("#Software: Microsoft Internet Information Services") or \
                text.startswith("#Fields:"):
            return "iis"
        if text.startswith("{"):
            fields = _json_fields(text)
            if fields is not None:
                if "securityprotocol" in fields:
                    return "frontdoor"
                if "sslprotocol" in fields:
                    return "appgw"
            continue
        first = text.split(" ", 1)[0]
        if first in _ALB_TYPES and isinstance(parse_alb(text), tuple):
            return "alb"
        if isinstance(parse_combined_tls(text), tuple):
            return "apache" if text.startswith("[") or '\\"' in text else "nginx"
        if seen >= 50:
            break
    raise InvalidInput(
        "The log format was not recognised: no line records the TLS protocol in a known "
        "layout (nginx, apache, alb, iis, appgw, frontdoor). Name the format, or log the "
        "protocol as described in services/compliance/log_formats.py.")
