// SPDX-License-Identifier: GPL-2.0
// The probe plan's core side: detail levels (what each arms, that records
// still sum exactly at every level), call-site returns without per-call
// data, and what stays armed while disabled.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "control.h"
#include "detail.h"
#include "engine.h"
#include "platform_host.h"

namespace forkscope {
namespace {

constexpr ktl::u64 bit(Anchor anchor) { return ktl::u64{1} << static_cast<int>(anchor); }

CreationArgs args_for(int pid) {
  CreationArgs args;
  args.request.flags = clone_flag::kChildSettid | clone_flag::kChildCleartid;
  args.request.exit_signal = kSigchld;
  args.request.origin = Origin::kSysClone;
  args.pid = args.tgid = pid;
  std::strncpy(args.comm, "plan", sizeof(args.comm) - 1);
  return args;
}

TEST(Detail, NamesParseBackAndLevelsNest) {
  for (ktl::size_t d = 0; d < kDetailCount; ++d) {
    auto detail = static_cast<Detail>(d);
    const char* name = detail_name(detail);
    Detail back = Detail::kCount;
    ASSERT_TRUE(parse_detail(name, std::strlen(name), &back)) << name;
    EXPECT_EQ(back, detail);
    // Every level keeps the summary's anchors: totals exist at every level.
    EXPECT_EQ(anchors_at(detail) & anchors_at(Detail::kSummary), anchors_at(Detail::kSummary));
    EXPECT_EQ(anchors_at(detail) & ~anchors_at(Detail::kAll), 0u);
  }
  Detail out = Detail::kAll;
  EXPECT_FALSE(parse_detail("summar", 6, &out));
  EXPECT_FALSE(parse_detail("summaryx", 8, &out));
  EXPECT_FALSE(parse_detail("", 0, &out));
  EXPECT_EQ(out, Detail::kAll);
  EXPECT_TRUE(anchors_at(Detail::kFork) & bit(Anchor::kDupMmap));
  EXPECT_FALSE(anchors_at(Detail::kFork) & bit(Anchor::kLoadElfBinary));
  EXPECT_TRUE(anchors_at(Detail::kExec) & bit(Anchor::kLoadElfBinary));
  EXPECT_FALSE(anchors_at(Detail::kExec) & bit(Anchor::kDupMmap));
  EXPECT_FALSE(anchors_at(Detail::kAll) & bit(Anchor::kDoExit));  // always hooked by the glue
}

TEST(Detail, ControlParsesDetailAndRejectsBadLevels) {
  ControlCommand command;
  const char* why = nullptr;
  ASSERT_EQ(parse_control("detail fork\n", 12, &command, &why), 0) << why;
  EXPECT_EQ(command.op, ControlCommand::Op::kDetail);
  EXPECT_EQ(command.detail, Detail::kFork);
  const char* bad[] = {"detail", "detail everything", "detail all all", "detail ALL"};
  for (const char* text : bad) {
    ControlCommand untouched;
    untouched.detail = Detail::kExec;
    EXPECT_EQ(parse_control(text, std::strlen(text), &untouched, &why), -FORKSCOPE_EINVAL) << text;
    EXPECT_NE(why, nullptr);
  }
}

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host::set_current_cpu(0);
    config_.nr_cpus = 2;
    config_.inflight_slots = 64;
    config_.ring_records = 64;
    config_.top_n = 4;
    ASSERT_EQ(engine_.init(config_), 0);
  }

