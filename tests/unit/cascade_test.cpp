// CascadeGraph: which domains a bump of one domain also reaches.
//
// closure(source): every domain reached through invalidate rules,
// transitively; a notify rule reaches its target (from the source or from
// any invalidated domain) but is not followed; a domain both notified and
// invalidated counts as invalidated; the source itself is never reported;
// cycles terminate. Checked on hand-made graphs and, for every rule order,
// against a straightforward reference on random graphs.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "pg_fraiseql_cache/cascade.hpp"

using namespace fraiseql_cache;

namespace {

constexpr RuleKind I = RuleKind::kInvalidate;
constexpr RuleKind N = RuleKind::kNotify;

// domain -> kind, failing on a domain reported twice.
std::map<uint32_t, RuleKind> as_map(const std::vector<Reached> &reached) {
    std::map<uint32_t, RuleKind> m;
    for (const Reached &r : reached) {
        bool inserted = m.emplace(r.domain, r.kind).second;
        EXPECT_TRUE(inserted) << "domain " << r.domain << " reported twice";
    }
    return m;
}

std::map<uint32_t, RuleKind> closure_of(CascadeGraph &g, uint32_t source) {
    return as_map(g.closure(source));
}

std::string describe(const std::map<uint32_t, RuleKind> &m) {
    std::string s = "{";
    for (const auto &[d, k] : m)
        s += " " + std::to_string(d) + (k == I ? ":inv" : ":notify");
    return s + " }";
}

// The specification, written the obvious way: breadth-first over
// invalidate edges, then one notify hop from the source and everything it
// invalidated.
std::map<uint32_t, RuleKind> reference(const std::vector<Rule> &rules, uint32_t source) {
    std::set<uint32_t> invalidated;
    std::vector<uint32_t> queue{source};
    std::set<uint32_t> visited{source};
    for (std::size_t i = 0; i < queue.size(); i++)
        for (const Rule &r : rules)
            if (r.source == queue[i] && r.kind == I && visited.insert(r.target).second) {
                queue.push_back(r.target);
                invalidated.insert(r.target);
            }
    std::map<uint32_t, RuleKind> out;
    for (uint32_t d : invalidated)
        out[d] = I;
    for (const Rule &r : rules)
        if (r.kind == N && visited.count(r.source) && !visited.count(r.target))
            out[r.target] = N;
    return out;
}

}  // namespace

TEST(Cascade, EmptyGraphReachesNothing) {
    CascadeGraph g;
    EXPECT_TRUE(g.empty());
    EXPECT_TRUE(g.closure(1).empty());
    g.assign({});
    EXPECT_TRUE(g.empty());
    EXPECT_TRUE(g.closure(1).empty());
}

TEST(Cascade, DomainWithoutRulesReachesNothing) {
    CascadeGraph g;
    g.assign({{1, 2, I}});
    EXPECT_FALSE(g.empty());
    EXPECT_TRUE(g.closure(2).empty()) << "rules are directed";
    EXPECT_TRUE(g.closure(7).empty());
}

TEST(Cascade, InvalidateIsTransitive) {
    CascadeGraph g;
    g.assign({{1, 2, I}, {2, 3, I}, {3, 4, I}, {10, 11, I}});
    EXPECT_EQ(closure_of(g, 1), (std::map<uint32_t, RuleKind>{{2, I}, {3, I}, {4, I}}));
    EXPECT_EQ(closure_of(g, 2), (std::map<uint32_t, RuleKind>{{3, I}, {4, I}}));
    EXPECT_EQ(closure_of(g, 4), (std::map<uint32_t, RuleKind>{}));
}

TEST(Cascade, FanOutAndDiamondReportEachDomainOnce) {
    CascadeGraph g;
    g.assign({{1, 2, I}, {1, 3, I}, {2, 4, I}, {3, 4, I}, {4, 5, I}});
    EXPECT_EQ(closure_of(g, 1), (std::map<uint32_t, RuleKind>{{2, I}, {3, I}, {4, I}, {5, I}}));
    EXPECT_EQ(g.closure(1).size(), 4u);
}

