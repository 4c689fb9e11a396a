// SPDX-License-Identifier: GPL-2.0
// The copy_process mirror: table consistency with the 6.1 call order, and
// partition arithmetic (exact sums, merging, vfork wait, disorder).
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "stage_model.h"

namespace forkscope {
namespace {

constexpr ktl::u64 bit(int b) { return ktl::u64{1} << b; }

ktl::u64 all_boundaries() { return (ktl::u64{1} << kBoundaryCount) - 1; }

ktl::u64 sum_copy_process_stages(const Partition& p) {
  ktl::u64 sum = 0;
  for (ktl::size_t s = 0; s <= static_cast<ktl::size_t>(kCopyProcessLast); ++s) {
    sum += p.stage_ns[s];
  }
  return sum;
}

TEST(StageModel, EveryAnchorHasOneEntryAndOneReturnInOrder) {
  // Creation anchors have fixed boundaries; exec anchors use an event log.
  for (ktl::size_t a = 0; a < static_cast<ktl::size_t>(Anchor::kDoExecveatCommon); ++a) {
    auto anchor = static_cast<Anchor>(a);
    Boundary entry = entry_boundary(anchor);
    Boundary ret = return_boundary(anchor);
    ASSERT_LT(entry, kBoundaryCount) << anchor_info(anchor).names[0];
    ASSERT_LT(ret, kBoundaryCount) << anchor_info(anchor).names[0];
    EXPECT_LT(entry, ret) << anchor_info(anchor).names[0];
  }
}

TEST(StageModel, NestingIsProperlyBracketed) {
  // Anchors may nest (mm_init/pgd_alloc, copy_namespaces/create_new_namespaces)
  // but never overlap: entries and returns form balanced brackets.
  std::vector<Anchor> stack;
  for (int b = 0; b < kBoundaryCount; ++b) {
    const BoundaryInfo& info = boundary_info(Boundary(b));
    if (!info.is_return) {
      stack.push_back(info.anchor);
    } else {
      ASSERT_FALSE(stack.empty());
      EXPECT_EQ(stack.back(), info.anchor) << "boundary " << b;
      stack.pop_back();
    }
  }
  EXPECT_TRUE(stack.empty());
}

TEST(StageModel, CopyProcessStagesAreExactlyThoseInsideCopyProcess) {
  for (int b = 0; b < kBoundaryCount; ++b) {
    Stage stage = boundary_info(Boundary(b)).stage_after;
    bool inside = b >= kCopyProcessEntry && b < kCopyProcessReturn;
    if (b == kKernelCloneReturn) continue;  // opens no interval
    EXPECT_EQ(is_copy_process_stage(stage), inside) << stage_info(stage).name;
  }
}

TEST(StageModel, FollowsTheKernelsCallOrder) {
  // 6.1 kernel/fork.c copy_process: the order of the calls we anchor on.
  const char* expected[] = {"kernel_clone",
                            "copy_process",
                            "copy_creds",
                            "sched_fork",
                            "perf_event_init_task",
                            "audit_alloc",
                            "security_task_alloc",
                            "copy_semundo",
                            "dup_fd",
                            "copy_fs_struct",
                            "mm_init",
                            "pgd_alloc",
                            "dup_mmap",
                            "copy_namespaces",
                            "create_new_namespaces",
                            "copy_thread",
                            "alloc_pid",
                            "__pidfd_prepare",
                            "cgroup_can_fork",
                            "sched_cgroup_fork",
                            "sched_post_fork",
                            "cgroup_post_fork",
                            "wake_up_new_task"};
  std::vector<std::string> seen;
  for (int b = 0; b < kBoundaryCount; ++b) {
    const BoundaryInfo& info = boundary_info(Boundary(b));
    if (!info.is_return) seen.push_back(anchor_info(info.anchor).names[0]);
  }
  ASSERT_EQ(seen.size(), std::size(expected));
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], expected[i]);
}

