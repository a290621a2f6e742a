"""The TLS policy as reviewed data: ``tls.toml`` and its typed loader.

Every error names the file, the key and the reason, e.g.
``tls.toml: browsers.floors.chrome is 0; it must be at least 1.`` Unknown sections and keys are
refused, so that a misspelt rule is never silently ignored.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from policies.loader import POLICY_DIR, read_toml
from policies.reader import PolicyReader

PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# Browsers that carry a floor of their own; Chromium-based ones use the chrome floor.
FLOOR_BROWSERS = frozenset({"edge", "chrome", "firefox", "safari"})
UNSUPPORTABLE = frozenset({"ie", "edge", "chrome", "firefox", "safari", "opera_presto"})
CHROMIUM_BASED = frozenset({"chrome", "edge_chromium", "opera", "samsung_internet", "brave",
                            "vivaldi", "android_webview"})
_ECDHE_SUITE = re.compile(r"^ECDHE-(ECDSA|RSA)-[A-Z0-9-]+$")

_SCHEMA: dict[str, frozenset[str]] = {
    "protocols": frozenset({"allowed"}),
    "browsers": frozenset({"floors", "unsupported", "chromium_based"}),
    "ciphers": frozenset({"tls12"}),
    "certificates": frozenset({"require_valid_chain", "require_hostname_match",
                               "min_days_to_expiry", "min_rsa_bits", "min_ecdsa_bits"}),
    "organisations": frozenset({"ip_ranges"}),
}
_ORG_CODE = re.compile(r"^[A-Z0-9]{2,16}$")  # as services.orgs validates codes
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TlsPolicy:
    """The TLS rule, validated. Build it with :func:`load_tls_policy`."""

    name: str
    source: str
    allowed_protocols: tuple[str, ...]
    browser_floors: dict[str, int]  # browser key → lowest supported major version
    unsupported_browsers: frozenset[str]
    chromium_based: frozenset[str]
    tls12_ciphers: tuple[str, ...]
    require_valid_chain: bool
    require_hostname_match: bool
    min_days_to_expiry: int
    min_rsa_bits: int
    min_ecdsa_bits: int
    # (network, organisation code), most specific network first.
    ip_ranges: tuple[tuple[Network, str], ...] = field(default=())

    def organisation_for(self, address: str) -> str | None:
        """The organisation code whose configured network holds ``address``, if any."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        for network, code in self.ip_ranges:
            if ip.version == network.version and ip in network:
                return code
        return None

    @property
    def lowest_protocol(self) -> str:
        return min(self.allowed_protocols, key=PROTOCOLS.index)

    def protocol_allowed(self, protocol: str) -> bool:
        return protocol in self.allowed_protocols


class _Reader(PolicyReader):
    shipped = "policies/tls.toml"

    def names(self, key: str, known: frozenset[str] | tuple[str, ...], *,
              allow_empty: bool) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings.")
        if not value and not allow_empty:
            raise self.fail(key, "is empty; name at least one.")
        for item in value:
            if item not in known:
                raise self.fail(key, f"holds {item!r}, which is not known; use one of "
                                f"{', '.join(sorted(known))}.")
        return tuple(dict.fromkeys(value))


def _floors(reader: _Reader) -> dict[str, int]:
    key = "browsers.floors"
    value = reader.raw(key)
    if not isinstance(value, dict):
        raise reader.fail(key, "must be a table of browser = major version, e.g. "
                          "{ chrome = 57 }.")
    missing = FLOOR_BROWSERS - set(value)
    if missing:
        raise reader.fail(key, f"has no floor for {', '.join(sorted(missing))}; add one.")
    floors: dict[str, int] = {}
    for browser, floor in value.items():
        if browser not in FLOOR_BROWSERS:
            raise reader.fail(f"{key}.{browser}", "is not a browser with a floor of its own "
                              f"(known: {', '.join(sorted(FLOOR_BROWSERS))}).")
        floors[browser] = reader.whole_number(f"{key}.{browser}", floor, minimum=1, maximum=1000)
    return floors


