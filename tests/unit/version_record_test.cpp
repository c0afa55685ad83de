#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "pg_fraiseql_cache/pair.hpp"
#include "pg_fraiseql_cache/version_record.hpp"

using namespace fraiseql_cache;
using namespace fraiseql_cache::version_record;

namespace {

DomainName name(const char *s) {
    DomainName d{};
    DomainName::from(s, std::strlen(s), &d);
    return d;
}

TenantId tenant(uint8_t n) {
    TenantId t{};
    t.bytes[15] = n;
    return t;
}

struct Decoded {
    Header header{};
    std::vector<std::string> domains;
    std::vector<std::tuple<std::string, uint8_t, uint64_t>> pairs;
    std::vector<std::pair<std::string, uint64_t>> floors;
    std::vector<std::pair<std::string, bool>> scopes;
};

bool decode(const std::string &body, Decoded *out) {
    View v;
    if (!v.parse(body.data(), body.size()))
        return false;
    out->header = v.header();
    v.for_each_domain([&](uint32_t, const char *n, std::size_t len) {
        out->domains.emplace_back(n, len);
    });
    v.for_each_pair([&](uint32_t i, const TenantId &t, uint64_t version) {
        out->pairs.emplace_back(out->domains.at(i), t.bytes[15], version);
    });
    v.for_each_floor([&](uint32_t i, uint64_t f) { out->floors.emplace_back(out->domains.at(i), f); });
    v.for_each_scope([&](uint32_t i, bool g) { out->scopes.emplace_back(out->domains.at(i), g); });
    return true;
}

}  // namespace

TEST(VersionRecord, RoundTripsPairsFloorsAndScopesNamingEachDomainOnce) {
    Encoder e(16384, -5, 849000000000000ull);
    e.pair(name("contract"), tenant(1), 10);
    e.pair(name("item"), tenant(2), 11);
    e.pair(name("contract"), tenant(3), (uint64_t(1) << 53) - 1);
    e.floor(name("item"), 7);
    e.scope(name("setting"), true);
    e.scope(name("contract"), false);
    Decoded d;
    ASSERT_TRUE(decode(e.finish(), &d));
    EXPECT_EQ(d.header.database, 16384u);
    EXPECT_EQ(d.header.at, -5);
    EXPECT_EQ(d.header.floor, 849000000000000ull);
    EXPECT_EQ(d.domains, (std::vector<std::string>{"contract", "item", "setting"}));
    ASSERT_EQ(d.pairs.size(), 3u);
    EXPECT_EQ(d.pairs[0], std::make_tuple(std::string("contract"), uint8_t(1), uint64_t(10)));
    EXPECT_EQ(d.pairs[1], std::make_tuple(std::string("item"), uint8_t(2), uint64_t(11)));
    EXPECT_EQ(std::get<2>(d.pairs[2]), (uint64_t(1) << 53) - 1);
    EXPECT_EQ(d.floors, (std::vector<std::pair<std::string, uint64_t>>{{"item", 7}}));
    EXPECT_EQ(d.scopes,
              (std::vector<std::pair<std::string, bool>>{{"setting", true}, {"contract", false}}));
}

TEST(VersionRecord, EmptyRecordCarriesTheFloorOnly) {
    Encoder e(1, 0, 99);
    EXPECT_TRUE(e.empty());
    Decoded d;
    ASSERT_TRUE(decode(e.finish(), &d));
    EXPECT_EQ(d.header.floor, 99u);
    EXPECT_TRUE(d.pairs.empty() && d.floors.empty() && d.scopes.empty() && d.domains.empty());
}

TEST(VersionRecord, RefusesEveryTruncationAndBadIndexes) {
    Encoder e(1, 2, 3);
    e.pair(name("contract"), tenant(1), 10);
    e.floor(name("item"), 7);
    e.scope(name("item"), true);
    const std::string body = e.finish();
    View v;
    ASSERT_TRUE(v.parse(body.data(), body.size()));
    for (std::size_t n = 0; n < body.size(); n++)
        EXPECT_FALSE(v.parse(body.data(), n)) << "accepted a body cut to " << n << " bytes";
    std::string longer = body + '\0';
    EXPECT_FALSE(v.parse(longer.data(), longer.size()));

    // The pair's domain index (right after the header and both names) out of range.
    std::string bad = body;
    const std::size_t pair_at = kHeaderBytes + (1 + 8) + (1 + 4);
    uint32_t index = 2;
    std::memcpy(&bad[pair_at], &index, sizeof index);
    EXPECT_FALSE(v.parse(bad.data(), bad.size()));
    index = 1;
    std::memcpy(&bad[pair_at], &index, sizeof index);
    EXPECT_TRUE(v.parse(bad.data(), bad.size()));

    // A domain name of length 0, or longer than a domain may be.
    std::string zero = body;
    zero[kHeaderBytes] = 0;
    EXPECT_FALSE(v.parse(zero.data(), zero.size()));
    std::string huge = body;
    huge[kHeaderBytes] = char(kDomainMaxBytes + 1);
    EXPECT_FALSE(v.parse(huge.data(), huge.size()));
}
