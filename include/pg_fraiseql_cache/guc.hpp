// Configuration parameters (fraiseql_cache.*).
#pragma once

namespace fraiseql_cache {

enum class NotifyFormat { kObject = 0, kArray = 1 };

struct Settings {
    char *database;          // the database the worker serves
    int max_entries;         // shared-memory version table capacity
    int ring_size;           // hand-off ring slots (power of two)
    char *notify_channel;
    int notify_format;       // NotifyFormat
    bool notify;             // send NOTIFY at all
    bool wait_for_bump;      // read-your-writes wait at commit
    int wait_timeout_ms;     // bound of that wait
    bool enabled;            // triggers record anything
    int heartbeat_ms;        // 0 = off
};

extern Settings settings;

// Defines every parameter; called from _PG_init.
void define_settings();

}  // namespace fraiseql_cache
