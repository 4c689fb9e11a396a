// SPDX-License-Identifier: GPL-2.0
// Histograms: exact bucket bounds, percentiles within 3.2% of the exact
// order statistic, bpftrace-style rendering, and duration formatting.
#include <gtest/gtest.h>
#include <ktl/string_builder.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "histogram.h"

namespace {

using forkscope::append_duration;
using forkscope::Histogram;
using forkscope::HistogramSnapshot;
using forkscope::render_histogram;

constexpr uint64_t kOverflowValue = uint64_t{1} << Histogram::kMaxExponent;
constexpr uint64_t kTenSeconds = 10'000'000'000ull;

// Bucket index straight from the written definition, with a loop instead of
// __builtin_clzll, as an independent reference.
size_t reference_bucket(uint64_t v) {
  if (v < 16) return v;
  if (v >= kOverflowValue) return Histogram::kOverflowBucket;
  unsigned e = 0;
  while ((v >> (e + 1)) != 0) ++e;
  return 16 + (e - 4) * 16 + ((v >> (e - 4)) & 15);
}

struct Recorded {
  std::unique_ptr<Histogram> histogram = std::make_unique<Histogram>();
  std::vector<uint64_t> sorted;
  HistogramSnapshot snapshot;
};

Recorded record(std::vector<uint64_t> values) {
  Recorded r;
  for (uint64_t v : values) r.histogram->add(v);
  r.histogram->merge_into(r.snapshot);
  std::sort(values.begin(), values.end());
  r.sorted = std::move(values);
  return r;
}

// The order statistic percentile() estimates: rank ceil(n * p / 1000), >= 1.
uint64_t exact_percentile(const std::vector<uint64_t>& sorted, uint32_t permille) {
  uint64_t rank = (sorted.size() * permille + 999) / 1000;
  if (rank == 0) rank = 1;
  return sorted[rank - 1];
}

// |estimate - exact| <= 3.2% of exact, in integers (exact < 2^40 here).
::testing::AssertionResult within_3_2_percent(uint64_t estimate, uint64_t exact) {
  uint64_t error = estimate > exact ? estimate - exact : exact - estimate;
  if (error * 1000 <= exact * 32) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "estimate " << estimate << " vs exact " << exact << " (error " << error << ")";
}

// Checks every permille 0..1000 against the sorted data.
void expect_accurate(const Recorded& r, const std::string& what) {
  for (uint32_t p = 0; p <= 1000; ++p) {
    uint64_t exact = exact_percentile(r.sorted, p);
    uint64_t estimate = r.snapshot.percentile(p);
    ASSERT_TRUE(within_3_2_percent(estimate, exact)) << what << " p=" << p;
    ASSERT_GE(estimate, r.sorted.front()) << what << " p=" << p;
    ASSERT_LE(estimate, r.sorted.back()) << what << " p=" << p;
  }
}

// Deterministic log-uniform values in [lo, hi): a uniform octave, then a
// uniform sixteenth of it, then uniform within that (log-uniform to 1/16
// octave); the rejected draws keep the bounds exact.
std::vector<uint64_t> log_uniform(std::mt19937_64& rng, size_t n, uint64_t lo, uint64_t hi) {
  unsigned lo_e = 63 - __builtin_clzll(lo);
  unsigned hi_e = 63 - __builtin_clzll(hi - 1);
  std::vector<uint64_t> values;
  while (values.size() < n) {
    unsigned e = lo_e + rng() % (hi_e - lo_e + 1);
    uint64_t base = uint64_t{1} << e;
    uint64_t sub = std::min<uint64_t>(16, base);
    uint64_t step = base / sub;
    uint64_t v = base + (rng() % sub) * step + rng() % step;
    if (v >= lo && v < hi) values.push_back(v);
  }
  return values;
}

std::string rendered(const HistogramSnapshot& snapshot) {
  std::vector<char> buf(1 << 16);
  ktl::StringBuilder out(buf.data(), buf.size());
  render_histogram(out, snapshot);
  EXPECT_FALSE(out.truncated());
  return out.c_str();
}

std::string duration(uint64_t ns) {
  char buf[32];
  ktl::StringBuilder out(buf, sizeof(buf));
  append_duration(out, ns);
  return buf;
}

TEST(Histogram, ExactBucketsBelowSixteen) {
  for (uint64_t v = 0; v < 16; ++v) {
    EXPECT_EQ(Histogram::bucket_of(v), v);
    EXPECT_EQ(Histogram::bucket_lower(v), v);
    EXPECT_EQ(Histogram::bucket_upper(v), v + 1);
  }
}

TEST(Histogram, KnownBuckets) {
  EXPECT_EQ(Histogram::kBuckets, 593u);
  EXPECT_EQ(Histogram::kOverflowBucket, 592u);
  EXPECT_EQ(Histogram::bucket_of(16), 16u);
  EXPECT_EQ(Histogram::bucket_of(31), 31u);
  EXPECT_EQ(Histogram::bucket_of(32), 32u);
  EXPECT_EQ(Histogram::bucket_of(33), 32u);
  EXPECT_EQ(Histogram::bucket_of(34), 33u);
  EXPECT_EQ(Histogram::bucket_of(63), 47u);
  EXPECT_EQ(Histogram::bucket_of(64), 48u);
  EXPECT_EQ(Histogram::bucket_of(1000), 16u + 5 * 16 + ((1000 >> 5) & 15));
  EXPECT_EQ(Histogram::bucket_of(kOverflowValue - 1), 591u);
  EXPECT_EQ(Histogram::bucket_of(kOverflowValue), 592u);
  EXPECT_EQ(Histogram::bucket_of(~uint64_t{0}), 592u);

  EXPECT_EQ(Histogram::bucket_lower(16), 16u);
  EXPECT_EQ(Histogram::bucket_upper(16), 17u);
  EXPECT_EQ(Histogram::bucket_lower(32), 32u);
  EXPECT_EQ(Histogram::bucket_upper(32), 34u);
  EXPECT_EQ(Histogram::bucket_lower(47), 62u);
  EXPECT_EQ(Histogram::bucket_upper(47), 64u);
  EXPECT_EQ(Histogram::bucket_lower(591), uint64_t{31} << 35);
  EXPECT_EQ(Histogram::bucket_upper(591), kOverflowValue);
  EXPECT_EQ(Histogram::bucket_lower(592), kOverflowValue);
  EXPECT_EQ(Histogram::bucket_upper(592), ~uint64_t{0});
}

TEST(Histogram, BoundsAtEveryPowerOfTwoEdge) {
  for (unsigned e = 0; e < 64; ++e) {
    uint64_t p = uint64_t{1} << e;
    for (uint64_t v : {p - 1, p, p + 1}) {
      size_t b = Histogram::bucket_of(v);
      ASSERT_EQ(b, reference_bucket(v)) << "v=" << v;
      ASSERT_LE(Histogram::bucket_lower(b), v) << "v=" << v;
      if (b != Histogram::kOverflowBucket) {
        ASSERT_LT(v, Histogram::bucket_upper(b)) << "v=" << v;
      }
    }
    // A power of two >= 16 opens an octave: sub-bucket 0, starting exactly at it.
    if (e >= 4 && e < Histogram::kMaxExponent) {
      size_t b = Histogram::bucket_of(p);
      EXPECT_EQ(b, 16 + (e - 4) * 16u) << "e=" << e;
      EXPECT_EQ(Histogram::bucket_lower(b), p) << "e=" << e;
      EXPECT_EQ(Histogram::bucket_upper(b - 1), p) << "e=" << e;
      EXPECT_EQ(Histogram::bucket_upper(b) - p, e == 4 ? 1u : p / 16) << "e=" << e;
    }
  }
}

TEST(Histogram, BucketsTileTheRangeWithinOneSixteenth) {
  EXPECT_EQ(Histogram::bucket_lower(0), 0u);
  for (size_t b = 0; b + 1 < Histogram::kBuckets; ++b) {
    uint64_t lower = Histogram::bucket_lower(b);
    uint64_t upper = Histogram::bucket_upper(b);
    ASSERT_LT(lower, upper) << "b=" << b;
    ASSERT_EQ(upper, Histogram::bucket_lower(b + 1)) << "b=" << b;
    ASSERT_EQ(Histogram::bucket_of(lower), b);
    ASSERT_EQ(Histogram::bucket_of(upper - 1), b);
    // Width at most 1/16 of the lower bound: the midpoint is within 1/32.
    if (b >= 16) {
      ASSERT_LE((upper - lower) * 16, lower) << "b=" << b;
    }
  }
}

TEST(Histogram, BucketOfMatchesDefinitionOnRandomValues) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200000; ++i) {
    uint64_t v = rng() >> (rng() % 64);
    ASSERT_EQ(Histogram::bucket_of(v), reference_bucket(v)) << "v=" << v;
  }
}

