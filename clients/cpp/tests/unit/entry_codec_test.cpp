#include <gtest/gtest.h>

#include "fraiseql_cache/client/entry_codec.hpp"

namespace fraiseql_cache::client {
namespace {

TEST(EntryCodec, RoundTripsBinaryValuesAndOddDomains) {
    StoredEntry e;
    e.domains = {"contract", "we ird\n", ""};
    e.versions = {43, 0, 9223372036854775807LL};
    e.value = std::string("a\0b\nFCE1 2\n", 11);
    auto back = decode_entry(encode_entry(e));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, e);
}

TEST(EntryCodec, EmptyEntry) {
    StoredEntry e;
    auto back = decode_entry(encode_entry(e));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, e);
}

TEST(EntryCodec, RefusesForeignOrTruncatedBytes) {
    StoredEntry e{{"contract", "item"}, {4, 5}, "value"};
    std::string bytes = encode_entry(e);
    EXPECT_FALSE(decode_entry("").has_value());
    EXPECT_FALSE(decode_entry("plain value").has_value());
    EXPECT_FALSE(decode_entry("FCE1 x\n").has_value());
    EXPECT_FALSE(decode_entry("FCE1 3\n1 1 a\n").has_value());
    EXPECT_FALSE(decode_entry("FCE1 1\n1 99 a\n").has_value());
    EXPECT_FALSE(decode_entry("FCE1 1\n99999999999999999999 1 a\n").has_value());
    // Every strict prefix that cuts into the header is refused.
    std::size_t header = bytes.size() - e.value.size();
    for (std::size_t n = 0; n < header; n++)
        EXPECT_FALSE(decode_entry(bytes.substr(0, n)).has_value()) << n;
}

}  // namespace
}  // namespace fraiseql_cache::client
