// SPDX-License-Identifier: GPL-2.0
// Stage times net of forkscope's own probe effect: each interval between two
// hook crossings holds the opening hook's part after its timestamp and the
// closing hook's part before its timestamp (the calibration's post and
// pre); net = raw - that bias, on the read side only (records keep raw).
#ifndef FORKSCOPE_CORE_NET_H
#define FORKSCOPE_CORE_NET_H

#include <ktl/types.h>

#include "histogram.h"
#include "record.h"
#include "stage_model.h"

namespace forkscope {

// One crossing's probe effect, ns (calibration medians and IQRs, >= 0).
struct CrossingBias {
  ktl::u32 pre_ns = 0;         // hook start to its timestamp: in the interval it closes
  ktl::u32 post_ns = 0;        // timestamp to hook end: in the interval it opens
  ktl::u32 pre_spread_ns = 0;  // their interquartile ranges
  ktl::u32 post_spread_ns = 0;
};

// Per anchor, its entry's and its return's (a fork Boundary and an exec
// event are both an anchor's crossing). generation 0: never calibrated.
struct BiasTable {
  CrossingBias entry[kAnchorCount] = {};
  CrossingBias ret[kAnchorCount] = {};
  ktl::u64 generation = 0;

  const CrossingBias& of(Crossing c) const {
    auto a = static_cast<ktl::size_t>(c.anchor);
    return c.is_return ? ret[a] : entry[a];
  }
  bool calibrated() const { return generation != 0; }
};

// One record net of the bias. Sums: the raw stages sum to raw.total_ns;
// the unclamped net stages sum exactly to net_total_unclamped_ns =
// raw.total_ns - total_bias_ns (every boundary inside the span: the first's
// post, the last's pre, both parts of each one between). Clamping each
// stage at 0 only adds: sum(net_ns) = net_total_unclamped_ns + clamped_ns.
struct NetPartition {
  Partition raw;
  ktl::u64 bias_ns[kStageCount] = {};    // applied per stage (0 if it did not run)
  ktl::u32 spread_ns[kStageCount] = {};  // the bias's own spread (saturates)
  ktl::s64 unclamped_ns[kStageCount] = {};
  ktl::u64 within_spread_mask = 0;  // bit per stage that ran with net <= spread (calibrated)
  ktl::u64 total_bias_ns = 0;
  ktl::s64 net_total_unclamped_ns = 0;
  ktl::u64 net_total_ns = 0;          // max(net_total_unclamped_ns, 0)
  ktl::u64 clamped_ns = 0;            // what clamping the stages added
  ktl::u64 copy_process_bias_ns = 0;  // bias of copy_process's stages (0 without its span)
  ktl::u64 copy_process_spread_ns = 0;
  ktl::u64 total_spread_ns = 0;  // the spreads of every stage
  bool calibrated = false;

  ktl::u64 net_ns(ktl::size_t stage) const {  // clamped at 0
    return unclamped_ns[stage] < 0 ? 0 : static_cast<ktl::u64>(unclamped_ns[stage]);
  }
};

// Read side. A spawn record has only its raw total (no bias).
void compute_net(const Record& record, const BiasTable& bias, NetPartition* out);

// stats_net: per stage, the raw and net values of the records read.
inline constexpr ktl::size_t kNetRowCopyProcess = kStageCount;
inline constexpr ktl::size_t kNetRowTotal = kStageCount + 1;
inline constexpr ktl::size_t kNetRows = kStageCount + 2;

struct NetRow {
  HistogramSnapshot raw;
  HistogramSnapshot net;  // clamped values
  ktl::u64 bias_sum = 0;
  ktl::u64 spread_sum = 0;
  ktl::s64 unclamped_sum = 0;
  ktl::u64 within_spread = 0;  // records whose stage was within the spread
};

struct NetStats {
  NetRow rows[kNetRows];
  ktl::u64 records = 0;
  ktl::u64 clamped_sum = 0;

  void add(const NetPartition& net);
  // Within the spread: the row's net median is at most its mean spread.
  bool row_within_spread(ktl::size_t row) const;
};

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_NET_H