TEST(Cascade, NotifyIsOneHopAndNotFollowed) {
    CascadeGraph g;
    g.assign({{1, 2, N}, {2, 3, I}, {2, 4, N}});
    EXPECT_EQ(closure_of(g, 1), (std::map<uint32_t, RuleKind>{{2, N}}));
    EXPECT_EQ(closure_of(g, 2), (std::map<uint32_t, RuleKind>{{3, I}, {4, N}}));
}

TEST(Cascade, NotifyAfterInvalidateChain) {
    // 1 -inv-> 2 -notify-> 3 -inv-> 4: 2 invalidated, 3 announced, 4 untouched.
    CascadeGraph g;
    g.assign({{1, 2, I}, {2, 3, N}, {3, 4, I}});
    EXPECT_EQ(closure_of(g, 1), (std::map<uint32_t, RuleKind>{{2, I}, {3, N}}));
}

TEST(Cascade, CyclesTerminateAndExcludeTheSource) {
    CascadeGraph g;
    g.assign({{1, 2, I}, {2, 3, I}, {3, 1, I}});
    EXPECT_EQ(closure_of(g, 1), (std::map<uint32_t, RuleKind>{{2, I}, {3, I}}));
    EXPECT_EQ(closure_of(g, 2), (std::map<uint32_t, RuleKind>{{1, I}, {3, I}}));
    EXPECT_EQ(closure_of(g, 3), (std::map<uint32_t, RuleKind>{{1, I}, {2, I}}));
}

TEST(Cascade, SelfRulesAndTwoCycles) {
    CascadeGraph g;
    g.assign({{1, 1, I}, {2, 2, N}, {3, 4, I}, {4, 3, I}, {5, 6, I}, {6, 5, N}});
    EXPECT_TRUE(g.closure(1).empty());
    EXPECT_TRUE(g.closure(2).empty());
    EXPECT_EQ(closure_of(g, 3), (std::map<uint32_t, RuleKind>{{4, I}}));
    // A notify rule back to the source does not report the source.
    EXPECT_EQ(closure_of(g, 5), (std::map<uint32_t, RuleKind>{{6, I}}));
}

TEST(Cascade, NotifiedAndInvalidatedCountsAsInvalidated) {
    // 2 is announced directly and invalidated through 3, in either rule
    // order; once invalidated its own rules apply (2 -> 4).
    std::vector<Rule> rules{{1, 2, N}, {1, 3, I}, {3, 2, I}, {2, 4, I}};
    const std::map<uint32_t, RuleKind> expected{{2, I}, {3, I}, {4, I}};
    std::sort(rules.begin(), rules.end(), [](const Rule &a, const Rule &b) {
        return std::tie(a.source, a.target) < std::tie(b.source, b.target);
    });
    do {
        CascadeGraph g;
        g.assign(rules);
        EXPECT_EQ(closure_of(g, 1), expected) << describe(closure_of(g, 1));
    } while (std::next_permutation(rules.begin(), rules.end(), [](const Rule &a, const Rule &b) {
        return std::tie(a.source, a.target) < std::tie(b.source, b.target);
    }));

    // Both kinds on the same edge: invalidate wins.
    for (bool notify_first : {true, false}) {
        CascadeGraph g;
        if (notify_first)
            g.assign({{1, 2, N}, {1, 2, I}, {2, 3, I}});
        else
            g.assign({{1, 2, I}, {1, 2, N}, {2, 3, I}});
        EXPECT_EQ(closure_of(g, 1), (std::map<uint32_t, RuleKind>{{2, I}, {3, I}}))
            << (notify_first ? "notify rule first" : "invalidate rule first");
    }
}

