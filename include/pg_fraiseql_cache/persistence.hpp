// The worker's SQL: fraiseql_cache.domain_version and worker_state.
//
// Every function runs inside a transaction opened with begin() and calls
// PostgreSQL only through pg_call(), so an ERROR arrives as PgError.
#pragma once

#include <cstdint>
#include <vector>

#include "pg_fraiseql_cache/pair.hpp"

namespace fraiseql_cache::persistence {

struct VersionRow {
    TenantId tenant;
    DomainName domain;
    uint64_t version;
    int64_t last_modified;  // TimestampTz
    uint64_t step;          // upsert(): how much this batch adds
};

struct WorkerStateRow {
    uint64_t floor;
    bool clean_shutdown;
    bool exists;  // false: no row yet (a new extension)
};

void begin(const char *activity);
void commit();

// The OID of pg_fraiseql_cache in this database, 0 when not installed.
// A new OID means the extension was dropped and created again.
uint32_t extension_oid();
// The OID of fraiseql_cache.domain_version (InvalidOid when missing).
uint32_t versions_relation();

WorkerStateRow read_state();
void write_state(uint64_t floor, bool clean_shutdown);

// After an unclean stop: every persisted version and domain floor becomes
// max(itself + amount, at_least).
void raise_all(uint64_t amount, uint64_t at_least);

// Drops the prepared statements (the extension went away).
void forget_plans();
// Every persisted version below `floor` becomes `floor`.
void raise_to(uint64_t floor);

std::vector<VersionRow> read_versions();

struct RuleRow {
    DomainName source;
    DomainName target;
    bool invalidate;  // false: notify only
};
std::vector<RuleRow> read_cascade_rules();
std::vector<DomainName> read_global_domains();
// (tenant, domain) of every persisted pair in one of `domains`.
std::vector<VersionRow> read_tenants_of(const std::vector<DomainName> &domains);

// Persists new versions: each pair becomes max(persisted, base) + step,
// where base = proposed version - step is what the worker believed current
// (they differ only for pairs shared memory could not hold). Returns what
// was stored.
std::vector<VersionRow> upsert(const std::vector<VersionRow> &proposed);

// Each owned domain's owner, as (domain, version = owner OID, 0 for a
// superuser: not bounded) rows.
std::vector<VersionRow> read_domain_owners();

// fraiseql_cache.cascade_rules' OID (InvalidOid when missing).
uint32_t rules_relation();

// Domain floors as (domain, version = floor) rows.
std::vector<VersionRow> read_domain_floors();
// Raises each row's domain floor to its version.
void raise_domain_floors(const std::vector<VersionRow> &rows);

// What tracked_tables says of a domain now.
struct DomainScope {
    DomainName domain;
    bool tracked;      // some table is tracked under it
    bool global;       // some such table has no tenant column
    bool has_all_row;  // domain_version has its all-tenants row
    uint64_t highest;  // highest persisted version of any of its pairs, or its floor
};
std::vector<DomainScope> read_scopes(const std::vector<DomainName> &domains);

// Inserts the rows whose (tenant, domain) has no row yet.
void insert_missing(const std::vector<VersionRow> &rows);

}  // namespace fraiseql_cache::persistence
