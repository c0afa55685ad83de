// SQL functions for monitoring: stats().
#include "pg_fraiseql_cache/boundary.hpp"
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/numeric.h"
}

using namespace fraiseql_cache;

extern "C" {

PG_FUNCTION_INFO_V1(fraiseql_cache_stats);

Datum fraiseql_cache_stats(PG_FUNCTION_ARGS) {
    require_served_database();
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "fraiseql_cache.stats() must return a composite type");
    desc = BlessTupleDesc(desc);

    SharedState *st = shared.state;
    const Counters &c = st->counters;
    auto u64 = [](const uint64_t &field) { return Int64GetDatum(int64_t(atomics::load_relaxed(&field))); };
    uint64_t rows = atomics::load_relaxed(&c.rows_seen);
    uint64_t pairs = atomics::load_relaxed(&c.pairs_recorded);
    uint64_t head = shared.ring.head();
    uint64_t tail = shared.ring.tail();
    int32_t pid = atomics::load_acquire(&st->worker_pid);

    Datum values[22];
    bool nulls[22] = {};
    int i = 0;
    values[i++] = Int32GetDatum(pid);
    nulls[i - 1] = pid == 0;
    values[i++] = BoolGetDatum(pid != 0 && atomics::load_acquire(&st->loaded) != 0);
    values[i++] = u64(c.rows_seen);
    values[i++] = u64(c.pairs_recorded);
    values[i++] = u64(c.xacts_handed_off);
    values[i++] = Float8GetDatum(pairs == 0 ? 0.0 : double(rows) / double(pairs));
    nulls[i - 1] = pairs == 0;
    values[i++] = u64(c.bumps);
    values[i++] = u64(c.cascades);
    values[i++] = u64(c.notifies);
    values[i++] = u64(c.batches);
    values[i++] = Int64GetDatum(int64_t(shared.ring.capacity()));
    values[i++] = Int64GetDatum(int64_t(head - tail));
    values[i++] = Int64GetDatum(int64_t(shared.ring.high_water()));
    values[i++] = u64(c.ring_full_waits);
    values[i++] = u64(c.overflows);
    values[i++] = u64(c.resets);
    values[i++] = u64(c.wait_timeouts);
    values[i++] = Int64GetDatum(int64_t(shared.versions.count()));
    values[i++] = Int64GetDatum(int64_t(shared.versions.max_entries()));
    values[i++] = u64(c.spilled_pairs);
    values[i++] = u64(c.table_reads);
    values[i++] = Int64GetDatum(int64_t(atomics::load_acquire(&st->floor)));
    Assert(i == 22);
    HeapTuple tuple = heap_form_tuple(desc, values, nulls);
    return HeapTupleGetDatum(tuple);
}

}  // extern "C"