TEST(StageModel, StageNamesAreUniqueAndDirectStagesNameTheirFunction) {
  std::set<std::string> names;
  for (ktl::size_t s = 0; s < kStageCount; ++s) {
    EXPECT_TRUE(names.insert(stage_info(static_cast<Stage>(s)).name).second);
  }
  for (int b = 0; b < kBoundaryCount; ++b) {
    const BoundaryInfo& info = boundary_info(Boundary(b));
    if (info.is_return || stage_info(info.stage_after).type != StageType::kDirect) continue;
    std::string fn = anchor_info(info.anchor).names[0];
    std::string stage = stage_info(info.stage_after).name;
    EXPECT_NE(fn.find(stage), std::string::npos) << fn << " vs " << stage;
  }
}

TEST(Partition, AllBoundariesSumExactly) {
  ktl::u64 ns[kBoundaryCount];
  for (int b = 0; b < kBoundaryCount; ++b) ns[b] = 1000 + b * 37 + (b * b) % 11;
  Partition p;
  compute_partition(ns, all_boundaries(), false, &p);
  EXPECT_EQ(p.copy_process_ns, ns[kCopyProcessReturn] - ns[kCopyProcessEntry]);
  EXPECT_EQ(sum_copy_process_stages(p), p.copy_process_ns);
  EXPECT_EQ(p.total_ns, ns[kKernelCloneReturn] - ns[kKernelCloneEntry]);
  ktl::u64 all = 0;
  for (ktl::u64 v : p.stage_ns) all += v;
  EXPECT_EQ(all, p.total_ns);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kVforkWait)], 0u);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kDupMmap)], ns[kDupMmapReturn] - ns[kDupMmapEntry]);
  // mm_init is its two pieces around pgd_alloc.
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kMmInit)],
            (ns[kPgdAllocEntry] - ns[kMmInitEntry]) + (ns[kMmInitReturn] - ns[kPgdAllocReturn]));
}

TEST(Partition, VforkWaitIsTheIntervalAfterTheWakeUp) {
  ktl::u64 ns[kBoundaryCount];
  for (int b = 0; b < kBoundaryCount; ++b) ns[b] = 100 * (b + 1);
  ns[kKernelCloneReturn] = ns[kWakeUpNewTaskReturn] + 5000000;
  Partition p;
  compute_partition(ns, all_boundaries(), true, &p);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kVforkWait)], 5000000u);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kCloneReturn)], 0u);
  EXPECT_FALSE(p.ran_mask & bit(static_cast<int>(Stage::kCloneReturn)));
}

TEST(Partition, SkippedAnchorMergesIntoTheGapBefore) {
  // CLONE_FILES: dup_fd never fires; its time is part of copy_files.
  ktl::u64 ns[kBoundaryCount];
  for (int b = 0; b < kBoundaryCount; ++b) ns[b] = 10 * b * b + 5;
  ktl::u64 present = all_boundaries() & ~bit(kDupFdEntry) & ~bit(kDupFdReturn);
  Partition p;
  compute_partition(ns, present, false, &p);
  EXPECT_FALSE(p.ran_mask & bit(static_cast<int>(Stage::kDupFd)));
  EXPECT_FALSE(p.ran_mask & bit(static_cast<int>(Stage::kCopyFs)));
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kCopyFiles)],
            ns[kCopyFsStructEntry] - ns[kCopySemundoReturn]);
  EXPECT_EQ(sum_copy_process_stages(p), p.copy_process_ns);
}

TEST(Partition, RandomSubsetsAlwaysSumExactly) {
  std::mt19937_64 rng(20261123);
  for (int round = 0; round < 20000; ++round) {
    ktl::u64 ns[kBoundaryCount];
    ktl::u64 t = rng() % 1000000;
    for (int b = 0; b < kBoundaryCount; ++b) {
      t += rng() % 100000;
      ns[b] = t;
    }
    ktl::u64 present = rng() & all_boundaries();
    present |= bit(kCopyProcessEntry) | bit(kCopyProcessReturn);
    Partition p;
    compute_partition(ns, present, rng() & 1, &p);
    ASSERT_EQ(p.dropped_boundaries, 0u);
    ASSERT_EQ(p.copy_process_ns, ns[kCopyProcessReturn] - ns[kCopyProcessEntry]);
    ASSERT_EQ(sum_copy_process_stages(p), p.copy_process_ns) << "present " << std::hex << present;
    ktl::u64 all = 0;
    for (ktl::u64 v : p.stage_ns) all += v;
    ASSERT_EQ(all, p.total_ns);
  }
}

