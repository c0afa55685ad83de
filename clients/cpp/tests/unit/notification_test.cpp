#include <gtest/gtest.h>

#include "fraiseql_cache/client/notification.hpp"

namespace fraiseql_cache::client {
namespace {

const char *kTenant = "00000000-0000-0000-0000-00000000000a";

TEST(Notification, ParsesTheWorkersObjectFormat) {
    auto u = parse_notification(
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "contract", "version": 43})");
    ASSERT_TRUE(u.has_value());
    ASSERT_EQ(u->size(), 1u);
    EXPECT_EQ((*u)[0].pair.tenant, kTenant);
    EXPECT_EQ((*u)[0].pair.domain, "contract");
    EXPECT_EQ((*u)[0].version, 43);
}

TEST(Notification, ReadsTheDomainFloorOfAWholeDomainBump) {
    auto u = parse_notification(
        R"({"tenant_id": "00000000-0000-0000-0000-000000000000", "domain": "contract", )"
        R"("version": 50, "domain_floor": 48})");
    ASSERT_TRUE(u.has_value());
    EXPECT_EQ((*u)[0].version, 50);
    EXPECT_EQ((*u)[0].domain_floor, 48);
    auto plain = parse_notification(
        R"({"tenant_id": "00000000-0000-0000-0000-000000000000", "domain": "contract", "version": 50})");
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ((*plain)[0].domain_floor, 0) << "no floor unless the payload names one";
}

TEST(Notification, ParsesArraysInOrder) {
    auto u = parse_notification(
        R"([{"tenant_id": "00000000-0000-0000-0000-00000000000A", "domain": "a", "version": 1},)"
        R"( {"version": 9223372036854775807, "domain": "b", "tenant_id": "00000000-0000-0000-0000-000000000000"}])");
    ASSERT_TRUE(u.has_value());
    ASSERT_EQ(u->size(), 2u);
    EXPECT_EQ((*u)[0].pair.tenant, kTenant) << "tenant ids are normalised to lower case";
    EXPECT_EQ((*u)[0].pair.domain, "a");
    EXPECT_EQ((*u)[1].pair.tenant, "00000000-0000-0000-0000-000000000000");
    EXPECT_EQ((*u)[1].version, 9223372036854775807LL);
}

TEST(Notification, EmptyArrayIsValidAndEmpty) {
    auto u = parse_notification(" [ ] ");
    ASSERT_TRUE(u.has_value());
    EXPECT_TRUE(u->empty());
}

TEST(Notification, DecodesEscapedDomains) {
    auto u = parse_notification(
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "we\"ird\\d\u00e9\ud83d\ude00\n", "version": 2})");
    ASSERT_TRUE(u.has_value());
    EXPECT_EQ((*u)[0].pair.domain, "we\"ird\\d\xc3\xa9\xf0\x9f\x98\x80\n");
}

TEST(Notification, IgnoresUnknownMembers) {
    auto u = parse_notification(
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "extra": {"x": [1, 2.5e3, null, true]}, "domain": "d", "version": 7, "at": "now"})");
    ASSERT_TRUE(u.has_value());
    EXPECT_EQ((*u)[0].version, 7);
}

TEST(Notification, RefusesMalformedPayloads) {
    const char *bad[] = {
        "",
        "not json",
        "{}",
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "d"})",
        R"({"tenant_id": "nope", "domain": "d", "version": 1})",
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "", "version": 1})",
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "d", "version": -1})",
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "d", "version": 1.5})",
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "d", "version": "1"})",
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "d", "version": 99999999999999999999})",
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "d", "version": 1} trailing)",
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "d", "version": 1)",
        R"([{"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "d", "version": 1},])",
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "bad\q", "version": 1})",
        R"({"tenant_id": "00000000-0000-0000-0000-00000000000a", "domain": "\ud83d", "version": 1})",
    };
    for (const char *p : bad)
        EXPECT_FALSE(parse_notification(p).has_value()) << p;
}

}  // namespace
}  // namespace fraiseql_cache::client
