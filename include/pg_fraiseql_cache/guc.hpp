// Configuration parameters (fraiseql_cache.*).
#pragma once

namespace fraiseql_cache {

enum class NotifyFormat { kObject = 0, kArray = 1 };
// What COMMIT waits for (fraiseql_cache.wait_for_bump).
enum class WaitForBump {
    kOff = 0,
    kPublished = 1,  // "on": current_version() returns the new versions
    kPersisted = 2,  // "persisted": domain_version holds them too
};

struct Settings {
    char *database;          // the one database served; empty: every one with the extension
    int max_databases;       // databases served at the same time (shared-memory slots)
    int max_entries;         // shared-memory version table capacity
    int ring_size;           // hand-off ring slots (power of two)
    char *notify_channel;
    int notify_format;       // NotifyFormat
    bool notify;             // send NOTIFY at all
    int wait_for_bump;       // WaitForBump: read-your-writes wait at commit
    int wait_timeout_ms;     // bound of that wait
    bool enabled;            // triggers record anything
    int heartbeat_ms;        // 0 = off
    int raise_margin_ms;     // clock margin of every raise (clock skew between servers)
    int max_domains;         // shared-memory domain dictionary capacity
    int max_domains_per_role;  // domains one non-superuser role may own
    int max_entries_per_role;  // shared-memory pairs of one non-superuser role's domains
    int wal_resource_manager_id;  // custom rmgr of the standby records (PostgreSQL 15+)
};

extern Settings settings;

// Defines every parameter; called from _PG_init.
void define_settings();
// At server start: a value in postgresql.conf that a parameter refused
// (PostgreSQL then warns and keeps the default) stops the start instead,
// with the parameter's own message. Called from _PG_init.
void check_startup_settings();

}  // namespace fraiseql_cache
