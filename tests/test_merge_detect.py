"""The merge detector: each rule, the survivor chosen, the ranking, and that it indexes rather
than comparing all pairs (plain records: no store needed)."""

from __future__ import annotations

import time

from services.merge.detect import Candidate, suggest_merges


def c(key: str, login: str, given: str = "Alex", family: str = "Morgan",
      org: str = "NWGS") -> Candidate:
    return Candidate(key, login, given, family, org)


def test_same_login_id_after_normalisation() -> None:
    (found,) = suggest_merges([c("a", "Alex.Morgan@NWGS.example"),
                               c("b", "alex.morgan@nwgs.example"),
                               c("x", "sam.lee@nwgs.example", "Sam", "Lee")])
    assert found.kind == "same_login_id" and found.keys == ("a", "b")
    assert found.score >= 0.95
    assert "alex.morgan@nwgs.example" in found.reasons[0]


def test_full_width_letters_normalise_like_login_ids() -> None:
    (found,) = suggest_merges([c("a", "ａｌｅｘ@nwgs.example"), c("b", "alex@nwgs.example")])
    assert found.kind == "same_login_id"


def test_numeric_suffix_variants_put_the_unsuffixed_first() -> None:
    found = suggest_merges([c("newest", "alex.morgan2@nwgs.example"),
                            c("middle", "alex.morgan1@nwgs.example"),
                            c("oldest", "alex.morgan@nwgs.example")])
    assert len(found) == 1
    assert found[0].kind == "login_suffix"
    assert found[0].keys == ("oldest", "middle", "newest")
    assert found[0].score >= 0.9
    assert "numbered variants of alex.morgan@nwgs.example" in found[0].reasons[0]
    assert "The names match." in found[0].reasons


def test_suffix_variants_with_different_names_rank_lower() -> None:
    found = suggest_merges([c("a", "team1@nwgs.example", "Jo", "Bloggs"),
                            c("b", "team@nwgs.example", "Sam", "Lee"),
                            c("c", "alex.morgan@nwgs.example"),
                            c("d", "alex.morgan1@nwgs.example")])
    assert [s.keys for s in found] == [("c", "d"), ("b", "a")]
    assert found[1].score < 0.7
    assert any("may be different people" in r for r in found[1].reasons)


def test_digits_inside_a_login_are_not_a_suffix_and_long_runs_are_a_scheme() -> None:
    families = ("Hart", "Okafor", "Nguyen", "Bell", "Kowalski", "Dunn", "Patel", "Evans",
                "Quinn", "Ross", "Shah", "Byrne", "Lloyd", "Marsh", "Price")
    scheme = [c(f"t{n}", f"tester{n}@nwgs.example", "Test", families[n])
              for n in range(1, len(families))]
    assert suggest_merges([*scheme, c("y", "y2k.admin@nwgs.example", "Yan", "Kay"),
                           c("z", "yk.admin@nwgs.example", "Zoe", "Ash")]) == []


def test_same_name_in_the_same_organisation_only() -> None:
    found = suggest_merges([c("a", "alex.morgan@nwgs.example"),
                            c("b", "a.morgan@nwgs.example", "ALEX", "morgan"),
                            c("c", "amorgan@brws.example", org="BRWS")])
    assert [(s.kind, s.keys) for s in found] == [("same_name", ("a", "b"))]
    assert "2 accounts in NWGS are held by Alex Morgan" in found[0].reasons[0]


def test_a_name_many_people_share_is_no_evidence() -> None:
    smiths = [c(f"s{n}", f"js{n}x@nwgs.example", "John", "Smith") for n in range(6)]
    assert suggest_merges(smiths) == []


def test_near_identical_names_use_rapidfuzz() -> None:
    found = suggest_merges([c("a", "kieran.godfrey@tyne.example", "Kieran", "Godfrey", "TYNE"),
                            c("b", "kueran.godfrey@tyne.example", "Kueran", "Godfrey", "TYNE"),
                            c("d", "maria.lopez@tyne.example", "Maria", "Lopez", "TYNE"),
                            c("e", "maria.lopes@tyne.example", "Maria", "Lopes", "TYNE"),
                            c("f", "kieran.godfrey@orch.example", "Kieran", "Godfrey", "ORCH")])
    similar = {s.keys: s for s in found if s.kind == "similar_name"}
    assert set(similar) == {("a", "b"), ("d", "e")}
    assert "Kieran / Kueran" in similar[("a", "b")].reasons[0]
    assert "Lopez / Lopes" in similar[("d", "e")].reasons[0]
    assert all(0.4 < s.score < 0.7 for s in similar.values())


def test_two_names_in_common_use_are_not_a_typo() -> None:
    people = [c(f"ann{n}", f"ann{n}x@orch.example", "Ann", family, "ORCH")
              for n, family in enumerate(("Hart", "Okafor", "Nguyen"))]
    people += [c(f"anna{n}", f"anna{n}x@orch.example", "Anna", family, "ORCH")
               for n, family in enumerate(("Bell", "Kowalski", "Dunn"))]
    people += [c("p", "ann.smith@orch.example", "Ann", "Smith", "ORCH"),
               c("q", "anna.smith@orch.example", "Anna", "Smith", "ORCH")]
    assert [s for s in suggest_merges(people) if s.kind == "similar_name"] == []


def test_ranking_puts_surer_evidence_first() -> None:
    found = suggest_merges([
        c("s1", "kim.ray@nwgs.example", "Kim", "Ray"),
        c("s2", "KIM.RAY@nwgs.example", "Kim", "Ray"),
        c("v1", "alex.morgan@nwgs.example"), c("v2", "alex.morgan1@nwgs.example"),
        c("n1", "lee.park@nwgs.example", "Lee", "Park"),
        c("n2", "lp@nwgs.example", "Lee", "Park"),
        c("f1", "maria.lopez@nwgs.example", "Maria", "Lopez"),
        c("f2", "ml@nwgs.example", "Maria", "Lopes"),
    ])
    assert [s.kind for s in found] == ["same_login_id", "login_suffix", "same_name",
                                       "similar_name"]
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert all(s.reasons and all(r.endswith(".") for r in s.reasons) for s in found)


def test_progress_and_cancel() -> None:
    people = [c("a", "alex.morgan@nwgs.example"), c("b", "alex.morgan1@nwgs.example")]
    seen: list[tuple[int, int]] = []
    assert len(suggest_merges(people, progress=lambda d, t: seen.append((d, t)))) == 1
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert suggest_merges(people, cancelled=lambda: True) == []


def test_it_indexes_rather_than_comparing_all_pairs() -> None:
    """20,000 distinct people: all pairs would be 200 million comparisons."""
    people = [c(f"p{n}", f"person{n:05d}.x@org{n % 9}.example", f"Given{n:05d}",
                f"Family{n % 997:03d}x", f"O{n % 9}") for n in range(20_000)]
    started = time.perf_counter()
    found = suggest_merges(people)
    assert time.perf_counter() - started < 10  # all pairs would take minutes
    assert all(s.kind != "same_login_id" for s in found)