TEST(Partition, BackwardsTimestampIsDroppedAndSumsStayExact) {
  ktl::u64 ns[kBoundaryCount];
  for (int b = 0; b < kBoundaryCount; ++b) ns[b] = 1000 * (b + 1);
  ns[kSchedForkReturn] = 1;  // impossible: before its own entry
  Partition p;
  compute_partition(ns, all_boundaries(), false, &p);
  EXPECT_EQ(p.dropped_boundaries, 1u);
  EXPECT_EQ(sum_copy_process_stages(p), p.copy_process_ns);
}

TEST(Partition, EmptyAndSingleBoundary) {
  ktl::u64 ns[kBoundaryCount] = {};
  Partition p;
  compute_partition(ns, 0, false, &p);
  EXPECT_EQ(p.total_ns, 0u);
  EXPECT_EQ(p.ran_mask, 0u);
  ns[kKernelCloneEntry] = 77;
  compute_partition(ns, bit(kKernelCloneEntry), false, &p);
  EXPECT_EQ(p.total_ns, 0u);
  EXPECT_EQ(p.copy_process_ns, 0u);
}

TEST(StageMerge, MissingAnchorNamesItsAbsorbingStage) {
  ktl::u64 all = (ktl::u64{1} << kAnchorCount) - 1;
  for (ktl::size_t s = 0; s < kStageCount; ++s) {
    EXPECT_EQ(merged_into(static_cast<Stage>(s), all), static_cast<Stage>(s))
        << stage_info(static_cast<Stage>(s)).name;
  }
  ktl::u64 no_dup_mmap = all & ~(ktl::u64{1} << static_cast<int>(Anchor::kDupMmap));
  EXPECT_EQ(merged_into(Stage::kDupMmap, no_dup_mmap), Stage::kDupMm);
  ktl::u64 no_audit = all & ~(ktl::u64{1} << static_cast<int>(Anchor::kAuditAlloc));
  EXPECT_EQ(merged_into(Stage::kAuditAlloc, no_audit), Stage::kBetweenCalls);
  ktl::u64 no_pgd = all & ~(ktl::u64{1} << static_cast<int>(Anchor::kPgdAlloc));
  EXPECT_EQ(merged_into(Stage::kPgdAlloc, no_pgd), Stage::kMmInit);
}

// Builds an exec event log from (anchor, is_return) steps 10 ns apart.
struct ExecLog {
  ExecEvent events[kMaxExecEvents];
  ktl::size_t count = 0;
  ktl::u32 clock = 0;
  ExecLog& at(Anchor anchor, bool is_return, ktl::u32 step = 10) {
    events[count++] = ExecEvent{clock, anchor, is_return};
    clock += step;
    return *this;
  }
  ExecLog& call(Anchor anchor, ktl::u32 inside = 10) {
    return at(anchor, false, inside).at(anchor, true);
  }
};

ktl::u64 sum_all(const Partition& p) {
  ktl::u64 sum = 0;
  for (ktl::u64 v : p.stage_ns) sum += v;
  return sum;
}

TEST(ExecPartition, ElfExecSumsExactlyWithNamedGaps) {
  ExecLog log;
  log.at(Anchor::kDoExecveatCommon, false, 7)
      .at(Anchor::kAllocBprm, false, 3)
      .call(Anchor::kMmInit, 40)
      .at(Anchor::kAllocBprm, true, 11)  // count_args: 11
      .call(Anchor::kCopyStringKernel)
      .call(Anchor::kCopyStrings, 20)
      .call(Anchor::kCopyStrings, 30)
      .at(Anchor::kBprmExecve, false, 5)  // prepare_bprm_creds: 5
      .call(Anchor::kDoOpenExecat, 100)
      .call(Anchor::kSchedExec)
      .at(Anchor::kLoadElfBinary, false, 9)
      .call(Anchor::kBeginNewExec, 300)
      .call(Anchor::kSetupArgPages, 50)
      .at(Anchor::kLoadElfBinary, true, 13)  // back in bprm_execve: search_binary_handler
      .at(Anchor::kBprmExecve, true, 4)      // exec_epilogue
      .call(Anchor::kFreeBprm)
      .at(Anchor::kDoExecveatCommon, true, 0);
  Partition p;
  compute_exec_partition(log.events, log.count, &p);
  EXPECT_EQ(p.dropped_boundaries, 0u);
  EXPECT_EQ(p.total_ns, log.events[log.count - 1].offset_ns);
  EXPECT_EQ(sum_all(p), p.total_ns);
  auto ns = [&](Stage s) { return p.stage_ns[static_cast<int>(s)]; };
  EXPECT_EQ(ns(Stage::kExecPrologue), 7u);
  EXPECT_EQ(ns(Stage::kMmInit), 40u);
  EXPECT_EQ(ns(Stage::kCountArgs), 11u);
  EXPECT_EQ(ns(Stage::kCopyStrings), 50u);  // both calls
  EXPECT_EQ(ns(Stage::kPrepareBprmCreds), 5u);
  EXPECT_EQ(ns(Stage::kDoOpenExecat), 100u);
  EXPECT_EQ(ns(Stage::kBeginNewExec), 300u);
  EXPECT_EQ(ns(Stage::kElfMapSegments), 10u);  // after setup_arg_pages returns
  // bprm_execve after each nested return: do_open_execat, sched_exec, the loader.
  EXPECT_EQ(ns(Stage::kSearchBinaryHandler), 10u + 10u + 13u);
}

