"""faces.matching: 1:N search, roster scoping, and the accept/review/reject decision (numpy only)."""

import numpy as np
import pytest

from faces.matching import NO_MATCH, Decision, Gallery, Match, Thresholds, decide

pytestmark = pytest.mark.database_independent

LIMITS = Thresholds(accept=0.07, review=0.09, margin=0.01)


@pytest.fixture(scope="module")
def gallery():
    rng = np.random.default_rng(7)
    rows = [(f"p{i}", rng.standard_normal(128)) for i in range(300)]
    rows += [("p1", rows[1][1] + 0.3 * rng.standard_normal(128))]  # a second sample of p1
    return Gallery(rows), rows


def test_search_finds_the_person_and_the_runner_up(gallery):
    g, rows = gallery
    match = g.search(rows[42][1])
    assert match.person == "p42" and match.distance < 1e-5
    assert match.runner_up != "p42" and match.runner_up_distance > match.distance


def test_roster_search_only_looks_at_the_roster(gallery):
    g, rows = gallery
    roster = ["p10", "p11", "p12"]
    match = g.search(rows[42][1], among=roster)
    assert match.person in roster and match.runner_up in roster
    full = g.person_distances(rows[42][1])
    assert match.distance == pytest.approx(min(full[g.people.index(p)] for p in roster), abs=1e-6)


def test_exclude_and_empty_cases(gallery):
    g, rows = gallery
    assert g.search(rows[42][1], exclude="p42").person != "p42"
    assert g.search(rows[42][1], among=["p42"], exclude="p42") is NO_MATCH
    assert g.search(rows[42][1], among=["nobody"]) is NO_MATCH
    assert Gallery([]).search(rows[0][1]) is NO_MATCH


@pytest.mark.parametrize(
    ("match", "decision"),
    [
        (Match("a", 0.03, "b", 0.20), Decision.ACCEPT),
        (Match("a", 0.03), Decision.ACCEPT),
        (Match("a", 0.065, "b", 0.070), Decision.REVIEW),  # close, but not clearly better than b
        (Match("a", 0.08, "b", 0.30), Decision.REVIEW),
        (Match("a", 0.09, "b", 0.30), Decision.REJECT),
        (NO_MATCH, Decision.REJECT),
    ],
)
def test_decisions(match, decision):
    assert decide(match, LIMITS) is decision


def test_thresholds_are_checked():
    with pytest.raises(ValueError):
        Thresholds(accept=0.1, review=0.05, margin=0)


# Look-alikes: people whose nearest samples are within a distance of each other.


@pytest.fixture(scope="module")
def twins():
    """p0..p39 random; "twin" a close copy of p3's second sample; p3 has two samples."""
    rng = np.random.default_rng(11)
    rows = [(f"p{i:02d}", rng.standard_normal(128)) for i in range(40)]
    rows.append(("p03", rows[3][1] + 0.5 * rng.standard_normal(128)))
    rows.append(("twin", rows[-1][1] + 0.05 * rng.standard_normal(128)))
    return Gallery(rows)


def test_lookalikes_lists_each_close_pair_once_nearest_first(twins):
    pairs = twins.lookalikes(within=0.05)
    assert [(p.first, p.second) for p in pairs] == [("p03", "twin")]
    assert pairs[0].distance == pytest.approx(twins.pair_distance("twin", "p03"), abs=1e-6)
    everyone = twins.lookalikes(within=2.0)
    assert len(everyone) == len(twins.people) * (len(twins.people) - 1) // 2
    assert [p.distance for p in everyone] == sorted(p.distance for p in everyone)


def test_lookalikes_are_the_same_in_any_block_size_and_computed_once(twins):
    small = Gallery(zip([twins.people[i] for i in twins.owners], twins.matrix, strict=True))
    one_by_one, whole = small.lookalikes(within=0.9, block_rows=1), twins.lookalikes(within=0.9, block_rows=4096)
    assert {(p.first, p.second) for p in one_by_one} == {(p.first, p.second) for p in whole}
    assert sorted(p.distance for p in one_by_one) == pytest.approx(sorted(p.distance for p in whole), abs=1e-6)
    assert twins.lookalikes(within=0.9) is twins.lookalikes(within=0.9)


def test_lookalikes_of_one_person_and_the_index(twins):
    assert [(p.first, p.second) for p in twins.lookalikes_of("twin", within=0.05)] == [("twin", "p03")]
    assert twins.lookalikes_of("nobody", within=0.05) == []
    index = twins.lookalike_index(within=0.05)
    assert frozenset(("p03", "twin")) in index and frozenset(("p01", "p02")) not in index
    assert frozenset(("p03", "nobody")) not in index and "p03" not in index
    assert twins.pair_distance("p03", "nobody") == float("inf")


@pytest.mark.parametrize(
    ("match", "plain", "between_lookalikes"),
    [
        (Match("a", 0.03, "b", 0.20), Decision.ACCEPT, Decision.ACCEPT),  # far ahead: accepted all the same
        (Match("a", 0.03, "b", 0.045), Decision.ACCEPT, Decision.REVIEW),  # ahead by 0.015 < 0.03
        (Match("a", 0.065, "b", 0.070), Decision.REVIEW, Decision.REVIEW),
        (Match("a", 0.09, "b", 0.095), Decision.REJECT, Decision.REJECT),
    ],
)
def test_lookalikes_need_the_larger_margin(match, plain, between_lookalikes):
    limits = Thresholds(accept=0.07, review=0.09, margin=0.01, lookalike_margin=0.03)
    assert decide(match, limits) is plain
    assert decide(match, limits, lookalikes={frozenset(("c", "d"))}) is plain
    assert decide(match, limits, lookalikes={frozenset(("a", "b"))}) is between_lookalikes


def test_the_lookalike_margin_defaults_to_the_margin_and_is_never_below_it():
    assert Thresholds(accept=0.07, review=0.09, margin=0.01).lookalike_margin == 0.01
    with pytest.raises(ValueError, match="look-alike margin"):
        Thresholds(accept=0.07, review=0.09, margin=0.02, lookalike_margin=0.01)