TEST(Cascade, ClosureIsCachedAndStable) {
    CascadeGraph g;
    g.assign({{1, 2, I}, {2, 3, N}});
    const std::vector<Reached> &a = g.closure(1);
    const std::vector<Reached> &b = g.closure(1);
    EXPECT_EQ(&a, &b) << "the second call is answered from the cache";
    EXPECT_EQ(as_map(a), (std::map<uint32_t, RuleKind>{{2, I}, {3, N}}));
    // Closures of other sources do not disturb a cached one.
    (void)g.closure(2);
    (void)g.closure(3);
    EXPECT_EQ(as_map(g.closure(1)), (std::map<uint32_t, RuleKind>{{2, I}, {3, N}}));
}

TEST(Cascade, AssignReplacesRulesAndResetsTheCache) {
    CascadeGraph g;
    g.assign({{1, 2, I}, {2, 3, I}});
    EXPECT_EQ(closure_of(g, 1), (std::map<uint32_t, RuleKind>{{2, I}, {3, I}}));
    EXPECT_TRUE(g.closure(5).empty());

    g.assign({{1, 4, N}, {5, 6, I}});
    EXPECT_EQ(closure_of(g, 1), (std::map<uint32_t, RuleKind>{{4, N}}))
        << "a closure cached before assign() must not survive it";
    EXPECT_EQ(closure_of(g, 5), (std::map<uint32_t, RuleKind>{{6, I}}))
        << "a cached empty closure must not survive assign()";

    g.assign({});
    EXPECT_TRUE(g.empty());
    EXPECT_TRUE(g.closure(1).empty());
    EXPECT_TRUE(g.closure(5).empty());
}

TEST(Cascade, LongChainAndLargeCycle) {
    // Iterative, not recursive: a long chain must not exhaust the stack.
    const uint32_t n = 100000;
    std::vector<Rule> rules;
    for (uint32_t d = 0; d < n; d++)
        rules.push_back(Rule{d, (d + 1) % n, I});
    CascadeGraph g;
    g.assign(rules);
    std::map<uint32_t, RuleKind> c = closure_of(g, 0);
    EXPECT_EQ(c.size(), n - 1);
    EXPECT_EQ(c.count(0), 0u);
    for (uint32_t d = 1; d < n; d++)
        if (c[d] != I) {
            ADD_FAILURE() << "domain " << d << " not invalidated";
            break;
        }
}

TEST(Cascade, MatchesReferenceOnRandomGraphsInAnyRuleOrder) {
    std::mt19937 rng(20240531);
    for (int round = 0; round < 400; round++) {
        const uint32_t domains = 2 + rng() % 9;
        const uint32_t edges = rng() % (domains * 3);
        std::vector<Rule> rules;
        std::set<std::pair<uint32_t, uint32_t>> used;  // one rule per pair, like the table's PK
        for (uint32_t e = 0; e < edges; e++) {
            uint32_t s = rng() % domains, t = rng() % domains;
            if (!used.insert({s, t}).second)
                continue;
            rules.push_back(Rule{s, t, (rng() % 3 == 0) ? N : I});
        }
        for (int shuffle = 0; shuffle < 4; shuffle++) {
            std::shuffle(rules.begin(), rules.end(), rng);
            CascadeGraph g;
            g.assign(rules);
            for (uint32_t s = 0; s < domains; s++) {
                std::map<uint32_t, RuleKind> want = reference(rules, s);
                std::map<uint32_t, RuleKind> got = closure_of(g, s);
                if (got != want) {
                    std::string r;
                    for (const Rule &rule : rules)
                        r += " " + std::to_string(rule.source) +
                             (rule.kind == I ? "-i->" : "-n->") + std::to_string(rule.target);
                    ADD_FAILURE() << "round " << round << ", source " << s << ", rules" << r
                                  << ": got " << describe(got) << ", want " << describe(want);
                    return;
                }
            }
        }
    }
}