TEST(ExecPartition, ScriptRunsTheLoadersTwice) {
  ExecLog log;
  log.at(Anchor::kDoExecveatCommon, false)
      .at(Anchor::kBprmExecve, false)
      .call(Anchor::kLoadElfBinary, 2)  // ENOEXEC: not an ELF
      .at(Anchor::kLoadScript, false)
      .call(Anchor::kDoOpenExecat, 70)  // the interpreter
      .at(Anchor::kLoadScript, true)
      .call(Anchor::kLoadElfBinary, 500)  // the interpreter itself
      .at(Anchor::kBprmExecve, true)
      .at(Anchor::kDoExecveatCommon, true, 0);
  Partition p;
  compute_exec_partition(log.events, log.count, &p);
  EXPECT_EQ(sum_all(p), p.total_ns);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kLoadElfBinary)], 502u);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kDoOpenExecat)], 70u);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kLoadScript)], 20u);
}

TEST(ExecPartition, ReturnWithoutEntryIsDroppedAndCounted) {
  ExecLog log;
  log.at(Anchor::kDoExecveatCommon, false)
      .at(Anchor::kSchedExec, true)  // its entry was missed
      .call(Anchor::kAllocBprm)
      .at(Anchor::kDoExecveatCommon, true, 0);
  Partition p;
  compute_exec_partition(log.events, log.count, &p);
  EXPECT_EQ(p.dropped_boundaries, 1u);
  EXPECT_EQ(sum_all(p), p.total_ns);
  EXPECT_EQ(p.total_ns, 40u);
}

TEST(ExecPartition, RandomBalancedLogsAlwaysSumExactly) {
  std::mt19937_64 rng(7);
  const Anchor nested[] = {Anchor::kAllocBprm,     Anchor::kCopyStrings,  Anchor::kBprmExecve,
                           Anchor::kLoadElfBinary, Anchor::kBeginNewExec, Anchor::kMmInit};
  for (int round = 0; round < 2000; ++round) {
    ExecLog log;
    log.at(Anchor::kDoExecveatCommon, false, rng() % 1000);
    std::vector<Anchor> stack;
    while (log.count < kMaxExecEvents - 1 - stack.size() && rng() % 8 != 0) {
      if (!stack.empty() && (rng() % 2 || stack.size() == 8)) {
        log.at(stack.back(), true, rng() % 1000);
        stack.pop_back();
      } else {
        Anchor a = nested[rng() % std::size(nested)];
        stack.push_back(a);
        log.at(a, false, rng() % 1000);
      }
    }
    while (!stack.empty()) {
      log.at(stack.back(), true, rng() % 1000);
      stack.pop_back();
    }
    log.at(Anchor::kDoExecveatCommon, true, 0);
    Partition p;
    compute_exec_partition(log.events, log.count, &p);
    ASSERT_EQ(p.dropped_boundaries, 0u);
    ASSERT_EQ(sum_all(p), p.total_ns);
    ASSERT_EQ(p.total_ns, log.events[log.count - 1].offset_ns);
  }
}

}  // namespace
}  // namespace forkscope
