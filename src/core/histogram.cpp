// SPDX-License-Identifier: GPL-2.0
// Log-linear latency histograms: the O(1) hot-path add, read-side merge and
// percentiles, and the bpftrace-style text rendering of a snapshot.
#include "histogram.h"

#include <ktl/atomic.h>
#include <ktl/utility.h>

#include "probe_context.h"

namespace forkscope {

namespace {

using ktl::size_t;
using ktl::u32;
using ktl::u64;

constexpr size_t kSubBuckets = size_t{1} << Histogram::kSubBucketBits;
constexpr u64 kOverflowValue = u64{1} << Histogram::kMaxExponent;

// Rows of the rendering: [0], [1], then one per octave [2^k, 2^(k+1)) for
// k = 1..kMaxExponent-1, then the overflow row.
constexpr size_t kOverflowRow = Histogram::kMaxExponent + 1;
constexpr size_t kRows = kOverflowRow + 1;
constexpr size_t kBarWidth = 40;
constexpr size_t kLabelWidth = 16;  // as bpftrace
constexpr size_t kCountWidth = 8;   // as bpftrace; widened for larger counts

// The writer is the owning CPU; readers on other CPUs load concurrently, so
// every access is a once-access (plain mov on x86, never torn).
using ktl::read_once;
using ktl::write_once;

// Saturates instead of wrapping so a bogus huge sample cannot make the mean
// small again.
inline u64 add_saturating(u64 a, u64 b) {
  u64 sum;
  return __builtin_add_overflow(a, b, &sum) ? ktl::kU64Max : sum;
}

u64 bucket_midpoint(size_t bucket) {
  u64 lower = Histogram::bucket_lower(bucket);
  return lower + (Histogram::bucket_upper(bucket) - lower) / 2;
}

size_t row_of_bucket(size_t bucket) {
  if (bucket == Histogram::kOverflowBucket) return kOverflowRow;
  if (bucket < kSubBuckets) {
    // 0 -> row 0, 1 -> row 1, [2^k, 2^(k+1)) -> row k+1.
    if (bucket < 2) return bucket;
    return static_cast<size_t>(64 - __builtin_clzll(bucket));
  }
  // Octave e = bucket/16 + 3 (see bucket_index), row e + 1.
  return bucket / kSubBuckets + 4;
}

// bpftrace's labels: 1 << power with K/M/G/T suffixes by powers of 1024.
void append_power_label(ktl::StringBuilder& out, unsigned power) {
  static const char kSuffixes[] = {'\0', 'K', 'M', 'G', 'T'};
  unsigned unit = power / 10;
  if (unit > 4) unit = 4;
  out.append_u64(u64{1} << (power - unit * 10));
  if (kSuffixes[unit] != '\0') out.append_char(kSuffixes[unit]);
}

void append_row_label(ktl::StringBuilder& out, size_t row) {
  if (row < 2) {
    out.append_char('[').append_u64(row).append_char(']');
  } else if (row == kOverflowRow) {
    out.append_char('[');
    append_power_label(out, Histogram::kMaxExponent);
    out.append(", ...)");
  } else {
    unsigned power = static_cast<unsigned>(row - 1);
    out.append_char('[');
    append_power_label(out, power);
    out.append(", ");
    append_power_label(out, power + 1);
    out.append_char(')');
  }
}

size_t decimal_digits(u64 value) {
  size_t n = 1;
  while (value >= 10) {
    value /= 10;
    ++n;
  }
  return n;
}

u64 power_of_ten(size_t exponent) {
  u64 p = 1;
  while (exponent-- > 0) p *= 10;
  return p;
}

// value / divisor rounded to nearest, half up, without overflow.
u64 divide_rounded(u64 value, u64 divisor) {
  u64 quotient = value / divisor;
  u64 remainder = value % divisor;
  return quotient + (remainder >= divisor - remainder ? 1 : 0);
}

}  // namespace

size_t Histogram::bucket_of(u64 value) { return bucket_index(value); }

u64 Histogram::bucket_lower(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  if (bucket >= kOverflowBucket) return kOverflowValue;
  unsigned shift = static_cast<unsigned>(bucket / kSubBuckets) - 1;
  return (kSubBuckets + bucket % kSubBuckets) << shift;
}

u64 Histogram::bucket_upper(size_t bucket) {
  if (bucket >= kOverflowBucket) return ktl::kU64Max;
  if (bucket < kSubBuckets) return bucket + 1;
  unsigned shift = static_cast<unsigned>(bucket / kSubBuckets) - 1;
  return (kSubBuckets + bucket % kSubBuckets + 1) << shift;
}

void Histogram::merge_into(HistogramSnapshot& snapshot) const {
  for (size_t i = 0; i < kBuckets; ++i) {
    u32 n = read_once(counts_[i]);
    snapshot.counts[i] += n;
    snapshot.count += n;
  }
  snapshot.sum = add_saturating(snapshot.sum, read_once(sum_));
  snapshot.min = ktl::min(snapshot.min, read_once(min_));
  snapshot.max = ktl::max(snapshot.max, read_once(max_));
}

// Run by the owner CPU in probe context (a lazy reset).
FORKSCOPE_PROBE_CONTEXT void Histogram::reset() {
  for (size_t i = 0; i < kBuckets; ++i) write_once(counts_[i], u32{0});
  write_once(sum_, u64{0});
  write_once(min_, ktl::kU64Max);
  write_once(max_, u64{0});
}

u64 HistogramSnapshot::mean() const { return count == 0 ? 0 : sum / count; }

u64 HistogramSnapshot::percentile(ktl::u32 permille) const {
  if (count == 0) return 0;
  if (permille > 1000) permille = 1000;
  // ceil(count * permille / 1000), split so that no count can overflow.
  u64 rank = count / 1000 * permille + (count % 1000 * permille + 999) / 1000;
  if (rank == 0) rank = 1;

  // A concurrent writer can leave count ahead of the buckets: fall back to
  // the highest non-empty bucket then.
  size_t found = Histogram::kBuckets;
  u64 seen = 0;
  for (size_t i = 0; i < Histogram::kBuckets; ++i) {
    if (counts[i] == 0) continue;
    found = i;
    seen += counts[i];
    if (seen >= rank) break;
  }
  if (found == Histogram::kBuckets) return 0;

  u64 value = bucket_midpoint(found);
  // min > max only while a writer is mid-update; do not clamp then.
  if (min <= max) value = ktl::max(min, ktl::min(value, max));
  return value;
}

void render_histogram(ktl::StringBuilder& out, const HistogramSnapshot& snapshot) {
  u64 rows[kRows] = {};
  for (size_t i = 0; i < Histogram::kBuckets; ++i) rows[row_of_bucket(i)] += snapshot.counts[i];

  size_t first = kRows;
  size_t last = 0;
  u64 largest = 0;
  for (size_t r = 0; r < kRows; ++r) {
    if (rows[r] == 0) continue;
    if (first == kRows) first = r;
    last = r;
    largest = ktl::max(largest, rows[r]);
  }
  if (first == kRows) {
    out.append("(no samples)\n");
    return;
  }

  size_t count_width = ktl::max(kCountWidth, decimal_digits(largest));
  // Scale down so that count * kBarWidth cannot overflow.
  unsigned scale_shift = 0;
  while ((largest >> scale_shift) > ktl::kU64Max / kBarWidth) ++scale_shift;
  u64 scaled_largest = largest >> scale_shift;

  for (size_t r = first; r <= last; ++r) {
    char label[kLabelWidth + 1];
    ktl::StringBuilder label_out(label, sizeof(label));
    append_row_label(label_out, r);
    out.append_padded(label, kLabelWidth);
    out.append_u64_padded(rows[r], count_width);
    size_t bar = static_cast<size_t>((rows[r] >> scale_shift) * kBarWidth / scaled_largest);
    // Any non-empty row stays visible.
    if (bar == 0 && rows[r] != 0) bar = 1;
    out.append(" |").append_repeat('@', bar).append_repeat(' ', kBarWidth - bar).append("|\n");
  }
}

void append_duration(ktl::StringBuilder& out, u64 ns) {
  constexpr u64 kNsPerSecond = 1000000000;
  if (ns < 1000) {
    out.append_u64(ns).append("ns");
    return;
  }
  // Round to three significant digits: mantissa in [100, 999] times
  // 10^(digits - 3); rounding up to 1000 carries into one more digit.
  size_t digits = decimal_digits(ns);
  u64 mantissa = divide_rounded(ns, power_of_ten(digits - 3));
  if (mantissa == 1000) {
    mantissa = 100;
    ++digits;
  }
  if (digits > 12) {
    // 1000 s and beyond: whole seconds.
    out.append_u64(divide_rounded(ns, kNsPerSecond)).append_char('s');
    return;
  }
  static const char* const kUnits[] = {"us", "ms", "s"};
  size_t group = (digits - 1) / 3;  // 1 = us, 2 = ms, 3 = s
  size_t integer_digits = digits - group * 3;
  u64 fraction_scale = power_of_ten(3 - integer_digits);
  out.append_u64(mantissa / fraction_scale);
  if (fraction_scale > 1) {
    out.append_char('.');
    // Leading zeros of the fraction matter: 1.05us.
    if (fraction_scale == 100 && mantissa % fraction_scale < 10) out.append_char('0');
    out.append_u64(mantissa % fraction_scale);
  }
  out.append(kUnits[group - 1]);
}

}  // namespace forkscope