TEST(Histogram, AddTracksCountSumMinMax) {
  Histogram h;
  HistogramSnapshot empty;
  h.merge_into(empty);
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.min, ~uint64_t{0});
  EXPECT_EQ(empty.max, 0u);
  EXPECT_EQ(empty.mean(), 0u);
  EXPECT_EQ(empty.percentile(500), 0u);

  h.add(7);
  h.add(1000);
  h.add(1000);
  h.add(3);
  HistogramSnapshot s;
  h.merge_into(s);
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.sum, 2010u);
  EXPECT_EQ(s.min, 3u);
  EXPECT_EQ(s.max, 1000u);
  EXPECT_EQ(s.mean(), 502u);
  EXPECT_EQ(s.counts[3], 1u);
  EXPECT_EQ(s.counts[7], 1u);
  EXPECT_EQ(s.counts[Histogram::bucket_of(1000)], 2u);
}

TEST(Histogram, MergeAddsInstancesAndResetEmpties) {
  Histogram a;
  Histogram b;
  a.add(5);
  a.add(50);
  b.add(500);
  b.add(50);
  HistogramSnapshot s;
  a.merge_into(s);
  b.merge_into(s);
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.sum, 605u);
  EXPECT_EQ(s.min, 5u);
  EXPECT_EQ(s.max, 500u);
  EXPECT_EQ(s.counts[Histogram::bucket_of(50)], 2u);

  a.reset();
  HistogramSnapshot after;
  a.merge_into(after);
  EXPECT_EQ(after.count, 0u);
  EXPECT_EQ(after.sum, 0u);
  EXPECT_EQ(after.min, ~uint64_t{0});
  EXPECT_EQ(after.max, 0u);
  for (size_t i = 0; i < Histogram::kBuckets; ++i) ASSERT_EQ(after.counts[i], 0u);
  a.add(9);
  HistogramSnapshot again;
  a.merge_into(again);
  EXPECT_EQ(again.min, 9u);
  EXPECT_EQ(again.max, 9u);
}

