#include <gtest/gtest.h>

#include "fraiseql_cache/client/backoff.hpp"

namespace fraiseql_cache::client {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesWithJitterUpToTheCap) {
    Backoff b(milliseconds(100), milliseconds(1000), 7);
    long long expected_base[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (long long base : expected_base) {
        long long d = b.next().count();
        EXPECT_GE(d, base / 2);
        EXPECT_LE(d, base);
    }
}

TEST(Backoff, ResetStartsAgain) {
    Backoff b(milliseconds(100), milliseconds(10000), 7);
    for (int i = 0; i < 6; i++)
        b.next();
    EXPECT_GT(b.attempt(), 0u);
    b.reset();
    EXPECT_LE(b.next().count(), 100);
}

TEST(Backoff, ManyAttemptsDoNotOverflow) {
    Backoff b(milliseconds(1), milliseconds(5000), 7);
    for (int i = 0; i < 200; i++) {
        long long d = b.next().count();
        ASSERT_GE(d, 1);
        ASSERT_LE(d, 5000);
    }
}

}  // namespace
}  // namespace fraiseql_cache::client
