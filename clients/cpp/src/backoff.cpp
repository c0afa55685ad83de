#include "fraiseql_cache/client/backoff.hpp"

#include <algorithm>

namespace fraiseql_cache::client {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                 std::uint64_t seed)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, std::max(initial, std::chrono::milliseconds(1)))),
      rng_(seed) {}

std::chrono::milliseconds Backoff::next() {
    // base = initial * 2^attempt, capped (no overflow: stop doubling at the cap).
    std::chrono::milliseconds::rep base = initial_.count();
    for (unsigned i = 0; i < attempt_ && base < max_.count(); i++)
        base *= 2;
    base = std::min(base, max_.count());
    attempt_++;
    std::uniform_int_distribution<std::chrono::milliseconds::rep> jitter(base / 2, base);
    return std::chrono::milliseconds(std::max<std::chrono::milliseconds::rep>(1, jitter(rng_)));
}

}  // namespace fraiseql_cache::client
