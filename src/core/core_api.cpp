// SPDX-License-Identifier: GPL-2.0
// The core's C entry points (include/forkscope/core.h): owns the one Engine,
// forwards probe events to it, and renders the debugfs files.
#include <forkscope/core.h>
#include <forkscope/cxxrt.h>
#include <ktl/alloc_checker.h>
#include <ktl/atomic.h>
#include <ktl/string_builder.h>
#include <ktl/utility.h>

#include "control.h"
#include "engine.h"
#include "format.h"
#include "probe_context.h"

namespace forkscope {
namespace {

// Proof that static initialization ran: the constructor is not constexpr,
// so without a working .init_array runner the marker stays zero and init
// refuses to start instead of running on half-initialized globals.
class StaticInitWitness {
 public:
  StaticInitWitness() : marker_(compute_marker()) { ++constructions_; }
  bool ran() const { return marker_ == compute_marker(); }
  // Exactly one: neither missed nor run by both the loader and cxxrt.
  static int constructions() { return constructions_; }

 private:
  static ktl::u64 compute_marker() {
    volatile ktl::u64 seed = 0x666f726b73636f70;  // "forkscop"
    return seed ^ 0x5a5a5a5a5a5a5a5a;
  }
  ktl::u64 marker_;
  static constinit inline int constructions_ = 0;
};

StaticInitWitness g_static_init_witness;

// Published once init has finished; probe handlers only read it.
ktl::Atomic<Engine*> g_engine;

static_assert(sizeof(ProbeData) <= 32, "kretprobe instance data stays small");

FORKSCOPE_PROBE_CONTEXT Engine* live_engine() {
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  if (engine == nullptr || forkscope_cxxrt_faulted()) return nullptr;
  return engine;
}

FORKSCOPE_PROBE_CONTEXT CreationArgs to_creation_args(const forkscope_creation_args& in) {
  CreationArgs out;
  out.request.flags = in.flags;
  out.request.exit_signal = in.exit_signal;
  out.request.origin = in.origin >= FORKSCOPE_ORIGIN_UNKNOWN && in.origin <= FORKSCOPE_ORIGIN_KERNEL
                           ? static_cast<Origin>(in.origin)
                           : Origin::kUnknown;
  out.request.kthread = in.kthread != 0;
  out.request.io_thread = in.io_thread != 0;
  out.request.has_fn = in.has_fn != 0;
  out.pid = in.pid;
  out.tgid = in.tgid;
  ktl::copy_bytes(out.comm, in.comm, kCommLength);
  out.comm[kCommLength - 1] = '\0';
  const forkscope_caller_context& c = in.caller;
  out.caller.unkillable = c.unkillable != 0;
  out.caller.pid_ns_differs = c.pid_ns_differs != 0;
  out.caller.time_ns_differs = c.time_ns_differs != 0;
  out.caller.cap_sys_admin = c.cap_sys_admin != 0;
  out.caller.cap_sys_admin_init_ns = c.cap_sys_admin_init_ns != 0;
  out.caller.unprivileged_userns = c.unprivileged_userns != 0;
  out.caller.pidfd_is_parent_tid = c.pidfd_is_parent_tid != 0;
  out.caller.has_mm = c.has_mm != 0;
  out.caller.has_io_context = c.has_io_context != 0;
  out.caller.io_context_prio_valid = c.io_context_prio_valid != 0;
  out.caller.group_leader_exit_signal = c.group_leader_exit_signal;
  out.filename = in.filename;
  return out;
}

FORKSCOPE_PROBE_CONTEXT Observation to_observation(const forkscope_observation& in) {
  Observation out;
  for (ktl::size_t r = 0; r < kResourceCount; ++r) {
    out.same[r] = (in.same_mask >> r) & 1;
    out.child_null[r] = (in.child_null_mask >> r) & 1;
  }
  out.same_thread_group = in.same_thread_group != 0;
  out.parent_is_caller = in.parent_is_caller != 0;
  out.parent_is_callers_parent = in.parent_is_callers_parent != 0;
  out.exit_signal = in.exit_signal;
  return out;
}

// Growable output for forkscope_core_render: sized up front from the content,
// doubled and re-rendered in the rare case the estimate was short.
template <typename RenderFn>
int render_into(forkscope_text* out, ktl::size_t estimate, RenderFn render) {
  for (ktl::size_t size = estimate; size <= (ktl::size_t{256} << 20); size *= 2) {
    ktl::AllocChecker ac;
    char* buffer = new (ac) char[size];
    if (!ac.check()) return -FORKSCOPE_ENOMEM;
    ktl::StringBuilder builder(buffer, size);
    render(builder);
    if (!builder.truncated()) {
      out->data = buffer;
      out->length = builder.length();
      return 0;
    }
    delete[] buffer;
  }
  return -FORKSCOPE_ENOSPC;
}

template <typename T>
class ScopedArray {
 public:
  explicit ScopedArray(ktl::size_t n) {
    ktl::AllocChecker ac;
    data_ = new (ac) T[n];
    if (!ac.check()) data_ = nullptr;
  }
  ~ScopedArray() { delete[] data_; }
  ScopedArray(const ScopedArray&) = delete;
  ScopedArray& operator=(const ScopedArray&) = delete;
  T* get() { return data_; }

