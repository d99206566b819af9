"""Which etcd member a leader move targets: pure decisions over observed members."""

import pytest

from kubedrill.errors import ConfigError, PreconditionFailed
from kubedrill.faults.etcd import MemberView, choose_follower, leader_of


def member(node: str, mid: str, leader: str = "a", revision: int = 100) -> MemberView:
    return MemberView(node, mid, f"https://{node}:2379", mid == leader, leader, revision, 2)


MEMBERS = [member("cp-1", "a"), member("cp-2", "b", revision=99), member("cp-3", "c", revision=100)]


def test_the_most_caught_up_follower_is_chosen() -> None:
    assert choose_follower(MEMBERS).node == "cp-3"


def test_ties_are_broken_by_name_so_the_choice_is_repeatable() -> None:
    members = [member("cp-1", "a"), member("cp-3", "c"), member("cp-2", "b")]
    assert choose_follower(members).node == "cp-2"


def test_a_preferred_follower_wins() -> None:
    assert choose_follower(MEMBERS, prefer="cp-2").node == "cp-2"


def test_the_leader_cannot_be_the_target() -> None:
    with pytest.raises(ConfigError, match="a follower, not the leader cp-1"):
        choose_follower(MEMBERS, prefer="cp-1")


def test_an_unknown_target_names_the_members() -> None:
    with pytest.raises(ConfigError, match="cp-9"):
        choose_follower(MEMBERS, prefer="cp-9")


def test_a_single_member_has_no_follower() -> None:
    with pytest.raises(PreconditionFailed, match="single member"):
        choose_follower([member("cp-1", "a")])


def test_members_that_disagree_have_no_leader() -> None:
    split = [member("cp-1", "a", leader="a"), member("cp-2", "b", leader="b")]
    assert leader_of(split) is None
    with pytest.raises(PreconditionFailed, match="no single leader"):
        choose_follower(split)


def test_a_leader_outside_the_answering_members_is_no_leader() -> None:
    assert leader_of([member("cp-2", "b", leader="a"), member("cp-3", "c", leader="a")]) is None
