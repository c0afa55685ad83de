// Versions on a hot standby.
//
// The primary's worker writes, after each batch's commit, a WAL record of
// its own resource manager carrying the batch's versions (standby_wal.cpp);
// a standby's startup process applies it to shared memory as it replays
// it, so a version is served exactly once the WAL that made it has been
// replayed: never ahead of the replayed data (every transaction a batch
// counts committed before the batch) and never behind what a returned
// commit guarantees (the record precedes the publication the committer
// waits for). What was replayed before the standby's shared memory was
// attached is loaded from the replayed tables by the loader worker
// (standby_loader.cpp). Readers use the dictionary and version table as on
// a primary; the two writers take shared.standby_lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pg_fraiseql_cache/pair.hpp"
#include "pg_fraiseql_cache/version_record.hpp"

namespace fraiseql_cache::standby {

// _PG_init (PostgreSQL 15+, preloading): registers the resource manager.
void register_resource_manager();
// The loader's loop (standby_loader.cpp).
void run();
// Whether the worker writes standby records (PostgreSQL 15+, wal_level
// replica or logical).
bool records_enabled();

// Worker: queues a batch's versions, written by flush() in records of at
// most kPairsPerRecord pairs. Pairs first, then domain floors, then scope
// changes, in the order the primary publishes them.
class RecordWriter {
  public:
    static constexpr uint32_t kPairsPerRecord = 8192;
    RecordWriter(uint32_t database, int64_t at, uint64_t floor)
        : database_(database), at_(at), floor_(floor), current_(database, at, floor) {}
    void pair(const DomainName &domain, const TenantId &tenant, uint64_t version);
    void floor(const DomainName &domain, uint64_t value) { current_.floor(domain, value); }
    void scope(const DomainName &domain, bool global) { current_.scope(domain, global); }
    // The worker floor moved: written even without pairs.
    void floor_changed() { floor_changed_ = true; }
    // Writes what is queued. Raises (through pg_call) only if WAL cannot be
    // written.
    void flush();
    // The end of the last record written (0: none), for the worker's flush.
    uint64_t end() const { return end_; }

  private:
    uint32_t database_;
    int64_t at_;
    uint64_t floor_;
    bool floor_changed_ = false;
    uint64_t end_ = 0;
    version_record::Encoder current_;
};

// Worker: tells standbys that the tables changed wholesale (a raise): they
// answer from the tables until the loader has read them again.
// Returns the record's end (0: none written).
uint64_t log_reload(uint32_t database);

// The two writers of a standby's shared memory. Holds standby_lock for its
// lifetime; stores only raise what is there.
class Applier {
  public:
    Applier();
    ~Applier();
    Applier(const Applier &) = delete;
    Applier &operator=(const Applier &) = delete;
    void worker_floor(uint64_t floor);
    // Returns the domain's id, or -1 when the dictionary is full (readers
    // then consult the tables for it).
    int32_t domain(const char *name, std::size_t len);
    void pair(int32_t domain_id, const TenantId &tenant, uint64_t version, int64_t at);
    void domain_floor(int32_t domain_id, uint64_t floor);
    void scope(int32_t domain_id, bool global);
};

// Whether this backend, on a hot standby, may read versions from shared memory.
bool serves_here();

}  // namespace fraiseql_cache::standby
