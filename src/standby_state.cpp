// The writers of a hot standby's shared memory (see standby.hpp).
#include "pg_fraiseql_cache/atomics.hpp"
#include "pg_fraiseql_cache/shared_state.hpp"
#include "pg_fraiseql_cache/standby.hpp"

namespace fraiseql_cache::standby {

Applier::Applier() { LWLockAcquire(shared.standby_lock, LW_EXCLUSIVE); }
Applier::~Applier() { LWLockRelease(shared.standby_lock); }

void Applier::worker_floor(uint64_t floor) {
    if (floor > atomics::load_relaxed(&shared.state->floor))
        atomics::store_release(&shared.state->floor, floor);
}

int32_t Applier::domain(const char *name, std::size_t len) {
    int32_t id = shared.domains.find_or_insert(name, len);
    if (id == DomainDict::kNotFound)
        atomics::store_release(&shared.state->spilled, 1u);
    return id;
}

void Applier::pair(int32_t domain_id, const TenantId &tenant, uint64_t version, int64_t at) {
    if (domain_id < 0)
        return;
    uint64_t held = 0;
    if (shared.versions.lookup(uint32_t(domain_id), tenant, &held) && held >= version)
        return;
    if (!shared.versions.store(uint32_t(domain_id), tenant, version, at))
        atomics::store_release(&shared.state->spilled, 1u);
}

void Applier::domain_floor(int32_t domain_id, uint64_t floor) {
    if (domain_id >= 0)
        shared.domains.raise_floor(domain_id, floor);
}

void Applier::scope(int32_t domain_id, bool global) {
    if (domain_id < 0)
        return;
    shared.domains.set_flags(domain_id, global ? kDomainGlobal : 0u);
    atomics::store_release(&shared.state->scope_epoch,
                           atomics::load_relaxed(&shared.state->scope_epoch) + 1);
}

bool serves_here() {
    SharedState *st = shared.state;
    return atomics::load_acquire(&st->standby_loaded) != 0 &&
           atomics::load_acquire(&st->standby_database) == uint32_t(MyDatabaseId);
}

}  // namespace fraiseql_cache::standby
