// SPDX-License-Identifier: GPL-2.0
// The core's C entry points (include/forkscope/core.h): owns the one Engine,
// forwards probe events to it, and renders the debugfs files.
#include <forkscope/core.h>
#include <forkscope/cxxrt.h>
#include <ktl/alloc_checker.h>
#include <ktl/atomic.h>
#include <ktl/string_builder.h>
#include <ktl/unique_ptr.h>
#include <ktl/utility.h>

#include "control.h"
#include "engine.h"
#include "engine_state.h"
#include "format.h"
#include "kernel_profile.h"
#include "load_budget.h"
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

// Every value that crosses the C/C++ door means the same on both sides.
constexpr bool same(int c_value, AnchorRole role) { return c_value == static_cast<int>(role); }
static_assert(same(FORKSCOPE_ROLE_CREATION_START, AnchorRole::kCreationStart) &&
                  same(FORKSCOPE_ROLE_COPY_PROCESS, AnchorRole::kCopyProcess) &&
                  same(FORKSCOPE_ROLE_STEP, AnchorRole::kStep) &&
                  same(FORKSCOPE_ROLE_EXEC_START, AnchorRole::kExecStart) &&
                  same(FORKSCOPE_ROLE_EXEC_FILENAME, AnchorRole::kExecFilename) &&
                  same(FORKSCOPE_ROLE_EXIT, AnchorRole::kExit),
              "enum forkscope_anchor_role is AnchorRole");
constexpr bool same(int c_value, Origin origin) { return c_value == static_cast<int>(origin); }
static_assert(same(FORKSCOPE_ORIGIN_UNKNOWN, Origin::kUnknown) &&
                  same(FORKSCOPE_ORIGIN_FORK, Origin::kSysFork) &&
                  same(FORKSCOPE_ORIGIN_VFORK, Origin::kSysVfork) &&
                  same(FORKSCOPE_ORIGIN_CLONE, Origin::kSysClone) &&
                  same(FORKSCOPE_ORIGIN_CLONE3, Origin::kSysClone3) &&
                  same(FORKSCOPE_ORIGIN_KERNEL, Origin::kKernel),
              "enum forkscope_origin is Origin");
constexpr bool same(int c_value, Resource resource) {
  return c_value == static_cast<int>(resource);
}
static_assert(
    same(FORKSCOPE_RES_MM, Resource::kMm) && same(FORKSCOPE_RES_FILES, Resource::kFiles) &&
        same(FORKSCOPE_RES_FS, Resource::kFs) && same(FORKSCOPE_RES_SIGHAND, Resource::kSighand) &&
        same(FORKSCOPE_RES_SIGNAL, Resource::kSignal) &&
        same(FORKSCOPE_RES_SYSVSEM, Resource::kSysvsem) && same(FORKSCOPE_RES_IO, Resource::kIo) &&
        same(FORKSCOPE_RES_NSPROXY, Resource::kNsproxy) &&
        same(FORKSCOPE_RES_UTS, Resource::kUtsNs) && same(FORKSCOPE_RES_IPC, Resource::kIpcNs) &&
        same(FORKSCOPE_RES_MNT, Resource::kMntNs) &&
        same(FORKSCOPE_RES_PID_FOR_CHILDREN, Resource::kPidNsForChildren) &&
        same(FORKSCOPE_RES_NET, Resource::kNetNs) &&
        same(FORKSCOPE_RES_CGROUP, Resource::kCgroupNs) &&
        same(FORKSCOPE_RES_TIME_FOR_CHILDREN, Resource::kTimeNsForChildren) &&
        same(FORKSCOPE_RES_COUNT, Resource::kCount),
    "enum forkscope_resource_bit is Resource");
static_assert(kResourceCount <= 32, "resource masks are 32-bit");
static_assert(FORKSCOPE_COMM_LEN == kCommLength, "comm lengths agree");
static_assert(FORKSCOPE_ANCHOR_COUNT == kAnchorCount, "core.h counts the anchor table");
static_assert(kAnchorCount <= 64, "the glue keeps anchor sets in 64-bit masks");
static_assert(FORKSCOPE_ANCHOR_NAMES == ktl::size(AnchorInfo{}.names), "anchor name slots agree");
static_assert(sizeof(forkscope_crossing_bias) == 4 * sizeof(forkscope_s64),
              "a crossing's bias is four s64, no padding");
