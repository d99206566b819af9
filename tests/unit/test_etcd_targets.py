"""Which etcd member a leader move targets: pure decisions over observed members."""

import pytest

from kubedrill.errors import ConfigError, PreconditionFailed
from kubedrill.probes.etcd import MemberView, choose_follower, leader_by_majority, leader_of


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


def test_a_member_is_caught_up_when_no_other_member_is_ahead_of_it() -> None:
    from kubedrill.probes.etcd import caught_up

    assert caught_up([member("cp-1", "a", revision=10), member("cp-2", "b", revision=10)], "cp-2")
    assert caught_up(
        [member("cp-1", "a", revision=12), member("cp-2", "b", revision=11), member("cp-3", "c", revision=11)], "cp-3"
    )
    assert not caught_up([member("cp-1", "a", revision=12), member("cp-2", "b", revision=9)], "cp-2")
    assert not caught_up([member("cp-1", "a", revision=12)], "cp-2")  # not answering


@pytest.mark.parametrize(("n", "lost"), [(3, 2), (5, 3), (2, 1)])
def test_quorum_loss_takes_the_fewest_members_followers_first(n: int, lost: int) -> None:
    from kubedrill.faults.etcd import choose_quorum_loss

    members = [member(f"cp-{i}", chr(ord("a") + i - 1)) for i in range(1, n + 1)]
    chosen = choose_quorum_loss(members)
    assert len(chosen) == lost
    assert chosen[0].node != "cp-1"  # cp-1 ("a") leads: followers go first


def test_restore_commands_give_every_member_its_name_peer_url_a_new_token_and_bumped_revisions() -> None:
    from kubedrill.faults.restore import REVISION_BUMP, RestoreMember, restore_argv

    members = [
        RestoreMember("cp-1", "cp-1", "https://10.0.0.1:2380", "/var/lib/etcd"),
        RestoreMember("cp-2", "cp-2", "https://10.0.0.2:2380", "/var/lib/etcd"),
    ]
    argv = restore_argv("etcdutl", "/tmp/s.db", members[1], members, "tok-1")
    assert argv[:4] == ["etcdutl", "snapshot", "restore", "/tmp/s.db"]
    assert "--name=cp-2" in argv
    assert "--initial-cluster=cp-1=https://10.0.0.1:2380,cp-2=https://10.0.0.2:2380" in argv
    assert "--initial-advertise-peer-urls=https://10.0.0.2:2380" in argv
    assert "--initial-cluster-token=tok-1" in argv
    assert f"--bump-revision={REVISION_BUMP}" in argv
    assert "--mark-compacted" in argv


def at(node: str, mid: str, leader: str, term: int) -> MemberView:
    return MemberView(node, mid, f"https://{node}:2379", mid == leader, leader, 100, term)


def test_the_watcher_sees_a_new_leader_while_the_restarted_member_knows_none() -> None:
    """After a kill the restarted member says leader 0 for up to ~200 ms: it abstains, the majority decides."""
    members = [at("cp-1", "a", "0", 2), at("cp-2", "b", "b", 3), at("cp-3", "c", "b", 3)]
    assert leader_of(members) is None, "the drills' precondition stays strict"
    chosen = leader_by_majority(members)
    assert chosen is not None
    assert (chosen.node, chosen.raft_term) == ("cp-2", 3)


def test_no_leader_without_a_majority_naming_it() -> None:
    assert leader_by_majority([at("cp-1", "a", "0", 3), at("cp-2", "b", "b", 3), at("cp-3", "c", "0", 3)]) is None


def test_a_member_naming_another_leader_in_the_same_or_a_later_term_vetoes() -> None:
    stale = [at("cp-1", "a", "a", 2), at("cp-2", "b", "a", 2), at("cp-3", "c", "c", 3)]
    assert leader_by_majority(stale) is None, "cp-3 leads term 3 alone: no majority for it, and it vetoes cp-1"
    split = [at("cp-1", "a", "a", 3), at("cp-2", "b", "a", 3), at("cp-3", "c", "b", 3)]
    assert leader_by_majority(split) is None


def test_an_old_leader_in_an_earlier_term_does_not_veto_the_new_one() -> None:
    members = [at("cp-1", "a", "a", 2), at("cp-2", "b", "b", 3), at("cp-3", "c", "b", 3)]
    chosen = leader_by_majority(members)
    assert chosen is not None
    assert chosen.node == "cp-2"


def test_no_member_claiming_leadership_is_no_leader() -> None:
    assert leader_by_majority([at("cp-1", "a", "b", 3), at("cp-2", "b", "0", 3)]) is None


def test_with_the_clusters_size_a_lone_answering_member_is_no_majority() -> None:
    """Two of three members silent (stopped, or too slow for this reading): the third naming itself is not a
    leader of the cluster, though it is a majority of the one member that answered."""
    alone = [at("cp-1", "a", "a", 3)]
    assert leader_by_majority(alone) is not None
    assert leader_by_majority(alone, size=3) is None
    assert leader_by_majority([*alone, at("cp-2", "b", "a", 3)], size=3) is not None
