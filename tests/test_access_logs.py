"""Access-log analysis (issue 7, acceptance 4): fixtures of every format, built here."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.compliance.access_logs import LogReport, analyse, iter_records
from services.compliance.log_formats import (
    FORMATS,
    RECOMMENDED_LAYOUT,
    decode_recommended,
    detect_format,
    normalise_protocol,
    parse_combined_tls,
)
from services.errors import InvalidInput, NotFound

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
IE10 = "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)"
JAVA7 = "Java/1.7.0_25"
CURL_OLD = "curl/7.19.7 (x86_64-redhat-linux-gnu) libcurl/7.19.7 OpenSSL/0.9.8b"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")

# (protocol as the server writes it, cipher, user agent, user or None): the traffic every
# format's fixture records, so that every format must give the same answer.
TRAFFIC = [
    ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", FIREFOX, "alice"),
    ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", FIREFOX, "alice"),
    ("TLSv1.3", "TLS_AES_128_GCM_SHA256", CHROME, "bob"),
    ("TLSv1", "AES128-SHA", IE10, "carol"),
    ("TLSv1", "AES128-SHA", IE10, "carol"),
    ("TLSv1.1", "AES256-SHA", JAVA7, "dave"),
    ("TLSv1", "DES-CBC3-SHA", CURL_OLD, None),
    ("-", "-", CHROME, None),  # plain HTTP
]
EXPECTED_PROTOCOLS = {"TLSv1.2": 2, "TLSv1.3": 1, "TLSv1": 3, "TLSv1.1": 1, "plain-http": 1}
EXPECTED_LOCKOUT_UAS = {IE10: 2, JAVA7: 1, CURL_OLD: 1}
EXPECTED_LOCKOUT_USERS = {"carol": 2, "dave": 1, "-": 1}


def counts(rows: list[dict[str, object]]) -> dict[object, object]:
    return {row["name"]: row["requests"] for row in rows}


# ---- fixture writers, one per format -------------------------------------------------------


def nginx_line(protocol: str, cipher: str, ua: str, user: str | None) -> str:
    return (f'198.51.100.7 - {user or "-"} [29/Nov/2026:10:00:00 +0000] "GET /des/ HTTP/1.1" '
            f'200 5120 "https://portal.example/" {protocol} {cipher} "{ua}"')


def apache_line(protocol: str, cipher: str, ua: str, user: str | None) -> str:
    # LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" %{SSL_PROTOCOL}x %{SSL_CIPHER}x
    # \"%{User-Agent}i\"" — Apache writes %b as "-" for no body and escapes quotes as \".
    return (f'198.51.100.7 - {user or "-"} [29/Nov/2026:10:00:00 +0000] '
            f'"GET /search?q=\\"x\\" HTTP/1.1" 200 - "-" {protocol} {cipher} "{ua}"')


def alb_line(protocol: str, cipher: str, ua: str, user: str | None) -> str:
    kind = "http" if protocol == "-" else "https"
    return (f"{kind} 2026-11-29T10:00:00.186641Z app/gatehouse-lb/50dc6c495c0c9188 "
            f"192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "
            f'"GET https://portal.example:443/ HTTP/1.1" "{ua}" {cipher} {protocol} '
            f"arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/t/73e2d6bc24d8a067 "
            f'"Root=1-58337281-1d84f3d73c47ec4e58577259" "portal.example" '
            f'"arn:aws:acm:eu-west-2:123456789012:certificate/1234" 1 '
            f'2026-11-29T09:59:59.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"')


IIS_CODES = {"TLSv1": "40", "TLSv1.1": "100", "TLSv1.2": "400", "TLSv1.3": "1000", "-": "-"}
IIS_HEADER = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2026-11-29 10:00:00",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken "
    "crypt-protocol crypt-cipher",
]


def iis_line(protocol: str, cipher: str, ua: str, user: str | None) -> str:
    return (f"2026-11-29 10:00:00 10.0.0.5 GET /des/ - 443 {user or '-'} 198.51.100.7 "
            f"{ua.replace(' ', '+')} - 200 0 0 15 {IIS_CODES[protocol]} "
            f"{'-' if cipher == '-' else '6610'}")


def appgw_line(protocol: str, cipher: str, ua: str, user: str | None) -> str:
    plain = protocol == "-"
    return json.dumps({
        "resourceId": "/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/"
                      "APPLICATIONGATEWAYS/GW",
        "operationName": "ApplicationGatewayAccess", "time": "2026-11-29T10:00:00Z",
        "category": "ApplicationGatewayAccessLog",
        "properties": {"instanceId": "appgw_0", "clientIP": "198.51.100.7", "clientPort": 5000,
                       "httpMethod": "GET", "requestUri": "/des/", "userAgent": ua,
                       "httpStatus": 200, "sslEnabled": "off" if plain else "on",
                       "sslCipher": "" if plain else cipher,
                       "sslProtocol": "" if plain else protocol}})


def frontdoor_line(protocol: str, cipher: str, ua: str, user: str | None) -> str:
    shown = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2",
             "TLSv1.3": "TLS 1.3", "-": "N/A"}[protocol]
    return json.dumps({
        "time": "2026-11-29T10:00:00Z", "category": "FrontDoorAccessLog",
        "operationName": "Microsoft.Cdn/Profiles/AccessLog/Write",
        "properties": {"trackingReference": "0T2", "httpMethod": "GET", "httpVersion": "2.0",
                       "requestUri": "https://portal.example/des/", "userAgent": ua,
                       "clientIp": "198.51.100.7", "securityProtocol": shown,
                       "securityCipher": "" if cipher == "-" else cipher,
                       "httpStatusCode": "200"}})


WRITERS = {"nginx": nginx_line, "apache": apache_line, "alb": alb_line, "iis": iis_line,
           "appgw": appgw_line, "frontdoor": frontdoor_line}
HAS_USERS = {"nginx", "apache", "iis"}
MALFORMED = {
    "nginx": ['198.51.100.7 - - [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"',
              "garbage that is no log line", '1.2.3.4 - - [x] "GET" 200 1 "-" TLSv9 X "ua"'],
    "apache": ['198.51.100.7 - - [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "ua"',
               "\x00\x01 binary rubbish"],
    "alb": ["https 2026-11-29T10:00:00Z truncated line", 'https a b c "GET" "ua" X TLSv1.2'],
    "iis": ["2026-11-29 10:00:00 too few columns", IIS_HEADER[3].replace("#Fields: ", "")
            .replace("crypt-protocol", "999")],
    "appgw": ['{"properties": {"sslProtocol": "TLSv1.2"', '{"properties": {"userAgent": "x"}}',
              "[1, 2]"],
    "frontdoor": ['{"properties": {"securityProtocol": "TLS 9.9", "userAgent": "x"}}', "{"],
}


def write_log(path: Path, fmt: str, *, compress: bool = False, malformed: bool = True,
              repeat: int = 1) -> Path:
    lines = list(IIS_HEADER) if fmt == "iis" else []
    body = [WRITERS[fmt](*row) for row in TRAFFIC] * repeat
    if malformed:
        # after the first line so that detection sees a good line first
        body[1:1] = MALFORMED[fmt]
    lines += body
    text = "\n".join(lines) + "\n"
    if compress:
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def check_traffic(report: LogReport, fmt: str, *, repeat: int = 1) -> None:
    data = report.as_dict()
    assert counts(data["by_protocol"]) == {k: v * repeat for k, v in EXPECTED_PROTOCOLS.items()}
    assert data["requests"] == len(TRAFFIC) * repeat
    assert counts(data["by_user_agent"]) == {k: v * repeat for k, v in {
        FIREFOX: 2, CHROME: 2, IE10: 2, JAVA7: 1, CURL_OLD: 1}.items()}
    lockout = data["lockout"]
    assert lockout["requests"] == 4 * repeat
    assert counts(lockout["by_protocol"]) == {"TLSv1": 3 * repeat, "TLSv1.1": repeat}
    assert counts(lockout["by_user_agent"]) == {
        k: v * repeat for k, v in EXPECTED_LOCKOUT_UAS.items()}
    if fmt in HAS_USERS:
        assert counts(data["by_user"]) == {k: v * repeat for k, v in {
            "alice": 2, "bob": 1, "carol": 2, "dave": 1, "-": 2}.items()}
        assert counts(lockout["by_user"]) == {
            k: v * repeat for k, v in EXPECTED_LOCKOUT_USERS.items()}
    else:
        assert counts(data["by_user"]) == {"-": len(TRAFFIC) * repeat}
    # Chrome came over TLS 1.3 and over plain HTTP; IE 10 only over TLS 1.0
    chrome = next(row for row in data["by_user_agent"] if row["name"] == CHROME)
    assert chrome["protocols"] == {"TLSv1.3": repeat, "plain-http": repeat}
    ie = next(row for row in data["by_user_agent"] if row["name"] == IE10)
    assert ie["protocols"] == {"TLSv1": 2 * repeat}


# ---- every format ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_every_format_is_detected_and_counted_with_malformed_lines(
        tmp_path: Path, fmt: str, compress: bool) -> None:
    log = write_log(tmp_path / f"{fmt}.log{'.gz' if compress else ''}", fmt, compress=compress)
    report = analyse(log)
    assert report.formats == {str(log): fmt}
    check_traffic(report, fmt)
    assert report.malformed == len(MALFORMED[fmt])
    assert report.lines == len(TRAFFIC) + len(MALFORMED[fmt])
    # malformed examples name the file and line (the IIS header has 4 directive lines)
    first_number = 2 + (len(IIS_HEADER) if fmt == "iis" else 0)
    assert report.malformed_examples[0].startswith(f"{log}:{first_number}: ")
    assert len(report.malformed_examples) == len(MALFORMED[fmt])
    json.dumps(report.as_dict())  # the report is plain JSON


@pytest.mark.parametrize("fmt", FORMATS)
def test_naming_the_format_gives_the_same_answer_as_detecting_it(tmp_path: Path,
                                                                 fmt: str) -> None:
    log = write_log(tmp_path / "access.log", fmt)
    named = analyse([log], fmt=fmt).as_dict()
    assert named == analyse([log]).as_dict()


def test_the_same_traffic_gives_the_same_report_in_every_format(tmp_path: Path) -> None:
    reports = {fmt: analyse(write_log(tmp_path / fmt, fmt)).as_dict() for fmt in FORMATS}
    ciphers = {fmt: reports[fmt].pop("by_cipher") for fmt in FORMATS}
    for data in reports.values():
        for key in ("sources", "formats", "by_user", "malformed", "malformed_examples", "lines"):
            data.pop(key)
        data["lockout"].pop("by_user")  # ALB and Azure logs carry no user
    assert all(data == reports["nginx"] for data in reports.values())
    # IIS logs SChannel algorithm ids (6610), the others OpenSSL suite names
    assert counts(ciphers["iis"]) == {"TLSv1 6610": 3, "TLSv1.2 6610": 2, "TLSv1.1 6610": 1,
                                      "TLSv1.3 6610": 1}
    assert all(ciphers[fmt] == ciphers["nginx"] for fmt in FORMATS if fmt != "iis")
    assert counts(ciphers["nginx"])["TLSv1 DES-CBC3-SHA"] == 1


def test_several_files_of_different_formats_add_up(tmp_path: Path) -> None:
    logs = [write_log(tmp_path / "a.log", "nginx"),
            write_log(tmp_path / "b.log.gz", "iis", compress=True),
            write_log(tmp_path / "c.json", "frontdoor", malformed=False)]
    report = analyse(logs)
    assert report.formats == {str(logs[0]): "nginx", str(logs[1]): "iis",
                              str(logs[2]): "frontdoor"}
    assert report.requests == 3 * len(TRAFFIC)
    assert report.malformed == len(MALFORMED["nginx"]) + len(MALFORMED["iis"])
    assert report.lockout.requests == 12
    assert report.lockout.by_user == Counter({"carol": 4, "dave": 2, "-": 6})


def test_large_gzip_log_streams_in_chunks_and_keeps_line_numbers(tmp_path: Path) -> None:
    repeat = 4000  # ~5 MB of text: several read chunks
    log = write_log(tmp_path / "big.log.gz", "nginx", compress=True, malformed=False,
                    repeat=repeat)
    with gzip.open(log, "at", encoding="utf-8") as handle:
        handle.write("a broken last line\n")
    seen: list[tuple[int, int]] = []
    report = analyse(log, progress=lambda done, total: seen.append((done, total)))
    check_traffic(report, "nginx", repeat=repeat)
    assert report.malformed == 1
    assert report.malformed_examples == [
        f"{log}:{repeat * len(TRAFFIC) + 1}: a broken last line"]
    assert len(seen) > 3
    assert [done for done, _total in seen] == sorted(done for done, _total in seen)
    assert seen[0] == (0, log.stat().st_size)
    assert seen[-1] == (log.stat().st_size, log.stat().st_size)


def test_cancel_stops_with_what_was_counted(tmp_path: Path) -> None:
    log = write_log(tmp_path / "big.log", "nginx", malformed=False, repeat=20000)
    calls = iter(range(100))
    report = analyse(log, cancel=lambda: next(calls) >= 1)
    assert report.cancelled
    assert 0 < report.requests < 20000 * len(TRAFFIC)
    assert report.as_dict()["cancelled"] is True


# ---- the classify hook -----------------------------------------------------------------------


def test_classify_is_called_once_per_distinct_user_agent(tmp_path: Path) -> None:
    log = write_log(tmp_path / "access.log", "nginx", repeat=50)
    asked: list[str] = []

    def classify(ua: str) -> str:
        asked.append(ua)
        return "no_tls12" if ua in (IE10, JAVA7, CURL_OLD) else "compliant"

    report = analyse(log, classify=classify)
    assert sorted(asked) == sorted({FIREFOX, CHROME, IE10, JAVA7, CURL_OLD})
    assert report.by_client == Counter({"compliant": 200, "no_tls12": 200})
    assert report.client_protocols["no_tls12"] == Counter({"TLSv1": 150, "TLSv1.1": 50})
    assert report.lockout.by_client == Counter({"no_tls12": 200})
    assert counts(report.as_dict()["by_client"]) == {"compliant": 200, "no_tls12": 200}


def test_without_classify_there_is_no_client_view(tmp_path: Path) -> None:
    report = analyse(write_log(tmp_path / "access.log", "alb"))
    assert report.as_dict()["by_client"] == []
    assert report.as_dict()["lockout"]["by_client"] == []


# ---- details of the formats ------------------------------------------------------------------


def test_nginx_combined_with_the_tls_fields_appended_is_read() -> None:
    line = ('203.0.113.9 - erin [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" '
            f'"{JAVA7}" TLSv1.1 AES256-SHA\n')
    assert parse_combined_tls(line) == ("TLSv1.1", "AES256-SHA", JAVA7, "erin")
    assert detect_format([line]) == "nginx"


def test_apache_ssl_request_log_layout_with_user_agent_is_read() -> None:
    line = f'[29/Nov/2026:10:00:00 +0000] 203.0.113.9 TLSv1 RC4-SHA "GET / HTTP/1.1" 2326 "{IE10}"'
    assert detect_format([line]) == "apache"
    assert list(iter_records([line], "apache")) == [("TLSv1", "RC4-SHA", IE10, None)]


def test_user_agent_with_escaped_quotes_is_unescaped() -> None:
    line = ('203.0.113.9 - - [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 - "-" '
            'TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 "odd \\"client\\" 1.0"')
    assert parse_combined_tls(line) == ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256",
                                        'odd "client" 1.0', None)


def test_iis_reads_every_schannel_code_and_a_new_fields_directive() -> None:
    lines = [*IIS_HEADER]
    for code, cipher in (("10", "6801"), ("40", "6801"), ("0x100", "660e"), ("400", "6610"),
                         ("800", "6610"), ("1000", "6610"), ("-", "-")):
        lines.append(f"2026-11-29 10:00:00 10.0.0.5 GET / - 443 CORP\\frank 198.51.100.7 "
                     f"Mozilla/5.0+(Windows+NT+6.1) - 200 0 0 15 {code} {cipher}")
    # IIS writes a new header when logging restarts, possibly with other columns
    lines += ["#Fields: date time crypt-protocol cs-username cs(User-Agent)",
              "2026-11-29 11:00:00 40 - Java/1.6.0_45"]
    records = list(iter_records(lines, "iis"))
    assert [r[0] if r else "bad" for r in records] == [
        "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.2", "TLSv1.3", None, "TLSv1"]
    assert records[0] == ("SSLv3", "6801", "Mozilla/5.0 (Windows NT 6.1)", "CORP\\frank")
    assert records[-1] == ("TLSv1", None, "Java/1.6.0_45", None)


def test_iis_log_without_crypt_protocol_says_what_to_configure(tmp_path: Path) -> None:
    log = tmp_path / "u_ex261129.log"
    log.write_text("#Software: Microsoft Internet Information Services 10.0\n"
                   "#Fields: date time cs-username cs(User-Agent)\n"
                   "2026-11-29 10:00:00 - curl/8.0\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="crypt-protocol"):
        analyse(log)


def test_azure_json_fields_at_the_top_level_and_in_any_case_are_read() -> None:
    line = json.dumps({"TimeGenerated": "2026-11-29T10:00:00Z", "ClientIp": "198.51.100.7",
                       "SslProtocol": "TLSv1.1", "SslCipher": "ECDHE-RSA-AES256-SHA",
                       "UserAgent": CURL_OLD})
    assert detect_format([line]) == "appgw"
    assert list(iter_records([line], "appgw")) == [
        ("TLSv1.1", "ECDHE-RSA-AES256-SHA", CURL_OLD, None)]


@pytest.mark.parametrize(("raw", "expected"), [
    ("TLSv1", "TLSv1"), ("TLSv1.0", "TLSv1"), ("TLS 1.2", "TLSv1.2"), ("tlsv1.3", "TLSv1.3"),
    ("SSLv3", "SSLv3"), ("-", None), ("", None), ("N/A", None)])
def test_protocol_names_are_normalised(raw: str, expected: str | None) -> None:
    assert normalise_protocol(raw) == expected


def test_an_unknown_protocol_name_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a TLS protocol"):
        normalise_protocol("QUIC")


# ---- refusals --------------------------------------------------------------------------------


def test_a_log_without_tls_fields_is_not_guessed(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text('198.51.100.7 - - [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 '
                   '"-" "curl/8.0"\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="not recognised"):
        analyse(log)


def test_bad_arguments_are_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no log file"):
        analyse(tmp_path / "missing.log")
    with pytest.raises(InvalidInput, match="no log format 'squid'"):
        analyse(write_log(tmp_path / "a.log", "nginx"), fmt="squid")
    with pytest.raises(InvalidInput, match="at least one"):
        analyse([])


def test_a_truncated_gzip_file_is_reported_not_crashed(tmp_path: Path) -> None:
    whole = write_log(tmp_path / "whole.log.gz", "nginx", compress=True, repeat=200)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(InvalidInput, match="could not be read to the end"):
        analyse(cut)


def test_an_empty_file_counts_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("", encoding="utf-8")
    report = analyse(empty)
    assert (report.requests, report.malformed, report.formats) == (0, 0, {str(empty): "empty"})


def test_undecodable_bytes_do_not_stop_the_analysis(tmp_path: Path) -> None:
    log = write_log(tmp_path / "a.log", "nginx", malformed=False)
    with log.open("ab") as handle:
        handle.write(b'198.51.100.7 - \xff\xfe [x] "GET / HTTP/1.1" 200 1 "-" TLSv1 AES128-SHA '
                     b'"Lat\xe9 client"\n')
    report = analyse(log)
    assert report.requests == len(TRAFFIC) + 1
    assert report.lockout.by_user_agent["Lat\ufffd client"] == 1


# ---- robustness: no line makes a parser raise ------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(' "\\[]-TLSv1.2#{}:,x+\t'), max_size=60),
                max_size=8),
       st.sampled_from(FORMATS))
def test_no_line_makes_a_parser_raise(lines: list[str], fmt: str) -> None:
    records = list(iter_records(lines, fmt))
    for record in records:
        assert record is None or (len(record) == 4 and isinstance(record[2], str))


# a log token: no quote, backslash, white space or control character
_TOKEN = st.text(alphabet=st.characters(blacklist_characters='"\\', blacklist_categories=(
    "Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(user=st.one_of(st.just("-"), _TOKEN),
       protocol=st.sampled_from(["-", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
       cipher=st.one_of(st.just("-"), _TOKEN),
       ua=st.text(alphabet=st.characters(blacklist_characters='"\n\\',
                                         blacklist_categories=("Cs",)), max_size=40))
def test_the_bulk_path_and_the_line_parser_agree(user: str, protocol: str, cipher: str,
                                                 ua: str) -> None:
    line = (f'192.0.2.1 - {user} [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" '
            f'{protocol} {cipher} "{ua}"')
    match = RECOMMENDED_LAYOUT.fullmatch(line)
    assert match is not None
    assert decode_recommended(match.groups()) == parse_combined_tls(line)


def test_lines_outside_the_bulk_layout_take_the_line_parser(tmp_path: Path) -> None:
    # the first two lines match the bulk regex, the others need the general parser
    lines = [nginx_line(*TRAFFIC[0]), nginx_line(*TRAFFIC[3]), apache_line(*TRAFFIC[3]),
             f'[29/Nov/2026:10:00:00 +0000] 192.0.2.1 TLSv1.1 AES128-SHA "GET /" 1 "{JAVA7}"',
             "broken"]
    assert [RECOMMENDED_LAYOUT.fullmatch(line) is not None for line in lines] == [
        True, True, False, False, False]
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = analyse(log, fmt="nginx")
    assert report.by_protocol == Counter({"TLSv1": 2, "TLSv1.2": 1, "TLSv1.1": 1})
    assert report.lockout.by_user == Counter({"carol": 2, "-": 1})
    assert report.malformed_examples == [f"{log}:5: broken"]


def test_windows_line_endings_are_read_like_unix_ones(tmp_path: Path) -> None:
    unix = write_log(tmp_path / "unix.log", "nginx")
    windows = tmp_path / "windows.log"
    windows.write_bytes(unix.read_bytes().replace(b"\n", b"\r\n"))
    expected = analyse(unix).as_dict()
    got = analyse(windows).as_dict()
    for data in (expected, got):
        for key in ("sources", "formats", "malformed_examples"):
            data.pop(key)
    assert got == expected