 private:
  T* data_;
};

void append_version(ktl::StringBuilder& out, const forkscope_build_info& info,
                    const Engine& engine) {
  struct forkscope_cxxrt_stats rt;
  forkscope_cxxrt_get_stats(&rt);
  out.append("forkscope ").append(FORKSCOPE_VERSION).append_char('\n');
  out.append("kernel ").append(info.kernel_release).append_char('\n');
  out.append("built_for ").append(info.built_for).append_char('\n');
  out.append("compiler ").append(info.compiler).append_char('\n');
  out.append("cxx_standard ").append_u64(__cplusplus).append_char('\n');
  out.append("cxxrt_ctors_run ").append_u64(rt.ctors_run).append_char('\n');
  out.append("cxxrt_ctors_by ").append(rt.ctors_by_kernel ? "kernel" : "cxxrt").append_char('\n');
  out.append("cxxrt_static_init_runs ")
      .append_u64(static_cast<ktl::u64>(StaticInitWitness::constructions()))
      .append_char('\n');
  out.append("cxxrt_static_init ").append(g_static_init_witness.ran() ? "ok" : "missing");
  out.append_char('\n');
  out.append("cxxrt_live_allocs ").append_u64(rt.live_allocs).append_char('\n');
  out.append("cxxrt_live_bytes ").append_u64(rt.live_bytes).append_char('\n');
  out.append("cxxrt_alloc_failures ").append_u64(rt.alloc_failures).append_char('\n');
  out.append("cxxrt_faulted ").append_u64(forkscope_cxxrt_faulted() ? 1 : 0).append_char('\n');
  const EngineConfig& config = engine.config();
  out.append("cpus ").append_u64(config.nr_cpus).append_char('\n');
  out.append("inflight_slots ").append_u64(config.inflight_slots).append_char('\n');
  out.append("ring_records_per_cpu ").append_u64(config.ring_records).append_char('\n');
  out.append("top_n ").append_u64(config.top_n).append_char('\n');
}

}  // namespace
}  // namespace forkscope

using namespace forkscope;  // NOLINT: this file is the C boundary of the namespace

extern "C" unsigned int forkscope_core_anchor_count(void) { return kAnchorCount; }

extern "C" void forkscope_core_anchor_describe(unsigned int anchor,
                                               struct forkscope_anchor_desc* out) {
  const AnchorInfo& info = anchor_info(static_cast<Anchor>(anchor < kAnchorCount ? anchor : 0));
  for (int i = 0; i < FORKSCOPE_ANCHOR_NAMES; ++i) out->names[i] = info.names[i];
  out->required = info.required ? 1 : 0;
  out->role = static_cast<int>(info.role);
}

extern "C" forkscope_size_t forkscope_core_probe_data_size(void) { return sizeof(ProbeData); }

extern "C" int forkscope_core_init(const struct forkscope_core_config* config) {
  if (!g_static_init_witness.ran()) {
    forkscope_platform_log(FORKSCOPE_LOG_ERR, "static constructors did not run; refusing to start");
    return -FORKSCOPE_EINVAL;
  }
  ktl::AllocChecker ac;
  Engine* engine = new (ac) Engine;
  if (!ac.check()) {
    forkscope_platform_log(FORKSCOPE_LOG_ERR, "out of memory allocating the engine");
    return -FORKSCOPE_ENOMEM;
  }
  EngineConfig engine_config;
  engine_config.nr_cpus = forkscope_platform_nr_cpu_ids();
  engine_config.inflight_slots = config->inflight_slots;
  engine_config.ring_records = config->ring_records;
  engine_config.top_n = config->top_n;
  engine_config.spawn_slots = config->spawn_slots;
  int err = engine->init(engine_config);
  if (err != 0) {
    forkscope_platform_log(FORKSCOPE_LOG_ERR, err == -FORKSCOPE_ENOMEM
                                                  ? "out of memory allocating per-CPU state"
                                                  : "invalid engine configuration");
    delete engine;
    return err;
  }
  g_engine.store(engine, ktl::MemoryOrder::kRelease);
  return 0;
}

