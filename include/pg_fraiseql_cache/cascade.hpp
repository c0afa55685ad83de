// Cascade rules: which domains a change in one domain also reaches.
//
// A rule source -> target of kind kInvalidate bumps (tenant, target) when
// (tenant, source) is bumped, and its own rules apply in turn (transitive
// closure); kNotify only announces the target's current version and goes no
// further. Cycles terminate: each domain is visited once per source.
// Pure code over integer domain ids, so it is unit-tested without a server.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace fraiseql_cache {

enum class RuleKind : uint8_t { kInvalidate, kNotify };

struct Rule {
    uint32_t source;
    uint32_t target;
    RuleKind kind;
};

struct Reached {
    uint32_t domain;
    RuleKind kind;
};

class CascadeGraph {
  public:
    void assign(const std::vector<Rule> &rules) {
        edges_.clear();
        closures_.clear();
        for (const Rule &r : rules)
            edges_[r.source].push_back(r);
    }
    bool empty() const { return edges_.empty(); }

    // Domains reached from `source`, excluding source itself. A domain that
    // is both invalidated and notified counts as invalidated.
    const std::vector<Reached> &closure(uint32_t source) {
        auto cached = closures_.find(source);
        if (cached != closures_.end())
            return cached->second;
        std::vector<Reached> out;
        std::unordered_map<uint32_t, RuleKind> seen;
        seen[source] = RuleKind::kInvalidate;
        std::vector<uint32_t> frontier{source};
        while (!frontier.empty()) {
            uint32_t d = frontier.back();
            frontier.pop_back();
            auto it = edges_.find(d);
            if (it == edges_.end())
                continue;
            for (const Rule &r : it->second) {
                auto s = seen.find(r.target);
                if (s != seen.end() &&
                    (s->second == RuleKind::kInvalidate || r.kind == RuleKind::kNotify))
                    continue;
                seen[r.target] = r.kind;
                if (r.kind == RuleKind::kInvalidate)
                    frontier.push_back(r.target);
            }
        }
        for (const auto &[domain, kind] : seen)
            if (domain != source)
                out.push_back(Reached{domain, kind});
        return closures_.emplace(source, std::move(out)).first->second;
    }

  private:
    std::unordered_map<uint32_t, std::vector<Rule>> edges_;
    std::unordered_map<uint32_t, std::vector<Reached>> closures_;
};

}  // namespace fraiseql_cache
