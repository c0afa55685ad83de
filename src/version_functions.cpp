// SQL functions that read versions: current_version(), current_versions().
//
// The fast path is a lock-free read of the shared-memory dictionary and
// version table, on a primary as on a hot standby (there kept equal to the
// replayed WAL, see standby.hpp). Until the worker (on a standby, the
// loader) has loaded them after a start, and for pairs that did not fit in
// shared memory, the answer comes from fraiseql_cache.domain_version
// instead; on a standby the replayed table is never ahead of the replayed
// data.
#include "pg_fraiseql_cache/domain_names.hpp"
#include "pg_fraiseql_cache/boundary.hpp"
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"
#include "pg_fraiseql_cache/standby.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
}

namespace fraiseql_cache {
namespace {

// The persisted version; with `require_final`, raises an error unless the
// table's values are final (see read_version()).
uint64_t version_from_table(const TenantId &tenant, const char *domain, std::size_t len,
                            bool require_final = false) {
    count(&Counters::table_reads);
    bool final = true;
    uint64_t v = pg_call([&] {
        // _table_version() runs as the extension owner with a fixed
        // search_path, so every role that may read versions gets an answer;
        // the call itself names its schema and takes exactly these types.
        static const char *sql =
            "SELECT version, final FROM fraiseql_cache._table_version($1, $2)";
        pg_uuid_t u;
        memcpy(u.data, tenant.bytes, UUID_LEN);
        Oid types[2] = {UUIDOID, TEXTOID};
        Datum values[2] = {UUIDPGetDatum(&u),
                           PointerGetDatum(cstring_to_text_with_len(domain, int(len)))};
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "pg_fraiseql_cache: SPI_connect failed");
        // Prepared once per backend (a hot standby answers every read this
        // way); the plan cache replans it when the function changes.
        static SPIPlanPtr plan = nullptr;
        if (plan == nullptr) {
            SPIPlanPtr fresh = SPI_prepare(sql, 2, types);
            if (fresh == nullptr || SPI_keepplan(fresh) != 0)
                elog(ERROR, "pg_fraiseql_cache: preparing the table read failed");
            plan = fresh;
        }
        if (SPI_execute_plan(plan, values, nullptr, true, 1) != SPI_OK_SELECT ||
            SPI_processed != 1)
            elog(ERROR, "pg_fraiseql_cache: reading domain_version failed");
        bool isnull = false;
        int64 stored = DatumGetInt64(
            SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        final = DatumGetBool(
            SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
        SPI_finish();
        return uint64_t(stored);
    });
    if (require_final && !(final && shared.versions.count() == 0))
        throw SqlError(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                       "pg_fraiseql_cache is not serving versions yet",
                       "The worker loads the versions after a start, a crash or a new "
                       "extension; retry shortly, and treat this read as a cache miss.",
                       "The persisted versions may still have to be raised past values "
                       "handed out before.");
    return v;
}

// Whether shared memory holds this database's loaded versions.
bool shared_memory_serves_here() {
    SharedState *st = shared.state;
    return atomics::load_acquire(&st->loaded) != 0 &&
           atomics::load_acquire(&st->served_database) == uint32_t(MyDatabaseId);
}

// Waits (bounded by wait_timeout_ms, interruptible) for the worker to load.
bool wait_until_served() {
    if (shared_memory_serves_here())
        return true;
    // Interruptible here (a query cancel arrives as an ERROR through pg_call).
    return pg_call([&] {
        return sleep_until_published(settings.wait_timeout_ms, shared_memory_serves_here);
    });
}

// Only a bad name pays for pg_call(): this runs on every read.
void check_domain(std::size_t len) {
    if (!domain_name_ok(len))
        pg_call([&] { raise_bad_domain_name(len); });
}

uint64_t read_version(const TenantId &requested, const char *domain, std::size_t len) {
    check_domain(len);
    SharedState *st = shared.state;
    if (RecoveryInProgress()) {
        if (!standby::serves_here())
            return version_from_table(requested, domain, len);
    } else if (!wait_until_served()) {
        // Not loaded yet (start, crash-restart, new extension or database):
        // the table is final only after a clean stop, on fresh shared
        // memory; otherwise the worker has still to raise it past what was
        // handed out.
        return version_from_table(requested, domain, len, true);
    }
    int32_t id = shared.domains.find(domain, len);
    if (id == DomainDict::kNotFound) {
        if (shared.domains.full() || atomics::load_acquire(&st->spilled))
            return version_from_table(requested, domain, len);
        return atomics::load_acquire(&st->floor);
    }
    TenantId tenant = (shared.domains.flags(id) & kDomainGlobal) ? TenantId::all() : requested;
    // Read before the pair: both only rise, and the worker publishes a
    // batch's pair versions before its domain floors.
    uint64_t domain_floor = shared.domains.floor(id);
    uint64_t version = 0;
    if (shared.versions.lookup(uint32_t(id), tenant, &version))
        return version > domain_floor ? version : domain_floor;
    if (atomics::load_acquire(&st->spilled))
        return version_from_table(requested, domain, len);
    uint64_t floor = atomics::load_acquire(&st->floor);
    return floor > domain_floor ? floor : domain_floor;
}

TenantId tenant_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n))
        throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "tenant must not be NULL",
                       "Pass '00000000-0000-0000-0000-000000000000' for the all-tenants "
                       "version.");
    TenantId t;
    memcpy(t.bytes, PG_GETARG_UUID_P(n)->data, sizeof t.bytes);
    return t;
}

