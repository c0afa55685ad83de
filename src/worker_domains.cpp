// The worker's view of the domains (see worker_domains.hpp).
#include "pg_fraiseql_cache/worker_domains.hpp"

#include <algorithm>

#include "pg_fraiseql_cache/shared_state.hpp"

namespace fraiseql_cache {

using plan::DomainRef;

DomainRef WorkerDomains::intern(const DomainName &name) {
    int32_t id = shared.domains.find_or_insert(name.bytes, name.length());
    if (id != DomainDict::kNotFound)
        return DomainRef::in_dictionary(uint32_t(id));
    for (std::size_t i = 0; i < spilled_.size(); i++)
        if (spilled_[i].equals(name.bytes, name.length()))
            return DomainRef::in_spill_list(uint32_t(i));
    spilled_.push_back(name);
    return DomainRef::in_spill_list(uint32_t(spilled_.size() - 1));
}

const DomainName &WorkerDomains::name(DomainRef d) const {
    return d.spilled ? spilled_[d.index] : shared.domains.name(int32_t(d.index));
}

bool WorkerDomains::global(DomainRef d) const {
    return !d.spilled && (shared.domains.flags(int32_t(d.index)) & kDomainGlobal);
}

uint64_t WorkerDomains::domain_floor(DomainRef d) const {
    return d.spilled ? 0 : shared.domains.floor(int32_t(d.index));
}

uint64_t WorkerDomains::version(DomainRef d, const TenantId &tenant) const {
    uint64_t v = 0;
    uint64_t floor = domain_floor(d);
    if (!d.spilled && shared.versions.lookup(d.index, tenant, &v))
        return std::max(v, floor);
    return std::max(atomics::load_acquire(&shared.state->floor), floor);
}

void WorkerDomains::set_global(DomainRef d, bool global) {
    if (!d.spilled)
        shared.domains.set_flags(int32_t(d.index), global ? kDomainGlobal : 0u);
}

void WorkerDomains::raise_floor(DomainRef d, uint64_t floor) {
    if (!d.spilled)
        shared.domains.raise_floor(int32_t(d.index), floor);
}

}  // namespace fraiseql_cache
