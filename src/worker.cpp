// The background worker: drains the ring into a batch plan (batch_plan.hpp,
// which says what a version counts), persists and publishes its versions,
// and announces them.
//
// Why versions are never reused (I3). Batches are committed asynchronously
// (no fsync on the read-your-writes path), but batch N becomes visible (in
// shared memory or in domain_version) only once batch N-1's commit record
// is flushed: nothing visible runs more than plan::kBatchesAhead = 1 batch
// ahead of what is durable. Usually a later user commit has already flushed
// it; otherwise the worker flushes it itself. After an unclean stop
// (worker_state.clean_shutdown is false) the worker raises every persisted
// version and the floor by plan::kCrashRaise before serving, durably: that
// moves every pair past anything a client could have seen, and stands in for
// the bumps that were in the lost ring (I2). A clean shutdown drains the
// ring, flushes, and records clean_shutdown = true, so a restart bumps
// nothing.
//
// Ring positions are released only once a batch is committed and
// published: if the worker dies with an ERROR (exit 1, restarted by the
// postmaster, shared memory intact) its unfinished batch is still in the
// ring. A batch published before it was persisted (publish_early()) sits
// below `published`; the next worker persists it without counting it again.
#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "pg_fraiseql_cache/bgworker_connect.hpp"
#include "pg_fraiseql_cache/boundary.hpp"
#include "pg_fraiseql_cache/batch_plan.hpp"
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/notify.hpp"
#include "pg_fraiseql_cache/persistence.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"
#include "pg_fraiseql_cache/standby.hpp"
#include "pg_fraiseql_cache/worker.hpp"

extern "C" {
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/backend_status.h"
#include "utils/pidfile.h"
#include "utils/wait_event.h"
}

