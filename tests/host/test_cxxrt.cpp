// SPDX-License-Identifier: GPL-2.0
// cxxrt: counted allocation, alignment, failure reporting through
// AllocChecker, bad-free detection, and the constructor runner.
#include <forkscope/cxxrt.h>
#include <gtest/gtest.h>
#include <ktl/alloc_checker.h>

#include <cstdint>

#include "platform_host.h"

namespace {

forkscope_cxxrt_stats stats() {
  forkscope_cxxrt_stats s{};
  forkscope_cxxrt_get_stats(&s);
  return s;
}

TEST(Cxxrt, CountsLiveAllocationsAndBytes) {
  forkscope_cxxrt_stats before = stats();
  void* a = forkscope_cxxrt_alloc(100, 16);
  void* b = forkscope_cxxrt_alloc(28, 16);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  forkscope_cxxrt_stats during = stats();
  EXPECT_EQ(during.live_allocs, before.live_allocs + 2);
  EXPECT_EQ(during.live_bytes, before.live_bytes + 128);
  // The footprint: each block with its 32-byte header, as the host
  // allocator rounds it (16-byte granules): 100 + 32 -> 144, 28 + 32 -> 64.
  EXPECT_EQ(during.live_footprint_bytes, before.live_footprint_bytes + 144 + 64);
  forkscope_cxxrt_free(a);
  forkscope_cxxrt_free(b);
  forkscope_cxxrt_stats after = stats();
  EXPECT_EQ(after.live_allocs, before.live_allocs);
  EXPECT_EQ(after.live_bytes, before.live_bytes);
  EXPECT_EQ(after.live_footprint_bytes, before.live_footprint_bytes);
  EXPECT_EQ(after.allocs, before.allocs + 2);
}

TEST(Cxxrt, HonoursLargeAlignment) {
  for (forkscope_size_t align : {16u, 32u, 64u, 256u, 4096u}) {
    void* p = forkscope_cxxrt_alloc(10, align);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << "align " << align;
    forkscope_cxxrt_free(p);
  }
}

TEST(Cxxrt, RejectsNonPowerOfTwoAlignment) {
  forkscope_cxxrt_stats before = stats();
  EXPECT_EQ(forkscope_cxxrt_alloc(10, 48), nullptr);
  EXPECT_EQ(stats().alloc_failures, before.alloc_failures + 1);
}

struct alignas(64) Wide {
  char bytes[64];
};

TEST(Cxxrt, AllocCheckerReportsFailure) {
  forkscope_cxxrt_stats before = stats();
  host::fail_allocations(0, 1);
  ktl::AllocChecker ac;
  int* p = new (ac) int(5);
  EXPECT_FALSE(ac.check());
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(stats().alloc_failures, before.alloc_failures + 1);
  EXPECT_EQ(stats().live_allocs, before.live_allocs);
}

TEST(Cxxrt, AllocCheckerArrayOfOverAlignedTypeIsAligned) {
  ktl::AllocChecker ac;
  Wide* wide = new (ac) Wide[3];
  ASSERT_TRUE(ac.check());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(wide) % 64, 0u);
  delete[] wide;
}

TEST(Cxxrt, NullFreeIsHarmless) {
  forkscope_cxxrt_stats before = stats();
  forkscope_cxxrt_free(nullptr);
  EXPECT_EQ(stats().bad_frees, before.bad_frees);
}

// The fault latch is process-wide, so fault tests run in a child process.
TEST(CxxrtDeathTest, DoubleFreeIsCaughtAndLatchesFault) {
  EXPECT_EXIT(
      {
        void* p = forkscope_cxxrt_alloc(8, 16);
        forkscope_cxxrt_free(p);
        forkscope_cxxrt_free(p);  // header magic now says freed
        forkscope_cxxrt_stats s{};
        forkscope_cxxrt_get_stats(&s);
        bool warned = !host::take_warnings().empty();
        std::exit(s.bad_frees == 1 && forkscope_cxxrt_faulted() && warned ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(CxxrtDeathTest, UncheckedAllocCheckerLatchesFault) {
  EXPECT_EXIT(
      {
        int* p;
        {
          ktl::AllocChecker ac;
          p = new (ac) int(1);
        }  // destroyed without check()
        forkscope_cxxrt_stats s{};
        forkscope_cxxrt_get_stats(&s);
        std::exit(s.unchecked_allocs == 1 && forkscope_cxxrt_faulted() && p != nullptr ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

int g_order[4];
int g_order_len;
void ctor_a() { g_order[g_order_len++] = 1; }
void ctor_b() { g_order[g_order_len++] = 2; }

TEST(Cxxrt, RunsConstructorsInOrderAndSkipsNulls) {
  forkscope_ctor_fn table[] = {ctor_a, nullptr, ctor_b, ctor_a};
  g_order_len = 0;
  forkscope_cxxrt_stats before = stats();
  EXPECT_EQ(forkscope_cxxrt_run_ctors(table, table + 4), 3u);
  ASSERT_EQ(g_order_len, 3);
  EXPECT_EQ(g_order[0], 1);
  EXPECT_EQ(g_order[1], 2);
  EXPECT_EQ(g_order[2], 1);
  EXPECT_EQ(stats().ctors_run, before.ctors_run + 3);
  EXPECT_EQ(forkscope_cxxrt_run_ctors(table, table), 0u);
}

}  // namespace
