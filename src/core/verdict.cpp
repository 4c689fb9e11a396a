// SPDX-License-Identifier: GPL-2.0
// The verdict rules: kernel_clone/copy_process refusal and sharing rules,
// written from 6.1's source with 6.12's differences as profile switches
// (VerdictRules), and the comparison with what the glue saw.
#include "verdict.h"

#include <forkscope/platform.h>
#include <ktl/utility.h>

#include "probe_context.h"

namespace forkscope {
namespace {

using ktl::s32;
using ktl::s64;
using ktl::size_t;
using ktl::u32;
using ktl::u64;

// Indexed by Resource; must stay in enum order.
constexpr const char* kResourceNames[] = {
    "mm",      "files",     "fs",
    "sighand", "signal",    "sysvsem",
    "io",      "nsproxy",   "uts_ns",
    "ipc_ns",  "mnt_ns",    "pid_ns_for_children",
    "net_ns",  "cgroup_ns", "time_ns_for_children",
};
static_assert(ktl::size(kResourceNames) == kResourceCount,
              "kResourceNames must name every Resource");

// The first difference when a resource's sharing differs; in Resource order.
constexpr const char* kResourceDiffers[] = {
    "mm differs",      "files differs",     "fs differs",
    "sighand differs", "signal differs",    "sysvsem differs",
    "io differs",      "nsproxy differs",   "uts_ns differs",
    "ipc_ns differs",  "mnt_ns differs",    "pid_ns_for_children differs",
    "net_ns differs",  "cgroup_ns differs", "time_ns_for_children differs",
};
static_assert(ktl::size(kResourceDiffers) == kResourceCount,
              "kResourceDiffers must name every Resource");

// Indexed by Sharing.
constexpr const char* kSharingNames[] = {"shared", "copied", "none", "any"};
static_assert(ktl::size(kSharingNames) == static_cast<size_t>(Sharing::kAny) + 1,
              "kSharingNames must name every Sharing");

// Indexed by VerdictKind.
constexpr const char* kVerdictNames[] = {"match", "mismatch", "unchecked"};
static_assert(ktl::size(kVerdictNames) == kVerdictKindCount, "kVerdictNames must name every kind");

// The refusal rules, as they are reported. Early ones (kernel_clone and the
// top of copy_process) run before anything can fail; late ones (inside
// copy_namespaces) run after copy_process has allocated and checked limits.
constexpr char kRulePidfdParentTid[] = "CLONE_PIDFD and CLONE_PARENT_SETTID share a pointer";
constexpr char kRuleNewnsFs[] = "CLONE_NEWNS with CLONE_FS";
constexpr char kRuleNewuserFs[] = "CLONE_NEWUSER with CLONE_FS";
constexpr char kRuleUsernsClone[] =
    "CLONE_NEWUSER without unprivileged_userns_clone or CAP_SYS_ADMIN";
constexpr char kRuleThreadSighand[] = "CLONE_THREAD without CLONE_SIGHAND";
constexpr char kRuleSighandVm[] = "CLONE_SIGHAND without CLONE_VM";
constexpr char kRuleParentInit[] = "CLONE_PARENT from an unkillable (init) task";
constexpr char kRuleThreadPidns[] = "CLONE_THREAD into another user or pid namespace";
constexpr char kRuleTimens[] = "CLONE_THREAD or CLONE_VM with time_ns_for_children changed";
constexpr char kRulePidfdDetached[] = "CLONE_PIDFD with CLONE_DETACHED or CLONE_THREAD";
constexpr char kRuleNsCapability[] = "CLONE_NEW* without CAP_SYS_ADMIN";
constexpr char kRuleNewipcSysvsem[] = "CLONE_NEWIPC with CLONE_SYSVSEM";
constexpr char kRuleNewpidNested[] = "CLONE_NEWPID with pid_ns_for_children already changed";

namespace cf = clone_flag;

// The namespaces copy_namespaces creates (CLONE_NEWUSER is copy_creds').
constexpr u64 kNsproxyFlags = cf::kNewMask & ~cf::kNewuser;

// Failures that depend on state the rules do not capture: limits, memory,
// signals. They can pre-empt a late rule; any failure pre-empts success.
struct UncheckedErrno {
  s64 error;  // positive errno
  bool resource_or_signal;
  const char* reason;
};

constexpr UncheckedErrno kUncheckedErrnos[] = {
    {FORKSCOPE_EAGAIN, true, "resource-dependent failure (EAGAIN)"},
    {FORKSCOPE_ENOMEM, true, "resource-dependent failure (ENOMEM)"},
    {FORKSCOPE_ENOSPC, true, "resource-dependent failure (ENOSPC)"},
    {FORKSCOPE_EUSERS, true, "resource-dependent failure (EUSERS)"},
    {FORKSCOPE_EMFILE, true, "resource-dependent failure (EMFILE)"},
    {FORKSCOPE_EINTR, true, "interrupted by a fatal signal (EINTR)"},
    {FORKSCOPE_ERESTARTNOINTR, true, "restarted for a pending signal (ERESTARTNOINTR)"},
    {FORKSCOPE_EPERM, false, "refused by a rule outside the model (errno 1)"},
    {FORKSCOPE_ENOENT, false, "refused by a rule outside the model (errno 2)"},
    {FORKSCOPE_EBADF, false, "refused by a rule outside the model (errno 9)"},
    {FORKSCOPE_EACCES, false, "refused by a rule outside the model (errno 13)"},
    {FORKSCOPE_EFAULT, false, "refused by a rule outside the model (errno 14)"},
    {FORKSCOPE_EBUSY, false, "refused by a rule outside the model (errno 16)"},
    {FORKSCOPE_EEXIST, false, "refused by a rule outside the model (errno 17)"},
    {FORKSCOPE_EINVAL, false, "refused by a rule outside the model (errno 22)"},
    {FORKSCOPE_EOPNOTSUPP, false, "refused by a rule outside the model (errno 95)"},
};

constexpr char kOtherErrno[] = "refused by a rule outside the model (other errno)";

// ret: a negative errno (not negated here: ret may be any s64).
FORKSCOPE_PROBE_CONTEXT const UncheckedErrno* find_errno(s64 ret) {
  for (const UncheckedErrno& entry : kUncheckedErrnos) {
    if (-entry.error == ret) return &entry;
  }
  return nullptr;
}

FORKSCOPE_PROBE_CONTEXT bool is_late_rule(const char* rule) {
  return rule == kRuleNsCapability || rule == kRuleNewipcSysvsem || rule == kRuleNewpidNested;
}

// Helpers of the probe-context functions, always inlined into them (so
// never in .text, where kprobes could probe them).
[[gnu::always_inline]] constexpr size_t index(Resource resource) {
  return static_cast<size_t>(resource);
}

[[gnu::always_inline]] constexpr Sharing shared_if(bool shared) {
  return shared ? Sharing::kShared : Sharing::kCopied;
}

[[gnu::always_inline]] constexpr bool all(u64 flags, u64 mask) { return (flags & mask) == mask; }

// The first refusal rule that applies, in the kernel's order; sets *error.
FORKSCOPE_PROBE_CONTEXT const char* refusal(u64 flags, const CallerContext& caller,
                                            const VerdictRules& rules, s32* error) {
  *error = -FORKSCOPE_EINVAL;
  // kernel_clone.
  if (all(flags, cf::kPidfd | cf::kParentSettid) && caller.pidfd_is_parent_tid) {
    return kRulePidfdParentTid;
  }
  // copy_process, before anything is allocated.
  if (all(flags, cf::kNewns | cf::kFs)) return kRuleNewnsFs;
  if (all(flags, cf::kNewuser | cf::kFs)) return kRuleNewuserFs;
  // Debian's check asks capable(): the initial user namespace.
  if ((flags & cf::kNewuser) && !caller.unprivileged_userns && !caller.cap_sys_admin_init_ns) {
    *error = -FORKSCOPE_EPERM;  // Debian: unprivileged_userns_clone, then capable()
    return kRuleUsernsClone;
  }
  if ((flags & cf::kThread) && !(flags & cf::kSighand)) return kRuleThreadSighand;
  if ((flags & cf::kSighand) && !(flags & cf::kVm)) return kRuleSighandVm;
  if ((flags & cf::kParent) && caller.unkillable) return kRuleParentInit;
  if ((flags & cf::kThread) && ((flags & (cf::kNewuser | cf::kNewpid)) || caller.pid_ns_differs)) {
    return kRuleThreadPidns;
  }
  if (rules.timens_refuses_thread_vm && (flags & (cf::kThread | cf::kVm)) &&
      caller.time_ns_differs) {
    return kRuleTimens;
  }
  const u64 pidfd_refused = cf::kDetached | (rules.pidfd_refuses_thread ? cf::kThread : 0);
  if ((flags & cf::kPidfd) && (flags & pidfd_refused)) return kRulePidfdDetached;
  // copy_namespaces: the fast path (no CLONE_NEW*, same time namespace)
  // checks nothing; a new time namespace for children alone skips the
  // capability check (it is in the else-if). ns_capable() is asked of the
  // child's user namespace: a new one (CLONE_NEWUSER) grants it all.
  if ((flags & kNsproxyFlags) && !(flags & cf::kNewuser) && !caller.cap_sys_admin) {
    *error = -FORKSCOPE_EPERM;
    return kRuleNsCapability;
  }
  if (all(flags, cf::kNewipc | cf::kSysvsem)) return kRuleNewipcSysvsem;
  // create_new_namespaces -> copy_pid_ns: task_active_pid_ns(current) must
  // still be pid_ns_for_children (errors of the namespaces created before
  // it, mnt/uts/ipc, are all resource errors).
  if ((flags & cf::kNewpid) && caller.pid_ns_differs) return kRuleNewpidNested;
  *error = 0;
  return nullptr;
}

FORKSCOPE_PROBE_CONTEXT Sharing observed(const Observation& observation, size_t i) {
  if (observation.child_null[i]) return Sharing::kNone;
  return observation.same[i] ? Sharing::kShared : Sharing::kCopied;
}

FORKSCOPE_PROBE_CONTEXT bool matches(Sharing predicted, const Observation& observation, size_t i) {
  return predicted == Sharing::kAny || predicted == observed(observation, i);
}

void append_resources(ktl::StringBuilder& out, const Sharing* sharing) {
  for (size_t i = 0; i < kResourceCount; ++i) {
    if (i != 0) out.append_char(' ');
    out.append(kResourceNames[i]).append_char('=').append(sharing_name(sharing[i]));
  }
}

void append_tail(ktl::StringBuilder& out, bool same_thread_group, const char* parent,
                 s32 exit_signal) {
  out.append(" tgid=").append(same_thread_group ? "same" : "new");
  out.append(" parent=").append(parent);
  out.append(" exit_signal=").append_s64(exit_signal);
}

}  // namespace

const char* resource_name(Resource resource) {
  auto index = static_cast<size_t>(resource);
  return index < kResourceCount ? kResourceNames[index] : "?";
}

const char* sharing_name(Sharing sharing) {
  auto index = static_cast<size_t>(sharing);
  return index < ktl::size(kSharingNames) ? kSharingNames[index] : "?";
}

const char* verdict_name(VerdictKind kind) {
  auto index = static_cast<size_t>(kind);
  return index < ktl::size(kVerdictNames) ? kVerdictNames[index] : "?";
}

FORKSCOPE_PROBE_CONTEXT void predict(const CloneRequest& request, const CallerContext& caller,
                                     Prediction* out) {
  predict(request, caller, active_profile().rules, out);
}

FORKSCOPE_PROBE_CONTEXT void predict(const CloneRequest& request, const CallerContext& caller,
                                     const VerdictRules& rules, Prediction* out) {
  const u64 flags = request.flags;
  *out = Prediction{};
  out->rule = refusal(flags, caller, rules, &out->error);
  if (out->error != 0) {
    for (Sharing& sharing : out->sharing) sharing = Sharing::kAny;
    return;
  }

  Sharing* sharing = out->sharing;
  // copy_semundo: CLONE_SYSVSEM shares the caller's undo list (creating it).
  sharing[index(Resource::kSysvsem)] = (flags & cf::kSysvsem) ? Sharing::kShared : Sharing::kNone;
  sharing[index(Resource::kFiles)] = shared_if(flags & cf::kFiles);
  sharing[index(Resource::kFs)] = shared_if(flags & cf::kFs);
  // copy_sighand: CLONE_CLEAR_SIGHAND only resets the copy's handlers.
  sharing[index(Resource::kSighand)] = shared_if(flags & cf::kSighand);
  sharing[index(Resource::kSignal)] = shared_if(flags & cf::kThread);
  // copy_mm: a caller without mm (a kernel thread) leaves the child none.
  sharing[index(Resource::kMm)] = caller.has_mm ? shared_if(flags & cf::kVm) : Sharing::kNone;
  // copy_namespaces: the whole nsproxy is shared only on the fast path
  // (6.12: also for CLONE_VM with time_ns_for_children changed); a new one
  // gets each namespace its flag does not renew.
  const bool same_time =
      !caller.time_ns_differs || (rules.vm_shares_nsproxy_across_timens && (flags & cf::kVm));
  sharing[index(Resource::kNsproxy)] = shared_if(!(flags & kNsproxyFlags) && same_time);
  sharing[index(Resource::kUtsNs)] = shared_if(!(flags & cf::kNewuts));
  sharing[index(Resource::kIpcNs)] = shared_if(!(flags & cf::kNewipc));
  sharing[index(Resource::kMntNs)] = shared_if(!(flags & cf::kNewns));
  sharing[index(Resource::kPidNsForChildren)] = shared_if(!(flags & cf::kNewpid));
  sharing[index(Resource::kNetNs)] = shared_if(!(flags & cf::kNewnet));
  sharing[index(Resource::kCgroupNs)] = shared_if(!(flags & cf::kNewcgroup));
  sharing[index(Resource::kTimeNsForChildren)] = shared_if(!(flags & cf::kNewtime));
  // copy_io: nothing without a parent io_context; CLONE_IO shares it, else
  // a valid ioprio is copied into a new one.
  Sharing io = Sharing::kNone;
  if (caller.has_io_context) {
    if (flags & cf::kIo) {
      io = Sharing::kShared;
    } else if (caller.io_context_prio_valid) {
      io = Sharing::kCopied;
    }
  }
  sharing[index(Resource::kIo)] = io;

  out->same_thread_group = (flags & cf::kThread) != 0;
  out->parent_is_callers_parent = (flags & (cf::kParent | cf::kThread)) != 0;
  if (flags & cf::kThread) {
    out->exit_signal = -1;
  } else if (flags & cf::kParent) {
    out->exit_signal = caller.group_leader_exit_signal;
  } else {
    out->exit_signal = static_cast<s32>(request.exit_signal);
  }
}

FORKSCOPE_PROBE_CONTEXT Verdict judge(const Prediction& prediction, s64 ret,
                                      const Observation& observation) {
  Verdict verdict;
  if (prediction.error != 0) {
    if (ret == prediction.error) {
      verdict.kind = VerdictKind::kMatch;
      return verdict;
    }
    if (ret < 0 && is_late_rule(prediction.rule)) {
      // Limits, memory and signals are checked before copy_namespaces.
      const UncheckedErrno* entry = find_errno(ret);
      if (entry != nullptr && entry->resource_or_signal) {
        verdict.kind = VerdictKind::kUnchecked;
        verdict.reason = entry->reason;
        return verdict;
      }
    }
    verdict.kind = VerdictKind::kMismatch;
    verdict.refusal_mismatch = true;
    verdict.reason =
        ret >= 0 ? "predicted a refusal, copy_process succeeded" : "refused with another errno";
    return verdict;
  }
  if (ret < 0) {
    const UncheckedErrno* entry = find_errno(ret);
    verdict.kind = VerdictKind::kUnchecked;
    verdict.reason = entry != nullptr ? entry->reason : kOtherErrno;
    return verdict;
  }

  const char* reason = nullptr;
  for (size_t i = 0; i < kResourceCount; ++i) {
    if (matches(prediction.sharing[i], observation, i)) continue;
    verdict.mismatched_resources |= u32{1} << i;
    if (reason == nullptr) reason = kResourceDiffers[i];
  }
  if (prediction.same_thread_group != observation.same_thread_group) {
    verdict.thread_group_mismatch = true;
    if (reason == nullptr) reason = "thread group differs";
  }
  const bool parent_ok = prediction.parent_is_callers_parent ? observation.parent_is_callers_parent
                                                             : observation.parent_is_caller;
  if (!parent_ok) {
    verdict.parent_mismatch = true;
    if (reason == nullptr) reason = "parent differs";
  }
  if (prediction.exit_signal != observation.exit_signal) {
    verdict.exit_signal_mismatch = true;
    if (reason == nullptr) reason = "exit_signal differs";
  }
  verdict.kind = reason == nullptr ? VerdictKind::kMatch : VerdictKind::kMismatch;
  verdict.reason = reason;
  return verdict;
}

void append_prediction(ktl::StringBuilder& out, const Prediction& prediction) {
  if (prediction.error != 0) {
    out.append("refused");
    return;
  }
  append_resources(out, prediction.sharing);
  append_tail(out, prediction.same_thread_group,
              prediction.parent_is_callers_parent ? "callers_parent" : "caller",
              prediction.exit_signal);
}

void append_observation(ktl::StringBuilder& out, const Observation& observation) {
  Sharing sharing[kResourceCount];
  for (size_t i = 0; i < kResourceCount; ++i) sharing[i] = observed(observation, i);
  append_resources(out, sharing);
  const char* parent = observation.parent_is_caller           ? "caller"
                       : observation.parent_is_callers_parent ? "callers_parent"
                                                              : "other";
  append_tail(out, observation.same_thread_group, parent, observation.exit_signal);
}

}  // namespace forkscope
