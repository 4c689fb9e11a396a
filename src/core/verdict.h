// SPDX-License-Identifier: GPL-2.0
// The mirror's verdict: from the clone flags and a few facts about the
// caller, predict what copy_process (of the kernel profile's series) will
// refuse, share, copy or create; then compare with what the glue observed
// on the new task.
#ifndef FORKSCOPE_CORE_VERDICT_H
#define FORKSCOPE_CORE_VERDICT_H

#include <ktl/string_builder.h>
#include <ktl/types.h>

#include "creation.h"
#include "kernel_profile.h"

namespace forkscope {

// Facts about the caller that the refusal and sharing rules depend on,
// read by the glue at kernel_clone/copy_process entry.
struct CallerContext {
  bool unkillable = false;       // current->signal->flags & SIGNAL_UNKILLABLE (init)
  bool pid_ns_differs = false;   // task_active_pid_ns(current) != nsproxy->pid_ns_for_children
  bool time_ns_differs = false;  // nsproxy->time_ns != nsproxy->time_ns_for_children
  bool cap_sys_admin = false;    // ns_capable(caller's user ns, CAP_SYS_ADMIN)
  bool cap_sys_admin_init_ns = false;      // capable(CAP_SYS_ADMIN): in the initial user ns
  bool unprivileged_userns = true;         // Debian's kernel.unprivileged_userns_clone
  bool pidfd_is_parent_tid = false;        // CLONE_PIDFD|CLONE_PARENT_SETTID with the same pointer
  bool has_mm = true;                      // current->mm != NULL (false for kernel threads)
  bool has_io_context = false;             // current->io_context != NULL
  bool io_context_prio_valid = false;      // ...and its ioprio is set (copy_io then allocates)
  ktl::s32 group_leader_exit_signal = 17;  // current->group_leader->exit_signal (CLONE_PARENT)
};

// Resources whose sharing copy_process decides from the flags.
enum class Resource : ktl::u8 {
  kMm,                 // task->mm (CLONE_VM)
  kFiles,              // task->files (CLONE_FILES)
  kFs,                 // task->fs (CLONE_FS)
  kSighand,            // task->sighand (CLONE_SIGHAND; CLONE_CLEAR_SIGHAND copies)
  kSignal,             // task->signal: the thread group (CLONE_THREAD)
  kSysvsem,            // task->sysvsem.undo_list (CLONE_SYSVSEM; else none)
  kIo,                 // task->io_context (CLONE_IO)
  kNsproxy,            // task->nsproxy as a whole
  kUtsNs,              // nsproxy->uts_ns (CLONE_NEWUTS)
  kIpcNs,              // nsproxy->ipc_ns (CLONE_NEWIPC)
  kMntNs,              // nsproxy->mnt_ns (CLONE_NEWNS)
  kPidNsForChildren,   // nsproxy->pid_ns_for_children (CLONE_NEWPID)
  kNetNs,              // nsproxy->net_ns (CLONE_NEWNET)
  kCgroupNs,           // nsproxy->cgroup_ns (CLONE_NEWCGROUP)
  kTimeNsForChildren,  // nsproxy->time_ns_for_children (CLONE_NEWTIME)
  kCount,
};
inline constexpr ktl::size_t kResourceCount = static_cast<ktl::size_t>(Resource::kCount);
const char* resource_name(Resource resource);  // "mm", "files", ..., "time_ns_for_children"

// What the child has, relative to the parent.
enum class Sharing : ktl::u8 {
  kShared,  // the same object as the parent's (pointer equal, non-null)
  kCopied,  // its own object (a copy, or new: pointer differs, non-null)
  kNone,    // no object (null)
  kAny,     // not predicted (depends on state the rules do not capture)
};
const char* sharing_name(Sharing sharing);  // "shared", "copied", "none", "any"

struct Prediction {
  // 0: copy_process succeeds as far as flag rules can tell; -FORKSCOPE_EINVAL or
  // -FORKSCOPE_EPERM: refused by a rule (rule says which, for the verdicts file).
  ktl::s32 error = 0;
  const char* rule = nullptr;  // the refusing rule, e.g. "CLONE_SIGHAND without CLONE_VM"
  Sharing sharing[kResourceCount] = {};
  bool same_thread_group = false;         // tgid == parent's tgid (CLONE_THREAD)
  bool parent_is_callers_parent = false;  // real_parent == current->real_parent
  ktl::s32 exit_signal = 0;               // the child's exit_signal (-1 for threads)
};

// The refusal rules in the order kernel_clone and copy_process apply them
// (the first that matches decides the errno), then the sharing rules, as
// the series of the active kernel profile (kernel_profile.h) has them, or
// as the given rules say. Refusals that depend on resources (EAGAIN from
// RLIMIT_NPROC, ENOMEM) are not predicted: such a record is "unchecked".
void predict(const CloneRequest& request, const CallerContext& caller, Prediction* out);
void predict(const CloneRequest& request, const CallerContext& caller, const VerdictRules& rules,
             Prediction* out);

// What the glue saw at copy_process's return (only for success).
struct Observation {
  // For each resource: child's pointer == parent's, and child's is null.
  bool same[kResourceCount] = {};
  bool child_null[kResourceCount] = {};
  bool same_thread_group = false;
  bool parent_is_caller = false;
  bool parent_is_callers_parent = false;
  ktl::s32 exit_signal = 0;
};

enum class VerdictKind : ktl::u8 { kMatch, kMismatch, kUnchecked, kCount };
inline constexpr ktl::size_t kVerdictKindCount = static_cast<ktl::size_t>(VerdictKind::kCount);
const char* verdict_name(VerdictKind kind);  // "match", "mismatch", "unchecked"

struct Verdict {
  VerdictKind kind = VerdictKind::kUnchecked;
  const char* reason = nullptr;       // unchecked: why; mismatch: the first difference
  ktl::u32 mismatched_resources = 0;  // bit per Resource that differed
  bool refusal_mismatch = false;      // predicted/observed errno differ
  bool thread_group_mismatch = false;
  bool parent_mismatch = false;
  bool exit_signal_mismatch = false;
};

// ret: copy_process's result (0 success, else -errno); observation is
// used only when ret == 0.
Verdict judge(const Prediction& prediction, ktl::s64 ret, const Observation& observation);

// "mm=shared files=copied ..." for every resource, as predicted/observed.
void append_prediction(ktl::StringBuilder& out, const Prediction& prediction);
void append_observation(ktl::StringBuilder& out, const Observation& observation);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_VERDICT_H
