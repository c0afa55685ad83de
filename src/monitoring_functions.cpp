// SQL functions for monitoring: stats(), the live versions and the recent
// bumps behind the v_* views.
#include "pg_fraiseql_cache/boundary.hpp"
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"
#include "pg_fraiseql_cache/standby.hpp"

extern "C" {
#include "access/xlog.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/tuplestore.h"
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

    Datum values[27];
    bool nulls[27] = {};
    int i = 0;
    values[i++] = Int32GetDatum(pid);
    nulls[i - 1] = pid == 0;
    // A hot standby serves from shared memory once its loader has loaded it.
    values[i++] = BoolGetDatum(RecoveryInProgress()
                                   ? standby::serves_here()
                                   : pid != 0 && atomics::load_acquire(&st->loaded) != 0);
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
    values[i++] = Float8GetDatum(double(atomics::load_relaxed(&c.last_batch_lag_us)) / 1000.0);
    values[i++] = Float8GetDatum(double(atomics::load_relaxed(&c.max_batch_lag_us)) / 1000.0);
    values[i++] = u64(c.stalled_waits);
    values[i++] = u64(c.collapsed_xacts);
    values[i++] = u64(c.refused_domains);
    Assert(i == 24);
    HeapTuple tuple = heap_form_tuple(desc, values, nulls);
    return HeapTupleGetDatum(tuple);
}

}  // extern "C"

namespace {

// Materialised set-returning function plumbing (the classic form, which
// every supported version has).
Tuplestorestate *begin_materialized(FunctionCallInfo fcinfo, TupleDesc *desc) {
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    if (rsinfo == nullptr || !IsA(rsinfo, ReturnSetInfo) ||
        !(rsinfo->allowedModes & SFRM_Materialize))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("set-valued function called in context that cannot accept a set")));
    if (get_call_result_type(fcinfo, nullptr, desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "return type must be a row type");
    MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
    *desc = CreateTupleDescCopy(*desc);
    Tuplestorestate *store = tuplestore_begin_heap(true, false, work_mem);
    rsinfo->returnMode = SFRM_Materialize;
    rsinfo->setResult = store;
    rsinfo->setDesc = *desc;
    MemoryContextSwitchTo(old);
    return store;
}

Datum uuid_datum(const TenantId &t) {
    auto *u = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    memcpy(u->data, t.bytes, UUID_LEN);
    return UUIDPGetDatum(u);
}

Datum sources_text(uint32_t sources) {
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {{kSourceTrigger, "trigger"},   {kSourceManual, "manual"},
                 {kSourceTruncate, "truncate"}, {kSourceCascade, "cascade"},
                 {kSourceReset, "reset"}};
    StringInfoData buf;
    initStringInfo(&buf);
    for (const auto &n : names)
        if (sources & n.bit)
            appendStringInfo(&buf, "%s%s", buf.len ? "," : "", n.name);
    return PointerGetDatum(cstring_to_text(buf.data));
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(fraiseql_cache_shared_versions);
PG_FUNCTION_INFO_V1(fraiseql_cache_recent_invalidations);

// Live versions from shared memory; from domain_version until the worker
// (on a standby, the loader) has loaded them, and for pairs that did not fit.
Datum fraiseql_cache_shared_versions(PG_FUNCTION_ARGS) {
    require_served_database();
    TupleDesc desc;
    Tuplestorestate *store = begin_materialized(fcinfo, &desc);
    SharedState *st = shared.state;
    bool from_memory = RecoveryInProgress() ? standby::serves_here()
                                            : atomics::load_acquire(&st->loaded) != 0;
    if (from_memory) {
        shared.versions.for_each([&](uint32_t id, const TenantId &t, uint64_t v, int64_t at) {
            Datum values[4] = {uuid_datum(t),
                               PointerGetDatum(cstring_to_text_with_len(
                                   shared.domains.name(int32_t(id)).bytes,
                                   int(shared.domains.name_length(int32_t(id))))),
                               Int64GetDatum(int64_t(v)), TimestampTzGetDatum(at)};
            bool nulls[4] = {false, false, false, false};
            tuplestore_putvalues(store, desc, values, nulls);
        });
    }
    if (!from_memory || atomics::load_acquire(&st->spilled)) {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "pg_fraiseql_cache: SPI_connect failed");
        if (SPI_execute("SELECT tenant_id, domain, version, last_modified "
                        "FROM fraiseql_cache.domain_version",
                        true, 0) != SPI_OK_SELECT)
            elog(ERROR, "pg_fraiseql_cache: reading domain_version failed");
        for (uint64 i = 0; i < SPI_processed; i++) {
            Datum values[4];
            bool nulls[4];
            for (int c = 0; c < 4; c++)
                values[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1,
                                          &nulls[c]);
            if (from_memory) {
                text *d = DatumGetTextPP(values[1]);
                int32_t id = shared.domains.find(VARDATA_ANY(d), VARSIZE_ANY_EXHDR(d));
                TenantId t;
                memcpy(t.bytes, DatumGetUUIDP(values[0])->data, sizeof t.bytes);
                uint64_t v;
                if (id != DomainDict::kNotFound && shared.versions.lookup(uint32_t(id), t, &v))
                    continue;  // already listed from shared memory
            }
            tuplestore_putvalues(store, desc, values, nulls);
        }
        SPI_finish();
    }
    return Datum(0);
}

Datum fraiseql_cache_recent_invalidations(PG_FUNCTION_ARGS) {
    require_served_database();
    TupleDesc desc;
    Tuplestorestate *store = begin_materialized(fcinfo, &desc);
    shared.recent.for_each_recent(shared.recent.capacity(), [&](const RecentBump &b) {
        Datum values[6] = {TimestampTzGetDatum(b.at),
                           uuid_datum(b.tenant),
                           PointerGetDatum(cstring_to_text(b.domain.bytes)),
                           Int64GetDatum(int64_t(b.version)),
                           sources_text(b.sources),
                           Int32GetDatum(int32_t(b.transactions))};
        bool nulls[6] = {false, false, false, false, false, false};
        tuplestore_putvalues(store, desc, values, nulls);
    });
    return Datum(0);
}

}  // extern "C"
