// NOTIFY payloads for new versions, sent from the worker's transaction.
#pragma once

#include <cstdint>
#include <vector>

#include "pg_fraiseql_cache/pair.hpp"

namespace fraiseql_cache::notify {

struct Announcement {
    TenantId tenant;
    DomainName domain;
    uint64_t version;
    // Non-zero on the all-tenants pair of a whole-domain bump: every tenant
    // of the domain now reads at least this ("domain_floor" in the payload).
    uint64_t domain_floor;
    // The "lsn" to announce: the WAL insert position when the version was
    // published (a batch published before it is persisted); 0: the
    // position when the announcement is queued.
    uint64_t lsn = 0;
};

// Queues the notifications in the current transaction, each carrying
// "lsn": its own position (Announcement::lsn) or the WAL insert position
// when they were queued; either lies above the commit record of every
// transaction the version counts (delivered when it commits). Returns how many were queued; 0 when notify is off, or when the
// notification queue is nearly full (they are hints: a listener that missed
// them resynchronises by reading versions).
uint64_t send(const std::vector<Announcement> &announcements);

// Queues a heartbeat on "<notify_channel>_heartbeat" (its own channel, so
// listeners of the invalidation payload never see another shape):
// {"at": "<timestamptz>", "published": N, "floor": F}. A listener that
// hears neither invalidations nor heartbeats for a while knows its stream
// went silent; one that sees the floor change (a reset, a crash) knows that
// every version moved and reloads.
void send_heartbeat(uint64_t published, uint64_t floor);

}  // namespace fraiseql_cache::notify
