"""Browsers and API clients by User-Agent: can this client reach a TLS 1.2-only service, and
does company policy accept it?

``ua-parser`` (with its Rust resolver and a cache) names the browser; Gatehouse decides, from
the client-capability table and ``policies/tls.toml``. A few tokens ua-parser folds together
are read here directly: ``Edge/16`` (EdgeHTML) versus ``Edg/120`` (Chromium), the ``Chrome/NN``
token by which every Chromium-based browser is judged, Presto, and the TLS library or runtime
a non-browser client names (``OpenSSL/0.9.8``, ``Java/1.7.0_25``, .NET's CLR build).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import ua_parser

from policies.tls_policy import TlsPolicy, load_tls_policy
from services.compliance.capabilities import (
    CapabilityRow,
    CapabilityTable,
    Version,
    default_capabilities,
    parse_version,
)


class Verdict(StrEnum):
    COMPLIANT = "compliant"
    BELOW_POLICY_FLOOR = "below_policy_floor"  # can do TLS 1.2, older than the policy allows
    NO_TLS12 = "no_tls12"  # cannot do TLS 1.2 (by default): locked out at cut-over
    UNSUPPORTED_BROWSER = "unsupported_browser"  # TLS 1.2-capable, refused by policy (IE 11)
    UNCERTAIN = "uncertain"  # TLS from the OS and the UA does not reveal enough
    UNKNOWN = "unknown"  # not a client Gatehouse can identify


# Verdicts that say "this client will not be accepted after cut-over".
NON_COMPLIANT = frozenset({Verdict.BELOW_POLICY_FLOOR, Verdict.NO_TLS12,
                           Verdict.UNSUPPORTED_BROWSER})


@dataclass(frozen=True)
class ClientVerdict:
    user_agent: str
    verdict: Verdict
    client: str  # what was recognised, in words: "Chrome 56", "Java 7 (update 25)"
    family: str  # Gatehouse's key for it: chrome, edge_html, java, openssl, …
    version: str  # the version judged ("" when none)
    reason: str  # one or two sentences a reviewer reads
    capability: CapabilityRow | None

    @property
    def compliant(self) -> bool:
        return self.verdict is Verdict.COMPLIANT

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_agent": self.user_agent,
            "verdict": self.verdict.value,
            "client": self.client,
            "family": self.family,
            "version": self.version,
            "reason": self.reason,
            "capability": self.capability.as_dict() if self.capability else None,
        }


_EDGE_HTML = re.compile(r"\bEdge/(\d+)")
_EDGE_CHROMIUM = re.compile(r"\bEdg(?:A)?/(\d+)")
_CHROME = re.compile(r"\b(?:Chrome|Chromium|HeadlessChrome)/(\d+)")
_PRESTO = re.compile(r"\bPresto/")
_JAVA = re.compile(r"(?:^|[\s(;])Java/(\d+)(?:\.(\d+))?(?:\.\d+)?(?:_(\d+))?")
_JAVA_HTTP_CLIENT = re.compile(r"^Java-http-client/(\d+)")
_OPENSSL = re.compile(r"\bOpenSSL/(\d+\.\d+\.\d+[a-z]*)")
_NSS = re.compile(r"\bNSS/(\d+(?:\.\d+)+)")
_DOTNET_SOAP = re.compile(r"MS Web Services Client Protocol (\d+)\.(\d+)\.(\d+)\.(\d+)")
_DOTNET_CLR = re.compile(r"\.NET CLR (\d+)\.(\d+)\.(\d+)(?:\.(\d+))?")
_CURL = re.compile(r"^(?:curl|libcurl)/(\d[\w.]*)")
_REQUESTS = re.compile(r"^python-requests/(\d[\w.]*)")
_PY_URLLIB = re.compile(r"^Python-urllib/(\d[\w.]*)")
_IOS_WEBKIT_BROWSERS = frozenset({"Mobile Safari", "Chrome Mobile iOS", "Firefox iOS",
                                  "Edge Mobile", "Opera Mini iOS", "Brave iOS",
                                  "DuckDuckGo Mobile"})
_FAMILY_KEYS = {
    "Chrome": "chrome", "Chrome Mobile": "chrome", "Chromium": "chrome",
    "Chrome Mobile WebView": "android_webview", "Edge": "edge_chromium",
    "Edge Mobile": "edge_chromium",
    "Opera": "opera", "Opera Mobile": "opera", "Samsung Internet": "samsung_internet",
    "Brave": "brave", "Vivaldi": "vivaldi",
}
_FAMILY_NAMES = {"chrome": "Chrome", "edge_chromium": "Microsoft Edge",
                 "opera": "Opera", "samsung_internet": "Samsung Internet", "brave": "Brave",
                 "vivaldi": "Vivaldi", "android_webview": "Android WebView"}
_ENDPOINT_HINT = "point it at `check client` to see what it really negotiates"


def _major(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _dotted(version: Version) -> str:
    return ".".join(map(str, version))


class _Judge:
    def __init__(self, policy: TlsPolicy, table: CapabilityTable) -> None:
        self.policy = policy
        self.table = table

    # ---- shared steps --------------------------------------------------------------------

    def result(self, ua: str, verdict: Verdict, client: str, family: str, version: str,
               reason: str, row: str | None) -> ClientVerdict:
        return ClientVerdict(ua, verdict, client, family, version, reason,
                             self.table.row(row) if row else None)

    def browser(self, ua: str, *, client: str, family: str, floor_key: str, row_id: str,
                version: Version, judged_as: str = "") -> ClientVerdict:
        """A browser with a TLS-capability row and a policy floor, judged in that order:
        no TLS 1.2 → locked out; unsupported → refused; below floor → refused; else fine."""
        row = self.table.row(row_id)
        shown = _dotted(version)
        what = judged_as or client
        if not row.has_tls12(version):
            first = row.tls12_default_from
            since = (f"TLS 1.2 is on by default only from {first}" if first
                     else "no version has TLS 1.2 on by default")
            return self.result(ua, Verdict.NO_TLS12, client, family, shown,
                               f"{what} cannot do TLS 1.2 as shipped ({since}; "
                               f"{row.earlier_versions}): "
                               "it will be locked out at cut-over.", row_id)
        if family in self.policy.unsupported_browsers:
            return self.result(ua, Verdict.UNSUPPORTED_BROWSER, client, family, shown,
                               f"{what} can do TLS 1.2, but company policy does not support "
                               "it; move its users to a supported browser.", row_id)
        floor = self.policy.browser_floors[floor_key]
        if version[0] < floor:
            return self.result(ua, Verdict.BELOW_POLICY_FLOOR, client, family, shown,
                               f"{what} can do TLS 1.2 (from {row.tls12_default_from}), but "
                               f"the policy floor is {floor_key.capitalize()} {floor}; it "
                               "must be updated.", row_id)
        return self.result(ua, Verdict.COMPLIANT, client, family, shown,
                           f"{what} meets the policy floor ({floor_key.capitalize()} {floor}) "
                           f"and has TLS 1.2 on by default (from {row.tls12_default_from}).",
                           row_id)

    def api_client(self, ua: str, *, client: str, family: str, row_id: str,
                   version: Version) -> ClientVerdict:
        """An API client or library: TLS 1.2 on by default is all the policy asks."""
        row = self.table.row(row_id)
        shown = _dotted(version)
        if row.has_tls12(version):
            return self.result(ua, Verdict.COMPLIANT, client, family, shown,
                               f"{client} has TLS 1.2 on by default (from "
                               f"{row.tls12_default_from}).", row_id)
        return self.result(ua, Verdict.NO_TLS12, client, family, shown,
                           f"{client} cannot do TLS 1.2 by default ({row.earlier_versions}; "
                           f"on by default from {row.tls12_default_from}): it will be locked "
                           "out at cut-over unless upgraded.", row_id)

    # ---- the decision --------------------------------------------------------------------

    def judge(self, ua: str) -> ClientVerdict:
        text = ua.strip()
        if not text:
            return self.result(ua, Verdict.UNKNOWN, "", "", "", "The User-Agent is empty.",
                               None)
        return (self.dotnet(ua, text) or self.java(ua, text) or self.tls_library(ua, text)
                or self.python(ua, text) or self.by_parser(ua, text))

    def dotnet(self, ua: str, text: str) -> ClientVerdict | None:
        # SOAP clients announce the CLR build; 4.0.30319.42000 means 4.6 or later
        # (Environment.Version), builds 17000–41999 are 4.5–4.5.2, earlier ones 4.0.
        match = _DOTNET_SOAP.search(text)
        if match is None and "MSIE" not in text and "Trident" not in text:
            match = _DOTNET_CLR.search(text)
        if match is None:
            return None
        major = int(match.group(1))
        revision = int(match.group(4) or 0)
        if major < 4:
            version: Version = (major, int(match.group(2)))
        elif revision >= 42000:
            version = (4, 6)
        elif revision >= 17000:
            version = (4, 5)
        else:
            version = (4, 0)
        label = ".NET Framework " + _dotted(version) + ("+" if version == (4, 6) else "")
        return self.api_client(ua, client=label, family="dotnet_framework",
                               row_id="dotnet_framework", version=version)

    def java(self, ua: str, text: str) -> ClientVerdict | None:
        match = _JAVA.search(text)
        if match is not None:
            first, second, update = match.group(1), match.group(2), match.group(3)
            major = int(second) if first == "1" and second else int(first)
            client = f"Java {major}" + (f" (update {update})" if update else "")
            return self.api_client(ua, client=client, family="java", row_id="java",
                                   version=(major,))
        match = _JAVA_HTTP_CLIENT.search(text)
        if match is not None:
            major = int(match.group(1))
            return self.api_client(ua, client=f"Java {major} HttpClient", family="java",
                                   row_id="java", version=(major,))
        return None

    def tls_library(self, ua: str, text: str) -> ClientVerdict | None:
        curl = _CURL.search(text)
        name = f"curl {curl.group(1)}" if curl else ""
        for pattern, row_id, label in ((_OPENSSL, "openssl", "OpenSSL"), (_NSS, "nss", "NSS")):
            match = pattern.search(text)
            if match is not None:
                version = parse_version(match.group(1))
                client = f"{name} with {label} {match.group(1)}" if name \
                    else f"{label} {match.group(1)} client"
                return self.api_client(ua, client=client, family=row_id, row_id=row_id,
                                       version=version)
        if curl:
            # curl's own default User-Agent names no TLS library, and curl of any version
            # negotiates the best its library offers: the library decides, and it is unseen.
            return self.result(ua, Verdict.UNCERTAIN, name, "curl", curl.group(1),
                               f"{name} negotiates whatever its TLS library offers (OpenSSL "
                               "1.0.1+ or NSS 3.15.1+ can do TLS 1.2), and the User-Agent "
                               f"does not name the library; run `curl -V` on that machine or "
                               f"{_ENDPOINT_HINT}.", "openssl")
        return None

    def python(self, ua: str, text: str) -> ClientVerdict | None:
        for pattern, row_id, label in ((_REQUESTS, "python_requests", "python-requests"),
                                       (_PY_URLLIB, "python", "Python")):
            match = pattern.search(text)
            if match is None:
                continue
            version = parse_version(match.group(1))
            client = f"{label} {match.group(1)}"
            row = self.table.row(row_id)
            if row.has_tls12(version):
                return self.api_client(ua, client=client, family=row_id, row_id=row_id,
                                       version=version)
            return self.result(ua, Verdict.UNCERTAIN, client, row_id, _dotted(version),
                               f"{client} predates {label} {row.tls12_default_from}; "
                               f"{row.earlier_versions}, which the User-Agent does not "
                               f"reveal; {_ENDPOINT_HINT}.", row_id)
        return None

    def by_parser(self, ua: str, text: str) -> ClientVerdict:
        parsed = ua_parser.parse(text)
        agent, os_ = parsed.user_agent, parsed.os
        family = agent.family if agent else ""
        major = _major(agent.major) if agent else None
        if family == "IE" or (not family and ("MSIE" in text or "Trident/" in text)):
            version: Version = (major,) if major else ()
            client = f"Internet Explorer {major}" if major else "Internet Explorer"
            return self.browser(ua, client=client, family="ie", floor_key="edge", row_id="ie",
                                version=version)
        if family == "Opera" and (_PRESTO.search(text) or not _CHROME.search(text)):
            client = f"Opera {major} (Presto)" if major else "Opera (Presto)"
            return self.browser(ua, client=client, family="opera_presto", floor_key="chrome",
                                row_id="opera_presto", version=(major or 0,))
        if family == "Edge" and not _EDGE_CHROMIUM.search(text):
            edge = _EDGE_HTML.search(text)
            if edge is not None and int(edge.group(1)) < 79:
                number = int(edge.group(1))
                return self.browser(ua, client=f"Microsoft Edge {number} (EdgeHTML)",
                                    family="edge_html", floor_key="edge", row_id="edge_html",
                                    version=(number,))
        if os_ is not None and os_.family == "iOS":
            return self.ios(ua, family, major, os_)
        chrome = _CHROME.search(text)
        if family in _FAMILY_KEYS and chrome is not None:
            return self.chromium(ua, _FAMILY_KEYS[family], family, major, int(chrome.group(1)))
        if family == "Android":
            return self.android_stock(ua, agent)
        if family in ("Firefox", "Firefox Mobile") and major:
            return self.browser(ua, client=f"Firefox {major}", family="firefox",
                                floor_key="firefox", row_id="firefox", version=(major,))
        if family == "Safari" and major:
            shown = ".".join(p for p in (agent.major, agent.minor) if p) if agent else ""
            return self.browser(ua, client=f"Safari {shown} (macOS)", family="safari",
                                floor_key="safari", row_id="safari_macos", version=(major,))
        if chrome is not None and family and family != "Other":
            return self.result(ua, Verdict.UNCERTAIN, f"{family} {major or ''}".strip(),
                               "chromium_other", chrome.group(1),
                               f"{family} is Chromium {chrome.group(1)} underneath, but the "
                               "policy does not name it among the Chromium-based browsers it "
                               "judges; decide on it, or " + _ENDPOINT_HINT + ".", "chrome")
        return self.unrecognised(ua, family, parsed)

    def chromium(self, ua: str, key: str, family: str, major: int | None,
                 chromium: int) -> ClientVerdict:
        name = _FAMILY_NAMES[key]
        own = f"{name} {major}" if major else name
        if key not in self.policy.chromium_based:
            return self.result(ua, Verdict.UNCERTAIN, own, key, str(chromium),
                               f"{own} is Chromium {chromium} underneath, but the policy "
                               "does not list it among the Chromium-based browsers it judges.",
                               "chrome")
        judged = own if key == "chrome" else f"{own} (Chromium {chromium})"
        return self.browser(ua, client=judged, family=key, floor_key="chrome", row_id="chrome",
                            version=(chromium,), judged_as=judged)

    def android_stock(self, ua: str, agent: ua_parser.UserAgent | None) -> ClientVerdict:
        version = tuple(int(p) for p in (agent.major, agent.minor) if p and p.isdigit()) \
            if agent else ()
        shown = _dotted(version)
        row = self.table.row("android_browser")
        if version and not row.has_tls12(version):
            return self.result(ua, Verdict.NO_TLS12, f"Android {shown} stock browser",
                               "android_browser", shown,
                               f"The Android {shown} stock browser cannot do TLS 1.2 "
                               f"({row.earlier_versions}; from {row.tls12_default_from}): it "
                               "will be locked out at cut-over.", "android_browser")
        return self.result(ua, Verdict.UNCERTAIN, f"Android {shown} stock browser".strip(),
                           "android_browser", shown,
                           "This Android stock browser can do TLS 1.2, but its User-Agent "
                           "carries no Chromium version to judge against the policy floor; "
                           + _ENDPOINT_HINT + ".", "android_browser")

    def ios(self, ua: str, family: str, major: int | None, os_: ua_parser.OS) -> ClientVerdict:
        # Every iOS browser is WebKit on the system TLS stack: iOS N ships Safari N, so the iOS
        # version is the Safari version the floor applies to.
        ios_version = tuple(int(p) for p in (os_.major, os_.minor) if p and p.isdigit())
        shown = _dotted(ios_version)
        if family == "Mobile Safari" and major:
            return self.browser(ua, client=f"Safari {major} (iOS {shown})", family="safari",
                                floor_key="safari", row_id="ios", version=(major,),
                                judged_as=f"Safari {major} on iOS {shown}")
        if family in _IOS_WEBKIT_BROWSERS and ios_version:
            client = f"{family} {major or ''} (iOS {shown})".replace("  ", " ")
            return self.browser(ua, client=client, family="safari", floor_key="safari",
                                row_id="ios", version=ios_version,
                                judged_as=f"{family} on iOS {shown} (WebKit of Safari "
                                          f"{ios_version[0]})")
        row = self.table.row("ios")
        app = family if family and family != "Other" else "an unnamed app"
        capable = (f"iOS {shown} can do TLS 1.2" if ios_version and row.has_tls12(ios_version)
                   else f"iOS {shown or '(version not given)'} may not do TLS 1.2")
        return self.result(ua, Verdict.UNCERTAIN, f"in-app browser: {app} (iOS {shown})",
                           "in_app", shown,
                           f"An in-app browser or web view ({app}) uses the operating "
                           f"system's TLS; {capable}, but the app is not a browser the policy "
                           "names and its User-Agent does not say which engine version it "
                           f"embeds; {_ENDPOINT_HINT}.", "ios")

    def unrecognised(self, ua: str, family: str, parsed: ua_parser.Result) -> ClientVerdict:
        os_, device = parsed.os, parsed.device
        if device is not None and device.family == "Spider":
            return self.result(ua, Verdict.UNKNOWN, family or "crawler", "crawler", "",
                               f"{family or 'This client'} is a crawler or bot with no "
                               "entry in the client-capability table; it is not a client the "
                               "policy covers.", None)
        named = family if family and family != "Other" else ""
        if os_ is not None and os_.family != "Other":
            where = " ".join(p for p in (os_.family, os_.major, os_.minor) if p)
            if named:
                return self.result(ua, Verdict.UNCERTAIN, f"{named} on {where}", "unlisted", "",
                                   f"{named} on {where} has no entry in the client-capability "
                                   "table, and its TLS may come from the operating system or "
                                   f"from a proxy it does not reveal; {_ENDPOINT_HINT}.", None)
            return self.result(ua, Verdict.UNCERTAIN, f"unnamed client on {where}",
                               "reduced", "",
                               f"The User-Agent names the operating system ({where}) but no "
                               "browser or client version: a reduced or frozen User-Agent or "
                               "an embedded web view, whose TLS comes from a stack it does "
                               f"not reveal; {_ENDPOINT_HINT}.", None)
        return self.result(ua, Verdict.UNKNOWN, named, "unknown", "",
                           (f"{named} has no entry in the client-capability table"
                            if named else "The User-Agent names no known browser, client or "
                            "operating system") + f"; {_ENDPOINT_HINT}.", None)


@functools.lru_cache(maxsize=16384)
def _judge_default(ua: str) -> ClientVerdict:
    return _Judge(_default_policy(), default_capabilities()).judge(ua)


@functools.cache
def _default_policy() -> TlsPolicy:
    return load_tls_policy()


def judge_user_agent(ua: str, policy: TlsPolicy | None = None,
                     table: CapabilityTable | None = None) -> ClientVerdict:
    """The verdict on one User-Agent string. With the shipped policy and table, verdicts are
    cached by string (logs repeat a few thousand UAs millions of times)."""
    if policy is None and table is None:
        return _judge_default(ua)
    return _Judge(policy or _default_policy(), table or default_capabilities()).judge(ua)


def judge_user_agents(uas: list[str], policy: TlsPolicy | None = None,
                      table: CapabilityTable | None = None) -> list[ClientVerdict]:
    return [judge_user_agent(ua, policy, table) for ua in uas]
