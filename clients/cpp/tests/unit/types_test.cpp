#include <gtest/gtest.h>

#include <stdexcept>

#include "fraiseql_cache/client/types.hpp"
#include "sql_literals.hpp"

namespace fraiseql_cache::client {
namespace {

TEST(Tenant, NormalisesToCanonicalText) {
    EXPECT_EQ(normalize_tenant("6F1C2A3B-0000-4000-8000-0000000000AB"),
              "6f1c2a3b-0000-4000-8000-0000000000ab");
    EXPECT_EQ(normalize_tenant("{6f1c2a3b-0000-4000-8000-0000000000ab}"),
              "6f1c2a3b-0000-4000-8000-0000000000ab");
    EXPECT_EQ(normalize_tenant("6f1c2a3b000040008000" "0000000000ab"),
              "6f1c2a3b-0000-4000-8000-0000000000ab");
    EXPECT_EQ(normalize_tenant(kAllTenants), kAllTenants);
}

TEST(Tenant, RefusesWhatIsNotAUuid) {
    for (const char *bad : {"", "x", "6f1c2a3b-0000-4000-8000-0000000000a",
                            "6f1c2a3b-0000-4000-8000-0000000000abc", "6f1c2a3b+0000-4000-8000-0000000000ab",
                            "6f1c2a3b-0000-4000-8000-0000000000ag"})
        EXPECT_THROW(normalize_tenant(bad), std::invalid_argument) << bad;
}

TEST(SqlLiterals, TextArraysQuoteAndEscapeEveryElement) {
    EXPECT_EQ(detail::text_array_literal({}), "{}");
    EXPECT_EQ(detail::text_array_literal({"a"}), "{\"a\"}");
    EXPECT_EQ(detail::text_array_literal({"a,b", "c\"d", "e\\f", "NULL", ""}),
              "{\"a,b\",\"c\\\"d\",\"e\\\\f\",\"NULL\",\"\"}");
}

}  // namespace
}  // namespace fraiseql_cache::client