static_assert(sizeof(forkscope_boundary_bias) == 2 * kAnchorCount * sizeof(forkscope_crossing_bias),
              "the bias table is an entry and a return per anchor");

// A bias beyond a second is no calibration of a hook (and would not fit).
constexpr forkscope_s64 kMaxBiasNs = 1000 * 1000 * 1000;

[[gnu::always_inline]] inline Engine* live_engine() {
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  if (engine == nullptr || forkscope_cxxrt_faulted()) return nullptr;
  return engine;
}

FORKSCOPE_PROBE_CONTEXT CreationArgs to_creation_args(const forkscope_creation_args& in) {
  CreationArgs out;
  out.request.flags = in.flags;
  out.request.exit_signal = in.exit_signal;
  out.request.origin =
      in.origin <= FORKSCOPE_ORIGIN_KERNEL ? static_cast<Origin>(in.origin) : Origin::kUnknown;
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

}  // namespace
}  // namespace forkscope

using namespace forkscope;  // NOLINT: this file is the C boundary of the namespace

extern "C" unsigned int forkscope_core_anchor_count(void) { return kAnchorCount; }

extern "C" void forkscope_core_anchor_describe(unsigned int anchor,
                                               struct forkscope_anchor_desc* out) {
  auto id = static_cast<Anchor>(anchor < kAnchorCount ? anchor : 0);
  const AnchorInfo& info = anchor_info(id);
  const char* const* names = profile_anchor_names(active_profile(), id);
  for (int i = 0; i < FORKSCOPE_ANCHOR_NAMES; ++i) out->names[i] = names[i];
  out->required = info.required ? 1 : 0;
  out->role = static_cast<forkscope_anchor_role>(info.role);
}

extern "C" forkscope_size_t forkscope_core_probe_data_size(void) { return sizeof(ProbeData); }

namespace {
EngineConfig engine_config_of(const forkscope_core_config& config) {
  EngineConfig out;
  out.nr_cpus = forkscope_platform_nr_cpu_ids();
  out.inflight_slots = config.inflight_slots;
  out.ring_records = config.ring_records;
  out.top_n = config.top_n;
  out.spawn_slots = config.spawn_slots;
  return out;
}
}  // namespace

extern "C" int forkscope_core_load_cost(const struct forkscope_core_config* config,
                                        forkscope_u64 probe_bytes, forkscope_u64 ram_bytes,
                                        unsigned int ring_min, unsigned int ring_max,
                                        struct forkscope_load_cost* out) {
  EngineConfig engine_config = engine_config_of(*config);
  LoadCost cost = load_cost(engine_config, probe_bytes);
  out->engine_bytes = cost.engine;
  out->reading_bytes = cost.reading;
  out->probe_bytes = cost.probes;
  out->total_bytes = cost.total();
  out->limit_bytes = load_limit(ram_bytes);
  out->nr_cpus = engine_config.nr_cpus;
  out->fitting_ring =
      largest_fitting_ring(engine_config, probe_bytes, out->limit_bytes, ring_min, ring_max);
  return out->total_bytes <= out->limit_bytes ? 0 : -FORKSCOPE_EINVAL;
}

