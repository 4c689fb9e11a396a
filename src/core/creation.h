// SPDX-License-Identifier: GPL-2.0
// What one process creation asked for (from kernel_clone_args and the
// syscall that led there) and how forkscope classifies it.
#ifndef FORKSCOPE_CORE_CREATION_H
#define FORKSCOPE_CORE_CREATION_H

#include <ktl/string_builder.h>
#include <ktl/types.h>

namespace forkscope {

// Kinds of creation, in the order they are listed in stats.
enum class Kind : ktl::u8 {
  kFork,      // fork(2), or clone(2) with only SIGCHLD and *_SETTID/*_CLEARTID flags
  kVfork,     // CLONE_VFORK (vfork(2), posix_spawn)
  kThread,    // CLONE_THREAD (pthread_create)
  kClone,     // clone(2) with other flags (shared VM without a thread, namespaces...)
  kClone3,    // clone3(2) that is not a thread or vfork
  kKthread,   // kernel_thread (kthreadd): args->kthread
  kIoWorker,  // create_io_thread (io_uring workers): args->io_thread
  kUmh,       // user_mode_thread (usermode helpers): args->fn set, not kthread
  kExec,      // not a creation: an execve, for statistics and filters
  kCount,
};

// How the creation entered the kernel.
enum class Origin : ktl::u8 {
  kUnknown,
  kSysFork,
  kSysVfork,
  kSysClone,
  kSysClone3,
  kKernel,  // from a kernel thread: no syscall
};

struct CloneRequest {
  ktl::u64 flags = 0;        // args->flags, CLONE_* bits (exit signal not included)
  ktl::u32 exit_signal = 0;  // args->exit_signal
  Origin origin = Origin::kUnknown;
  bool kthread = false;    // args->kthread
  bool io_thread = false;  // args->io_thread
  bool has_fn = false;     // args->fn != NULL (kernel_thread, user_mode_thread, io threads)
};

// Classification rules, first match wins: io_thread -> kIoWorker, kthread ->
// kKthread, has_fn -> kUmh, CLONE_THREAD -> kThread, CLONE_VFORK -> kVfork,
// clone3 -> kClone3, fork(2) -> kFork, clone(2) with flags within
// CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|CLONE_PARENT_SETTID and exit
// signal SIGCHLD -> kFork (glibc's fork), anything else -> kClone.
Kind classify(const CloneRequest& request);

const char* kind_name(
    Kind kind);  // "fork", "vfork", "thread", "clone", "clone3", "kthread", "io_worker", "umh"
// Parses a kind name (exact, case-sensitive); false if unknown.
bool parse_kind(const char* text, ktl::size_t length, Kind* out);

// Appends flags decoded as "CLONE_VM|CLONE_FS|...|SIGCHLD": every known
// CLONE_* bit by name in bit order, unknown bits as one hex number
// ("0x100000000"), then the exit signal by name ("SIGCHLD", "SIG33" if
// unnamed) unless it is 0. Nothing at all gives "0".
void append_clone_flags(ktl::StringBuilder& out, ktl::u64 flags, ktl::u32 exit_signal);

// CLONE_* values from include/uapi/linux/sched.h (6.1).
namespace clone_flag {
inline constexpr ktl::u64 kVm = 0x00000100;
inline constexpr ktl::u64 kFs = 0x00000200;
inline constexpr ktl::u64 kFiles = 0x00000400;
inline constexpr ktl::u64 kSighand = 0x00000800;
inline constexpr ktl::u64 kPidfd = 0x00001000;
inline constexpr ktl::u64 kPtrace = 0x00002000;
inline constexpr ktl::u64 kVfork = 0x00004000;
inline constexpr ktl::u64 kParent = 0x00008000;
inline constexpr ktl::u64 kThread = 0x00010000;
inline constexpr ktl::u64 kNewns = 0x00020000;
inline constexpr ktl::u64 kSysvsem = 0x00040000;
inline constexpr ktl::u64 kSettls = 0x00080000;
inline constexpr ktl::u64 kParentSettid = 0x00100000;
inline constexpr ktl::u64 kChildCleartid = 0x00200000;
inline constexpr ktl::u64 kDetached = 0x00400000;
inline constexpr ktl::u64 kUntraced = 0x00800000;
inline constexpr ktl::u64 kChildSettid = 0x01000000;
inline constexpr ktl::u64 kNewcgroup = 0x02000000;
inline constexpr ktl::u64 kNewuts = 0x04000000;
inline constexpr ktl::u64 kNewipc = 0x08000000;
inline constexpr ktl::u64 kNewuser = 0x10000000;
inline constexpr ktl::u64 kNewpid = 0x20000000;
inline constexpr ktl::u64 kNewnet = 0x40000000;
inline constexpr ktl::u64 kIo = 0x80000000;
inline constexpr ktl::u64 kClearSighand = 0x100000000ULL;
inline constexpr ktl::u64 kIntoCgroup = 0x200000000ULL;
inline constexpr ktl::u64 kNewtime = 0x00000080;
inline constexpr ktl::u64 kNewMask =
    kNewns | kNewcgroup | kNewuts | kNewipc | kNewuser | kNewpid | kNewnet | kNewtime;
}  // namespace clone_flag

inline constexpr ktl::u32 kSigchld = 17;

}  // namespace forkscope

#endif  // FORKSCOPE_CORE_CREATION_H