namespace fraiseql_cache {
namespace {

// domain_version's OID, and whether a relcache invalidation has touched it
// since the extension was last looked up.
Oid watched_relation = InvalidOid;
bool extension_may_have_changed = true;

void on_relcache_invalidation(Datum, Oid relid) {
    if (relid == InvalidOid || relid == watched_relation)
        extension_may_have_changed = true;
}

// Whether the postmaster is shutting down: it writes "stopping" into
// postmaster.pid when a smart or fast shutdown begins. A worker terminated on
// its own (pg_terminate_backend) sees the server still running.
bool server_stopping() {
    char path[MAXPGPATH];
    snprintf(path, sizeof path, "%s/postmaster.pid", DataDir);
    FILE *f = AllocateFile(path, "r");
    if (f == nullptr)
        return false;
    char line[256];
    bool stopping = false;
    for (int n = 1; fgets(line, sizeof line, f) != nullptr; n++)
        if (n == LOCK_FILE_LINE_PM_STATUS) {
            stopping = strncmp(line, PM_STATUS_STOPPING, strlen(PM_STATUS_STOPPING)) == 0;
            break;
        }
    FreeFile(f);
    return stopping;
}

// Client backends connected to this database: the ones that can still
// commit into the ring. Walsenders (kept by the postmaster until after the
// shutdown checkpoint) and background workers are not counted.
int client_backends_here() {
    pgstat_clear_backend_activity_snapshot();
    int n = 0;
    for (int i = 1, total = pgstat_fetch_stat_numbackends(); i <= total; i++) {
#if PG_VERSION_NUM >= 160000
        LocalPgBackendStatus *local = pgstat_get_local_beentry_by_index(i);
#else
        LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
#endif
        if (local != nullptr && local->backendStatus.st_backendType == B_BACKEND &&
            local->backendStatus.st_databaseid == MyDatabaseId)
            n++;
    }
    pgstat_clear_backend_activity_snapshot();
    return n;
}

// How long the worker waits for a lock on cascade_rules: attempts x pause.
constexpr int kRulesLockAttempts = 40;
constexpr long kRulesLockPauseUs = 5000;

// Idle this long after a batch: flush it (see Worker::run).
constexpr long kIdleFlushMs = 5;
// Longest a group of early-published batches stays open (persist_group()):
// their notifications wait this long at most.
constexpr long kGroupUs = 2000;
// How long an open group waits for the next commit.
constexpr long kLingerMs = 1;
using plan::kCrashRaise;
using plan::kMaxBatchSlots;
using plan::DomainRef;

// The clock every raise lifts versions to at least: microseconds since
// 2000-01-01 plus fraiseql_cache.raise_margin_ms. Versions grow by one per
// committed transaction per pair, far slower than one per microsecond, so a
// version handed out at time t stays below the clock reading at t (plus the
// margin of the raise that started its run). A raise at a later time on any
// server whose clock is within the margin is therefore above every version
// ever handed out, however far behind that server's tables are: a promoted
// standby, a restored backup, an extension dropped and created again.
// Below 2^53 until the year 2285, so JavaScript numbers stay exact.
uint64_t clock_version() {
    return uint64_t(GetCurrentTimestamp()) + uint64_t(settings.raise_margin_ms) * 1000;
}
}  // namespace

void Worker::run() {
    while (!ShutdownRequestPending && !leaving()) {
        ResetLatch(MyLatch);
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            pg_call([] { ProcessConfigFile(PGC_SIGHUP); });
        }
        bool more = step();
        long sleep_ms = heartbeat();
        if (!more && previous_batch_end_ != InvalidXLogRecPtr) {
            // Going idle with the last batch committed asynchronously: flush it
            // after a short pause (unless work arrives), so a hot standby's
            // versions trail its data by about one batch, not by
            // wal_writer_delay.
            int rc = pg_call([&] {
                return WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                                 kIdleFlushMs, PG_WAIT_EXTENSION);
            });
            if (rc & WL_LATCH_SET)
                continue;
            flush_previous_batch();
            previous_batch_end_ = InvalidXLogRecPtr;
        }
        if (!more)
            pg_call([&] {
                (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms,
                                PG_WAIT_EXTENSION);
            });
        pg_call([] { CHECK_FOR_INTERRUPTS(); });
    }
    // Final flush: publish everything committed so far, then record the
    // clean shutdown so the next start bumps nothing. At shutdown the
    // postmaster signals backends and the worker together, and a backend
    // in the middle of COMMIT still pushes to the ring: keep draining until
    // the other backends of the database are gone (bounded).
    // Only a worker that stops with the server, as the last process of its
    // database, records a clean stop: one terminated alone
    // (pg_terminate_backend) is restarted while backends keep committing into
    // the ring, and a crash in that window must still raise.
    // Stepping aside for a command that needs the database alone, or the
    // extension is gone: nothing to drain, and the stop is not clean (the
    // worker comes back on the same shared memory, or a copy of the
    // database starts from these tables and must raise them).
    if (leaving())
        return;
    TimestampTz give_up = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 3000);
    bool alone = false;
    for (;;) {
        while (step()) {
        }
        int others = pg_call([] { return client_backends_here(); });
        if (others <= 0)
            alone = true;
        if (alone || GetCurrentTimestamp() >= give_up)
            break;
        pg_call([] {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10L,
                            PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
        });
    }
    while (step()) {
    }
    if (alone && pg_call([] { return server_stopping(); }) &&
        atomics::load_acquire(&state_->loaded)) {
        persistence::begin("fraiseql_cache: clean shutdown");
        if (persistence::extension_oid() == atomics::load_acquire(&state_->loaded_extension))
            persistence::write_state(atomics::load_acquire(&state_->floor), true);
        persistence::commit();
        // Everything before the clean mark is durable once the mark is.
        flush_now();
    }
}

// Sends the heartbeat when due; returns how long the loop may sleep.
long Worker::heartbeat() {
    const long idle_ms = 1000;
    if (settings.heartbeat_ms <= 0 || !atomics::load_acquire(&state_->loaded))
        return idle_ms;
    TimestampTz now = GetCurrentTimestamp();
    long since_ms = long((now - last_heartbeat_) / 1000);
    if (last_heartbeat_ == 0 || since_ms >= settings.heartbeat_ms) {
        persistence::begin("fraiseql_cache: heartbeat");
        if (settings.notify)
            notify::send_heartbeat(atomics::load_acquire(&state_->published),
                                   atomics::load_acquire(&state_->floor));
        persistence::commit();
        last_heartbeat_ = now;
        since_ms = 0;
    }
    long due_ms = settings.heartbeat_ms - since_ms;
    return due_ms < idle_ms ? (due_ms > 1 ? due_ms : 1) : idle_ms;
}