extern "C" void forkscope_core_exit(void) { delete g_engine.exchange(nullptr); }

extern "C" void forkscope_core_set_available_anchors(forkscope_u64 mask) {
  if (Engine* engine = g_engine.load()) engine->set_available_anchors(mask);
}

extern "C" FORKSCOPE_PROBE_CONTEXT int forkscope_core_on_entry(
    unsigned int anchor, const void* task, void* data, const struct forkscope_creation_args* args,
    forkscope_u64 now) {
  Engine* engine = live_engine();
  if (engine == nullptr || anchor >= kAnchorCount) return 1;
  auto* probe_data = static_cast<ProbeData*>(data);
  if (args == nullptr) {
    return engine->on_entry(static_cast<Anchor>(anchor), task, probe_data, nullptr, now);
  }
  CreationArgs creation = to_creation_args(*args);
  return engine->on_entry(static_cast<Anchor>(anchor), task, probe_data, &creation, now);
}

extern "C" FORKSCOPE_PROBE_CONTEXT void forkscope_core_on_return(
    unsigned int anchor, void* data, const struct forkscope_return_facts* in, forkscope_u64 now) {
  Engine* engine = live_engine();
  if (engine == nullptr || anchor >= kAnchorCount) return;
  ReturnFacts facts;
  facts.retval = in->retval;
  facts.child_pid = in->child_pid;
  facts.child_task = in->child_task;
  facts.comm = in->comm;
  Observation seen;
  if (in->observation != nullptr) {
    seen = to_observation(*in->observation);
    facts.observation = &seen;
  }
  engine->on_return(static_cast<Anchor>(anchor), static_cast<ProbeData*>(data), facts, now);
}

extern "C" int forkscope_core_render(enum forkscope_file file,
                                     const struct forkscope_build_info* info,
                                     const struct forkscope_probe_health* probes,
                                     unsigned int nr_probes, struct forkscope_text* out) {
  out->data = nullptr;
  out->length = 0;
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  if (engine == nullptr) return -FORKSCOPE_EINVAL;
  switch (file) {
    case FORKSCOPE_FILE_VERSION:
      return render_into(out, 2048,
                         [&](ktl::StringBuilder& b) { append_version(b, *info, *engine); });
    case FORKSCOPE_FILE_COUNTERS: {
      EngineCounters counters = engine->counters();
      return render_into(out, 4096 + nr_probes * 128, [&](ktl::StringBuilder& b) {
        append_counters(b, counters, probes, nr_probes, engine->enabled(), engine->sample_every(),
                        engine->filter());
      });
    }
    case FORKSCOPE_FILE_STAGES: {
      EngineCounters counters = engine->counters();
      return render_into(out, 16384, [&](ktl::StringBuilder& b) {
        append_stage_map(b, counters, probes, nr_probes, engine->available_anchors());
      });
    }
    case FORKSCOPE_FILE_STATS:
    case FORKSCOPE_FILE_HIST: {
      ScopedArray<StatsSnapshot> stats(1);
      ScopedArray<HistogramSnapshot> scratch(1);
      if (stats.get() == nullptr || scratch.get() == nullptr) return -FORKSCOPE_ENOMEM;
      engine->collect_stats(stats.get());
      if (file == FORKSCOPE_FILE_STATS) {
        return render_into(out, 64 * 1024, [&](ktl::StringBuilder& b) {
          append_stats(b, *stats.get(), scratch.get());
        });
      }
      return render_into(out, 64 * 1024, [&](ktl::StringBuilder& b) {
        append_histograms(b, *stats.get(), scratch.get());
      });
    }
    case FORKSCOPE_FILE_TRACE:
    case FORKSCOPE_FILE_RECORDS:
    case FORKSCOPE_FILE_SLOWEST: {
      ktl::size_t capacity =
          file == FORKSCOPE_FILE_SLOWEST
              ? static_cast<ktl::size_t>(engine->config().top_n) * engine->config().nr_cpus
              : engine->ring_capacity_total();
      ScopedArray<Record> records(capacity);
      if (records.get() == nullptr) return -FORKSCOPE_ENOMEM;
      if (file == FORKSCOPE_FILE_SLOWEST) {
        ktl::size_t n = engine->collect_slowest(records.get(), capacity);
        return render_into(out, 512 + n * (kTraceLineMax + kStageCount * 64),
                           [&](ktl::StringBuilder& b) { append_slowest(b, records.get(), n); });
      }
      ktl::size_t n = engine->collect_records(records.get(), capacity);
      bool json = file == FORKSCOPE_FILE_RECORDS;
      return render_into(out, 64 + n * (json ? kJsonLineMax : kTraceLineMax),
                         [&](ktl::StringBuilder& b) {
                           for (ktl::size_t i = 0; i < n; ++i) {
                             if (json) {
                               append_json_line(b, records.get()[i]);
                             } else {
                               append_trace_line(b, records.get()[i]);
                             }
                           }
                         });
    }
    case FORKSCOPE_FILE_VERDICTS: {
      EngineCounters counters = engine->counters();
      ktl::size_t capacity = engine->mismatch_capacity_total();
      ScopedArray<Record> records(capacity);
      if (records.get() == nullptr) return -FORKSCOPE_ENOMEM;
      ktl::size_t n = engine->collect_mismatches(records.get(), capacity);
      return render_into(out, 1024 + n * (kTraceLineMax + 1024), [&](ktl::StringBuilder& b) {
        append_verdicts(b, counters, records.get(), n);
      });
    }
    case FORKSCOPE_FILE_SPAWNS: {
      ktl::size_t capacity = engine->ring_capacity_total();
      ScopedArray<Record> records(capacity);
      if (records.get() == nullptr) return -FORKSCOPE_ENOMEM;
      ktl::size_t n = engine->collect_records(records.get(), capacity);
      return render_into(out, 512 + n * kTraceLineMax,
                         [&](ktl::StringBuilder& b) { append_spawns(b, records.get(), n); });
    }
    case FORKSCOPE_FILE_CONTROL:
      return render_into(out, 256, [&](ktl::StringBuilder& b) {
        b.append(engine->enabled() ? "enabled" : "disabled");
        b.append(" sample ").append_u64(engine->sample_every()).append_char('\n');
        b.append("# write: enable | disable | reset | sample N\n");
      });
    case FORKSCOPE_FILE_FILTER:
      return render_into(out, 256, [&](ktl::StringBuilder& b) {
        append_filter(b, engine->filter());
        b.append_char('\n');
      });
  }
  return -FORKSCOPE_EINVAL;
}

