// The backend's recorded domain keys: a local id and the kind of bump.
#include "pg_fraiseql_cache/pending.hpp"

#include <gtest/gtest.h>

namespace fraiseql_cache::pending {
namespace {

TEST(Recorded, EveryKindRoundTripsThroughItsKey) {
    for (uint32_t local : {0u, 1u, 12345u, (1u << 29) - 1})
        for (int kinds = 0; kinds < 8; kinds++) {
            Recorded r{local, (kinds & 1) != 0, (kinds & 2) != 0, (kinds & 4) != 0};
            Recorded back = Recorded::from_key(r.key());
            EXPECT_EQ(back.local, local);
            EXPECT_EQ(back.whole_domain, r.whole_domain);
            EXPECT_EQ(back.manual, r.manual);
            EXPECT_EQ(back.registration, r.registration);
        }
}

TEST(Recorded, ARowChangeIsKeyedByTheLocalIdAlone) {
    // The trigger's hot path adds the bare id: no kind bits to compute.
    EXPECT_EQ(Recorded::row(77).key(), 77u);
    // Kinds of one domain are distinct pairs in the set.
    EXPECT_NE(Recorded::row(77).key(), (Recorded{77, true, false, false}.key()));
    EXPECT_NE((Recorded{77, false, true, false}.key()), (Recorded{77, false, false, true}.key()));
}

}  // namespace
}  // namespace fraiseql_cache::pending
