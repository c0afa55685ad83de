// Micro benchmarks of the server-free data structures.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "pg_fraiseql_cache/domain_dict.hpp"
#include "pg_fraiseql_cache/pair_set.hpp"
#include "pg_fraiseql_cache/ring.hpp"
#include "pg_fraiseql_cache/version_table.hpp"

using namespace fraiseql_cache;

namespace {

class Memory {
  public:
    explicit Memory(std::size_t bytes) : memory_(::operator new(bytes, std::align_val_t(64))) {
        std::memset(memory_, 0, bytes);
    }
    ~Memory() { ::operator delete(memory_, std::align_val_t(64)); }
    Memory(const Memory &) = delete;
    Memory &operator=(const Memory &) = delete;
    void *get() const { return memory_; }

  private:
    void *memory_;
};

TenantId tenant_of(uint64_t n) {
    TenantId t{};
    uint64_t a = hash_bytes(&n, sizeof n);
    std::memcpy(t.bytes, &a, 8);
    std::memcpy(t.bytes + 8, &n, 8);
    return t;
}

uint64_t next_random(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

void fill(RingSlot &slot, uint64_t n) {
    slot.database = 1;
    slot.flags = 0;
    slot.tenant = tenant_of(n);
    DomainName::from("orders", 6, &slot.domain);
}

constexpr uint64_t kRingCapacity = 4096;

// One thread claims, fills, publishes, reads and releases `batch` pairs.
void BM_RingSingleThread(benchmark::State &state) {
    const uint64_t batch = uint64_t(state.range(0));
    Memory mem(Ring::bytes_needed(kRingCapacity));
    Ring ring = Ring::create(mem.get(), kRingCapacity);
    uint64_t read_pos = 0;
    for (auto _ : state) {
        uint64_t first = 0;
        uint64_t got = ring.claim(batch, &first);
        for (uint64_t k = 0; k < got; k++) {
            fill(ring.slot(first + k), first + k);
            ring.publish(first + k);
        }
        RingSlot out;
        while (ring.read(read_pos, &out)) {
            benchmark::DoNotOptimize(out);
            read_pos++;
        }
        ring.release(read_pos);
    }
    state.SetItemsProcessed(int64_t(read_pos));
}
BENCHMARK(BM_RingSingleThread)->Arg(1)->Arg(8);

// Benchmark threads are producers; a background thread is the consumer.
struct SharedRing {
    std::unique_ptr<Memory> memory;
    Ring ring;
    std::thread consumer;
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> consumed{0};
    std::atomic<uint64_t> full_waits{0};
};
SharedRing shared_ring;

void consume(SharedRing *s) {
    uint64_t pos = 0;
    RingSlot out;
    for (;;) {
        if (s->ring.read(pos, &out)) {
            benchmark::DoNotOptimize(out);
            if ((++pos & 63) == 0)
                s->ring.release(pos);
            continue;
        }
        s->ring.release(pos);
        if (s->stop.load(std::memory_order_acquire) && pos == s->ring.head())
            break;
        std::this_thread::yield();
    }
    s->consumed.store(pos);
}

void BM_RingProducers(benchmark::State &state) {
    const uint64_t batch = uint64_t(state.range(0));
    if (state.thread_index() == 0) {
        shared_ring.memory = std::make_unique<Memory>(Ring::bytes_needed(kRingCapacity));
        shared_ring.ring = Ring::create(shared_ring.memory->get(), kRingCapacity);
        shared_ring.stop.store(false);
        shared_ring.full_waits.store(0);
        shared_ring.consumer = std::thread(consume, &shared_ring);
    }
    Ring &ring = shared_ring.ring;
    uint64_t items = 0;
    uint64_t full_waits = 0;
    for (auto _ : state) {
        uint64_t first = 0;
        uint64_t got;
        while ((got = ring.claim(batch, &first)) == 0) {
            full_waits++;
            std::this_thread::yield();
        }
        for (uint64_t k = 0; k < got; k++) {
            fill(ring.slot(first + k), first + k);
            ring.publish(first + k);
        }
        items += got;
    }
    state.SetItemsProcessed(int64_t(items));
    shared_ring.full_waits.fetch_add(full_waits);
    if (state.thread_index() == 0) {
        shared_ring.stop.store(true, std::memory_order_release);
        shared_ring.consumer.join();
        state.counters["full_waits"] = double(shared_ring.full_waits.load());
        state.counters["high_water"] = double(ring.high_water());
        shared_ring.memory.reset();
    }
}
BENCHMARK(BM_RingProducers)->Arg(1)->Arg(8)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

constexpr uint64_t kTableKeys = 32768;

// Lookup hits on a table half full of keys; range(0) = 1 runs a writer
// that keeps bumping random keys meanwhile, as the worker does.
void BM_VersionTableLookupHit(benchmark::State &state) {
    const bool with_writer = state.range(0) != 0;
    Memory mem(VersionTable::bytes_needed(2 * kTableKeys));
    VersionTable table = VersionTable::create(mem.get(), 2 * kTableKeys);
    std::vector<TenantId> tenants(kTableKeys);
    for (uint64_t i = 0; i < kTableKeys; i++) {
        tenants[i] = tenant_of(i);
        table.store(uint32_t(i % 16), tenants[i], 1, 0);
    }
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> writes{0};
    std::thread writer;
    if (with_writer)
        writer = std::thread([&] {
            uint64_t rng = 88172645463325252ULL;
            uint64_t version = 2;
            while (!stop.load(std::memory_order_relaxed)) {
                for (int k = 0; k < 256; k++) {
                    uint64_t i = next_random(&rng) % kTableKeys;
                    table.store(uint32_t(i % 16), tenants[i], version, int64_t(version));
                    version++;
                }
                writes.fetch_add(256, std::memory_order_relaxed);
            }
        });

    uint64_t rng = 2463534242ULL;
    uint64_t misses = 0;
    for (auto _ : state) {
        uint64_t i = next_random(&rng) % kTableKeys;
        uint64_t v = 0;
        if (!table.lookup(uint32_t(i % 16), tenants[i], &v))
            misses++;
        benchmark::DoNotOptimize(v);
    }
    stop.store(true);
    if (writer.joinable())
        writer.join();
    if (misses != 0)
        state.SkipWithError("lookup missed a stored key");
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.counters["writer_stores"] = double(writes.load());
}
BENCHMARK(BM_VersionTableLookupHit)->Arg(0)->Arg(1)->ArgName("writer")->UseRealTime();

void BM_VersionTableLookupMiss(benchmark::State &state) {
    Memory mem(VersionTable::bytes_needed(2 * kTableKeys));
    VersionTable table = VersionTable::create(mem.get(), 2 * kTableKeys);
    for (uint64_t i = 0; i < kTableKeys; i++)
        table.store(uint32_t(i % 16), tenant_of(i), 1, 0);
    std::vector<TenantId> absent(kTableKeys);
    for (uint64_t i = 0; i < kTableKeys; i++)
        absent[i] = tenant_of(kTableKeys + i);
    uint64_t rng = 2463534242ULL;
    for (auto _ : state) {
        uint64_t i = next_random(&rng) % kTableKeys;
        uint64_t v = 0;
        benchmark::DoNotOptimize(table.lookup(uint32_t(i % 16), absent[i], &v));
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_VersionTableLookupMiss);

// The trigger's common case: every row of a statement touches one pair.
void BM_PairSetAddSamePair(benchmark::State &state) {
    PairSet set;
    TenantId t = tenant_of(7);
    for (auto _ : state)
        benchmark::DoNotOptimize(set.add(3, t));
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_PairSetAddSamePair);

// Rows alternate between two pairs, so the same-as-last shortcut misses.
void BM_PairSetAddAlternating(benchmark::State &state) {
    PairSet set;
    TenantId t[2] = {tenant_of(1), tenant_of(2)};
    uint64_t n = 0;
    for (auto _ : state)
        benchmark::DoNotOptimize(set.add(3, t[n++ & 1]));
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_PairSetAddAlternating);

// range(0) distinct pairs per transaction, then the commit-time clear().
void BM_PairSetAddDistinct(benchmark::State &state) {
    const uint64_t n = uint64_t(state.range(0));
    std::vector<TenantId> tenants(n);
    for (uint64_t i = 0; i < n; i++)
        tenants[i] = tenant_of(i);
    PairSet set;
    for (auto _ : state) {
        for (uint64_t i = 0; i < n; i++)
            benchmark::DoNotOptimize(set.add(uint32_t(i & 7), tenants[i]));
        set.clear();
    }
    state.SetItemsProcessed(int64_t(state.iterations() * n));
}
BENCHMARK(BM_PairSetAddDistinct)->Arg(16)->Arg(1024)->Arg(65536);

void BM_DomainDictFind(benchmark::State &state) {
    const int names = int(state.range(0));
    Memory mem(DomainDict::bytes_needed(1024));
    DomainDict dict = DomainDict::create(mem.get(), 1024);
    std::vector<std::string> hit, miss;
    for (int i = 0; i < names; i++) {
        hit.push_back("public.domain_" + std::to_string(i));
        miss.push_back("public.absent_" + std::to_string(i));
        dict.find_or_insert(hit.back().data(), hit.back().size());
    }
    const std::vector<std::string> &keys = state.range(1) ? hit : miss;
    uint64_t rng = 99991;
    for (auto _ : state) {
        const std::string &s = keys[next_random(&rng) % keys.size()];
        benchmark::DoNotOptimize(dict.find(s.data(), s.size()));
    }
    state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_DomainDictFind)->ArgNames({"names", "hit"})->Args({16, 1})->Args({512, 1})->Args({512, 0});

}  // namespace

BENCHMARK_MAIN();
