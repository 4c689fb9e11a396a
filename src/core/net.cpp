// SPDX-License-Identifier: GPL-2.0
// Net arithmetic: a record's intervals less the bias of the crossings that
// bracket them, per stage and for the span; stats_net's aggregation.
#include "net.h"

namespace forkscope {

namespace {

ktl::s64 clamp_to_zero(ktl::s64 v) { return v < 0 ? 0 : v; }

void add_value(HistogramSnapshot& h, ktl::u64 value) {
  ++h.counts[Histogram::bucket_of(value)];
  ++h.count;
  h.sum += value;
  h.min = value < h.min ? value : h.min;
  h.max = value > h.max ? value : h.max;
}

}  // namespace

namespace {

struct NetWalk {
  const BiasTable* bias;
  NetPartition* out;
};

void add_interval_bias(void* context, const Interval& interval) {
  auto* walk = static_cast<NetWalk*>(context);
  const CrossingBias& open = walk->bias->of(interval.open);
  const CrossingBias& close = walk->bias->of(interval.close);
  auto s = static_cast<ktl::size_t>(interval.stage);
  walk->out->bias_ns[s] += ktl::u64{open.post_ns} + close.pre_ns;
  ktl::u64 spread = ktl::u64{walk->out->spread_ns[s]} + open.post_spread_ns + close.pre_spread_ns;
  constexpr ktl::u64 kMax = 0xffffffffu;
  walk->out->spread_ns[s] = static_cast<ktl::u32>(spread > kMax ? kMax : spread);
}

}  // namespace

void compute_net(const Record& record, const BiasTable& bias, NetPartition* out) {
  *out = NetPartition{};
  out->calibrated = bias.calibrated();
  NetWalk walk{&bias, out};
  switch (record.event) {
    case EventType::kFork:
      compute_partition_intervals(record.boundary_ns, record.present, record.vfork(), &out->raw,
                                  add_interval_bias, &walk);
      break;
    case EventType::kExec:
      compute_exec_partition_intervals(record.exec.events, record.exec.event_count, &out->raw,
                                       add_interval_bias, &walk);
      break;
    case EventType::kSpawn:
      compute_record_partition(record, &out->raw);
      out->net_total_unclamped_ns = static_cast<ktl::s64>(out->raw.total_ns);
      out->net_total_ns = out->raw.total_ns;
      return;
  }
  for (ktl::size_t s = 0; s < kStageCount; ++s) {
    if (!((out->raw.ran_mask >> s) & 1)) continue;
    ktl::s64 net =
        static_cast<ktl::s64>(out->raw.stage_ns[s]) - static_cast<ktl::s64>(out->bias_ns[s]);
    out->unclamped_ns[s] = net;
    out->clamped_ns += out->net_ns(s) - static_cast<ktl::u64>(net);
    out->total_bias_ns += out->bias_ns[s];
    out->total_spread_ns += out->spread_ns[s];
    if (out->calibrated && out->net_ns(s) <= out->spread_ns[s]) {
      out->within_spread_mask |= ktl::u64{1} << s;
    }
    if (out->raw.copy_process_ns != 0 && is_copy_process_stage(static_cast<Stage>(s))) {
      out->copy_process_bias_ns += out->bias_ns[s];
      out->copy_process_spread_ns += out->spread_ns[s];
    }
  }
  out->net_total_unclamped_ns =
      static_cast<ktl::s64>(out->raw.total_ns) - static_cast<ktl::s64>(out->total_bias_ns);
  out->net_total_ns = static_cast<ktl::u64>(clamp_to_zero(out->net_total_unclamped_ns));
}

void NetStats::add(const NetPartition& p) {
  ++records;
  clamped_sum += p.clamped_ns;
  for (ktl::size_t s = 0; s < kStageCount; ++s) {
    if (!((p.raw.ran_mask >> s) & 1)) continue;
    NetRow& row = rows[s];
    add_value(row.raw, p.raw.stage_ns[s]);
    add_value(row.net, p.net_ns(s));
    row.bias_sum += p.bias_ns[s];
    row.spread_sum += p.spread_ns[s];
    row.unclamped_sum += p.unclamped_ns[s];
    row.within_spread += (p.within_spread_mask >> s) & 1;
  }
  if (p.raw.copy_process_ns != 0) {
    NetRow& row = rows[kNetRowCopyProcess];
    ktl::s64 net = static_cast<ktl::s64>(p.raw.copy_process_ns) -
                   static_cast<ktl::s64>(p.copy_process_bias_ns);
    add_value(row.raw, p.raw.copy_process_ns);
    add_value(row.net, static_cast<ktl::u64>(clamp_to_zero(net)));
    row.bias_sum += p.copy_process_bias_ns;
    row.spread_sum += p.copy_process_spread_ns;
    row.within_spread += p.calibrated && net <= static_cast<ktl::s64>(p.copy_process_spread_ns);
    row.unclamped_sum += net;
  }
  NetRow& total = rows[kNetRowTotal];
  add_value(total.raw, p.raw.total_ns);
  add_value(total.net, p.net_total_ns);
  total.bias_sum += p.total_bias_ns;
  total.spread_sum += p.total_spread_ns;
  total.within_spread += p.calibrated && p.net_total_ns <= p.total_spread_ns;
  total.unclamped_sum += p.net_total_unclamped_ns;
}

bool NetStats::row_within_spread(ktl::size_t row) const {
  const NetRow& r = rows[row];
  if (r.net.count == 0 || r.spread_sum == 0) return false;
  return r.net.percentile(500) * r.net.count <= r.spread_sum;
}

}  // namespace forkscope
