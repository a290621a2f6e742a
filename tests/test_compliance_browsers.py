"""Browsers and API clients by User-Agent (issue 7, acceptance 1): each realistic UA gets the
right verdict, the right capability row and a reason that says why."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from policies.tls_policy import load_tls_policy
from services.compliance.browsers import NON_COMPLIANT, Verdict, judge_user_agent
from services.compliance.capabilities import load_capabilities, parse_version
from services.errors import InvalidInput

C, FLOOR, NO12, UNSUP = (Verdict.COMPLIANT, Verdict.BELOW_POLICY_FLOOR, Verdict.NO_TLS12,
                         Verdict.UNSUPPORTED_BROWSER)
UNCERTAIN, UNKNOWN = Verdict.UNCERTAIN, Verdict.UNKNOWN

# (label, User-Agent, verdict, capability row, words the reason must contain)
CASES = [
    ("IE 8", "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; SLCC2; .NET CLR "
     "2.0.50727; .NET CLR 3.5.30729)", NO12, "ie", "off by default"),
    ("IE 9", "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)", NO12, "ie",
     "locked out"),
    ("IE 10", "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)", NO12, "ie",
     "on by default only from 11"),
    ("IE 11", "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko", UNSUP,
     "ie", "does not support"),
    ("IE 11 compatibility view", "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; "
     "Trident/7.0; .NET4.0C; .NET4.0E)", UNSUP, "ie", "does not support"),
    ("EdgeHTML 15", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/52.0.2743.116 Safari/537.36 Edge/15.15063", FLOOR, "edge_html",
     "policy floor is Edge 16"),
    ("EdgeHTML 16", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/58.0.3029.110 Safari/537.36 Edge/16.16299", C, "edge_html", "Edge 16"),
    ("Chromium Edge 120", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0", C, "chrome", "Chromium 120"),
    ("Chrome 56", "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/56.0.2924.87 Safari/537.36", FLOOR, "chrome", "policy floor is Chrome 57"),
    ("Chrome 57", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/57.0.2987.133 Safari/537.36", C, "chrome", "meets the policy floor"),
    ("Chrome 120", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/120.0.0.0 Safari/537.36", C, "chrome", "meets the policy floor"),
    ("Chrome 29", "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/29.0.1547.57 Safari/537.36", NO12, "chrome", "only from 30"),
    ("Firefox 51", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:51.0) Gecko/20100101 "
     "Firefox/51.0", FLOOR, "firefox", "policy floor is Firefox 52"),
    ("Firefox 52", "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:52.0) Gecko/20100101 "
     "Firefox/52.0", C, "firefox", "Firefox 52"),
    ("Firefox 120", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 "
     "Firefox/120.0", C, "firefox", "meets the policy floor"),
    ("Safari 10.1 macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/603.3.8 "
     "(KHTML, like Gecko) Version/10.1.2 Safari/603.3.8", FLOOR, "safari_macos",
     "policy floor is Safari 11"),
    ("Safari 11 macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_1) AppleWebKit/604.3.5 "
     "(KHTML, like Gecko) Version/11.0.1 Safari/604.3.5", C, "safari_macos", "Safari 11"),
    ("Safari 10 iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) "
     "AppleWebKit/603.3.8 (KHTML, like Gecko) Version/10.0 Mobile/14G60 Safari/602.1", FLOOR,
     "ios", "policy floor is Safari 11"),
    ("Safari 11 iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 11_0 like Mac OS X) "
     "AppleWebKit/604.1.38 (KHTML, like Gecko) Version/11.0 Mobile/15A372 Safari/604.1", C,
     "ios", "iOS 11.0"),
    ("Opera 12 Presto", "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.16",
     NO12, "opera_presto", "Presto"),
    ("Opera 106 (Chromium)", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0", C, "chrome",
     "Opera 106 (Chromium 120)"),
    ("Opera 15 (Chromium 28)", "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/28.0.1500.52 Safari/537.36 OPR/15.0.1147.100", NO12, "chrome",
     "Chromium 28"),
    ("Samsung Internet 23", "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 "
     "(KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36", C,
     "chrome", "Samsung Internet 23 (Chromium 115)"),
    ("Samsung Internet 3", "Mozilla/5.0 (Linux; Android 5.0.2; SAMSUNG SM-G920F Build/LRX22G) "
     "AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/3.0 Chrome/38.0.2125.102 Mobile "
     "Safari/537.36", FLOOR, "chrome", "Chromium 38"),
    ("Android 4.3 stock", "Mozilla/5.0 (Linux; U; Android 4.3; en-us; SAMSUNG SGH-I747 "
     "Build/JSS15J) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
     NO12, "android_browser", "Android 4.3"),
    ("Android 4.4 stock", "Mozilla/5.0 (Linux; Android 4.4.2; Nexus 5 Build/KOT49H) "
     "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/30.0.0.0 Mobile Safari/537.36",
     FLOOR, "chrome", "Chromium 30"),
    ("Java 6", "Java/1.6.0_45", NO12, "java", "Java 6: TLS 1.0 only"),
    ("Java 7u25", "Java/1.7.0_25", NO12, "java", "off by default"),
    ("Java 8", "Java/1.8.0_151", C, "java", "on by default"),
    ("Java 8 via Apache HttpClient", "Apache-HttpClient/4.5.13 (Java/1.8.0_292)", C, "java",
     "Java 8"),
    ("curl + OpenSSL 0.9.8", "curl/7.15.5 (x86_64-redhat-linux-gnu) libcurl/7.15.5 "
     "OpenSSL/0.9.8b zlib/1.2.3 libidn/0.6.5", NO12, "openssl", "OpenSSL 0.9.8b"),
    ("curl + OpenSSL 1.1.1", "curl/7.68.0 (x86_64-pc-linux-gnu) libcurl/7.68.0 OpenSSL/1.1.1f "
     "zlib/1.2.11", C, "openssl", "OpenSSL 1.1.1f"),
    ("curl 7.29 + NSS 3.44", "curl/7.29.0 (x86_64-redhat-linux-gnu) libcurl/7.29.0 NSS/3.44 "
     "zlib/1.2.7 libidn/1.28 libssh2/1.8.0", C, "nss", "NSS 3.44"),
    ("curl 7.19 + NSS 3.13", "curl/7.19.7 (x86_64-redhat-linux-gnu) libcurl/7.19.7 "
     "NSS/3.13.1.0 zlib/1.2.3", NO12, "nss", "TLS 1.1 at most"),
    ("curl, library not named", "curl/7.29.0", UNCERTAIN, "openssl", "does not name the library"),
    ("python-requests 2.31", "python-requests/2.31.0", C, "python_requests", "on by default"),
    ("Python-urllib 2.7", "Python-urllib/2.7", UNCERTAIN, "python", "OpenSSL"),
    (".NET 4.6+ SOAP client", "Mozilla/4.0 (compatible; MSIE 6.0; MS Web Services Client "
     "Protocol 4.0.30319.42000)", C, "dotnet_framework", ".NET Framework 4.6+"),
    (".NET 4.0 SOAP client", "Mozilla/4.0 (compatible; MSIE 6.0; MS Web Services Client "
     "Protocol 4.0.30319.1)", NO12, "dotnet_framework", "4.0: no TLS 1.2"),
    (".NET 4.5 SOAP client", "Mozilla/4.0 (compatible; MSIE 6.0; MS Web Services Client "
     "Protocol 4.0.30319.18408)", NO12, "dotnet_framework", "off by default"),
    ("Facebook in-app on iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) "
     "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone14,5;"
     "FBMD/iPhone;FBSN/iOS;FBSV/16.6;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]", UNCERTAIN, "ios",
     "in-app browser"),
    ("bare WKWebView", "Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) "
     "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", UNCERTAIN, "ios", "web view"),
    ("Edge on Android", "Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36 EdgA/120.0.2210.115", C, "chrome",
     "Microsoft Edge 120 (Chromium 120)"),
    ("Safari 6 macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_8_5) AppleWebKit/536.30.1 "
     "(KHTML, like Gecko) Version/6.0.5 Safari/536.30.1", NO12, "safari_macos", "only from 7"),
    ("Android 2.3 stock", "Mozilla/5.0 (Linux; U; Android 2.3.6; en-us; GT-S5360 "
     "Build/GINGERBREAD) AppleWebKit/533.1 (KHTML, like Gecko) Version/4.0 Mobile Safari/533.1",
     NO12, "android_browser", "Android 2.3"),
    ("Yandex (Chromium, not listed)", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
     "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 YaBrowser/24.1.0.0 "
     "Safari/537.36", UNCERTAIN, "chrome", "does not name it"),
    ("Chrome on iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
     "AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 "
     "Safari/604.1", C, "ios", "iOS 17.1"),
]

UA = {case[0]: case[1] for case in CASES}
REDUCED = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"


@pytest.mark.parametrize(("label", "ua", "verdict", "row", "words"), CASES,
                         ids=[case[0] for case in CASES])
def test_verdict_row_and_reason(label: str, ua: str, verdict: Verdict, row: str,
                                words: str) -> None:
    result = judge_user_agent(ua)
    assert result.verdict is verdict, (label, result.reason)
    assert result.capability is not None and result.capability.id == row
    assert words in result.reason
    assert result.reason.endswith(".") and result.client
    assert result.compliant is (verdict is Verdict.COMPLIANT)
    document = result.as_dict()
    assert document["verdict"] == verdict.value and document["capability"]["id"] == row
    assert document["capability"]["sources"]


def test_edgehtml_and_chromium_edge_are_told_apart() -> None:
    legacy = judge_user_agent(UA["EdgeHTML 16"])
    chromium = judge_user_agent(UA["Chromium Edge 120"])
    assert (legacy.family, legacy.version) == ("edge_html", "16")
    assert (chromium.family, chromium.version) == ("edge_chromium", "120")
    # Edge/15's Chrome/52 token is a compatibility claim, not its engine: judged as EdgeHTML 15.
    assert judge_user_agent(UA["EdgeHTML 15"]).version == "15"


@pytest.mark.parametrize("ua", ["Java/1.7.0_25", "curl/7.29.0", "python-requests/2.31.0",
                                "Mozilla/4.0 (compatible; MSIE 6.0; MS Web Services Client "
                                "Protocol 4.0.30319.42000)"])
def test_api_clients_are_judged_not_dropped_as_bots(ua: str) -> None:
    result = judge_user_agent(ua)
    assert result.verdict is not Verdict.UNKNOWN
    assert result.family not in ("crawler", "unknown") and result.capability is not None


def test_reduced_user_agent_is_uncertain_and_garbage_unknown() -> None:
    reduced = judge_user_agent(REDUCED)
    assert reduced.verdict is UNCERTAIN and "Windows 10" in reduced.reason
    for junk in ("asdkjh qwe 123 !!", "   ", "\x00\x01", "Mozilla"):
        result = judge_user_agent(junk)
        assert result.verdict is UNKNOWN, junk
        assert result.capability is None and result.reason
    mini = judge_user_agent("Opera/9.80 (Android; Opera Mini/7.5.54678/28.2555; U; ru) "
                            "Presto/2.10.289 Version/12.02")
    assert mini.verdict is UNCERTAIN and mini.client.startswith("Opera Mini on Android")
    bot = judge_user_agent("Mozilla/5.0 (compatible; Googlebot/2.1; "
                           "+http://www.google.com/bot.html)")
    assert bot.verdict is UNKNOWN and "crawler" in bot.reason


def test_non_compliant_set_is_the_three_lock_out_verdicts() -> None:
    assert {v.value for v in NON_COMPLIANT} == {"below_policy_floor", "no_tls12",
                                               "unsupported_browser"}


def test_the_policy_file_drives_floors_and_chromium_list(tmp_path: Path) -> None:
    shipped = load_tls_policy()
    chrome_120 = UA["Chrome 120"]
    stricter = dataclasses.replace(shipped, browser_floors={**shipped.browser_floors,
                                                            "chrome": 121})
    result = judge_user_agent(chrome_120, stricter)
    assert result.verdict is FLOOR and "Chrome 121" in result.reason
    no_opera = dataclasses.replace(shipped, chromium_based=shipped.chromium_based - {"opera"})
    assert judge_user_agent(UA["Opera 106 (Chromium)"], no_opera).verdict is UNCERTAIN
    # Judging with the shipped policy again is unaffected (the default cache is per string).
    assert judge_user_agent(chrome_120).verdict is C


def test_capability_table_rows_are_sourced() -> None:
    table = load_capabilities()
    for needed in ("chrome", "firefox", "safari_macos", "ios", "edge_html", "ie",
                   "opera_presto", "android_browser", "samsung_internet", "java",
                   "dotnet_framework", "openssl", "nss", "python", "python_requests",
                   "windows7_schannel", "windows81_schannel"):
        row = table.row(needed)
        assert row.sources and row.disagreements and row.earlier_versions
    assert table.row("chrome").tls12_default_from == "30"  # captures over caniuse's 29
    assert "caniuse" in table.row("chrome").disagreements
    assert table.row("ie").tls13_from == ""
    assert parse_version("1.0.1f") == (1, 0, 1) and parse_version("") == ()
    with pytest.raises(InvalidInput, match="no row 'lynx'"):
        table.row("lynx")


def test_a_broken_capability_table_names_file_and_line(tmp_path: Path) -> None:
    good = load_capabilities().source.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "caps.csv"
    broken.write_text("\n".join([*good[:3], "lynx,Lynx,browser,major,abc,,x,y,z"]) + "\n",
                      encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"caps\.csv line 4: tls12_default_from 'abc'"):
        load_capabilities(broken)
    broken.write_text("\n".join([*good[:2], "chrome,x,browser,v,1,,e,,d"]) + "\n",
                      encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 3: id 'chrome' is empty or repeated"):
        load_capabilities(broken)
    with pytest.raises(InvalidInput, match="missing"):
        load_capabilities(tmp_path / "none.csv")
