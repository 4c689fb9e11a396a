// SPDX-License-Identifier: GPL-2.0
// The core's C entry points (include/forkscope/core.h): owns the one Core
// instance and turns its state into debugfs text.
#include <forkscope/core.h>
#include <forkscope/cxxrt.h>
#include <ktl/alloc_checker.h>
#include <ktl/atomic.h>
#include <ktl/string_builder.h>

#include "counters.h"
#include "probe_context.h"

namespace forkscope {
namespace {

// Proof that static initialization ran: the constructor is not constexpr,
// so without a working .init_array runner the marker stays zero and init
// refuses to start instead of running on half-initialized globals.
class StaticInitWitness {
 public:
  StaticInitWitness() : marker_(compute_marker()) {}
  bool ran() const { return marker_ == compute_marker(); }

 private:
  static ktl::u64 compute_marker() {
    volatile ktl::u64 seed = 0x666f726b73636f70;  // "forkscop"
    return seed ^ 0x5a5a5a5a5a5a5a5a;
  }
  ktl::u64 marker_;
};

StaticInitWitness g_static_init_witness;

struct Core {
  Counters counters;
};

// Published once init has finished; probe handlers only read it.
ktl::Atomic<Core*> g_core;

}  // namespace
}  // namespace forkscope

using forkscope::Core;
using forkscope::g_core;

extern "C" int fs_core_init(void) {
  if (!forkscope::g_static_init_witness.ran()) {
    fs_platform_log(FS_LOG_ERR, "static constructors did not run; refusing to start");
    return -FS_EINVAL;
  }
  ktl::AllocChecker ac;
  Core* core = new (ac) Core;
  if (!ac.check()) {
    fs_platform_log(FS_LOG_ERR, "out of memory allocating the core");
    return -FS_ENOMEM;
  }
  int err = core->counters.init(fs_platform_nr_cpu_ids());
  if (err != 0) {
    fs_platform_log(FS_LOG_ERR, "out of memory allocating per-CPU counters");
    delete core;
    return err;
  }
  g_core.store(core, ktl::MemoryOrder::kRelease);
  return 0;
}

extern "C" void fs_core_exit(void) {
  Core* core = g_core.exchange(nullptr);
  delete core;
}

extern "C" FS_PROBE_CONTEXT void fs_core_on_clone_return(fs_s64 ret) {
  Core* core = g_core.load(ktl::MemoryOrder::kAcquire);
  if (core == nullptr || fs_cxxrt_faulted()) return;
  core->counters.on_clone_return(ret);
}

namespace {

fs_s64 finish(const ktl::StringBuilder& out) {
  if (out.truncated()) return -FS_ENOSPC;
  return static_cast<fs_s64>(out.length());
}

}  // namespace

extern "C" fs_s64 fs_core_format_version(char* buf, fs_size_t size,
                                         const struct fs_build_info* info) {
  ktl::StringBuilder out(buf, size);
  struct fs_cxxrt_stats rt;
  fs_cxxrt_get_stats(&rt);
  out.append("forkscope ").append(FS_VERSION).append_char('\n');
  out.append("kernel ").append(info->kernel_release).append_char('\n');
  out.append("built_for ").append(info->built_for).append_char('\n');
  out.append("compiler ").append(info->compiler).append_char('\n');
  out.append("cxx_standard ").append_u64(__cplusplus).append_char('\n');
  out.append("cxxrt_ctors_run ").append_u64(rt.ctors_run).append_char('\n');
  out.append("cxxrt_static_init ")
      .append(forkscope::g_static_init_witness.ran() ? "ok" : "missing");
  out.append_char('\n');
  out.append("cxxrt_live_allocs ").append_u64(rt.live_allocs).append_char('\n');
  out.append("cxxrt_live_bytes ").append_u64(rt.live_bytes).append_char('\n');
  out.append("cxxrt_faulted ").append_u64(fs_cxxrt_faulted() ? 1 : 0).append_char('\n');
  return finish(out);
}

extern "C" fs_s64 fs_core_format_counters(char* buf, fs_size_t size,
                                          const struct fs_probe_health* probes,
                                          unsigned int nr_probes) {
  ktl::StringBuilder out(buf, size);
  Core* core = g_core.load(ktl::MemoryOrder::kAcquire);
  if (core == nullptr) return -FS_EINVAL;
  forkscope::CounterTotals totals = core->counters.totals();
  out.append("creations ").append_u64(totals.creations).append_char('\n');
  out.append("clone_failures ").append_u64(totals.clone_failures).append_char('\n');
  out.append("clone_returns ").append_u64(totals.clone_returns).append_char('\n');
  out.append("unattributed ").append_u64(totals.unattributed).append_char('\n');
  for (unsigned int i = 0; i < nr_probes; ++i) {
    const fs_probe_health& probe = probes[i];
    out.append("probe ").append(probe.symbol);
    out.append(" registered ").append_u64(probe.registered ? 1 : 0);
    out.append(" hits ").append_u64(probe.hits);
    out.append(" missed ").append_u64(probe.missed).append_char('\n');
  }
  return finish(out);
}
