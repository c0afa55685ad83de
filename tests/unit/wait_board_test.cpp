#include "pg_fraiseql_cache/wait_board.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace fraiseql_cache {
namespace {

TEST(WaitBoard, WakesExactlyTheWaitersAPositionSatisfies) {
    std::vector<uint64_t> memory(8, 99);
    WaitBoard board = WaitBoard::create(memory.data(), memory.size());
    EXPECT_TRUE(board.covers(7));
    EXPECT_FALSE(board.covers(8));
    EXPECT_FALSE(board.covers(-1));
    board.announce(1, 10, false);
    board.announce(4, 20, false);
    board.announce(6, 11, false);
    std::vector<int> woken;
    board.wake_due(11, 0, [&](int p) { woken.push_back(p); });
    EXPECT_EQ(woken, (std::vector<int>{1, 6}));
    board.withdraw(1);
    woken.clear();
    board.wake_due(25, 0, [&](int p) { woken.push_back(p); });
    EXPECT_EQ(woken, (std::vector<int>{4, 6}));
}

// wait_for_bump = persisted: woken by the ring's tail, not by publication.
TEST(WaitBoard, PersistedWaitersWakeWhenTheirPositionIsReleased) {
    std::vector<uint64_t> memory(4, 0);
    WaitBoard board = WaitBoard::create(memory.data(), memory.size());
    EXPECT_FALSE(board.any_persisted());
    board.announce(1, 10, false);
    EXPECT_FALSE(board.any_persisted());
    board.announce(0, 10, true);
    EXPECT_TRUE(board.any_persisted());
    std::vector<int> woken;
    board.wake_due(10, 9, [&](int p) { woken.push_back(p); });  // published, not yet persisted
    EXPECT_EQ(woken, (std::vector<int>{1}));
    woken.clear();
    board.wake_due(10, 10, [&](int p) { woken.push_back(p); });
    EXPECT_EQ(woken, (std::vector<int>{0, 1}));
}

// A waiter announcing while the worker publishes: it either sees its
// position published or is woken, never neither.
TEST(WaitBoard, NoWakeUpIsMissedUnderRaces) {
    constexpr int kRounds = 3000;
    std::vector<uint64_t> memory(2, 0);
    WaitBoard board = WaitBoard::create(memory.data(), memory.size());
    uint64_t published = 0;
    std::atomic<int> woken_round{-1};
    std::atomic<int> go{-1};
    std::atomic<int> finished{-1};
    int missed = 0;
    std::thread worker([&] {
        for (int r = 0; r < kRounds; r++) {
            while (go.load(std::memory_order_acquire) != r)
                std::this_thread::yield();
            atomics::store_release(&published, uint64_t(r) + 1);
            board.wake_due(uint64_t(r) + 1, 0, [&](int) { woken_round.store(r); });
            finished.store(r, std::memory_order_release);
        }
    });
    for (int r = 0; r < kRounds; r++) {
        go.store(r, std::memory_order_release);
        board.announce(0, uint64_t(r) + 1, false);
        bool saw = atomics::load_acquire(&published) >= uint64_t(r) + 1;
        // The worker's round finished: judge.
        while (finished.load(std::memory_order_acquire) != r)
            std::this_thread::yield();
        if (!saw && woken_round.load() != r)
            missed++;
        board.withdraw(0);
    }
    worker.join();
    EXPECT_EQ(missed, 0);
}

}  // namespace
}  // namespace fraiseql_cache
