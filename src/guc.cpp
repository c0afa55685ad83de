// Configuration parameters: definitions and validation.
#include "pg_fraiseql_cache/guc.hpp"

#include "pg_fraiseql_cache/pair.hpp"
#include "pg_fraiseql_cache/pg.hpp"
#include "pg_fraiseql_cache/ring.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace fraiseql_cache {

Settings settings = {};

namespace {

// "on" and "off" plus the spellings a boolean accepts, as before it had a
// third value.
const struct config_enum_entry kWaitForBump[] = {
    {"off", int(WaitForBump::kOff), false},
    {"on", int(WaitForBump::kPublished), false},
    {"persisted", int(WaitForBump::kPersisted), false},
    {"true", int(WaitForBump::kPublished), true},
    {"false", int(WaitForBump::kOff), true},
    {"yes", int(WaitForBump::kPublished), true},
    {"no", int(WaitForBump::kOff), true},
    {"1", int(WaitForBump::kPublished), true},
    {"0", int(WaitForBump::kOff), true},
    {nullptr, 0, false},
};

const struct config_enum_entry kNotifyFormats[] = {
    {"object", int(NotifyFormat::kObject), false},
    {"array", int(NotifyFormat::kArray), false},
    {nullptr, 0, false},
};

bool check_ring_size(int *newval, void **, GucSource) {
    if (!Ring::valid_capacity(uint64_t(*newval))) {
        GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
        GUC_check_errdetail("fraiseql_cache.ring_size must be a power of two.");
        GUC_check_errhint("Use 1024, 8192 or 65536, for example.");
        return false;
    }
    return true;
}

bool check_channel(char **newval, void **, GucSource) {
    size_t len = *newval != nullptr ? strlen(*newval) : 0;
    if (len == 0 || len >= NAMEDATALEN - strlen("_heartbeat")) {
        GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
        GUC_check_errdetail("fraiseql_cache.notify_channel must be 1 to %d bytes long.",
                            int(NAMEDATALEN - 1 - strlen("_heartbeat")));
        GUC_check_errhint("The default is cache_invalidation.");
        return false;
    }
    return true;
}

bool check_database(char **newval, void **, GucSource) {
    size_t len = *newval != nullptr ? strlen(*newval) : 0;
    if (len >= NAMEDATALEN) {
        GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
        GUC_check_errdetail("fraiseql_cache.database must be a database name or empty.");
        GUC_check_errhint("Leave it empty to serve every database where the extension is "
                          "created, or name the one database to serve.");
        return false;
    }
    return true;
}

// The parameters whose values come from postgresql.conf as placeholders
// before define_settings() runs, with the raw text seen there.
const char *const kCheckedAtStart[] = {
    "fraiseql_cache.database",        "fraiseql_cache.max_entries",
    "fraiseql_cache.ring_size",       "fraiseql_cache.notify_channel",
    "fraiseql_cache.notify_format",   "fraiseql_cache.notify",
    "fraiseql_cache.wait_for_bump",   "fraiseql_cache.wait_timeout_ms",
    "fraiseql_cache.enabled",         "fraiseql_cache.heartbeat_ms",
    "fraiseql_cache.raise_margin_ms", "fraiseql_cache.max_domains",
    "fraiseql_cache.max_domains_per_role", "fraiseql_cache.max_entries_per_role",
    "fraiseql_cache.wal_resource_manager_id", "fraiseql_cache.max_databases",
};
constexpr int kChecked = int(sizeof kCheckedAtStart / sizeof kCheckedAtStart[0]);
char *raw_values[kChecked];

}  // namespace

void check_startup_settings() {
    for (int i = 0; i < kChecked; i++) {
        if (raw_values[i] == nullptr)
            continue;
        // Validation only (changeVal = false): raises the parameter's own
        // error, which in the postmaster stops the start.
        (void)set_config_option(kCheckedAtStart[i], raw_values[i], PGC_POSTMASTER, PGC_S_FILE,
                                GUC_ACTION_SET, false, ERROR, false);
    }
}

