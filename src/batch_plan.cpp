// The batch planner (see batch_plan.hpp). No server headers: this file is
// compiled into the unit tests as it is.
#include "pg_fraiseql_cache/batch_plan.hpp"

#include <algorithm>

#include "pg_fraiseql_cache/recent_ring.hpp"

namespace fraiseql_cache::plan {

using persistence::VersionRow;

void CascadeRules::assign(const std::vector<persistence::RuleRow> &rows) {
    ids_.clear();
    names_.clear();
    auto id_of = [&](const DomainName &name) {
        auto [it, inserted] =
            ids_.try_emplace(std::string(name.bytes, name.length()), uint32_t(names_.size()));
        if (inserted)
            names_.push_back(name);
        return it->second;
    };
    std::vector<Rule> rules;
    rules.reserve(rows.size());
    for (const persistence::RuleRow &r : rows)
        rules.push_back(Rule{id_of(r.source), id_of(r.target),
                             r.invalidate ? RuleKind::kInvalidate : RuleKind::kNotify});
    graph_.assign(rules);
}

const std::vector<Reached> *CascadeRules::closure(const DomainName &source) {
    auto it = ids_.find(std::string(source.bytes, source.length()));
    return it == ids_.end() ? nullptr : &graph_.closure(it->second);
}

BatchPlan::BatchPlan(DomainView &domains, uint64_t floor) : domains_(domains), floor_(floor) {}

void BatchPlan::add_slot(const RingSlot &slot) {
    DomainRef d = domains_.intern(slot.domain);
    if (slot.flags & kSlotRegister) {
        // A table set up, removed or dropped: the domain's scope may have
        // changed. Bumps nothing by itself.
        registered_.push_back(slot.domain);
        return;
    }
    // A write under a global table's trigger can reach the ring before the
    // registration that made the domain global: re-read the scope.
    if ((slot.flags & kSlotGlobal) && !d.spilled && !domains_.global(d))
        registered_.push_back(slot.domain);
    uint32_t source = (slot.flags & kSlotManual)        ? kSourceManual
                      : (slot.flags & kSlotWholeDomain) ? kSourceTruncate
                                                        : kSourceTrigger;
    if (slot.flags & kSlotWholeDomain) {
        whole_domains_.emplace_back(slot.domain, source);
        whole_names_.push_back(slot.domain);
        floor_domains_.add(d.key(), TenantId::all(), 0, 0);
        pairs_.add(d.key(), TenantId::all(), 0, source);
    }
    if (oldest_ == 0 || slot.committed_at < oldest_)
        oldest_ = slot.committed_at;
    if (!slot.tenant.is_all())
        pairs_.add(d.key(), slot.tenant, 1, source);
    // Every bump of (t, d) bumps (all, d): once per transaction, carried by
    // the one slot the committing backend marked for it (which may sit in
    // another batch than this one).
    if (slot.flags & kSlotCountsForAll)
        pairs_.add(d.key(), TenantId::all(), 1, source);
}

void BatchPlan::add_tenants_of_whole_domains(const std::vector<VersionRow> &tenants) {
    PairSet sources(64);  // domain -> BumpSource bits of its whole-domain bumps
    for (const auto &[name, source] : whole_domains_)
        sources.add(domains_.intern(name).key(), TenantId::all(), 0, source);
    for (const VersionRow &r : tenants) {
        uint32_t key = domains_.intern(r.domain).key();
        const PairSet::Slot *s = sources.find(key, TenantId::all());
        pairs_.add(key, r.tenant, 0, s != nullptr ? s->tags : kSourceTruncate);
    }
}

std::vector<VersionRow> BatchPlan::apply_scopes(
    const std::vector<persistence::DomainScope> &scopes) {
    std::vector<VersionRow> registrations;
    for (const persistence::DomainScope &sc : scopes) {
        DomainRef d = domains_.intern(sc.domain);
        bool now_global = domains_.global(d);
        if (sc.global && !now_global) {
            // Every tenant is to read (all, d) from now on: it must end above
            // every version any tenant of d read so far.
            pairs_.add(d.key(), TenantId::all(), 0, kSourceReset);
            lifts_.push_back({PairKey{d.key(), TenantId::all()}, sc.highest});
            scope_changes_.push_back({d, true});
        } else if (!sc.global && now_global) {
            // Tenants read their own pairs again: above the one version they
            // all read until now.
            pairs_.add(d.key(), TenantId::all(), 0, kSourceReset);
            floor_domains_.add(d.key(), TenantId::all(), 0, 0);
            floor_to_all_.add(d.key(), TenantId::all(), 0, 0);
            scope_changes_.push_back({d, false});
        } else if (!sc.has_all_row && sc.tracked) {
            // A new domain: its all-tenants row, at the version readers see.
            VersionRow row{};
            row.tenant = TenantId::all();
            row.domain = sc.domain;
            row.version = domains_.version(d, TenantId::all());
            registrations.push_back(row);
        }
    }
    return registrations;
}

void BatchPlan::reset(const std::vector<VersionRow> &persisted,
                      const std::vector<VersionRow> &persisted_floors,
                      uint64_t highest_shared_floor) {
    for (const VersionRow &r : persisted)
        pairs_.add(domains_.intern(r.domain).key(), r.tenant, 0, kSourceReset);
    for (const VersionRow &f : persisted_floors)
        floor_ = std::max(floor_, f.version);
    floor_ = std::max(floor_, highest_shared_floor) + 1;
    reset_ = true;
}

void BatchPlan::expand_cascades(CascadeRules &rules) {
    if (rules.empty())
        return;
    std::vector<PairKey> direct;
    direct.reserve(pairs_.size());
    pairs_.for_each([&](const PairKey &key, uint32_t) { direct.push_back(key); });
    PairSet notified(64);
    for (const PairKey &key : direct) {
        const std::vector<Reached> *reached =
            rules.closure(domains_.name(DomainRef::from_key(key.domain_id)));
        if (reached == nullptr)
            continue;
        for (const Reached &r : *reached) {
            DomainRef target = domains_.intern(rules.name(r.domain));
            // A global target has one version, the all-tenants pair's.
            TenantId tenant = domains_.global(target) ? TenantId::all() : key.tenant;
            if (r.kind == RuleKind::kInvalidate) {
                // Transactions count only commits that changed a pair directly.
                cascaded_ += pairs_.add(target.key(), tenant, 0, kSourceCascade) ? 1 : 0;
                pairs_.add(target.key(), TenantId::all(), 0, kSourceCascade);
            } else if (notified.add(target.key(), tenant)) {
                notify_only_.push_back(PairKey{target.key(), tenant});
            }
        }
    }
    // A notify-only target that is also bumped is announced with its bump.
    notify_only_.erase(std::remove_if(notify_only_.begin(), notify_only_.end(),
                                      [&](const PairKey &k) {
                                          return pairs_.contains(k.domain_id, k.tenant);
                                      }),
                       notify_only_.end());
}

std::vector<VersionRow> BatchPlan::proposed(bool replay) const {
    std::vector<VersionRow> rows;
    rows.reserve(pairs_.size());
    pairs_.for_each([&](const PairKey &key, uint32_t xacts) {
        DomainRef d = DomainRef::from_key(key.domain_id);
        VersionRow row{};
        row.tenant = key.tenant;
        row.domain = domains_.name(d);
        uint64_t current = std::max(domains_.version(d, key.tenant), floor_);
        for (const auto &[k, at_least] : lifts_)
            if (k == key)
                current = std::max(current, at_least);
        row.step = replay ? 0 : xacts > 0 ? xacts : 1;
        row.version = current + row.step;
        rows.push_back(row);
    });
    return rows;
}

Outcome BatchPlan::finish(const std::vector<VersionRow> &stored) const {
    Outcome out;
    for (const VersionRow &r : stored) {
        if (!r.tenant.is_all())
            continue;
        DomainRef d = domains_.intern(r.domain);
        if (!floor_domains_.contains(d.key(), TenantId::all()))
            continue;
        VersionRow f = r;
        if (!floor_to_all_.contains(d.key(), TenantId::all()) && !d.spilled)
            f.version = std::max(floor_, domains_.domain_floor(d)) + 1;
        out.new_floors.push_back(f);
    }
    // A global domain's floor follows its one version: if it ever becomes
    // tenant-scoped without the worker being told (a registration lost to a
    // crash), no tenant reads below what it read while the domain was global.
    for (const VersionRow &r : stored) {
        DomainRef d = domains_.intern(r.domain);
        if (r.tenant.is_all() && domains_.global(d) &&
            !floor_domains_.contains(d.key(), TenantId::all()))
            out.quiet_floors.push_back(r);
    }
    out.announcements.reserve(stored.size() + notify_only_.size());
    for (const VersionRow &r : stored) {
        uint64_t announced_floor = 0;
        if (r.tenant.is_all())
            for (const VersionRow &f : out.new_floors)
                if (f.domain.equals(r.domain.bytes, r.domain.length()))
                    announced_floor = f.version;
        out.announcements.push_back(
            notify::Announcement{r.tenant, r.domain, r.version, announced_floor});
    }
    for (const PairKey &k : notify_only_) {
        DomainRef d = DomainRef::from_key(k.domain_id);
        out.announcements.push_back(
            notify::Announcement{k.tenant, domains_.name(d), domains_.version(d, k.tenant), 0});
    }
    return out;
}

const PairSet::Slot *BatchPlan::find(const VersionRow &row) const {
    return pairs_.find(domains_.intern(row.domain).key(), row.tenant);
}

std::string PersistGroup::key(const DomainName &domain, const TenantId &tenant) {
    std::string k(domain.bytes, domain.length());
    k.push_back('\0');
    k.append(reinterpret_cast<const char *>(tenant.bytes), sizeof tenant.bytes);
    return k;
}

void PersistGroup::merge(const std::vector<VersionRow> &rows) {
    for (const VersionRow &r : rows) {
        auto [it, fresh] = row_at_.try_emplace(key(r.domain, r.tenant), rows_.size());
        if (fresh) {
            rows_.push_back(r);
            continue;
        }
        // A later batch's version is above the earlier one's by its own step.
        VersionRow &held = rows_[it->second];
        held.step += r.step;
        held.version = r.version;
        held.last_modified = r.last_modified;
    }
}

void PersistGroup::add(const std::vector<VersionRow> &rows, const Outcome &outcome,
                       uint64_t lsn) {
    // A group of one batch (a large transaction, say) needs no index.
    if (batches_++ == 0) {
        rows_ = rows;
    } else {
        if (row_at_.empty())
            for (std::size_t i = 0; i < rows_.size(); i++)
                row_at_.emplace(key(rows_[i].domain, rows_[i].tenant), i);
        merge(rows);
    }
    for (notify::Announcement a : outcome.announcements) {
        a.lsn = lsn;
        announcements_.push_back(a);
    }
    for (const VersionRow &f : outcome.quiet_floors) {
        auto [it, fresh] = quiet_at_.try_emplace(key(f.domain, TenantId::all()), quiet_.size());
        if (fresh)
            quiet_.push_back(f);
        else
            quiet_[it->second].version = std::max(quiet_[it->second].version, f.version);
    }
}

}  // namespace fraiseql_cache::plan