extern "C" int forkscope_core_init(const struct forkscope_core_config* config) {
  if (!g_static_init_witness.ran()) {
    forkscope_platform_log(FORKSCOPE_LOG_ERR, "static constructors did not run; refusing to start");
    return -FORKSCOPE_EINVAL;
  }
  // The kernel profile first: the anchor names the glue resolves next are its.
  bool exact = true;
  const char* release = config->kernel_release;
  const KernelProfile* profile =
      release != nullptr ? choose_profile(release, &exact) : &profile_at(0);  // host tests
  if (profile == nullptr) {
    forkscope_platform_log(FORKSCOPE_LOG_ERR,
                           "cannot read the kernel release; refusing to guess a kernel profile");
    return -FORKSCOPE_EINVAL;
  }
  set_active_profile(profile, exact, release);
  if (release != nullptr) {
    char line[192];
    ktl::StringBuilder text(line, sizeof(line));
    text.append("kernel ").append(release).append(": ");
    if (exact) {
      text.append("profile ").append(profile->name);
    } else {
      text.append("no profile for this series; using the nearest, ").append(profile->name);
    }
    text.append(" (").append(profile->source).append(")");
    forkscope_platform_log(exact ? FORKSCOPE_LOG_INFO : FORKSCOPE_LOG_WARNING, line);
  }
  ktl::AllocChecker ac;
  Engine* engine = new (ac) Engine;
  if (!ac.check()) {
    forkscope_platform_log(FORKSCOPE_LOG_ERR, "out of memory allocating the engine");
    return -FORKSCOPE_ENOMEM;
  }
  EngineConfig engine_config = engine_config_of(*config);
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

extern "C" void forkscope_core_exit(void) {
  delete g_engine.exchange(nullptr);
  set_active_profile(nullptr, true, nullptr);
}

extern "C" void forkscope_core_set_available_anchors(forkscope_u64 mask) {
  if (Engine* engine = g_engine.load()) engine->set_available_anchors(mask);
  // The profile, confirmed (or not) by what resolved and registered.
  char line[512];
  ktl::StringBuilder text(line, sizeof(line));
  append_profile_summary(text, active_profile(), active_profile_exact(), active_release(), mask);
  ProfileCheck check = check_profile(active_profile(), mask);
  forkscope_platform_log(
      check.missing || check.unexpected ? FORKSCOPE_LOG_NOTICE : FORKSCOPE_LOG_INFO, line);
}

extern "C" FORKSCOPE_PROBE_CONTEXT int forkscope_core_on_entry(
    unsigned int anchor, const void* task, void* data, const struct forkscope_creation_args* args,
    forkscope_u64 now) {
  Engine* engine = live_engine();
  if (engine == nullptr || anchor >= kAnchorCount) return 1;
  auto* probe_data = static_cast<ProbeData*>(data);
  if (args == nullptr)
    return engine->entry_inline(static_cast<Anchor>(anchor), task, probe_data, now);
  CreationArgs creation = to_creation_args(*args);
  return engine->on_entry(static_cast<Anchor>(anchor), task, probe_data, &creation, now);
}

extern "C" FORKSCOPE_PROBE_CONTEXT void forkscope_core_on_step_entry(unsigned int anchor,
                                                                     const void* task,
                                                                     forkscope_u64 now) {
  Engine* engine = live_engine();
  if (engine == nullptr || anchor >= kAnchorCount) return;
  engine->step_entry_inline(static_cast<Anchor>(anchor), task, now);
}

extern "C" FORKSCOPE_PROBE_CONTEXT void forkscope_core_on_step_return(unsigned int anchor,
                                                                      void* data,
                                                                      forkscope_u64 now) {
  Engine* engine = live_engine();
  if (engine == nullptr || anchor >= kAnchorCount) return;
  engine->on_step_return(static_cast<Anchor>(anchor), static_cast<ProbeData*>(data), now);
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

extern "C" FORKSCOPE_PROBE_CONTEXT void forkscope_core_on_site_return(unsigned int anchor,
                                                                      const void* task,
                                                                      forkscope_u64 now) {
  Engine* engine = live_engine();
  if (engine == nullptr || anchor >= kAnchorCount) return;
  engine->site_return_inline(static_cast<Anchor>(anchor), task, now);
}

extern "C" FORKSCOPE_PROBE_CONTEXT void forkscope_core_on_new_task(int bucketed_at_return) {
  if (Engine* engine = live_engine()) engine->on_new_task(bucketed_at_return != 0);
}

extern "C" FORKSCOPE_PROBE_CONTEXT void forkscope_core_on_unseen_exec(void) {
  if (Engine* engine = live_engine()) engine->on_unseen_exec();
}

extern "C" FORKSCOPE_PROBE_CONTEXT int forkscope_core_buckets_at_return(unsigned int anchor,
                                                                        const void* data) {
  if (anchor >= kAnchorCount || data == nullptr) return 0;
  return Engine::buckets_at_return(static_cast<Anchor>(anchor),
                                   *static_cast<const ProbeData*>(data));
}

namespace {
// A negative median is noise: taken as no bias. false: out of range.
bool to_crossing_bias(const forkscope_crossing_bias& in, CrossingBias* out) {
  const forkscope_s64 values[] = {in.pre_ns, in.post_ns, in.pre_spread_ns, in.post_spread_ns};
  ktl::u32 clamped[4];
  for (ktl::size_t i = 0; i < ktl::size(values); ++i) {
    if (values[i] > kMaxBiasNs) return false;
    clamped[i] = values[i] < 0 ? 0 : static_cast<ktl::u32>(values[i]);
  }
  *out = CrossingBias{clamped[0], clamped[1], clamped[2], clamped[3]};
  return true;
}
}  // namespace

extern "C" int forkscope_core_set_boundary_bias(const struct forkscope_boundary_bias* bias,
                                                forkscope_size_t size) {
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  if (engine == nullptr || bias == nullptr || size != sizeof(*bias)) return -FORKSCOPE_EINVAL;
  ktl::UniquePtr<BiasTable> table;  // too big for a kernel stack frame
  if (table.make() != 0) return -FORKSCOPE_ENOMEM;
  for (ktl::size_t a = 0; a < kAnchorCount; ++a) {
    if (!to_crossing_bias(bias->entry[a], &table->entry[a]) ||
        !to_crossing_bias(bias->ret[a], &table->ret[a])) {
      return -FORKSCOPE_EINVAL;
    }
  }
  table->generation = engine->bias_generation() + 1;
  engine->set_bias(*table);
  return 0;
}

extern "C" int forkscope_core_calib_begin(const void* task) {
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  if (engine == nullptr) return -FORKSCOPE_EINVAL;
  int err = engine->calibration_begin(task);
  return err != 0 ? err : static_cast<int>(Engine::kCalibrationAnchor);
}

extern "C" void forkscope_core_calib_rearm(const void* task, int entered) {
  if (Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire)) {
    engine->calibration_rearm(task, entered != 0);
  }
}

extern "C" void forkscope_core_calib_stamps(const void* task, forkscope_u64* entry,
                                            forkscope_u64* ret) {
  *entry = 0;
  *ret = 0;
  if (Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire)) {
    engine->calibration_stamps(task, entry, ret);
  }
}