  // A fork as the plan reports it: kretprobes on kernel_clone and
  // copy_process, every other anchor armed at `detail` entered by ftrace and
  // returned at its call site, each a random few ns apart.
  void fork_at(Detail detail, std::mt19937& rng) {
    ktl::u64 armed = anchors_at(detail);
    CreationArgs args = args_for(7);
    ProbeData kc{}, cp{}, scratch{};
    auto tick = [&] { return clock_ += 1 + rng() % 1000; };
    engine_.on_entry(Anchor::kKernelClone, &task_, &kc, &args, tick());
    engine_.on_entry(Anchor::kCopyProcess, &task_, &cp, &args, tick());
    // The boundaries in kernel order (nesting included), each anchor called or not.
    ktl::u64 called = 0;
    for (int a = 0; a < static_cast<int>(Anchor::kCount); ++a) {
      if (rng() % 4 != 0) called |= ktl::u64{1} << a;
    }
    for (int b = kCopyProcessEntry + 1; b < kCopyProcessReturn; ++b) {
      const BoundaryInfo& info = boundary_info(static_cast<Boundary>(b));
      if (!(armed & called & bit(info.anchor))) continue;
      if (info.is_return) {
        engine_.on_site_return(info.anchor, &task_, tick());
      } else {
        engine_.on_entry(info.anchor, &task_, &scratch, nullptr, tick());
      }
    }
    engine_.on_return(Anchor::kCopyProcess, &cp, 0, 99, nullptr, tick());
    if (armed & bit(Anchor::kWakeUpNewTask)) {
      engine_.on_entry(Anchor::kWakeUpNewTask, &task_, &scratch, nullptr, tick());
      engine_.on_site_return(Anchor::kWakeUpNewTask, &task_, tick());
    }
    engine_.on_return(Anchor::kKernelClone, &kc, 99, 0, nullptr, tick());
  }

  std::vector<Record> records() {
    std::vector<Record> out(engine_.ring_capacity_total());
    out.resize(engine_.collect_records(out.data(), out.size()));
    return out;
  }

  EngineConfig config_;
  Engine engine_;
  ktl::u64 clock_ = 1000;
  int task_ = 0, other_task_ = 0;
};

TEST_F(PlanTest, PartitionsSumExactlyAtEveryDetailLevel) {
  std::mt19937 rng(13);
  for (ktl::size_t d = 0; d < kDetailCount; ++d) {
    auto detail = static_cast<Detail>(d);
    engine_.set_detail(detail);
    engine_.request_reset();
    for (int i = 0; i < 20; ++i) fork_at(detail, rng);
    auto recs = records();
    ASSERT_EQ(recs.size(), 20u) << detail_name(detail);
    for (const Record& r : recs) {
      Partition p;
      compute_partition(r.boundary_ns, r.present, r.vfork(), &p);
      ktl::u64 all = 0, copy = 0;
      for (ktl::size_t s = 0; s < kStageCount; ++s) {
        all += p.stage_ns[s];
        if (is_copy_process_stage(static_cast<Stage>(s))) copy += p.stage_ns[s];
        // No stage of an unarmed anchor ever reads time.
        if (p.ran_mask & (ktl::u64{1} << s)) {
          EXPECT_EQ(merged_into(static_cast<Stage>(s), engine_.measured_anchors()),
                    static_cast<Stage>(s))
              << detail_name(detail) << " " << stage_info(static_cast<Stage>(s)).name;
        }
      }
      EXPECT_EQ(all, p.total_ns) << detail_name(detail);
      EXPECT_EQ(copy, p.copy_process_ns) << detail_name(detail);
      EXPECT_EQ(p.dropped_boundaries, 0u);
      EXPECT_EQ(
          r.present &
              ~[&] {
                ktl::u64 mask = 0;
                for (int b = 0; b < kBoundaryCount; ++b) {
                  if (anchors_at(detail) & bit(boundary_info(static_cast<Boundary>(b)).anchor)) {
                    mask |= ktl::u64{1} << b;
                  }
                }
                return mask;
              }(),
          0u)
          << "a boundary of an unarmed anchor";
    }
    EngineCounters c = engine_.counters();
    EXPECT_EQ(c.creations, 20u);
    EXPECT_EQ(c.by_decision[static_cast<int>(Decision::kRecorded)], 20u);
    EXPECT_EQ(c.unpaired_returns, 0u);
  }
}