// Whether domain_version holds every version published before `target`:
// the worker releases a batch's ring positions once it is committed.
bool persisted_up_to(uint64_t target) { return shared.ring.tail() >= target; }

}  // namespace
}  // namespace fraiseql_cache

using namespace fraiseql_cache;

extern "C" {

PG_FUNCTION_INFO_V1(fraiseql_cache_current_version);
PG_FUNCTION_INFO_V1(fraiseql_cache_current_versions);
PG_FUNCTION_INFO_V1(fraiseql_cache_wait_for_persistence);

Datum fraiseql_cache_current_version(PG_FUNCTION_ARGS) {
    require_served_database();
    return guarded([&] {
        TenantId tenant = tenant_arg(fcinfo, 0);
        if (PG_ARGISNULL(1))
            throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "domain must not be NULL",
                           "Pass a domain name such as 'contract'.");
        text *domain = PG_GETARG_TEXT_PP(1);
        uint64_t v = read_version(tenant, VARDATA_ANY(domain), VARSIZE_ANY_EXHDR(domain));
        return Int64GetDatum(int64_t(v));
    });
}

Datum fraiseql_cache_current_versions(PG_FUNCTION_ARGS) {
    require_served_database();
    return guarded([&] {
        TenantId tenant = tenant_arg(fcinfo, 0);
        if (PG_ARGISNULL(1))
            throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "domains must not be NULL",
                           "Pass an array of domain names such as ARRAY['contract'].");
        ArrayType *array = PG_GETARG_ARRAYTYPE_P(1);
        if (ARR_NDIM(array) > 1)
            throw SqlError(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
                           "domains must be a one-dimensional array",
                           "Pass ARRAY['contract', 'item']; the result has one version per "
                           "element, in the same order.");
        Datum *items = nullptr;
        bool *nulls = nullptr;
        int n = 0;
        pg_call([&] {
            deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &n);
        });
        Datum *out = static_cast<Datum *>(pg_call([&] { return palloc(sizeof(Datum) * (n ? n : 1)); }));
        for (int i = 0; i < n; i++) {
            if (nulls[i])
                throw SqlError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "domains must not contain NULL",
                               "Remove the NULL element from the array.");
            text *d = reinterpret_cast<text *>(pg_call([&] { return PG_DETOAST_DATUM_PACKED(items[i]); }));
            out[i] = Int64GetDatum(int64_t(read_version(tenant, VARDATA_ANY(d), VARSIZE_ANY_EXHDR(d))));
        }
        ArrayType *result = pg_call([&] {
            return construct_array(out, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
        });
        return PointerGetDatum(result);
    });
}

// Waits until domain_version agrees with every version current_version()
// returned before the call (a batch is published before its transaction
// commits); false when timeout_ms passed first.
Datum fraiseql_cache_wait_for_persistence(PG_FUNCTION_ARGS) {
    require_served_database();
    return guarded([&] {
        if (PG_ARGISNULL(0) || PG_GETARG_INT32(0) < 0)
            throw SqlError(ERRCODE_INVALID_PARAMETER_VALUE,
                           "timeout_ms must be a non-negative number of milliseconds",
                           "Pass for example 1000; 0 only checks.");
        const long timeout_ms = PG_GETARG_INT32(0);
        // A standby's shared memory follows what it replayed, tables included.
        if (RecoveryInProgress())
            return BoolGetDatum(true);
        const uint64_t target = atomics::load_acquire(&shared.state->published);
        bool done = pg_call([&] {
            const TimestampTz start = GetCurrentTimestamp();
            while (!persisted_up_to(target) &&
                   !TimestampDifferenceExceeds(start, GetCurrentTimestamp(), int(timeout_ms))) {
                (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1L,
                                PG_WAIT_EXTENSION);
                ResetLatch(MyLatch);
                CHECK_FOR_INTERRUPTS();
            }
            return persisted_up_to(target);
        });
        return BoolGetDatum(done);
    });
}

}  // extern "C"