extern "C" void forkscope_core_calib_end(const void* task) {
  if (Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire)) engine->calibration_end(task);
}

extern "C" void forkscope_core_set_creations_at_newtask(int on) {
  if (Engine* engine = g_engine.load()) engine->set_creations_at_newtask(on != 0);
}

extern "C" void forkscope_core_set_execs_at_exec_tp(int on) {
  if (Engine* engine = g_engine.load()) engine->set_execs_at_exec_tp(on != 0);
}

extern "C" void forkscope_core_set_failures_paused(int paused) {
  if (Engine* engine = g_engine.load()) {
    engine->set_failures_paused(paused != 0, forkscope_platform_now_ns());
  }
}

extern "C" forkscope_u64 forkscope_core_wanted_anchors(void) {
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  return engine != nullptr ? engine->wanted_anchors() : 0;
}

extern "C" int forkscope_core_render(enum forkscope_file file,
                                     const struct forkscope_build_info* info,
                                     const struct forkscope_probe_health* probes,
                                     unsigned int nr_probes, struct forkscope_text* out) {
  out->data = nullptr;
  out->length = 0;
  Engine* engine = g_engine.load(ktl::MemoryOrder::kAcquire);
  if (engine == nullptr) return -FORKSCOPE_EINVAL;
  RenderSources sources{*engine,
                        info,
                        probes,
                        nr_probes,
                        StaticInitWitness::constructions(),
                        g_static_init_witness.ran()};
  return render_file(file, sources, out);
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
    case ControlCommand::Op::kDetail:
      engine->set_detail(command.detail);
      break;
    case ControlCommand::Op::kCalibrate:
      if (forkscope_platform_calibrate() != 0) {
        *why = "calibration failed (see the kernel log)";
        return -FORKSCOPE_EINVAL;
      }
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
  ktl::UniquePtr<BiasTable> bias;
  if (bias.make() != 0) return -FORKSCOPE_ENOMEM;
  engine->bias(bias.get());
  // Stop while a worst-case line still fits, so no record is half-written.
  while (size - out.length() > kTraceLineMax && engine->consume_next(&record)) {
    append_trace_line(out, record, bias.get());
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