def _ciphers(reader: _Reader) -> tuple[str, ...]:
    key = "ciphers.tls12"
    value = reader.raw(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise reader.fail(key, "must be a non-empty list of OpenSSL cipher-suite names.")
    for suite in value:
        # Forward secrecy is the point of the intermediate profile: ECDHE key exchange only.
        if not _ECDHE_SUITE.match(suite):
            raise reader.fail(key, f"holds {suite!r}; only ECDHE suites (e.g. "
                              "ECDHE-RSA-AES128-GCM-SHA256) are acceptable.")
    return tuple(dict.fromkeys(value))


def _ip_ranges(reader: _Reader) -> tuple[tuple[Network, str], ...]:
    key = "organisations.ip_ranges"
    section = reader.data.get("organisations")
    if section is None or "ip_ranges" not in section:
        return ()
    value = section["ip_ranges"]
    if not isinstance(value, dict):
        raise reader.fail(key, "must be a table of organisation code = list of networks, e.g. "
                          '{ SHIPA = ["203.0.113.0/24"] }.')
    ranges: list[tuple[Network, str]] = []
    for code, networks in value.items():
        if not _ORG_CODE.match(code):
            raise reader.fail(f"{key}.{code}", "is not an organisation code (2 to 16 capital "
                              "letters or digits).")
        if not isinstance(networks, list) or not all(isinstance(n, str) for n in networks):
            raise reader.fail(f"{key}.{code}", "must be a list of networks such as "
                              '"203.0.113.0/24".')
        for text in networks:
            try:
                network = ipaddress.ip_network(text, strict=True)
            except ValueError as exc:
                raise reader.fail(f"{key}.{code}", f"holds {text!r}, which is not a network "
                                  f"({exc}); write it as address/prefix.") from exc
            ranges.append((network, code))
    return tuple(sorted(ranges, key=lambda item: -item[0].prefixlen))


def load_tls_policy(path: Path | None = None) -> TlsPolicy:
    """Read and validate a TLS policy file (default: the shipped ``tls.toml``)."""
    path = path or POLICY_DIR / "tls.toml"
    reader = _Reader(read_toml(path), path)
    reader.check_known_keys(_SCHEMA)
    name = reader.data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise reader.fail("name", "must be a non-empty string.")
    allowed = reader.names("protocols.allowed", PROTOCOLS, allow_empty=False)
    if "TLSv1.2" not in allowed and "TLSv1.3" not in allowed:
        raise reader.fail("protocols.allowed", "allows neither TLSv1.2 nor TLSv1.3; the "
                          "programme's rule is TLS 1.2 or higher.")
    certs = "certificates"
    return TlsPolicy(
        name=name.strip(),
        source=str(path),
        allowed_protocols=tuple(sorted(allowed, key=PROTOCOLS.index)),
        browser_floors=_floors(reader),
        unsupported_browsers=frozenset(reader.names("browsers.unsupported", UNSUPPORTABLE,
                                                    allow_empty=True)),
        chromium_based=frozenset(reader.names("browsers.chromium_based", CHROMIUM_BASED,
                                              allow_empty=True)),
        tls12_ciphers=_ciphers(reader),
        require_valid_chain=reader.boolean(f"{certs}.require_valid_chain"),
        require_hostname_match=reader.boolean(f"{certs}.require_hostname_match"),
        min_days_to_expiry=reader.integer(f"{certs}.min_days_to_expiry", minimum=0,
                                          maximum=3650),
        min_rsa_bits=reader.integer(f"{certs}.min_rsa_bits", minimum=2048, maximum=16384),
        min_ecdsa_bits=reader.integer(f"{certs}.min_ecdsa_bits", minimum=256, maximum=521),
        ip_ranges=_ip_ranges(reader),
    )
