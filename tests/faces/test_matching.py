"""faces.matching: 1:N search, roster scoping, and the accept/review/reject decision (numpy only)."""

import numpy as np
import pytest

from faces.matching import NO_MATCH, Decision, Gallery, Match, Thresholds, decide

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
