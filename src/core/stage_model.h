// SPDX-License-Identifier: GPL-2.0
// The mirror of 6.1's kernel_clone/copy_process: the kernel functions we
// probe (anchors), the ordered boundaries they produce (entry and return),
// and the stage each interval between two boundaries belongs to.
#ifndef FORKSCOPE_CORE_STAGE_MODEL_H
#define FORKSCOPE_CORE_STAGE_MODEL_H

#include <ktl/types.h>

namespace forkscope {

// Kernel functions probed, each with a kretprobe (entry and return).
enum class Anchor : ktl::u8 {
  kKernelClone,
  kCopyProcess,
  kCopyCreds,
  kSchedFork,
  kPerfEventInitTask,
  kAuditAlloc,
  kSecurityTaskAlloc,
  kCopySemundo,
  kDupFd,
  kCopyFsStruct,
  kMmInit,
  kPgdAlloc,
  kDupMmap,
  kCopyNamespaces,
  kCreateNewNamespaces,
  kCopyThread,
  kAllocPid,
  kPidfdPrepare,
  kCgroupCanFork,
  kSchedCgroupFork,
  kSchedPostFork,
  kCgroupPostFork,
  kWakeUpNewTask,
  // execve (fs/exec.c, fs/binfmt_*.c)
  kDoExecveatCommon,
  kAllocBprm,
  kCopyStringKernel,
  kCopyStrings,
  kBprmExecve,
  kDoOpenExecat,
  kSchedExec,
  kLoadElfBinary,
  kLoadScript,
  kBeginNewExec,
  kSetupNewExec,
  kSetupArgPages,
  kFinalizeExec,
  kFreeBprm,
  // a task's end (closes spawns that never exec)
  kDoExit,
  kCount,
};

// What a probe handler does for an anchor.
enum class AnchorRole : ktl::u8 {
  kCreationStart,  // kernel_clone: a creation begins at entry, ends at return
  kCopyProcess,    // copy_process: the partitioned span; io workers begin here
  kStep,           // a step inside the creation or exec of the calling task
  kExecStart,      // do_execveat_common: an exec begins at entry, ends at return
  kExecFilename,   // alloc_bprm: a step that also names the file being executed
  kExit,           // do_exit: entry only
};

struct AnchorInfo {
  const char* names[3];  // kernel symbol, then older kernels' names; nullptr-terminated
  bool required;         // refuse to load without it
  AnchorRole role;
  const char* what;  // one line for the stages file
};

// Timestamps taken at function entries and returns, in pipeline order.
// Boundaries whose anchor did not fire are absent from a record.
enum Boundary : ktl::u8 {
  kKernelCloneEntry,
  kCopyProcessEntry,
  kCopyCredsEntry,
  kCopyCredsReturn,
  kSchedForkEntry,
  kSchedForkReturn,
  kPerfEventInitTaskEntry,
  kPerfEventInitTaskReturn,
  kAuditAllocEntry,
  kAuditAllocReturn,
  kSecurityTaskAllocEntry,
  kSecurityTaskAllocReturn,
  kCopySemundoEntry,
  kCopySemundoReturn,
  kDupFdEntry,
  kDupFdReturn,
  kCopyFsStructEntry,
  kCopyFsStructReturn,
  kMmInitEntry,
  kPgdAllocEntry,
  kPgdAllocReturn,
  kMmInitReturn,
  kDupMmapEntry,
  kDupMmapReturn,
  kCopyNamespacesEntry,
  kCreateNewNamespacesEntry,
  kCreateNewNamespacesReturn,
  kCopyNamespacesReturn,
  kCopyThreadEntry,
  kCopyThreadReturn,
  kAllocPidEntry,
  kAllocPidReturn,
  kPidfdPrepareEntry,
  kPidfdPrepareReturn,
  kCgroupCanForkEntry,
  kCgroupCanForkReturn,
  kSchedCgroupForkEntry,
  kSchedCgroupForkReturn,
  kSchedPostForkEntry,
  kSchedPostForkReturn,
  kCgroupPostForkEntry,
  kCgroupPostForkReturn,
  kCopyProcessReturn,
  kWakeUpNewTaskEntry,
  kWakeUpNewTaskReturn,
  kKernelCloneReturn,
  kBoundaryCount,
};
static_assert(kBoundaryCount <= 64, "boundary sets are 64-bit masks");

// Stages: copy_process's partition first (kCopyProcessFirst..Last), then
// kernel_clone's steps around it.
enum class Stage : ktl::u8 {
  kDupTaskStruct,
  kCopyCreds,
  kTaskInit,
  kSchedFork,
  kPerfEventInitTask,
  kAuditAlloc,
  kSecurityTaskAlloc,
  kCopySemundo,
  kCopyFiles,
  kDupFd,
  kCopyFs,
  kCopyFsStruct,
  kCopySighandSignal,
  kMmInit,
  kPgdAlloc,
  kDupMm,
  kDupMmap,
  kCopyNamespaces,
  kCreateNewNamespaces,
  kCopyIo,
  kCopyThread,
  kAllocPid,
  kTaskSetup,
  kPidfdPrepare,
  kCgroupCanFork,
  kSchedCgroupFork,
  kAttachPublish,
  kSchedPostFork,
  kCgroupPostFork,
  kPostFork,
  kBetweenCalls,
  // kernel_clone around copy_process
  kClonePrologue,
  kClonePublish,
  kWakeUpNewTask,
  kVforkWait,
  kCloneReturn,
  // execve: do_execveat_common's span, partitioned by the exec anchors
  kExecPrologue,
  kAllocBprm,
  kCountArgs,
  kCopyStringKernel,
  kCopyStrings,
  kExecArgs,
  kPrepareBprmCreds,
  kDoOpenExecat,
  kSchedExec,
  kSearchBinaryHandler,
  kLoadElfBinary,
  kLoadScript,
  kBeginNewExec,
  kSetupNewExec,
  kSetupArgPages,
  kElfMapSegments,
  kFinalizeExec,
  kFreeBprm,
  kExecEpilogue,
  kCount,
};
inline constexpr ktl::size_t kStageCount = static_cast<ktl::size_t>(Stage::kCount);
static_assert(kStageCount <= 64, "stage sets are 64-bit masks");
inline constexpr Stage kExecFirst = Stage::kExecPrologue;
inline constexpr Stage kCopyProcessFirst = Stage::kDupTaskStruct;
inline constexpr Stage kCopyProcessLast = Stage::kBetweenCalls;

enum class StageType : ktl::u8 {
  kDirect,  // one probed function, entry to return
  kGap,     // code the compiler inlined between two anchors
  kOuter,   // kernel_clone's own steps around copy_process
  kExec,    // a stage of execve (direct or gap, see contains)
};

struct StageInfo {
  const char* name;
  StageType type;
  const char* contains;  // what the stage's time covers
};

struct BoundaryInfo {
  Anchor anchor;
  bool is_return;
  Stage stage_after;  // stage of the interval from this boundary to the next one
};

const AnchorInfo& anchor_info(Anchor anchor);
const BoundaryInfo& boundary_info(Boundary boundary);
const StageInfo& stage_info(Stage stage);
Boundary entry_boundary(Anchor anchor);
// Bit per entry boundary of a step anchor (not kernel_clone's or copy_process's).
ktl::u64 step_entry_boundaries();
Anchor boundary_anchor(Boundary boundary);
Boundary return_boundary(Anchor anchor);
bool is_copy_process_stage(Stage stage);

inline constexpr ktl::size_t kAnchorCount = static_cast<ktl::size_t>(Anchor::kCount);

// Stage durations of one record, from its boundary timestamps.
struct Partition {
  ktl::u64 stage_ns[kStageCount] = {};
  ktl::u64 ran_mask = 0;            // bit per Stage that covers at least one interval
  ktl::u64 copy_process_ns = 0;     // copy_process return - entry (0 if either missing)
  ktl::u64 total_ns = 0;            // last boundary - first boundary
  ktl::u32 dropped_boundaries = 0;  // out of order, ignored (counted as anomalies)
};

// Splits the span between the first and last present boundary into stages:
// each interval between consecutive present boundaries goes to the
// stage_after of its opening boundary, so a stage whose anchors did not fire
// merges into the stage before it and durations always sum exactly to the
// span. The interval after wake_up_new_task returns is kVforkWait when
// vfork is true, else kCloneReturn. A boundary earlier than the one before
// it is dropped. present: bit per Boundary; ns: timestamps by Boundary.
void compute_partition(const ktl::u64* ns, ktl::u64 present, bool vfork, Partition* out);

// One anchor crossing in an exec's event log.
struct ExecEvent {
  ktl::u32 offset_ns;  // since the exec's first event (saturates at ~4.29 s)
  Anchor anchor;
  bool is_return;
};
inline constexpr ktl::size_t kMaxExecEvents = 64;

// The exec's stages: each interval between consecutive events goes to the
// stage the opening event starts (a function's own stage at its entry; at a
// return, the enclosing function's gap, e.g. search_binary_handler inside
// bprm_execve), so stages sum exactly to the exec's span. Unbalanced
// returns (a missed entry) are counted in dropped_boundaries.
void compute_exec_partition(const ExecEvent* events, ktl::size_t count, Partition* out);

// One hook crossing: an anchor's entry or return (a fork Boundary, or an
// exec event); the probe effect is calibrated per crossing.
struct Crossing {
  Anchor anchor;
  bool is_return;
};

// One interval of a partition: the stage it went to, the crossings that
// open and close it, its duration.
struct Interval {
  Stage stage;
  Crossing open;
  Crossing close;
  ktl::u64 ns;
};
// Read side: compute_partition / compute_exec_partition (the same walk),
// calling visit(context, interval) for each interval they sum, in order.
using IntervalVisitor = void (*)(void* context, const Interval& interval);
void compute_partition_intervals(const ktl::u64* ns, ktl::u64 present, bool vfork, Partition* out,
                                 IntervalVisitor visit, void* context);
void compute_exec_partition_intervals(const ExecEvent* events, ktl::size_t count, Partition* out,
                                      IntervalVisitor visit, void* context);

// For the stages file: which stage absorbs `stage` when the anchors in
// available_anchors (bit per Anchor) are the only ones registered; returns
// `stage` itself when it can be measured.
Stage merged_into(Stage stage, ktl::u64 available_anchors);

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_STAGE_MODEL_H