extern "C" void forkscope_core_text_free(struct forkscope_text* text) {
  delete[] text->data;
  text->data = nullptr;
  text->length = 0;
}

extern "C" int forkscope_core_control(const char* input, forkscope_size_t length,
                                      const char** why) {
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  if (engine == nullptr) {
    *why = "forkscope is not initialized";
    return -FORKSCOPE_EINVAL;
  }
  ControlCommand command;
  int err = parse_control(input, length, &command, why);
  if (err != 0) return err;
  switch (command.op) {
    case ControlCommand::Op::kEnable:
      engine->set_enabled(true);
      break;
    case ControlCommand::Op::kDisable:
      engine->set_enabled(false);
      break;
    case ControlCommand::Op::kReset:
      engine->request_reset();
      break;
    case ControlCommand::Op::kSample:
      engine->set_sample_every(command.sample_every);
      break;
  }
  return 0;
}

extern "C" int forkscope_core_set_filter(const char* input, forkscope_size_t length,
                                         const char** why) {
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  if (engine == nullptr) {
    *why = "forkscope is not initialized";
    return -FORKSCOPE_EINVAL;
  }
  Filter filter;
  int err = parse_filter(input, length, &filter, why);
  if (err != 0) return err;
  engine->set_filter(filter);
  return 0;
}

extern "C" forkscope_s64 forkscope_core_consume(char* buf, forkscope_size_t size) {
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  if (engine == nullptr) return -FORKSCOPE_EINVAL;
  if (size < kTraceLineMax) return -FORKSCOPE_ENOSPC;
  ktl::StringBuilder out(buf, size);
  Record record;
  // Stop while a worst-case line still fits, so no record is half-written.
  while (size - out.length() > kTraceLineMax && engine->consume_next(&record)) {
    append_trace_line(out, record);
  }
  return static_cast<forkscope_s64>(out.length());
}

extern "C" int forkscope_core_has_unconsumed(void) {
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  return engine != nullptr && engine->has_unconsumed() ? 1 : 0;
}

extern "C" void forkscope_core_set_reader_waiting(int waiting) {
  if (Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire)) {
    engine->set_reader_waiting(waiting != 0);
  }
}