// Keeps publication at most one batch ahead of the flushed WAL.
void Worker::flush_previous_batch() {
    XLogRecPtr target = previous_batch_end_;
    if (target == InvalidXLogRecPtr)
        return;
    pg_call([&] {
#if PG_VERSION_NUM >= 150000
        XLogRecPtr flushed = GetFlushRecPtr(nullptr);
#else
        XLogRecPtr flushed = GetFlushRecPtr();
#endif
        if (flushed < target)
            XLogFlush(target);
    });
}

void Worker::flush_now() {
    XLogRecPtr target = XactLastCommitEnd;
    if (target != InvalidXLogRecPtr)
        pg_call([&] { XLogFlush(target); });
    previous_batch_end_ = InvalidXLogRecPtr;
}

// Ring contents with nowhere to go (the extension is not installed here).
void Worker::discard_ring() {
    uint64_t end = shared.ring.tail();
    RingSlot slot;
    while (shared.ring.read(end, &slot))
        end++;
    finish_batch(end, atomics::load_acquire(&state_->overflow_requested));
}

bool Worker::load() {
    // Just promoted: a standby loader may be storing into shared memory;
    // once this lock was taken it stores nothing more (it checks recovery
    // under the lock), and this worker is the only writer.
    LWLockAcquire(shared.standby_lock, LW_EXCLUSIVE);
    LWLockRelease(shared.standby_lock);
    persistence::begin("fraiseql_cache: loading versions");
    uint32_t extension = persistence::extension_oid();
    if (extension == 0) {
        persistence::commit();
        discard_ring();
        extension_gone_ = true;
        return false;
    }
    persistence::WorkerStateRow st = persistence::read_state();
    const uint64_t clock = clock_version();
    if (!st.exists) {
        // A new extension in this database. An earlier one may have been
        // dropped (before a restart, so shared memory cannot tell) while
        // caches still hold its versions: start above all of them.
        st.floor = std::max(st.floor, clock);
        persistence::raise_all(0, clock);
    } else if (!st.clean_shutdown) {
        // Unclean stop, promotion of a standby, restored backup or copy:
        // every version and floor goes past anything any earlier primary
        // can have published, without knowing how far behind these tables are.
        persistence::raise_all(kCrashRaise, clock);
        st.floor = std::max(st.floor + kCrashRaise, clock);
        count(&Counters::resets);
        log_quietly([&] {
            ereport(LOG, (errmsg("pg_fraiseql_cache: unclean stop detected, every version "
                                 "raised to at least %llu",
                                 (unsigned long long)st.floor)));
        });
    }
    // Shared memory still holding versions means the extension was dropped
    // and created again while the server ran: the new tables start low, so
    // lift everything past what clients may have seen from the old ones.
    uint64_t highest_seen = 0;
    shared.versions.for_each([&](uint32_t, const TenantId &, uint64_t v, int64_t) {
        highest_seen = v > highest_seen ? v : highest_seen;
    });
    if (highest_seen > 0) {
        st.floor = std::max(st.floor, highest_seen + 1);
        persistence::raise_to(st.floor);
        // Pairs only shared memory knows get rows too, at the new floor.
        std::vector<persistence::VersionRow> known;
        shared.versions.for_each([&](uint32_t id, const TenantId &t, uint64_t, int64_t) {
            persistence::VersionRow row{};
            row.tenant = t;
            row.domain = shared.domains.name(int32_t(id));
            row.version = st.floor;
            known.push_back(row);
        });
        persistence::insert_missing(known);
    }
    persistence::write_state(st.floor, false);
    std::vector<persistence::VersionRow> rows = persistence::read_versions();
    std::vector<DomainName> globals = persistence::read_global_domains();
    std::vector<persistence::VersionRow> floors = persistence::read_domain_floors();
    // Standbys answer from their tables from here on (this transaction may
    // have raised them) until they have read them again, after its commit.
    standby::log_reload(MyDatabaseId);
    persistence::commit();
    const XLogRecPtr reload_end = standby::log_reload(MyDatabaseId);
    atomics::store_release(&state_->loaded_extension, extension);
    extension_may_have_changed = true;  // look it up again with the next batch
    // The raised values must be durable before any is published: raising
    // again from the old values after a crash would hand them out twice.
    flush_now();
    // And the standbys' reload with them.
    if (reload_end != InvalidXLogRecPtr)
        pg_call([&] { XLogFlush(reload_end); });
    marked_unclean_ = true;

    atomics::store_release(&state_->floor, st.floor);
    for (const persistence::VersionRow &r : rows)
        domains_.intern(r.domain);
    for (const DomainName &g : globals)
        domains_.set_global(domains_.intern(g), true);
    for (const persistence::VersionRow &f : floors)
        domains_.raise_floor(domains_.intern(f.domain), f.version);
    rules_cached_ = false;
    persistence::begin("fraiseql_cache: loading domain owners");
    load_owners();
    persistence::commit();
    publish(rows);
    // What spilled while loading was reported; the first spill while serving
    // is reported at once.
    last_spill_warning_ = 0;
    atomics::store_release(&state_->loaded, 1u);
    ConditionVariableBroadcast(&state_->publish_cv);
    return true;
}