TEST(Histogram, SumSaturatesInsteadOfWrapping) {
  Histogram h;
  h.add(~uint64_t{0} - 1);
  h.add(10);
  HistogramSnapshot s;
  h.merge_into(s);
  EXPECT_EQ(s.sum, ~uint64_t{0});
  EXPECT_EQ(s.counts[Histogram::kOverflowBucket], 1u);
}

TEST(Histogram, PercentileRankRoundsUp) {
  // Ten values 0..9 (exact buckets): p = k/10 is the k-th value, p slightly
  // above it the next one.
  std::vector<uint64_t> values;
  for (uint64_t v = 0; v < 10; ++v) values.push_back(v);
  Recorded r = record(values);
  EXPECT_EQ(r.snapshot.percentile(0), 0u);
  EXPECT_EQ(r.snapshot.percentile(100), 0u);
  EXPECT_EQ(r.snapshot.percentile(101), 1u);
  EXPECT_EQ(r.snapshot.percentile(500), 4u);
  EXPECT_EQ(r.snapshot.percentile(501), 5u);
  EXPECT_EQ(r.snapshot.percentile(1000), 9u);
  EXPECT_EQ(r.snapshot.percentile(5000), 9u);  // beyond 1000 means the max
}

TEST(Histogram, PercentileReportsBucketMidpoint) {
  // 100 at 1020 and 100 at 1030: bucket [1024, 1088) holds 1030, so p75
  // is its midpoint 1056 (not 1030: this is an estimate); p0 falls in
  // [992, 1024) whose midpoint 1008 is below the min.
  std::vector<uint64_t> values(100, 1020);
  values.insert(values.end(), 100, 1030);
  values.push_back(4900);
  Recorded r = record(values);
  EXPECT_EQ(Histogram::bucket_lower(Histogram::bucket_of(1030)), 1024u);
  EXPECT_EQ(Histogram::bucket_upper(Histogram::bucket_of(1030)), 1088u);
  EXPECT_EQ(r.snapshot.percentile(750), 1056u);
  // [4864, 5120) has midpoint 4992, above the max.
  EXPECT_EQ(r.snapshot.percentile(1000), 4900u);  // clamped to max
  EXPECT_EQ(r.snapshot.percentile(0), 1020u);     // clamped to min
}