void define_settings() {
    for (int i = 0; i < kChecked; i++) {
        const char *raw = GetConfigOption(kCheckedAtStart[i], true, false);
        raw_values[i] = raw != nullptr ? MemoryContextStrdup(TopMemoryContext, raw) : nullptr;
    }
    DefineCustomStringVariable(
        "fraiseql_cache.database", "The one database to serve (empty: every database where the "
        "extension is created).", nullptr,
        &settings.database, "", PGC_POSTMASTER, 0, check_database, nullptr, nullptr);
    DefineCustomIntVariable("fraiseql_cache.max_databases",
                            "Number of databases served at the same time.",
                            "Each takes a worker process and its own shared memory.",
                            &settings.max_databases, 4, 1, 1024, PGC_POSTMASTER, 0, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("fraiseql_cache.max_entries",
                            "Number of (tenant, domain) versions kept in shared memory.",
                            "Pairs beyond it are answered from fraiseql_cache.domain_version.",
                            &settings.max_entries, 65536, 1024, 16 * 1024 * 1024, PGC_POSTMASTER,
                            0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("fraiseql_cache.ring_size",
                            "Slots of the shared-memory ring that carries commits to the worker.",
                            "A power of two; one slot holds one (tenant, domain) pair.",
                            &settings.ring_size, 8192, 16, 1 << 22, PGC_POSTMASTER, 0,
                            check_ring_size, nullptr, nullptr);
    DefineCustomStringVariable("fraiseql_cache.notify_channel",
                               "NOTIFY channel on which new versions are announced.", nullptr,
                               &settings.notify_channel, "cache_invalidation", PGC_SIGHUP, 0,
                               check_channel, nullptr, nullptr);
    DefineCustomEnumVariable("fraiseql_cache.notify_format",
                             "Payload format: one object per pair, or arrays of objects.", nullptr,
                             &settings.notify_format, int(NotifyFormat::kObject), kNotifyFormats,
                             PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("fraiseql_cache.notify", "Announce new versions with NOTIFY.",
                             nullptr, &settings.notify, true, PGC_SIGHUP, 0, nullptr, nullptr,
                             nullptr);
    DefineCustomEnumVariable("fraiseql_cache.wait_for_bump",
                             "COMMIT returns only once its bumps are visible to every session.",
                             "on: through current_version(); persisted: in "
                             "fraiseql_cache.domain_version too; off: no wait.",
                             &settings.wait_for_bump, int(WaitForBump::kPublished), kWaitForBump,
                             PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("fraiseql_cache.wait_timeout_ms",
                            "Longest wait at COMMIT for the worker to publish its bumps.", nullptr,
                            &settings.wait_timeout_ms, 1000, 0, 60000, PGC_USERSET, GUC_UNIT_MS,
                            nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("fraiseql_cache.enabled",
                             "Record changes to tracked tables (off: writes bump nothing).",
                             nullptr, &settings.enabled, true, PGC_SUSET, 0, nullptr, nullptr,
                             nullptr);
    DefineCustomIntVariable("fraiseql_cache.heartbeat_ms",
                            "Interval of the worker's heartbeat notification (0 = off).", nullptr,
                            &settings.heartbeat_ms, 1000, 0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
                            nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "fraiseql_cache.raise_margin_ms",
        "Margin above the clock that a raise lifts versions to (the largest clock skew between "
        "servers that can be primary).",
        "After an unclean stop, a promotion or a restore, every version becomes at least the "
        "current time in microseconds plus this margin.",
        &settings.raise_margin_ms, 1000, 0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
        nullptr, nullptr);
    DefineCustomIntVariable("fraiseql_cache.max_domains",
                            "Number of distinct domains kept in shared memory.",
                            "Domains beyond it are answered from fraiseql_cache.domain_version.",
                            &settings.max_domains, 4096, 64, 1024 * 1024, PGC_POSTMASTER, 0,
                            nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "fraiseql_cache.max_domains_per_role",
        "Number of domains one role other than a superuser may own.", nullptr,
        &settings.max_domains_per_role, 256, 0, 1024 * 1024, PGC_SUSET, 0, nullptr, nullptr,
        nullptr);
    DefineCustomIntVariable(
        "fraiseql_cache.max_entries_per_role",
        "Shared-memory versions the domains of one role other than a superuser may hold.",
        "Pairs beyond it are answered from fraiseql_cache.domain_version (0 = no bound).",
        &settings.max_entries_per_role, 16384, 0, 16 * 1024 * 1024, PGC_SIGHUP, 0, nullptr,
        nullptr, nullptr);
    DefineCustomIntVariable(
        "fraiseql_cache.wal_resource_manager_id",
        "Custom WAL resource manager id of the records that carry versions to hot standbys.",
        "The same on a primary and all its standbys; change it only if another extension uses "
        "this id, and only after a clean shutdown.",
        &settings.wal_resource_manager_id, 128, 128, 255, PGC_POSTMASTER, 0, nullptr, nullptr,
        nullptr);
#if PG_VERSION_NUM >= 150000
    MarkGUCPrefixReserved("fraiseql_cache");
#else
    EmitWarningsOnPlaceholders("fraiseql_cache");
#endif
}

}  // namespace fraiseql_cache