// A worker restarted on intact shared memory (it exited with an error, or
// was terminated alone) is running again: a crash from now on is unclean.
void Worker::mark_unclean_once() {
    if (marked_unclean_)
        return;
    persistence::begin("fraiseql_cache: starting");
    if (persistence::extension_oid() != 0)
        persistence::write_state(atomics::load_acquire(&state_->floor), false);
    // Shared memory is intact (it was loaded by an earlier worker): count
    // whose pairs it holds.
    load_owners();
    persistence::commit();
    flush_now();  // durable before anything this worker publishes
    marked_unclean_ = true;
}

// Keeps rules_ equal to cascade_rules as every transaction of the batch
// saw it committed. Backends that change the rules advance
// rules_generation at PRE_COMMIT and again once committed or aborted, and
// count themselves in rules_inflight in between; both were read before this
// batch's snapshot was taken. The cache is used while nothing changed since
// it was read: then no lock on cascade_rules is taken at all, so a session
// holding one (LOCK TABLE, a long migration) cannot freeze the worker. A
// change in flight or committed since makes the worker read the table again
// in this batch's snapshot, which includes every change committed before any
// of the batch's transactions did; a rule applies to every transaction
// committing after it (and, harmlessly, perhaps to some committing just
// before).
bool Worker::refresh_rules(uint64_t rules_generation, uint32_t rules_inflight) {
    if (rules_cached_ && rules_generation == rules_generation_ && rules_inflight == 0)
        return true;
    Oid relation = persistence::rules_relation();
    if (relation == InvalidOid)
        return true;
    // A session may hold the table locked for as long as it likes. Wait a
    // bounded time; then go on with the cached rules, which are exact while
    // nothing committed since they were read with no change in flight.
    bool locked = false;
    for (int attempt = 0; attempt <= kRulesLockAttempts && !locked; attempt++) {
        locked = pg_call([&] { return ConditionalLockRelationOid(relation, AccessShareLock); });
        if (!locked && attempt < kRulesLockAttempts)
            pg_call([] { pg_usleep(kRulesLockPauseUs); });
    }
    if (!locked)
        return rules_cached_ && rules_read_clean_ && rules_generation == rules_generation_;
    rules_.assign(persistence::read_cascade_rules());
    rules_cached_ = true;
    rules_generation_ = rules_generation;
    rules_read_clean_ = rules_inflight == 0;
    return true;
}