TEST(Histogram, PercentileHandlesHugeCounts) {
  // count * permille would overflow 64 bits here.
  HistogramSnapshot s;
  s.counts[100] = ~uint64_t{0} / 2;
  s.counts[200] = ~uint64_t{0} / 2;
  s.count = s.counts[100] + s.counts[200];
  s.min = 0;
  s.max = ~uint64_t{0};
  EXPECT_EQ(s.percentile(499),
            Histogram::bucket_lower(100) +
                (Histogram::bucket_upper(100) - Histogram::bucket_lower(100)) / 2);
  EXPECT_EQ(s.percentile(501),
            Histogram::bucket_lower(200) +
                (Histogram::bucket_upper(200) - Histogram::bucket_lower(200)) / 2);
}

TEST(Histogram, PercentileToleratesCountAheadOfBuckets) {
  // A reader racing the writer can see count incremented before the bucket.
  HistogramSnapshot s;
  s.counts[20] = 3;
  s.count = 4;
  s.min = 20;
  s.max = 20;
  EXPECT_EQ(s.percentile(1000), 20u);
}

TEST(Histogram, PercentileWithin3Point2PercentOnRandomData) {
  std::mt19937_64 rng(42);
  for (size_t n : {1u, 2u, 3u, 7u, 10u, 100u, 999u, 1000u, 10000u}) {
    for (int round = 0; round < 5; ++round) {
      expect_accurate(record(log_uniform(rng, n, 1, kTenSeconds)),
                      "log-uniform n=" + std::to_string(n));
      std::vector<uint64_t> uniform;
      for (size_t i = 0; i < n; ++i) uniform.push_back(1 + rng() % kTenSeconds);
      expect_accurate(record(uniform), "uniform n=" + std::to_string(n));
      // Heavy tail: mostly microseconds, a few seconds.
      std::vector<uint64_t> tail = log_uniform(rng, n, 1000, 100000);
      for (size_t i = 0; i < n / 50; ++i) tail[rng() % n] = 1 + rng() % kTenSeconds;
      expect_accurate(record(tail), "heavy tail n=" + std::to_string(n));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(Histogram, PercentileWithin3Point2PercentOnAdversarialData) {
  // All equal, at and around bucket edges: exact thanks to the clamp.
  for (uint64_t v :
       {uint64_t{0}, uint64_t{1}, uint64_t{15}, uint64_t{16}, uint64_t{17}, uint64_t{1023},
        uint64_t{1024}, uint64_t{1087}, kTenSeconds, kOverflowValue - 1}) {
    Recorded r = record(std::vector<uint64_t>(1000, v));
    for (uint32_t p : {0u, 1u, 500u, 999u, 1000u}) EXPECT_EQ(r.snapshot.percentile(p), v);
  }
  // Single value.
  expect_accurate(record({123456789}), "single");

  // Two clusters far apart, uneven.
  std::vector<uint64_t> clusters(990, 2000);
  clusters.insert(clusters.end(), 10, 3'000'000'000ull);
  expect_accurate(record(clusters), "two clusters");
  std::vector<uint64_t> tight(500, 1024);
  tight.insert(tight.end(), 500, 1087);  // both ends of one bucket
  expect_accurate(record(tight), "both ends of a bucket");

  // Lowest and highest value of every bucket below 10 s, the worst cases of
  // a midpoint estimate (the clamp cannot help inside the range).
  std::vector<uint64_t> edges;
  for (size_t b = 0; b < Histogram::kOverflowBucket; ++b) {
    uint64_t lower = Histogram::bucket_lower(b);
    if (lower > kTenSeconds) break;
    edges.push_back(lower);
    edges.push_back(Histogram::bucket_upper(b) - 1);
  }
  expect_accurate(record(edges), "bucket edges");
  std::vector<uint64_t> lowers;
  for (size_t b = 16; Histogram::bucket_lower(b) <= kTenSeconds; ++b) {
    lowers.insert(lowers.end(), 3, Histogram::bucket_lower(b));
  }
  expect_accurate(record(lowers), "bucket lower bounds");
}

TEST(Histogram, PercentileWithOverflowValues) {
  // 900 normal values and 100 beyond 2^40: percentiles below the overflow
  // stay accurate; those in the overflow bucket report the max, an upper
  // bound (the bucket has no finite midpoint).
  std::mt19937_64 rng(7);
  std::vector<uint64_t> values = log_uniform(rng, 900, 1, kTenSeconds);
  for (int i = 0; i < 100; ++i) values.push_back(kOverflowValue + rng() % kOverflowValue);
  values.push_back(~uint64_t{0} >> 1);
  Recorded r = record(values);
  for (uint32_t p = 0; p <= 1000; ++p) {
    uint64_t exact = exact_percentile(r.sorted, p);
    uint64_t estimate = r.snapshot.percentile(p);
    if (exact < kOverflowValue) {
      ASSERT_TRUE(within_3_2_percent(estimate, exact)) << "p=" << p;
    } else {
      ASSERT_EQ(estimate, ~uint64_t{0} >> 1) << "p=" << p;
    }
  }
  EXPECT_EQ(r.snapshot.counts[Histogram::kOverflowBucket], 101u);
  // All overflow values equal: exact.
  Recorded same = record(std::vector<uint64_t>(10, kOverflowValue * 3));
  EXPECT_EQ(same.snapshot.percentile(500), kOverflowValue * 3);
}

TEST(Render, EmptySaysNoSamples) {
  HistogramSnapshot s;
  EXPECT_EQ(rendered(s), "(no samples)\n");
}

TEST(Render, SmallValuesAsBpftraceRows) {
  Histogram h;
  h.add(0);
  for (int i = 0; i < 4; ++i) h.add(1);
  for (int i = 0; i < 2; ++i) h.add(3);
  for (uint64_t v = 8; v < 16; ++v) h.add(v);
  h.add(16);
  HistogramSnapshot s;
  h.merge_into(s);
  EXPECT_EQ(rendered(s),
            "[0]                    1 |@@@@@                                   |\n"
            "[1]                    4 |@@@@@@@@@@@@@@@@@@@@                    |\n"
            "[2, 4)                 2 |@@@@@@@@@@                              |\n"
            "[4, 8)                 0 |                                        |\n"
            "[8, 16)                8 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
            "[16, 32)               1 |@@@@@                                   |\n");
}

TEST(Render, KnownDataSetWithUnits) {
  // Rows from [512, 1K) to [8K, 16K); [2K, 4K) empty but shown; rows below
  // and above the data not shown.
  Histogram h;
  for (int i = 0; i < 3; ++i) h.add(600);
  for (int i = 0; i < 4; ++i) h.add(1024 + i * 200);
  for (int i = 0; i < 12; ++i) h.add(4096 + i * 300);
  h.add(16383);
  HistogramSnapshot s;
  h.merge_into(s);
  EXPECT_EQ(rendered(s),
            "[512, 1K)              3 |@@@@@@@@@@                              |\n"
            "[1K, 2K)               4 |@@@@@@@@@@@@@                           |\n"
            "[2K, 4K)               0 |                                        |\n"
            "[4K, 8K)              12 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
            "[8K, 16K)              1 |@@@                                     |\n");
}

TEST(Render, LargeUnitsAndOverflowRow) {
  Histogram h;
  h.add(uint64_t{3} << 20);        // [2M, 4M)
  h.add(uint64_t{1} << 30);        // [1G, 2G)
  h.add((uint64_t{1} << 39) + 5);  // [512G, 1T)
  h.add(kOverflowValue);           // [1T, ...)
  h.add(~uint64_t{0});             // [1T, ...)
  HistogramSnapshot s;
  h.merge_into(s);
  std::string text = rendered(s);
  EXPECT_EQ(text.substr(0, text.find('\n') + 1),
            "[2M, 4M)               1 |@@@@@@@@@@@@@@@@@@@@                    |\n");
  EXPECT_NE(text.find("\n[4M, 8M)               0 |"), std::string::npos);
  EXPECT_NE(text.find("\n[512M, 1G)             0 |"), std::string::npos);
  EXPECT_NE(text.find("\n[1G, 2G)               1 |"), std::string::npos);
  EXPECT_NE(text.find("\n[256G, 512G)           0 |"), std::string::npos);
  EXPECT_NE(text.find("\n[512G, 1T)             1 |"), std::string::npos);
  EXPECT_TRUE(
      text.ends_with("\n[1T, ...)              2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"));
  // 2M..1T is 19 octaves, plus the overflow row.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 20);
}

TEST(Render, EveryNonEmptyRowGetsABar) {
  HistogramSnapshot s;
  s.counts[Histogram::bucket_of(100)] = 1;
  s.counts[Histogram::bucket_of(200)] = 1'000'000;
  s.count = 1'000'001;
  EXPECT_EQ(rendered(s),
            "[64, 128)              1 |@                                       |\n"
            "[128, 256)       1000000 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n");
}

TEST(Render, WideCountsStayAligned) {
  // Counts wider than bpftrace's 8 columns widen the column for all rows;
  // counts near 2^64 do not overflow the bar arithmetic.
  HistogramSnapshot s;
  s.counts[1] = ~uint64_t{0} / 2;
  s.counts[2] = ~uint64_t{0};
  EXPECT_EQ(rendered(s),
            "[1]              9223372036854775807 |@@@@@@@@@@@@@@@@@@@                     |\n"
            "[2, 4)          18446744073709551615 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n");
}

TEST(Render, LogUniformMicrosecondsToMilliseconds) {
  std::mt19937_64 rng(2024);
  Histogram h;
  for (uint64_t v : log_uniform(rng, 1000, 1000, 10'000'000)) h.add(v);
  HistogramSnapshot s;
  h.merge_into(s);
  // 1000 values, about 75 per octave; the partial octaves at both ends
  // ([1000, 1024) and [8M, 10M)) are short.
  EXPECT_EQ(rendered(s),
            "[512, 1K)              4 |@                                       |\n"
            "[1K, 2K)              81 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@      |\n"
            "[2K, 4K)              71 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@          |\n"
            "[4K, 8K)              78 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@       |\n"
            "[8K, 16K)             75 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@         |\n"
            "[16K, 32K)            73 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@         |\n"
            "[32K, 64K)            61 |@@@@@@@@@@@@@@@@@@@@@@@@@               |\n"
            "[64K, 128K)           67 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@            |\n"
            "[128K, 256K)          70 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@           |\n"
            "[256K, 512K)          78 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@       |\n"
            "[512K, 1M)            78 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@       |\n"
            "[1M, 2M)              76 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@        |\n"
            "[2M, 4M)              94 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
            "[4M, 8M)              81 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@      |\n"
            "[8M, 16M)             13 |@@@@@                                   |\n");
}

TEST(Duration, FormatsThreeSignificantDigits) {
  struct Case {
    uint64_t ns;
    const char* text;
  };
  const Case cases[] = {
      {0, "0ns"},
      {1, "1ns"},
      {950, "950ns"},
      {999, "999ns"},
      {1000, "1.00us"},
      {1004, "1.00us"},
      {1005, "1.01us"},  // half up
      {1050, "1.05us"},  // zero after the point kept
      {1250, "1.25us"},
      {9994, "9.99us"},
      {9995, "10.0us"},  // carry into two integer digits
      {12500, "12.5us"},
      {12549, "12.5us"},
      {12550, "12.6us"},
      {99949, "99.9us"},
      {99950, "100us"},
      {125000, "125us"},
      {999499, "999us"},
      {999500, "1.00ms"},  // carry into the next unit
      {999600, "1.00ms"},
      {1'000'000, "1.00ms"},
      {1'234'567, "1.23ms"},
      {12'500'000, "12.5ms"},
      {999'499'999, "999ms"},
      {999'500'000, "1.00s"},
      {3'200'000'000, "3.20s"},
      {61'000'000'000, "61.0s"},
      {999'499'999'999, "999s"},
      {999'500'000'000, "1000s"},
      {1'234'000'000'000, "1234s"},
      {1'234'500'000'000, "1235s"},
      {~uint64_t{0}, "18446744074s"},
  };
  for (const Case& c : cases) EXPECT_EQ(duration(c.ns), c.text) << "ns=" << c.ns;
}

TEST(Duration, AppendsToExistingText) {
  char buf[64];
  ktl::StringBuilder out(buf, sizeof(buf));
  out.append("p50=");
  append_duration(out, 1'500'000);
  out.append(" p99=");
  append_duration(out, 20);
  EXPECT_STREQ(buf, "p50=1.50ms p99=20ns");
}

}  // namespace
