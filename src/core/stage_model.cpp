// SPDX-License-Identifier: GPL-2.0
// Tables of the copy_process mirror (from 6.1's kernel/fork.c) and the
// partition arithmetic that turns boundary timestamps into stage times.
#include "stage_model.h"

#include "probe_context.h"

namespace forkscope {
namespace {

constexpr AnchorInfo kAnchors[kAnchorCount] = {
    {{"kernel_clone", nullptr, nullptr},
     true,
     AnchorRole::kCreationStart,
     "fork/vfork/clone/clone3 and kernel threads; the creation's whole span"},
    {{"copy_process", nullptr, nullptr},
     true,
     AnchorRole::kCopyProcess,
     "copies the task; the span partitioned into stages"},
    {{"copy_creds", nullptr, nullptr}, false, AnchorRole::kStep, "credentials"},
    {{"sched_fork", nullptr, nullptr}, false, AnchorRole::kStep, "scheduler state"},
    {{"perf_event_init_task", nullptr, nullptr}, false, AnchorRole::kStep, "perf events"},
    {{"audit_alloc", nullptr, nullptr}, false, AnchorRole::kStep, "audit context"},
    {{"security_task_alloc", nullptr, nullptr}, false, AnchorRole::kStep, "LSM task blobs"},
    {{"copy_semundo", nullptr, nullptr}, false, AnchorRole::kStep, "SysV semaphore undo"},
    {{"dup_fd", nullptr, nullptr}, false, AnchorRole::kStep, "file table copy (no CLONE_FILES)"},
    {{"copy_fs_struct", nullptr, nullptr},
     false,
     AnchorRole::kStep,
     "fs_struct copy (no CLONE_FS)"},
    {{"mm_init", nullptr, nullptr}, false, AnchorRole::kStep, "new mm setup (no CLONE_VM)"},
    {{"pgd_alloc", nullptr, nullptr}, false, AnchorRole::kStep, "page directory"},
    {{"dup_mmap", nullptr, nullptr},
     false,
     AnchorRole::kStep,
     "VMA and page-table copy (no CLONE_VM)"},
    {{"copy_namespaces", nullptr, nullptr}, false, AnchorRole::kStep, "namespace sharing"},
    {{"create_new_namespaces", nullptr, nullptr},
     false,
     AnchorRole::kStep,
     "new namespaces (CLONE_NEW*)"},
    {{"copy_thread", nullptr, nullptr}, false, AnchorRole::kStep, "registers, stack, TLS"},
    {{"alloc_pid", nullptr, nullptr}, false, AnchorRole::kStep, "PID in every namespace level"},
    {{"__pidfd_prepare", "pidfd_prepare", nullptr},
     false,
     AnchorRole::kStep,
     "pidfd (CLONE_PIDFD)"},
    {{"cgroup_can_fork", nullptr, nullptr}, false, AnchorRole::kStep, "cgroup admission"},
    {{"sched_cgroup_fork", nullptr, nullptr}, false, AnchorRole::kStep, "scheduler cgroup"},
    {{"sched_post_fork", nullptr, nullptr}, false, AnchorRole::kStep, "scheduler post-fork"},
    {{"cgroup_post_fork", nullptr, nullptr}, false, AnchorRole::kStep, "cgroup attach"},
    {{"wake_up_new_task", nullptr, nullptr}, false, AnchorRole::kStep, "first wake-up"},
    {{"do_execveat_common", nullptr, nullptr},
     false,
     AnchorRole::kExecStart,
     "execve/execveat; the exec's whole span"},
    {{"alloc_bprm", nullptr, nullptr},
     false,
     AnchorRole::kExecFilename,
     "binprm and the new mm (names the file)"},
    {{"copy_string_kernel", nullptr, nullptr}, false, AnchorRole::kStep, "filename onto the stack"},
    {{"copy_strings", nullptr, nullptr}, false, AnchorRole::kStep, "argv and envp onto the stack"},
    {{"bprm_execve", nullptr, nullptr},
     false,
     AnchorRole::kStep,
     "credentials, open, binfmt search"},
    {{"do_open_execat", nullptr, nullptr}, false, AnchorRole::kStep, "opens the file"},
    {{"sched_exec", nullptr, nullptr}, false, AnchorRole::kStep, "balances to an idle CPU"},
    {{"load_elf_binary", nullptr, nullptr}, false, AnchorRole::kStep, "the ELF loader"},
    {{"load_script", nullptr, nullptr}, false, AnchorRole::kStep, "the #! loader"},
    {{"begin_new_exec", nullptr, nullptr},
     false,
     AnchorRole::kStep,
     "point of no return: de_thread, exec_mmap, unshare files"},
    {{"setup_new_exec", nullptr, nullptr}, false, AnchorRole::kStep, "new mm layout, comm"},
    {{"setup_arg_pages", nullptr, nullptr}, false, AnchorRole::kStep, "final stack VMA"},
    {{"finalize_exec", nullptr, nullptr}, false, AnchorRole::kStep, "stack rlimit"},
    {{"free_bprm", nullptr, nullptr}, false, AnchorRole::kStep, "releases the binprm"},
    {{"do_exit", nullptr, nullptr},
     false,
     AnchorRole::kExit,
     "a task's exit (ends spawns that never exec)"},
};

using A = Anchor;
using S = Stage;

constexpr BoundaryInfo kBoundaries[kBoundaryCount] = {
    {A::kKernelClone, false, S::kClonePrologue},
    {A::kCopyProcess, false, S::kDupTaskStruct},
    {A::kCopyCreds, false, S::kCopyCreds},
    {A::kCopyCreds, true, S::kTaskInit},
    {A::kSchedFork, false, S::kSchedFork},
    {A::kSchedFork, true, S::kBetweenCalls},
    {A::kPerfEventInitTask, false, S::kPerfEventInitTask},
    {A::kPerfEventInitTask, true, S::kBetweenCalls},
    {A::kAuditAlloc, false, S::kAuditAlloc},
    {A::kAuditAlloc, true, S::kBetweenCalls},
    {A::kSecurityTaskAlloc, false, S::kSecurityTaskAlloc},
    {A::kSecurityTaskAlloc, true, S::kBetweenCalls},
    {A::kCopySemundo, false, S::kCopySemundo},
    {A::kCopySemundo, true, S::kCopyFiles},
    {A::kDupFd, false, S::kDupFd},
    {A::kDupFd, true, S::kCopyFs},
    {A::kCopyFsStruct, false, S::kCopyFsStruct},
    {A::kCopyFsStruct, true, S::kCopySighandSignal},
    {A::kMmInit, false, S::kMmInit},
    {A::kPgdAlloc, false, S::kPgdAlloc},
    {A::kPgdAlloc, true, S::kMmInit},
    {A::kMmInit, true, S::kDupMm},
    {A::kDupMmap, false, S::kDupMmap},
    {A::kDupMmap, true, S::kDupMm},
    {A::kCopyNamespaces, false, S::kCopyNamespaces},
    {A::kCreateNewNamespaces, false, S::kCreateNewNamespaces},
    {A::kCreateNewNamespaces, true, S::kCopyNamespaces},
    {A::kCopyNamespaces, true, S::kCopyIo},
    {A::kCopyThread, false, S::kCopyThread},
    {A::kCopyThread, true, S::kBetweenCalls},
    {A::kAllocPid, false, S::kAllocPid},
    {A::kAllocPid, true, S::kTaskSetup},
    {A::kPidfdPrepare, false, S::kPidfdPrepare},
    {A::kPidfdPrepare, true, S::kTaskSetup},
    {A::kCgroupCanFork, false, S::kCgroupCanFork},
    {A::kCgroupCanFork, true, S::kBetweenCalls},
    {A::kSchedCgroupFork, false, S::kSchedCgroupFork},
    {A::kSchedCgroupFork, true, S::kAttachPublish},
    {A::kSchedPostFork, false, S::kSchedPostFork},
    {A::kSchedPostFork, true, S::kBetweenCalls},
    {A::kCgroupPostFork, false, S::kCgroupPostFork},
    {A::kCgroupPostFork, true, S::kPostFork},
    {A::kCopyProcess, true, S::kClonePublish},
    {A::kWakeUpNewTask, false, S::kWakeUpNewTask},
    {A::kWakeUpNewTask, true, S::kCloneReturn},  // kVforkWait for CLONE_VFORK
    {A::kKernelClone, true, S::kCloneReturn},    // last: opens no interval
};

using T = StageType;

constexpr StageInfo kStages[kStageCount] = {
    {"dup_task_struct", T::kGap,
     "copy_process entry to copy_creds: flag checks, dup_task_struct (task_struct, stack), "
     "early task setup"},
    {"copy_creds", T::kDirect, "copy_creds()"},
    {"task_init", T::kGap,
     "copy_creds return to sched_fork: RLIMIT_NPROC check, delayacct, field init, cgroup_fork, "
     "mpol_dup"},
    {"sched_fork", T::kDirect, "sched_fork()"},
    {"perf_event_init_task", T::kDirect, "perf_event_init_task()"},
    {"audit_alloc", T::kDirect, "audit_alloc()"},
    {"security_task_alloc", T::kDirect, "security_task_alloc()"},
    {"copy_semundo", T::kDirect, "copy_semundo()"},
    {"copy_files", T::kGap,
     "copy_semundo return to dup_fd: inlined copy_files (with CLONE_FILES: also what follows, "
     "up to the next anchor that fires)"},
    {"dup_fd", T::kDirect, "dup_fd() (without CLONE_FILES)"},
    {"copy_fs", T::kGap,
     "dup_fd return to copy_fs_struct: inlined copy_fs (with CLONE_FS: also what follows)"},
    {"copy_fs_struct", T::kDirect, "copy_fs_struct() (without CLONE_FS)"},
    {"copy_sighand_signal", T::kGap,
     "copy_fs_struct return to mm_init: inlined copy_sighand, copy_signal, and copy_mm/dup_mm "
     "up to mm_init (with CLONE_VM: all of copy_mm)"},
    {"mm_init", T::kDirect, "mm_init() without its pgd_alloc()"},
    {"pgd_alloc", T::kDirect, "pgd_alloc()"},
    {"dup_mm", T::kGap, "inlined dup_mm around dup_mmap, and the end of copy_mm"},
    {"dup_mmap", T::kDirect, "dup_mmap(): VMAs and page tables (without CLONE_VM)"},
    {"copy_namespaces", T::kDirect, "copy_namespaces() without create_new_namespaces()"},
    {"create_new_namespaces", T::kDirect, "create_new_namespaces() (CLONE_NEW*)"},
    {"copy_io", T::kGap, "copy_namespaces return to copy_thread: inlined copy_io"},
    {"copy_thread", T::kDirect, "copy_thread()"},
    {"alloc_pid", T::kDirect, "alloc_pid()"},
    {"task_setup", T::kGap,
     "alloc_pid return to cgroup_can_fork (around __pidfd_prepare): futex init, pid and tgid, "
     "thread group links"},
    {"pidfd_prepare", T::kDirect, "__pidfd_prepare() (CLONE_PIDFD)"},
    {"cgroup_can_fork", T::kDirect, "cgroup_can_fork()"},
    {"sched_cgroup_fork", T::kDirect, "sched_cgroup_fork()"},
    {"attach_publish", T::kGap,
     "sched_cgroup_fork return to sched_post_fork: tasklist_lock, attach_pid, total_forks++, "
     "proc_fork_connector"},
    {"sched_post_fork", T::kDirect, "sched_post_fork()"},
    {"cgroup_post_fork", T::kDirect, "cgroup_post_fork()"},
    {"post_fork", T::kGap,
     "cgroup_post_fork return to copy_process return: perf_event_fork, uprobes, oom score"},
    {"between_calls", T::kGap,
     "copy_process's own code between consecutive probed calls (error checks, argument setup)"},
    {"clone_prologue", T::kOuter, "kernel_clone entry to copy_process: flag and ptrace checks"},
    {"clone_publish", T::kOuter,
     "copy_process return to wake_up_new_task: trace event, pid lookup, parent_tid, vfork setup"},
    {"wake_up_new_task", T::kOuter, "wake_up_new_task(): the child's first wake-up"},
    {"vfork_wait", T::kOuter,
     "CLONE_VFORK: the parent blocked until the child execs or exits (wait_for_vfork_done)"},
    {"clone_return", T::kOuter, "after wake_up_new_task to kernel_clone's return"},
    {"exec_prologue", T::kExec, "do_execveat_common entry to alloc_bprm: RLIMIT_NPROC check"},
    {"alloc_bprm", T::kExec, "alloc_bprm(): binprm, bprm_mm_init (mm_init and pgd_alloc nested)"},
    {"count_args", T::kExec,
     "alloc_bprm return to copy_string_kernel: count argv and envp, stack limits"},
    {"copy_string_kernel", T::kExec, "copy_string_kernel(): the filename (and #! arguments)"},
    {"copy_strings", T::kExec, "copy_strings(): envp and argv from user memory"},
    {"exec_args", T::kExec, "do_execveat_common between the string copies and bprm_execve"},
    {"prepare_bprm_creds", T::kExec,
     "bprm_execve entry to do_open_execat: inlined prepare_bprm_creds, check_unsafe_exec"},
    {"do_open_execat", T::kExec, "do_open_execat(): path walk and open of the file"},
    {"sched_exec", T::kExec, "sched_exec()"},
    {"search_binary_handler", T::kExec,
     "bprm_execve after the open: security_bprm_creds_for_exec, inlined exec_binprm and "
     "search_binary_handler (prepare_binprm reads the first page, binfmt iteration), the tail"},
    {"load_elf_binary", T::kExec,
     "load_elf_binary() own time: headers, interpreter lookup (an ENOEXEC try for scripts too)"},
    {"load_script", T::kExec, "load_script(): #! parsing, opening the interpreter"},
    {"begin_new_exec", T::kExec,
     "begin_new_exec(): de_thread, exec_mmap (drops the old mm), unshare files, creds"},
    {"setup_new_exec", T::kExec, "setup_new_exec(): mmap layout, comm"},
    {"setup_arg_pages", T::kExec, "setup_arg_pages(): move and size the stack"},
    {"elf_map_segments", T::kExec,
     "load_elf_binary after setup_arg_pages: elf_map of segments, brk, interpreter load, "
     "auxv tables"},
    {"finalize_exec", T::kExec, "finalize_exec()"},
    {"free_bprm", T::kExec, "free_bprm()"},
    {"exec_epilogue", T::kExec, "do_execveat_common after bprm_execve: free_bprm glue, putname"},
};

// Each anchor's entry and return boundary, inverted from kBoundaries at
// compile time (kBoundaryCount where an anchor has none).
struct AnchorBoundaries {
  Boundary entry[kAnchorCount];
  Boundary ret[kAnchorCount];
};

constexpr AnchorBoundaries make_anchor_boundaries() {
  AnchorBoundaries out{};
  for (ktl::size_t a = 0; a < kAnchorCount; ++a) out.entry[a] = out.ret[a] = kBoundaryCount;
  for (int b = 0; b < kBoundaryCount; ++b) {
    auto a = static_cast<ktl::size_t>(kBoundaries[b].anchor);
    (kBoundaries[b].is_return ? out.ret[a] : out.entry[a]) = static_cast<Boundary>(b);
  }
  return out;
}

constexpr AnchorBoundaries kAnchorBoundaries = make_anchor_boundaries();

constexpr ktl::u64 make_step_entries() {
  ktl::u64 mask = 0;
  for (int b = 0; b < kBoundaryCount; ++b) {
    const BoundaryInfo& info = kBoundaries[b];
    if (!info.is_return && info.anchor != Anchor::kKernelClone &&
        info.anchor != Anchor::kCopyProcess) {
      mask |= ktl::u64{1} << b;
    }
  }
  return mask;
}

constexpr ktl::u64 kStepEntries = make_step_entries();

}  // namespace

FORKSCOPE_PROBE_CONTEXT const AnchorInfo& anchor_info(Anchor anchor) {
  return kAnchors[static_cast<ktl::size_t>(anchor)];
}
const BoundaryInfo& boundary_info(Boundary boundary) { return kBoundaries[boundary]; }
const StageInfo& stage_info(Stage stage) { return kStages[static_cast<ktl::size_t>(stage)]; }

FORKSCOPE_PROBE_CONTEXT Boundary entry_boundary(Anchor anchor) {
  return kAnchorBoundaries.entry[static_cast<ktl::size_t>(anchor)];
}

FORKSCOPE_PROBE_CONTEXT ktl::u64 step_entry_boundaries() { return kStepEntries; }

FORKSCOPE_PROBE_CONTEXT Anchor boundary_anchor(Boundary boundary) {
  return kBoundaries[boundary].anchor;
}

FORKSCOPE_PROBE_CONTEXT Boundary return_boundary(Anchor anchor) {
  return kAnchorBoundaries.ret[static_cast<ktl::size_t>(anchor)];
}

bool is_copy_process_stage(Stage stage) {
  return static_cast<ktl::u8>(stage) <= static_cast<ktl::u8>(kCopyProcessLast);
}

namespace {

// The stage each boundary opens, without and with vfork (the interval after
// wake_up_new_task's return is the vfork wait): one load per interval.
struct StageAfterTables {
  Stage plain[kBoundaryCount];
  Stage vfork[kBoundaryCount];
};

constexpr StageAfterTables make_stage_after() {
  StageAfterTables t{};
  for (int b = 0; b < kBoundaryCount; ++b) {
    t.plain[b] = kBoundaries[b].stage_after;
    t.vfork[b] = b == kWakeUpNewTaskReturn ? Stage::kVforkWait : kBoundaries[b].stage_after;
  }
  return t;
}

constexpr StageAfterTables kStageAfter = make_stage_after();

// The fork walk, shared by the probe-context partition and the read side's
// intervals (one walk, so both always agree): visit(stage, opening boundary,
// closing boundary, ns) per interval. Always inlined: an out-of-line copy
// would sit outside .kprobes.text.
template <typename Visit>
[[gnu::always_inline]] inline void walk_partition(const ktl::u64* ns, ktl::u64 present, bool vfork,
                                                  Partition* out, Visit visit) {
  *out = Partition{};
  ktl::u64 left = present & ((ktl::u64{1} << kBoundaryCount) - 1);
  if (left == 0) return;
  const Stage* stage_after = vfork ? kStageAfter.vfork : kStageAfter.plain;
  const int first = __builtin_ctzll(left);
  int previous = first;
  ktl::u64 previous_ns = ns[first];
  ktl::u64 kept = ktl::u64{1} << first;
  ktl::u64 ran = 0;
  for (left &= left - 1; left != 0; left &= left - 1) {
    int b = __builtin_ctzll(left);
    ktl::u64 at = ns[b];
    if (at < previous_ns) {
      ++out->dropped_boundaries;  // time cannot run backwards: ignore it
      continue;
    }
    kept |= ktl::u64{1} << b;
    Stage stage = stage_after[previous];
    auto index = static_cast<ktl::size_t>(stage);
    out->stage_ns[index] += at - previous_ns;
    ran |= ktl::u64{1} << index;
    visit(stage, previous, b, at - previous_ns);
    previous = b;
    previous_ns = at;
  }
  out->ran_mask = ran;
  out->total_ns = previous_ns - ns[first];
  const ktl::u64 cp_entry = ktl::u64{1} << kCopyProcessEntry;
  const ktl::u64 cp_return = ktl::u64{1} << kCopyProcessReturn;
  if ((kept & cp_entry) && (kept & cp_return)) {
    out->copy_process_ns = ns[kCopyProcessReturn] - ns[kCopyProcessEntry];
  }
}

Crossing crossing_of(int boundary) {
  return Crossing{kBoundaries[boundary].anchor, kBoundaries[boundary].is_return};
}

}  // namespace

FORKSCOPE_PROBE_CONTEXT void compute_partition(const ktl::u64* ns, ktl::u64 present, bool vfork,
                                               Partition* out) {
  walk_partition(ns, present, vfork, out, [](Stage, int, int, ktl::u64) {});
}

void compute_partition_intervals(const ktl::u64* ns, ktl::u64 present, bool vfork, Partition* out,
                                 IntervalVisitor visit, void* context) {
  walk_partition(ns, present, vfork, out, [&](Stage stage, int open, int close, ktl::u64 d) {
    visit(context, Interval{stage, crossing_of(open), crossing_of(close), d});
  });
}

namespace {

// The stage an exec interval opened by entering `anchor` belongs to.
FORKSCOPE_PROBE_CONTEXT Stage exec_entry_stage(Anchor anchor) {
  switch (anchor) {
    case Anchor::kDoExecveatCommon:
      return Stage::kExecPrologue;
    case Anchor::kAllocBprm:
      return Stage::kAllocBprm;
    case Anchor::kCopyStringKernel:
      return Stage::kCopyStringKernel;
    case Anchor::kCopyStrings:
      return Stage::kCopyStrings;
    case Anchor::kBprmExecve:
      return Stage::kPrepareBprmCreds;
    case Anchor::kDoOpenExecat:
      return Stage::kDoOpenExecat;
    case Anchor::kSchedExec:
      return Stage::kSchedExec;
    case Anchor::kLoadElfBinary:
      return Stage::kLoadElfBinary;
    case Anchor::kLoadScript:
      return Stage::kLoadScript;
    case Anchor::kBeginNewExec:
      return Stage::kBeginNewExec;
    case Anchor::kSetupNewExec:
      return Stage::kSetupNewExec;
    case Anchor::kSetupArgPages:
      return Stage::kSetupArgPages;
    case Anchor::kFinalizeExec:
      return Stage::kFinalizeExec;
    case Anchor::kFreeBprm:
      return Stage::kFreeBprm;
    default:
      break;
  }
  // A fork anchor called from exec (mm_init in alloc_bprm, dup_fd in
  // begin_new_exec for a thread): its own fork stage.
  Boundary entry = entry_boundary(anchor);
  return entry < kBoundaryCount ? kBoundaries[entry].stage_after : Stage::kExecArgs;
}

// The stage of the interval after `returned` returns into `parent`.
FORKSCOPE_PROBE_CONTEXT Stage exec_gap_stage(Anchor parent, Anchor returned) {
  switch (parent) {
    case Anchor::kDoExecveatCommon:
      if (returned == Anchor::kAllocBprm) return Stage::kCountArgs;
      if (returned == Anchor::kBprmExecve || returned == Anchor::kFreeBprm) {
        return Stage::kExecEpilogue;
      }
      return Stage::kExecArgs;
    case Anchor::kBprmExecve:
      return Stage::kSearchBinaryHandler;
    case Anchor::kLoadElfBinary:
      return returned == Anchor::kSetupArgPages ? Stage::kElfMapSegments : Stage::kLoadElfBinary;
    default:
      return exec_entry_stage(parent);
  }
}

}  // namespace

namespace {

// The exec walk (see walk_partition): visit(stage, opening event, closing
// event, ns) per interval.
template <typename Visit>
[[gnu::always_inline]] inline void walk_exec_partition(const ExecEvent* events, ktl::size_t count,
                                                       Partition* out, Visit visit) {
  *out = Partition{};
  constexpr int kMaxDepth = 16;
  Anchor open[kMaxDepth];
  int depth = 0;
  int previous = -1;
  Stage previous_stage = Stage::kExecPrologue;
  for (ktl::size_t i = 0; i < count; ++i) {
    const ExecEvent& event = events[i];
    Stage stage;
    if (!event.is_return) {
      if (depth == kMaxDepth) {
        ++out->dropped_boundaries;
        continue;
      }
      open[depth++] = event.anchor;
      stage = exec_entry_stage(event.anchor);
    } else {
      int found = depth - 1;
      while (found >= 0 && open[found] != event.anchor) --found;
      if (found < 0) {
        ++out->dropped_boundaries;  // a return whose entry we never saw
        continue;
      }
      depth = found;
      stage = depth > 0 ? exec_gap_stage(open[depth - 1], event.anchor) : Stage::kExecEpilogue;
    }
    if (previous >= 0) {
      if (event.offset_ns < events[previous].offset_ns) {
        ++out->dropped_boundaries;
        continue;
      }
      auto index = static_cast<ktl::size_t>(previous_stage);
      ktl::u64 d = event.offset_ns - events[previous].offset_ns;
      out->stage_ns[index] += d;
      out->ran_mask |= ktl::u64{1} << index;
      out->total_ns = event.offset_ns - events[0].offset_ns;
      visit(previous_stage, events[previous], event, d);
    }
    previous = static_cast<int>(i);
    previous_stage = stage;
  }
}

}  // namespace

FORKSCOPE_PROBE_CONTEXT void compute_exec_partition(const ExecEvent* events, ktl::size_t count,
                                                    Partition* out) {
  walk_exec_partition(events, count, out,
                      [](Stage, const ExecEvent&, const ExecEvent&, ktl::u64) {});
}

void compute_exec_partition_intervals(const ExecEvent* events, ktl::size_t count, Partition* out,
                                      IntervalVisitor visit, void* context) {
  walk_exec_partition(events, count, out,
                      [&](Stage stage, const ExecEvent& open, const ExecEvent& close, ktl::u64 d) {
                        visit(context, Interval{stage, Crossing{open.anchor, open.is_return},
                                                Crossing{close.anchor, close.is_return}, d});
                      });
}

Stage merged_into(Stage stage, ktl::u64 available_anchors) {
  if (static_cast<ktl::u8>(stage) >= static_cast<ktl::u8>(kExecFirst)) {
    // An exec stage opened by an anchor's entry needs that anchor; without
    // it, the time stays with the enclosing stage.
    for (ktl::size_t a = 0; a < kAnchorCount; ++a) {
      auto anchor = static_cast<Anchor>(a);
      if (exec_entry_stage(anchor) != stage || entry_boundary(anchor) < kBoundaryCount) continue;
      if (available_anchors & (ktl::u64{1} << a)) return stage;
      return stage == Stage::kExecPrologue ? stage : Stage::kExecArgs;
    }
    return stage;  // a gap of an available parent
  }
  // A stage is measured when some boundary that opens it belongs to an
  // available anchor; otherwise its time lands in the stage opened by the
  // nearest available boundary before it.
  for (int b = 0; b < kBoundaryCount; ++b) {
    Stage opened = kBoundaries[b].stage_after;
    bool opens = opened == stage || (stage == Stage::kVforkWait && b == kWakeUpNewTaskReturn);
    if (!opens) continue;
    if (available_anchors & (ktl::u64{1} << static_cast<int>(kBoundaries[b].anchor))) return stage;
  }
  for (int b = 0; b < kBoundaryCount; ++b) {
    if (kBoundaries[b].stage_after != stage) continue;
    for (int prev = b - 1; prev >= 0; --prev) {
      if (available_anchors & (ktl::u64{1} << static_cast<int>(kBoundaries[prev].anchor))) {
        return kBoundaries[prev].stage_after;
      }
    }
  }
  return stage;
}

}  // namespace forkscope