// Loads the versions before the first batch; a worker restarted on intact
// shared memory marks its stop unclean first.
bool Worker::ensure_loaded() {
    if (!atomics::load_acquire(&state_->loaded))
        return load();
    mark_unclean_once();
    return true;
}

// Takes this database's ring slots from `start` (up to `limit`) into the
// batch; returns the position after the last one taken.
uint64_t Worker::drain(plan::BatchPlan &batch, uint64_t start, uint64_t limit) {
    uint64_t end = start;
    RingSlot slot;
    while (end < limit && shared.ring.read(end, &slot)) {
        end++;
        if (slot.database == MyDatabaseId)
            batch.add_slot(slot);
    }
    return end;
}

// Nothing to do: notices DROP EXTENSION while idle (seen through a relcache
// invalidation, taken in at the heartbeat's transaction) and leaves, dormant.
void Worker::idle_check() {
    if (!extension_may_have_changed)
        return;
    persistence::begin("fraiseql_cache: looking up the extension");
    uint32_t extension = persistence::extension_oid();
    Oid relation = persistence::versions_relation();
    persistence::commit();
    if (extension == 0) {
        discard_ring();
        extension_gone_ = true;
    } else if (extension == atomics::load_acquire(&state_->loaded_extension)) {
        extension_may_have_changed = false;
        watched_relation = relation;
    }  // else created again: the next batch reloads
}

// In the batch's transaction: whether the versions still come from the
// installed extension. If not (dropped, perhaps created again) the
// transaction is ended and the next step reloads from the new tables, then
// handles the ring (its commits may be the new tables' first).
bool Worker::still_installed() {
    // Looking the extension up is a catalog scan: only when a relcache
    // invalidation touched domain_version (DROP EXTENSION drops it).
    uint32_t extension = atomics::load_acquire(&state_->loaded_extension);
    if (extension_may_have_changed) {
        extension_may_have_changed = false;
        extension = persistence::extension_oid();
        watched_relation = persistence::versions_relation();
    }
    if (extension == atomics::load_acquire(&state_->loaded_extension))
        return true;
    persistence::commit();
    persistence::forget_plans();
    atomics::store_release(&state_->loaded, 0u);
    if (extension == 0) {
        discard_ring();
        extension_gone_ = true;
    }
    return false;
}

// What the plan needs from the tables: every pair for a reset, the tenants
// of whole-domain bumps, the scopes of registered domains (whose new
// all-tenants rows it inserts and returns).
void Worker::read_for_plan(plan::BatchPlan &batch, bool reset, bool rules_known,
                           std::vector<persistence::VersionRow> *registrations) {
    // Cascade rules that may have changed but cannot be read (a session
    // holds the table locked): as for an overflow, bump everything.
    if (reset || !rules_known) {
        uint64_t highest = 0;
        shared.domains.for_each(
            [&](int32_t id) { highest = std::max(highest, shared.domains.floor(id)); });
        batch.reset(persistence::read_versions(), persistence::read_domain_floors(), highest);
        persistence::write_state(batch.floor(), false);
        count(&Counters::resets);
    }
    if (!batch.whole_domains().empty())
        batch.add_tenants_of_whole_domains(persistence::read_tenants_of(batch.whole_domains()));
    if (!batch.registered().empty()) {
        for (const persistence::VersionRow &r : persistence::read_domain_owners()) {
            int32_t owned = shared.domains.find(r.domain.bytes, r.domain.length());
            if (owned != DomainDict::kNotFound)
                owner_of_[uint32_t(owned)] = Oid(r.version);
        }
        *registrations = batch.apply_scopes(persistence::read_scopes(batch.registered()));
        if (!registrations->empty())
            persistence::insert_missing(*registrations);
    }
}

