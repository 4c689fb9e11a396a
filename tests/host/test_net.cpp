// SPDX-License-Identifier: GPL-2.0
// Net arithmetic: intervals agree with the partition, bias per stage from
// the crossings that bracket it, clamping, flags, exact sums raw and net.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "net.h"

namespace forkscope {
namespace {

constexpr ktl::u64 bit(int b) { return ktl::u64{1} << b; }
constexpr ktl::size_t idx(Stage s) { return static_cast<ktl::size_t>(s); }

// Every crossing a distinct bias, so a wrong lookup shows in the sums.
BiasTable distinct_table() {
  BiasTable t;
  for (ktl::size_t a = 0; a < kAnchorCount; ++a) {
    t.entry[a] = CrossingBias{static_cast<ktl::u32>(10 + a), static_cast<ktl::u32>(100 + a), 1, 2};
    t.ret[a] = CrossingBias{static_cast<ktl::u32>(200 + a), static_cast<ktl::u32>(300 + a), 3, 4};
  }
  t.generation = 1;
  return t;
}

Record fork_record(const ktl::u64* ns, ktl::u64 present) {
  Record r;
  r.event = EventType::kFork;
  r.present = present;
  for (int b = 0; b < kBoundaryCount; ++b) r.boundary_ns[b] = ns[b];
  return r;
}

void expect_exact_sums(const NetPartition& p) {
  ktl::u64 raw = 0, bias = 0, net = 0, spread = 0;
  ktl::s64 unclamped = 0;
  for (ktl::size_t s = 0; s < kStageCount; ++s) {
    raw += p.raw.stage_ns[s];
    spread += p.spread_ns[s];
    bias += p.bias_ns[s];
    unclamped += p.unclamped_ns[s];
    net += p.net_ns(s);
    EXPECT_LE(p.net_ns(s), p.raw.stage_ns[s]) << stage_info(static_cast<Stage>(s)).name;
  }
  EXPECT_EQ(raw, p.raw.total_ns);
  EXPECT_EQ(bias, p.total_bias_ns);
  EXPECT_EQ(spread, p.total_spread_ns);
  EXPECT_EQ(unclamped, p.net_total_unclamped_ns);
  EXPECT_EQ(p.net_total_unclamped_ns,
            static_cast<ktl::s64>(p.raw.total_ns) - static_cast<ktl::s64>(p.total_bias_ns));
  EXPECT_EQ(static_cast<ktl::s64>(net),
            p.net_total_unclamped_ns + static_cast<ktl::s64>(p.clamped_ns));
  EXPECT_LE(p.net_total_ns, p.raw.total_ns);
}

TEST(Intervals, AgreeWithThePartitionOnRandomRecords) {
  std::mt19937_64 rng(15);
  for (int round = 0; round < 2000; ++round) {
    ktl::u64 ns[kBoundaryCount];
    ktl::u64 t = 1000;
    for (int b = 0; b < kBoundaryCount; ++b) {
      t += rng() % 500;
      ns[b] = (rng() % 20 == 0) ? t - 300 : t;  // now and then out of order
    }
    ktl::u64 present = rng() & ((ktl::u64{1} << kBoundaryCount) - 1);
    bool vfork = rng() & 1;
    Partition plain, with;
    std::vector<Interval> intervals;
    compute_partition(ns, present, vfork, &plain);
    compute_partition_intervals(
        ns, present, vfork, &with,
        [](void* v, const Interval& i) { static_cast<std::vector<Interval>*>(v)->push_back(i); },
        &intervals);
    ktl::size_t n = intervals.size();
    ktl::u64 per_stage[kStageCount] = {};
    for (const Interval& i : intervals) {
      per_stage[idx(i.stage)] += i.ns;
      // An interval runs from its opening crossing's time to its closing one's.
      auto boundary = [](Crossing c) {
        return c.is_return ? return_boundary(c.anchor) : entry_boundary(c.anchor);
      };
      ASSERT_EQ(i.ns, ns[boundary(i.close)] - ns[boundary(i.open)]);
      ASSERT_LT(boundary(i.open), boundary(i.close));
    }
    for (ktl::size_t s = 0; s < kStageCount; ++s) {
      ASSERT_EQ(plain.stage_ns[s], with.stage_ns[s]);
      ASSERT_EQ(per_stage[s], plain.stage_ns[s]);
    }
    ASSERT_EQ(plain.total_ns, with.total_ns);
    ASSERT_EQ(plain.dropped_boundaries, with.dropped_boundaries);
    int kept = __builtin_popcountll(present) - static_cast<int>(plain.dropped_boundaries);
    ASSERT_EQ(static_cast<int>(n), kept > 0 ? kept - 1 : 0);
  }
}

TEST(Net, DirectStageCarriesItsEntrysPostAndItsReturnsPre) {
  ktl::u64 ns[kBoundaryCount];
  for (int b = 0; b < kBoundaryCount; ++b) ns[b] = 10000 + 1000 * b;
  ktl::u64 all = (ktl::u64{1} << kBoundaryCount) - 1;
  BiasTable t = distinct_table();
  NetPartition p;
  compute_net(fork_record(ns, all), t, &p);
  auto a = static_cast<ktl::u32>(Anchor::kCopyCreds);
  EXPECT_EQ(p.bias_ns[idx(Stage::kCopyCreds)], ktl::u64{100 + a} + (200 + a));
  EXPECT_EQ(p.spread_ns[idx(Stage::kCopyCreds)], 2u + 3u);
  EXPECT_EQ(p.net_ns(idx(Stage::kCopyCreds)), 1000 - (100 + a) - (200 + a));
  // The gap after copy_creds: its return's post, sched_fork entry's pre.
  auto sf = static_cast<ktl::u32>(Anchor::kSchedFork);
  EXPECT_EQ(p.bias_ns[idx(Stage::kTaskInit)], ktl::u64{300 + a} + (10 + sf));
  // The span: the first crossing's post, the last's pre, all of each between.
  ktl::u64 expected = t.entry[0].post_ns + t.ret[0].pre_ns;
  for (int b = 1; b < kBoundaryCount - 1; ++b) {
    Crossing c{boundary_info(Boundary(b)).anchor, boundary_info(Boundary(b)).is_return};
    expected += t.of(c).pre_ns + t.of(c).post_ns;
  }
  EXPECT_EQ(p.total_bias_ns, expected);
  EXPECT_EQ(p.clamped_ns, 0u);
  expect_exact_sums(p);
}

TEST(Net, ClampsAtZeroAndSaysWhatClampingAdded) {
  ktl::u64 ns[kBoundaryCount];
  for (int b = 0; b < kBoundaryCount; ++b) ns[b] = 10000 + 1000 * b;
  ns[kAuditAllocReturn] = ns[kAuditAllocEntry] + 50;  // shorter than its bias
  ktl::u64 present = bit(kKernelCloneEntry) | bit(kAuditAllocEntry) | bit(kAuditAllocReturn) |
                     bit(kKernelCloneReturn);
  BiasTable t = distinct_table();
  NetPartition p;
  compute_net(fork_record(ns, present), t, &p);
  auto a = static_cast<ktl::size_t>(Anchor::kAuditAlloc);
  ktl::u64 bias = t.entry[a].post_ns + t.ret[a].pre_ns;
  ASSERT_GT(bias, 50u);
  EXPECT_EQ(p.unclamped_ns[idx(Stage::kAuditAlloc)], 50 - static_cast<ktl::s64>(bias));
  EXPECT_EQ(p.net_ns(idx(Stage::kAuditAlloc)), 0u);
  EXPECT_EQ(p.clamped_ns, bias - 50);
  expect_exact_sums(p);
}

TEST(Net, FlagsOnlyStagesWithinTheSpreadOfACalibration) {
  ktl::u64 ns[kBoundaryCount] = {};
  ns[kKernelCloneEntry] = 0;
  ns[kCopyCredsEntry] = 1000;
  ns[kCopyCredsReturn] = 1000 + 300 + 20;  // net 20 (bias 300), spread 30: within
  ns[kSchedForkEntry] = 5000;
  ns[kSchedForkReturn] = 5000 + 300 + 31;  // net 31 > spread 30: not within
  ns[kKernelCloneReturn] = 9000;
  ktl::u64 present = bit(kKernelCloneEntry) | bit(kCopyCredsEntry) | bit(kCopyCredsReturn) |
                     bit(kSchedForkEntry) | bit(kSchedForkReturn) | bit(kKernelCloneReturn);
  BiasTable t;
  for (Anchor a : {Anchor::kCopyCreds, Anchor::kSchedFork}) {
    t.entry[static_cast<ktl::size_t>(a)] = CrossingBias{0, 100, 0, 10};
    t.ret[static_cast<ktl::size_t>(a)] = CrossingBias{200, 0, 20, 0};
  }
  t.generation = 7;
  NetPartition p;
  compute_net(fork_record(ns, present), t, &p);
  EXPECT_EQ(p.net_ns(idx(Stage::kCopyCreds)), 20u);
  EXPECT_EQ(p.net_ns(idx(Stage::kSchedFork)), 31u);
  EXPECT_TRUE(p.within_spread_mask & (ktl::u64{1} << idx(Stage::kCopyCreds)));
  EXPECT_FALSE(p.within_spread_mask & (ktl::u64{1} << idx(Stage::kSchedFork)));
  t.generation = 0;  // the same values, not from a calibration: nothing flagged
  compute_net(fork_record(ns, present), t, &p);
  EXPECT_EQ(p.within_spread_mask, 0u);
}

TEST(Net, ExecIntervalsUseTheirEventsCrossings) {
  Record r;
  r.event = EventType::kExec;
  auto at = [&](Anchor anchor, bool ret, ktl::u32 t) {
    r.exec.events[r.exec.event_count++] = ExecEvent{t, anchor, ret};
  };
  at(Anchor::kDoExecveatCommon, false, 0);
  at(Anchor::kAllocBprm, false, 1000);
  at(Anchor::kMmInit, false, 1200);
  at(Anchor::kMmInit, true, 1250);  // 50 ns: under its bias
  at(Anchor::kAllocBprm, true, 3000);
  at(Anchor::kDoExecveatCommon, true, 9000);
  BiasTable t = distinct_table();
  NetPartition p;
  compute_net(r, t, &p);
  auto mm = static_cast<ktl::size_t>(Anchor::kMmInit);
  auto ab = static_cast<ktl::size_t>(Anchor::kAllocBprm);
  EXPECT_EQ(p.bias_ns[idx(Stage::kMmInit)], ktl::u64{t.entry[mm].post_ns} + t.ret[mm].pre_ns);
  EXPECT_EQ(p.net_ns(idx(Stage::kMmInit)), 0u);
  // alloc_bprm: two intervals, around mm_init.
  EXPECT_EQ(p.bias_ns[idx(Stage::kAllocBprm)], ktl::u64{t.entry[ab].post_ns} + t.entry[mm].pre_ns +
                                                   t.ret[mm].post_ns + t.ret[ab].pre_ns);
  EXPECT_EQ(p.raw.total_ns, 9000u);
  expect_exact_sums(p);
}

TEST(NetStats, RowsStayAtOrBelowRawAndSumExactly) {
  std::mt19937_64 rng(1515);
  BiasTable t = distinct_table();
  NetStats stats;
  ktl::s64 unclamped_total = 0;
  for (int round = 0; round < 500; ++round) {
    ktl::u64 ns[kBoundaryCount];
    ktl::u64 now = 1000;
    for (int b = 0; b < kBoundaryCount; ++b) ns[b] = now += rng() % 2000;
    ktl::u64 present = rng() | bit(kKernelCloneEntry) | bit(kKernelCloneReturn);
    present &= (ktl::u64{1} << kBoundaryCount) - 1;
    NetPartition p;
    compute_net(fork_record(ns, present), t, &p);
    expect_exact_sums(p);
    unclamped_total += p.net_total_unclamped_ns;
    stats.add(p);
  }
  EXPECT_EQ(stats.records, 500u);
  ktl::s64 unclamped_stages = 0;
  ktl::u64 raw_stages = 0, net_stages = 0, spread_stages = 0;
  for (ktl::size_t row = 0; row < kNetRows; ++row) {
    const NetRow& r = stats.rows[row];
    if (r.raw.count == 0) continue;
    EXPECT_LE(r.net.percentile(500), r.raw.percentile(500)) << row;
    EXPECT_LE(r.net.mean(), r.raw.mean()) << row;
    if (row < kStageCount) {
      unclamped_stages += r.unclamped_sum;
      raw_stages += r.raw.sum;
      net_stages += r.net.sum;
      spread_stages += r.spread_sum;
    }
  }
  const NetRow& total = stats.rows[kNetRowTotal];
  EXPECT_EQ(raw_stages, total.raw.sum);
  EXPECT_EQ(spread_stages, total.spread_sum);
  EXPECT_GT(total.spread_sum, 0u);
  EXPECT_EQ(unclamped_stages, total.unclamped_sum);
  EXPECT_EQ(total.unclamped_sum, unclamped_total);
  EXPECT_EQ(static_cast<ktl::s64>(net_stages),
            total.unclamped_sum + static_cast<ktl::s64>(stats.clamped_sum));
  EXPECT_GT(stats.clamped_sum, 0u);  // short stages did clamp
}

}  // namespace
}  // namespace forkscope
