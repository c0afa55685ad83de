"""Payload parsing and the state rules, without a server."""

from fraiseql_cache import ALL_TENANTS, PairKey, VersionUpdate, parse_notification
from fraiseql_cache.payload import heartbeat_floor
from fraiseql_cache.state import MISSING, UNHEALTHY, WatcherState

T = "6f1c2e4a-0000-4000-8000-000000000001"


def test_object_and_array_payloads():
    one = parse_notification('{"tenant_id": "%s", "domain": "contract", "version": 43}' % T)
    assert one == [VersionUpdate(PairKey(T, "contract"), 43)]
    many = parse_notification('[{"tenant_id": "%s", "domain": "a", "version": 1}, '
                              '{"tenant_id": "%s", "domain": "b\\"q", "version": 2}]' % (T, ALL_TENANTS))
    assert [(u.pair.domain, u.version) for u in many] == [("a", 1), ('b"q', 2)]
    assert parse_notification("[]") == []


def test_optional_and_unknown_keys():
    u = parse_notification('{"tenant_id": "%s", "domain": "d", "version": 9, "domain_floor": 7, '
                           '"lsn": "0/16B3748", "future": {"x": [1]}}' % ALL_TENANTS)[0]
    assert (u.version, u.domain_floor, u.lsn) == (9, 7, "0/16B3748")


def test_unreadable_payloads():
    for bad in ("", "nope", "{}", '{"tenant_id": "x", "domain": "d", "version": 1}',
                '{"tenant_id": "%s", "domain": "", "version": 1}' % T,
                '{"tenant_id": "%s", "domain": "d", "version": -1}' % T,
                '{"tenant_id": "%s", "domain": "d", "version": true}' % T,
                '{"tenant_id": "%s", "domain": "d", "version": 1, "lsn": "zz"}' % T,
                '[{"tenant_id": "%s", "domain": "d", "version": 1}, 3]' % T):
        assert parse_notification(bad) is None, bad


def test_heartbeat_floor():
    assert heartbeat_floor('{"at": "2026-01-01 00:00:00+00", "published": 5, "floor": 16386}') == 16386
    assert heartbeat_floor('{"at": "x", "published": 5}') is None
    assert heartbeat_floor("garbage") is None


def test_state_max_merge_and_trust():
    s = WatcherState()
    assert s.lookup(T, ["d"], True).outcome == UNHEALTHY
    s.apply_load([], [], [])
    assert s.lookup(T, ["d"], True).outcome == MISSING
    ans, _ = s.apply_read(T, ["d"], [5], [], s.epoch, True)
    assert ans == [5]
    s.apply_heard([VersionUpdate(PairKey(T, "d"), 4)])  # older: ignored
    assert s.lookup(T, ["d"], True).versions == [5]
    s.apply_heard([VersionUpdate(PairKey(T, "d"), 8)])
    assert s.lookup(T, ["d"], True).versions == [8]
    assert s.lookup(T, ["d"], False).outcome == UNHEALTHY


def test_state_read_in_an_old_epoch_is_not_held():
    s = WatcherState()
    s.apply_load([], [], [])
    epoch = s.epoch
    s.mark_unhealthy()
    s.apply_load([], [], [])
    s.apply_read(T, ["d"], [3], [], epoch, True)
    assert s.lookup(T, ["d"], True).outcome == MISSING


def test_state_global_domains_answer_every_tenant():
    s = WatcherState()
    s.apply_load([], [], ["g"])
    s.apply_read(T, ["g"], [2], ["g"], s.epoch, True)
    s.apply_heard([VersionUpdate(PairKey(ALL_TENANTS, "g"), 3)])
    other = "6f1c2e4a-0000-4000-8000-000000000002"
    assert s.lookup(other, ["g"], True).versions == [3]


def test_state_domain_floor():
    s = WatcherState()
    s.apply_load([], [], [])
    s.apply_read(T, ["d", "e"], [2, 2], [], s.epoch, True)
    seq = s.seq
    s.apply_heard([VersionUpdate(PairKey(ALL_TENANTS, "d"), 10, domain_floor=7)])
    assert s.lookup(T, ["d", "e"], True).versions == [7, 2]
    assert s.changed_since(["d"], seq) and not s.changed_since(["e"], seq)
    # A pair read later (a read that started before the floor) is raised to it.
    other = "6f1c2e4a-0000-4000-8000-000000000003"
    ans, _ = s.apply_read(other, ["d"], [1], [], s.epoch, True)
    assert ans == [7] and s.lookup(other, ["d"], True).versions == [7]
    # A floor on a tenant pair is not a domain floor.
    s.apply_heard([VersionUpdate(PairKey(T, "e"), 3, domain_floor=50)])
    assert s.lookup(T, ["e"], True).versions == [3]


def test_state_lsn_kept_highest():
    s = WatcherState()
    s.apply_heard([VersionUpdate(PairKey(T, "d"), 1, lsn="0/20")])
    s.apply_heard([VersionUpdate(PairKey(T, "d"), 2, lsn="0/1F")])
    assert s.lsn(T, ["d"]) == "0/20"
    s.apply_heard([VersionUpdate(PairKey(T, "d"), 3, lsn="1/0")])
    assert s.lsn(T, ["d"]) == "1/0"
