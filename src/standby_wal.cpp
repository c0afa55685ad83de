// The WAL records that carry versions to hot standbys: the resource
// manager, its redo (in a standby's startup process) and the worker's side
// that writes them. See standby.hpp.
//
// A record is written before the batch is published: a commit that waited
// for its bump returned only after the record was in the WAL, behind the
// commit records of the transactions it counts. A batch persisted first has
// its record written after its commit; one published before it is persisted
// (Worker::publish_early) before it, so such a record can outlive a
// transaction that failed or a crash lost. Its versions were published on the
// primary all the same: a failed batch is persisted by the next worker at
// those versions, and after a crash every version is raised past them (and
// the standby told to reload).
//
// Redo raises no error and allocates nothing per record: a malformed record
// (it cannot come from this code) or one for another database is skipped,
// and for a record that cannot be applied the standby falls back to its
// tables until the loader has read them again.
#include "pg_fraiseql_cache/boundary.hpp"
#include "pg_fraiseql_cache/guc.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"
#include "pg_fraiseql_cache/standby.hpp"

extern "C" {
#include "access/xlog.h"
#if PG_VERSION_NUM >= 150000
#include "access/xlog_internal.h"
#include "access/xloginsert.h"
#include "access/xlogreader.h"
#endif
#include "lib/stringinfo.h"
}