bool Worker::step() {
    if (!ensure_loaded())
        return false;
    const uint64_t start = shared.ring.tail();
    // Positions below `published` still in the ring were published by a
    // worker that died before persisting them (publish_early()): this batch
    // persists and announces exactly those, at the versions they have.
    const uint64_t published = atomics::load_acquire(&state_->published);
    const bool replay = published > start;
    const uint64_t overflow_seen = atomics::load_acquire(
        replay ? &state_->overflow_served : &state_->overflow_requested);
    const bool reset = overflow_seen > atomics::load_acquire(&state_->overflow_served);

    plan::BatchPlan batch(domains_, atomics::load_acquire(&state_->floor));
    const uint64_t end = drain(batch, start, replay ? published : start + kMaxBatchSlots);
    note_handoff(batch.oldest_handoff());
    if (end == start && !reset) {
        idle_check();
        return false;
    }
    // Before this batch's snapshot is taken (see refresh_rules()).
    const uint64_t rules_generation = atomics::load_acquire(&state_->rules_generation);
    const uint32_t rules_inflight = atomics::load_acquire(&state_->rules_inflight);

    persistence::begin("fraiseql_cache: publishing versions");
    if (!still_installed())
        return !extension_gone_;
    if (replay)
        log_quietly([&] {
            ereport(LOG, (errmsg("pg_fraiseql_cache: persisting %llu ring positions published "
                                 "by a worker that stopped before persisting them",
                                 (unsigned long long)(end - start))));
        });
    const bool rules_known = refresh_rules(rules_generation, rules_inflight);
    std::vector<persistence::VersionRow> registrations;
    read_for_plan(batch, reset, rules_known, &registrations);
    batch.expand_cascades(rules_);
    std::vector<persistence::VersionRow> proposed = batch.proposed(replay);

    if (!replay && may_publish_early(batch)) {
        stamp(proposed);
        const plan::Outcome outcome = batch.finish(proposed);
        if (publish_early(batch, proposed, outcome, end, true))
            return persist_group(batch, proposed, outcome, start, end, rules_generation);
    }
    std::vector<persistence::VersionRow> stored = persistence::upsert(proposed);
    const plan::Outcome outcome = batch.finish(stored);
    if (!outcome.new_floors.empty())
        persistence::raise_domain_floors(outcome.new_floors);
    if (!outcome.quiet_floors.empty())
        persistence::raise_domain_floors(outcome.quiet_floors);
    uint64_t notified = notify::send(outcome.announcements);
    // Batch N-1 durable before batch N becomes visible, in shared memory or
    // in domain_version: nothing visible is more than one batch ahead.
    flush_previous_batch();
    persistence::commit();
    previous_batch_end_ = XactLastCommitEnd;
    log_for_standbys(batch, registrations, stored, outcome);
    count(&Counters::notifies, notified);
    if (!replay)
        count(&Counters::bumps, stored.size());
    publish_batch(batch, registrations, stored, outcome);
    // Recorded before the committers wake: a session back from COMMIT sees
    // its bumps in v_recent_invalidations too.
    if (!replay)
        remember(batch, stored);
    finish_batch(end, overflow_seen);
    count(&Counters::batches);
    count(&Counters::cascades, replay ? 0 : batch.cascaded());
    return end - start == kMaxBatchSlots;
}

// Whether a batch may be published before it is persisted: it only bumps
// pairs, and nothing spilled (shared memory holds every persisted pair, so
// the upsert stores exactly what is proposed).
bool Worker::may_publish_early(const plan::BatchPlan &batch) const {
    return batch.pairs_only() && !atomics::load_acquire(&state_->spilled);
}

void Worker::stamp(std::vector<persistence::VersionRow> &rows) {
    const TimestampTz now = GetCurrentTimestamp();
    for (persistence::VersionRow &r : rows)
        r.last_modified = now;
}

// Group persistence. A batch published early leaves its committers awake
// and its transaction open: while the ring has further pairs-only batches
// (for at most kGroupUs, and kMaxBatchSlots slots in all, so that what is
// visible and not durable stays within plan::kCrashRaise), each is
// published early too, in the same transaction; then they are persisted
// and announced together, one row and one notification per pair, and their
// ring positions released. A worker that dies before the commit leaves them
// all below `published`, for its successor to persist (step()).
// Whether commits stream in: this batch's first came less than kLingerMs
// after the previous batch's.
void Worker::note_handoff(int64_t handoff) {
    if (handoff == 0)
        return;
    commits_streaming_ = last_handoff_ != 0 && handoff - last_handoff_ < kLingerMs * 1000;
    last_handoff_ = handoff;
}