TEST_F(PlanTest, WantedAnchorsFollowEnableAndDetail) {
  engine_.set_available_anchors(~bit(Anchor::kDupMmap));
  engine_.set_detail(Detail::kSummary);
  EXPECT_EQ(engine_.wanted_anchors(), anchors_at(Detail::kSummary));
  engine_.set_detail(Detail::kAll);
  EXPECT_EQ(engine_.wanted_anchors(), anchors_at(Detail::kAll));
  EXPECT_EQ(engine_.measured_anchors(), anchors_at(Detail::kAll) & ~bit(Anchor::kDupMmap));
  engine_.set_enabled(false);
  // Disabled without the tracepoints: only the spans, which count every
  // creation and exec.
  EXPECT_EQ(engine_.wanted_anchors(), kSpanAnchors);
  EXPECT_EQ(kSpanAnchors & anchors_at(Detail::kSummary), kSpanAnchors);
  // The stage map still describes the level, not the disarmed state.
  EXPECT_EQ(engine_.measured_anchors(), anchors_at(Detail::kAll) & ~bit(Anchor::kDupMmap));
}

TEST_F(PlanTest, AReturnWithoutItsCallIsUnpairedAndIgnored) {
  CreationArgs args = args_for(8);
  ProbeData kc{}, cp{}, scratch{};
  engine_.on_entry(Anchor::kKernelClone, &task_, &kc, &args, clock_ += 10);
  engine_.on_entry(Anchor::kCopyProcess, &task_, &cp, &args, clock_ += 10);
  // A jump onto the instruction after the call to dup_fd, which never ran.
  engine_.on_site_return(Anchor::kDupFd, &task_, clock_ += 10);
  engine_.on_entry(Anchor::kAllocPid, &task_, &scratch, nullptr, clock_ += 10);
  engine_.on_site_return(Anchor::kAllocPid, &task_, clock_ += 10);
  // Another task's return finds no creation: nothing happens.
  engine_.on_site_return(Anchor::kAllocPid, &other_task_, clock_ += 10);
  engine_.on_return(Anchor::kCopyProcess, &cp, 0, 5, nullptr, clock_ += 10);
  engine_.on_return(Anchor::kKernelClone, &kc, 5, 0, nullptr, clock_ += 10);
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_FALSE(recs[0].present & (ktl::u64{1} << kDupFdReturn));
  EXPECT_TRUE(recs[0].present & (ktl::u64{1} << kAllocPidReturn));
  EXPECT_EQ(engine_.counters().unpaired_returns, 1u);
}

TEST_F(PlanTest, DisabledCreationsAreCountedByTheSpansAlone) {
  // Disabled: the step anchors are disarmed, the spans still fire.
  engine_.set_enabled(false);
  CreationArgs args = args_for(9);
  for (int i = 0; i < 5; ++i) {
    ProbeData kc{}, cp{};
    engine_.on_entry(Anchor::kKernelClone, &task_, &kc, &args, clock_ += 10);
    engine_.on_entry(Anchor::kCopyProcess, &task_, &cp, &args, clock_ += 10);
    engine_.on_return(Anchor::kCopyProcess, &cp, 0, 6, nullptr, clock_ += 10);
    engine_.on_return(Anchor::kKernelClone, &kc, 6, 0, nullptr, clock_ += 10);
  }
  // Enabled between a creation's entry and its end: it stays what its
  // kernel_clone entry decided.
  ProbeData kc{}, cp{};
  engine_.on_entry(Anchor::kKernelClone, &task_, &kc, &args, clock_ += 10);
  engine_.set_enabled(true);
  engine_.on_entry(Anchor::kCopyProcess, &task_, &cp, &args, clock_ += 10);
  engine_.on_site_return(Anchor::kCopyCreds, &task_, clock_ += 10);
  engine_.on_return(Anchor::kCopyProcess, &cp, 0, 7, nullptr, clock_ += 10);
  engine_.on_return(Anchor::kKernelClone, &kc, 7, 0, nullptr, clock_ += 10);
  EngineCounters c = engine_.counters();
  EXPECT_EQ(c.creations, 6u);
  EXPECT_EQ(c.by_decision[static_cast<int>(Decision::kDisabled)], 6u);
  EXPECT_EQ(c.records, 0u);
  ktl::u64 buckets = 0;
  for (ktl::u64 n : c.by_decision) buckets += n;
  EXPECT_EQ(buckets, c.creations);
}

}  // namespace
}  // namespace forkscope