namespace fraiseql_cache::standby {
namespace {

constexpr uint8_t kInfoVersions = 0x10;
constexpr uint8_t kInfoReload = 0x20;

void wake_loader() {
    int procno = atomics::load_acquire(&shared.state->standby_loader_procno);
    if (procno >= 0)
        SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

// Readers consult the tables, and the loader reads them again. Under the
// lock the loader holds while it stores and marks loaded: a load that began
// before this sees the generation move and starts over.
void fall_back_to_tables() {
    LWLockAcquire(shared.standby_lock, LW_EXCLUSIVE);
    atomics::fetch_add(&shared.state->reload_generation, uint64_t(1));
    atomics::store_release(&shared.state->standby_loaded, 0u);
    LWLockRelease(shared.standby_lock);
    // The extension may be back in a database whose loader had found none.
    if (atomics::load_acquire(&shared.state->dormant) != 0) {
        atomics::store_release(&shared.state->dormant, 0u);
        wake_launcher();
    }
    wake_loader();
}

#if PG_VERSION_NUM >= 150000

// Binds `shared` to the slot whose loader serves `database`; otherwise asks
// the launcher for one (its load will cover this record: the record follows
// the commit the loader's snapshot will see).
bool bind_loaded_slot(uint32_t database) {
    if (database == 0)
        return false;
    for (int i = 0; i < max_databases(); i++)
        if (atomics::load_acquire(&slot_view(i).state->standby_database) == database) {
            bind_slot(i);
            return true;
        }
    // With the queue full, the database's next record asks again.
    for (uint32_t &request : segment()->standby_requests) {
        uint32_t expected = 0;
        if (atomics::load_acquire(&request) == database ||
            atomics::compare_exchange(&request, &expected, database))
            break;
    }
    wake_launcher();
    return false;
}

void apply_versions(const char *data, std::size_t len) {
    version_record::View view;
    if (!view.parse(data, len))
        return;
    const version_record::Header &h = view.header();
    if (!bind_loaded_slot(h.database))
        return;
    // Dictionary ids of the record's domains, in index order; a record names
    // few domains, more than this is applied through the tables.
    constexpr uint32_t kMaxDomains = 1024;
    int32_t ids[kMaxDomains];
    if (h.domains > kMaxDomains) {
        fall_back_to_tables();
        return;
    }
    Applier apply;
    view.for_each_domain(
        [&](uint32_t i, const char *name, std::size_t n) { ids[i] = apply.domain(name, n); });
    // The primary's order: worker floor, pairs, domain floors, scopes.
    apply.worker_floor(h.floor);
    view.for_each_pair([&](uint32_t i, const TenantId &tenant, uint64_t version) {
        apply.pair(ids[i], tenant, version, h.at);
    });
    view.for_each_floor([&](uint32_t i, uint64_t floor) { apply.domain_floor(ids[i], floor); });
    view.for_each_scope([&](uint32_t i, bool global) { apply.scope(ids[i], global); });
}

void redo(XLogReaderState *record) {
    uint8_t info = XLogRecGetInfo(record) & XLR_RMGR_INFO_MASK;
    const char *data = XLogRecGetData(record);
    std::size_t len = XLogRecGetDataLen(record);
    if (info == kInfoVersions) {
        apply_versions(data, len);
    } else if (info == kInfoReload && len == sizeof(uint32_t)) {
        uint32_t database;
        memcpy(&database, data, sizeof database);
        if (bind_loaded_slot(database))
            fall_back_to_tables();
    }
}

void describe(StringInfo buf, XLogReaderState *record) {
    uint8_t info = XLogRecGetInfo(record) & XLR_RMGR_INFO_MASK;
    if (info == kInfoVersions) {
        version_record::View view;
        if (!view.parse(XLogRecGetData(record), XLogRecGetDataLen(record))) {
            appendStringInfoString(buf, "malformed");
            return;
        }
        const version_record::Header &h = view.header();
        appendStringInfo(buf, "database %u; pairs %u; domain floors %u; scopes %u; floor %llu",
                         h.database, h.pairs, h.floors, h.scopes, (unsigned long long)h.floor);
    } else if (info == kInfoReload && XLogRecGetDataLen(record) == sizeof(uint32_t)) {
        uint32_t database;
        memcpy(&database, XLogRecGetData(record), sizeof database);
        appendStringInfo(buf, "database %u", database);
    }
}

const char *identify(uint8 info) {
    switch (info & XLR_RMGR_INFO_MASK) {
    case kInfoVersions:
        return "VERSIONS";
    case kInfoReload:
        return "RELOAD";
    default:
        return nullptr;
    }
}

XLogRecPtr insert(uint8_t info, const char *data, std::size_t len) {
    return pg_call([&] {
        XLogBeginInsert();
        XLogRegisterData(const_cast<char *>(data), int(len));
        return XLogInsert(RmgrId(settings.wal_resource_manager_id), info);
    });
}

#endif  // PG_VERSION_NUM >= 150000

}  // namespace

void register_resource_manager() {
#if PG_VERSION_NUM >= 150000
    static RmgrData rmgr = {};
    rmgr.rm_name = "pg_fraiseql_cache";
    rmgr.rm_redo = redo;
    rmgr.rm_desc = describe;
    rmgr.rm_identify = identify;
    RegisterCustomRmgr(RmgrId(settings.wal_resource_manager_id), &rmgr);
#endif
}

bool records_enabled() {
#if PG_VERSION_NUM >= 150000
    return XLogIsNeeded();
#else
    return false;
#endif
}

void RecordWriter::pair(const DomainName &domain, const TenantId &tenant, uint64_t version) {
    current_.pair(domain, tenant, version);
    if (current_.pairs() >= kPairsPerRecord) {
        flush();
        current_ = version_record::Encoder(database_, at_, floor_);
    }
}

void RecordWriter::flush() {
#if PG_VERSION_NUM >= 150000
    if (!records_enabled() || (current_.empty() && !floor_changed_))
        return;
    std::string body = current_.finish();
    end_ = insert(kInfoVersions, body.data(), body.size());
    floor_changed_ = false;
    current_ = version_record::Encoder(database_, at_, floor_);
#endif
}

uint64_t log_reload(uint32_t database) {
#if PG_VERSION_NUM >= 150000
    if (!records_enabled())
        return 0;
    return insert(kInfoReload, reinterpret_cast<const char *>(&database), sizeof database);
#else
    (void)database;
    return 0;
#endif
}

}  // namespace fraiseql_cache::standby