// Whether a group may take a further batch: nothing a batch of its own must
// handle (a reset, changed rules, a dropped extension) is pending.
bool Worker::group_may_grow(uint64_t rules_generation) const {
    return !leaving() && !ShutdownRequestPending && !extension_may_have_changed &&
           rules_cached_ && rules_generation_ == rules_generation &&
           atomics::load_acquire(&state_->rules_generation) == rules_generation &&
           atomics::load_acquire(&state_->rules_inflight) == 0 &&
           atomics::load_acquire(&state_->overflow_requested) ==
               atomics::load_acquire(&state_->overflow_served);
}

// Whether ring position `end` holds a slot. While commits stream in (the
// last two batches' commits came less than kLingerMs apart: sequential
// commits of one session arrive a round trip apart) it waits for one (the
// latch is set by each commit) while the group is younger than kGroupUs and
// for at most kLingerMs, unless a committer waits for domain_version, so
// that they share one persisting transaction. Sparse commits do not wait:
// their notifications go out at once.
bool Worker::next_batch_arrives(uint64_t end, TimestampTz opened) {
    RingSlot slot;
    const TimestampTz since = GetCurrentTimestamp();
    for (;;) {
        if (shared.ring.read(end, &slot))
            return true;
        if (!commits_streaming_)
            return false;
        const TimestampTz now = GetCurrentTimestamp();
        if (TimestampDifferenceExceeds(opened, now, kGroupUs / 1000) ||
            TimestampDifferenceExceeds(since, now, kLingerMs) || ShutdownRequestPending ||
            shared.waiters.any_persisted())
            return false;
        pg_call([] {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, kLingerMs,
                            PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
        });
    }
}

bool Worker::persist_group(const plan::BatchPlan &first,
                           const std::vector<persistence::VersionRow> &rows,
                           const plan::Outcome &outcome, uint64_t start, uint64_t end,
                           uint64_t rules_generation) {
    plan::PersistGroup group;
    group.add(rows, outcome, published_lsn_);
    uint64_t cascaded = first.cascaded();
    const TimestampTz opened = GetCurrentTimestamp();
    while (end - start < kMaxBatchSlots && group_may_grow(rules_generation) &&
           next_batch_arrives(end, opened)) {
        plan::BatchPlan next(domains_, atomics::load_acquire(&state_->floor));
        const uint64_t next_end = drain(next, end, start + kMaxBatchSlots);
        next.expand_cascades(rules_);
        if (!may_publish_early(next))
            break;  // its slots stay in the ring, for the next step
        std::vector<persistence::VersionRow> more = next.proposed();
        stamp(more);
        const plan::Outcome more_outcome = next.finish(more);
        if (!publish_early(next, more, more_outcome, next_end, false))
            break;
        group.add(more, more_outcome, published_lsn_);
        note_handoff(next.oldest_handoff());
        cascaded += next.cascaded();
        count(&Counters::batches);
        count(&Counters::bumps, more.size());
        end = next_end;
    }
    std::vector<persistence::VersionRow> stored = persistence::upsert(group.rows());
    if (!group.quiet_floors().empty())
        persistence::raise_domain_floors(group.quiet_floors());
    uint64_t notified = notify::send(group.announcements());
    persistence::commit();
    previous_batch_end_ = XactLastCommitEnd;
    count(&Counters::notifies, notified);
    count(&Counters::bumps, rows.size());
    count(&Counters::batches);
    count(&Counters::cascades, cascaded);
    // A pair can be stored above its proposal only if the table held it
    // higher than shared memory, which nothing spilled rules out; should it
    // happen, the higher version is published now.
    publish(stored, true);
    shared.ring.release(end);
    wake_committers();  // those waiting for domain_version
    return end - start >= kMaxBatchSlots;
}

void watch_extension_changes() { CacheRegisterRelcacheCallback(on_relcache_invalidation, Datum(0)); }

}  // namespace fraiseql_cache
