"""The heartbeat floor rule (no server: notifications are fed by hand)."""

from fraiseql_cache import VersionWatcher


def test_first_floor_and_every_change_reload():
    w = VersionWatcher("", start=False)
    try:
        hb = w.options.heartbeat_channel
        # The first floor heard: the held pairs were read before it was known.
        w.on_notify(hb, '{"at": "x", "published": 1, "floor": 100}')
        assert w.reload_requested
        w.reload_requested = False
        w.on_notify(hb, '{"at": "x", "published": 2, "floor": 100}')
        assert not w.reload_requested
        w.on_notify(hb, '{"at": "x", "published": 3, "floor": 101}')
        assert w.reload_requested
        w.reload_requested = False
        w.on_notify(hb, '{"at": "x", "published": 4}')  # no floor: nothing to compare
        assert not w.reload_requested
    finally:
        w.stop()
