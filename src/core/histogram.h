// SPDX-License-Identifier: GPL-2.0
// Log-linear latency histograms: 16 sub-buckets per power of two, so any
// value is reported within 3.2% (bucket midpoint); one writer per instance
// (a CPU's own copy), merged on read. Integer arithmetic only (no FPU in
// the kernel).
#ifndef FORKSCOPE_CORE_HISTOGRAM_H
#define FORKSCOPE_CORE_HISTOGRAM_H

#include <ktl/atomic.h>
#include <ktl/string_builder.h>
#include <ktl/types.h>

namespace forkscope {

struct HistogramSnapshot;

class Histogram {
 public:
  static constexpr unsigned kSubBucketBits = 4;  // 16 per octave
  static constexpr unsigned kMaxExponent = 40;   // values < 2^40 ns (~18 min)
  static constexpr ktl::size_t kBuckets = 16 + (kMaxExponent - kSubBucketBits) * 16 + 1;
  static constexpr ktl::size_t kOverflowBucket = kBuckets - 1;  // values >= 2^40

  // Bucket index of a value; values 0..15 each have their own bucket.
  static ktl::size_t bucket_of(ktl::u64 value);
  // [lower, upper) of a bucket; the overflow bucket's upper is ktl::kU64Max.
  static ktl::u64 bucket_lower(ktl::size_t bucket);
  static ktl::u64 bucket_upper(ktl::size_t bucket);

  // Hot path: one writer at a time (the owning CPU with preemption off).
  // Inlined into the handlers that call it (so it stays in .kprobes.text).
  // Readers load concurrently: once-accesses, never torn.
  [[gnu::always_inline]] void add(ktl::u64 value) {
    ktl::size_t bucket = bucket_index(value);
    // The count is the buckets' sum, taken on read: one store less here.
    ktl::write_once(counts_[bucket], static_cast<ktl::u32>(ktl::read_once(counts_[bucket]) + 1));
    ktl::u64 sum;
    // Saturates: a bogus huge sample cannot make the mean small again.
    if (__builtin_add_overflow(ktl::read_once(sum_), value, &sum)) sum = ktl::kU64Max;
    ktl::write_once(sum_, sum);
    if (value < ktl::read_once(min_)) ktl::write_once(min_, value);
    if (value > ktl::read_once(max_)) ktl::write_once(max_, value);
  }
  // bucket_of, inlined: values 0..15 their own buckets, then 16 per octave.
  [[gnu::always_inline]] static ktl::size_t bucket_index(ktl::u64 value) {
    constexpr ktl::size_t kSub = ktl::size_t{1} << kSubBucketBits;
    if (value < kSub) return static_cast<ktl::size_t>(value);
    if (value >= (ktl::u64{1} << kMaxExponent)) return kOverflowBucket;
    unsigned exponent = 63u - static_cast<unsigned>(__builtin_clzll(value));
    unsigned shift = exponent - kSubBucketBits;
    // value >> shift is in [16, 32): the leading 1 supplies the octave's base
    // offset of 16, so this equals 16 + (e-4)*16 + ((value >> (e-4)) & 15).
    return static_cast<ktl::size_t>(shift) * kSub + static_cast<ktl::size_t>(value >> shift);
  }
  // Adds this histogram's contents into a snapshot (readers; tolerates a
  // concurrent writer: counts may be one event apart, never torn).
  void merge_into(HistogramSnapshot& snapshot) const;
  void reset();

 private:
  ktl::u32 counts_[kBuckets] = {};
  ktl::u64 sum_ = 0;
  ktl::u64 min_ = ktl::kU64Max;
  ktl::u64 max_ = 0;
};

struct HistogramSnapshot {
  ktl::u64 counts[Histogram::kBuckets] = {};
  ktl::u64 count = 0;
  ktl::u64 sum = 0;
  ktl::u64 min = ktl::kU64Max;  // kU64Max when empty
  ktl::u64 max = 0;

  ktl::u64 mean() const;  // 0 when empty
  // Value at permille p (500 = median, 990 = p99), as the midpoint of the
  // bucket holding that rank, clamped to [min, max]. 0 when empty.
  ktl::u64 percentile(ktl::u32 permille) const;
};

// Draws a snapshot like bpftrace's hist(): one row per power of two that has
// values, from the lowest to the highest non-empty one (empty rows in
// between shown), "[lower, upper) count |@@@@   |" with human units
// (ns, K, M, G: "[1K, 2K)"), bars 40 wide scaled to the largest row.
// An empty snapshot draws "(no samples)\n".
void render_histogram(ktl::StringBuilder& out, const HistogramSnapshot& snapshot);

// Appends a nanosecond value in short human units for tables: "950ns",
// "1.25us", "12.5ms", "3.20s" (three significant digits, integer math).
void append_duration(ktl::StringBuilder& out, ktl::u64 ns);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_HISTOGRAM_H
