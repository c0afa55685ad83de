// The worker's view of the domains and of the versions readers see: the
// shared dictionary and version table, plus the names the full dictionary
// could not take (kept in the worker only; their pairs live in
// domain_version).
#pragma once

#include <vector>

#include "pg_fraiseql_cache/batch_plan.hpp"

namespace fraiseql_cache {

class WorkerDomains final : public plan::DomainView {
  public:
    plan::DomainRef intern(const DomainName &name) override;
    const DomainName &name(plan::DomainRef d) const override;
    bool global(plan::DomainRef d) const override;
    uint64_t domain_floor(plan::DomainRef d) const override;
    uint64_t version(plan::DomainRef d, const TenantId &tenant) const override;

    // Sets the domain's scope flag and raises its floor (spilled: no-ops).
    void set_global(plan::DomainRef d, bool global);
    void raise_floor(plan::DomainRef d, uint64_t floor);

  private:
    std::vector<DomainName> spilled_;
};

}  // namespace fraiseql_cache
