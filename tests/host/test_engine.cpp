// SPDX-License-Identifier: GPL-2.0
// The stage engine driven by simulated probe events: tracking, accounting
// (every creation in exactly one bucket), rings, consumer, reset, slowest.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine.h"
#include "platform_host.h"

namespace forkscope {
namespace {

constexpr ktl::u64 kSigchldFlags = clone_flag::kChildSettid | clone_flag::kChildCleartid;

CreationArgs fork_args(int pid, const char* comm = "parent") {
  CreationArgs args;
  args.request.flags = kSigchldFlags;
  args.request.exit_signal = kSigchld;
  args.request.origin = Origin::kSysClone;
  args.pid = pid;
  args.tgid = pid;
  std::strncpy(args.comm, comm, sizeof(args.comm) - 1);
  return args;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host::set_current_cpu(0);
    config_.nr_cpus = 4;
    config_.inflight_slots = 64;
    config_.ring_records = 16;
    config_.top_n = 4;
    ASSERT_EQ(engine_.init(config_), 0);
  }
  void TearDown() override { host::set_current_cpu(0); }

  // One whole kernel_clone: the given steps inside copy_process, each 10 ns
  // apart plus `extra` in dup_mmap; returns the final kernel_clone result.
  void create(const void* task, const CreationArgs& args, ktl::s64 ret = 0,
              ktl::u64 dup_mmap_extra = 0, bool vfork_wait = false) {
    ProbeData kc{}, cp{}, step{};
    engine_.on_entry(Anchor::kKernelClone, task, &kc, &args, tick());
    engine_.on_entry(Anchor::kCopyProcess, task, &cp, &args, tick());
    bool fails = ret < 0;
    const Anchor steps[] = {Anchor::kCopyCreds, Anchor::kSchedFork, Anchor::kDupFd,
                            Anchor::kDupMmap, Anchor::kAllocPid};
    for (Anchor anchor : steps) {
      if (fails && anchor == Anchor::kDupMmap) break;  // failed in copy_mm
      engine_.on_entry(anchor, task, &step, nullptr, tick());
      if (anchor == Anchor::kDupMmap) clock_ += dup_mmap_extra;
      engine_.on_return(anchor, &step, 0, 0, nullptr, tick());
    }
    ktl::s32 child = fails ? 0 : next_pid_;
    engine_.on_return(Anchor::kCopyProcess, &cp, fails ? ret : 0, child, nullptr, tick());
    if (!fails) {
      engine_.on_entry(Anchor::kWakeUpNewTask, task, &step, nullptr, tick());
      engine_.on_return(Anchor::kWakeUpNewTask, &step, 0, 0, nullptr, tick());
      if (vfork_wait) clock_ += 1000000;
    }
    engine_.on_return(Anchor::kKernelClone, &kc, fails ? ret : next_pid_++, 0, nullptr, tick());
  }

  std::vector<Record> records() {
    std::vector<Record> out(engine_.ring_capacity_total());
    out.resize(engine_.collect_records(out.data(), out.size()));
    return out;
  }

  ktl::u64 tick() { return clock_ += 10; }

  EngineConfig config_;
  Engine engine_;
  ktl::u64 clock_ = 1000000;
  ktl::s32 next_pid_ = 500;
  int task_a_ = 0, task_b_ = 0;
};

TEST_F(EngineTest, TracksAForkIntoOneRecordWithExactStages) {
  create(&task_a_, fork_args(42, "sh"), 0, 5000);
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  const Record& r = recs[0];
  EXPECT_EQ(seq_cpu(r.seq), 0u);    // finished on CPU 0...
  EXPECT_EQ(seq_count(r.seq), 1u);  // ...its first record
  EXPECT_EQ(r.end_ns, r.boundary_ns[kKernelCloneReturn]);
  EXPECT_EQ(r.end_ns, clock_);
  EXPECT_EQ(r.kind, Kind::kFork);
  EXPECT_EQ(r.parent_pid, 42);
  EXPECT_STREQ(r.comm, "sh");
  EXPECT_EQ(r.ret, 500);
  EXPECT_EQ(r.child_pid, 500);
  Partition p;
  compute_partition(r.boundary_ns, r.present, r.vfork(), &p);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kDupMmap)], 5010u);
  ktl::u64 sum = 0;
  for (ktl::size_t s = 0; s <= static_cast<ktl::size_t>(kCopyProcessLast); ++s)
    sum += p.stage_ns[s];
  EXPECT_EQ(sum, p.copy_process_ns);
  EngineCounters c = engine_.counters();
  EXPECT_EQ(c.creations, 1u);
  EXPECT_EQ(c.by_decision[static_cast<int>(Decision::kRecorded)], 1u);
  EXPECT_EQ(c.records, 1u);
}

// The calibration's own record: the real step path (entry, call-site return,
// kretprobe-style return) marks the calibration anchor in it; a rearm takes
// the first-crossing path again; it is never published or counted; a task
// already in a creation is refused; end frees the slot.
TEST_F(EngineTest, CalibrationRecordTakesTheRealStepPathAndIsNeverPublished) {
  const Anchor anchor = Engine::kCalibrationAnchor;
  ASSERT_EQ(anchor_info(anchor).role, AnchorRole::kStep);
  ASSERT_EQ(engine_.calibration_begin(&task_a_), 0);
  EXPECT_EQ(engine_.counters().in_flight, 1u);
  ktl::u64 in = 0, out = 0;
  ProbeData data{};
  for (ktl::u64 sample = 1; sample <= 3; ++sample) {
    engine_.calibration_rearm(&task_a_, false);
    engine_.calibration_stamps(&task_a_, &in, &out);
    EXPECT_EQ(in, 0u);
    EXPECT_EQ(out, 0u);
    EXPECT_EQ(engine_.on_entry(anchor, &task_a_, &data, nullptr, 100 * sample), 0);
    if (sample == 2) {
      engine_.on_site_return(anchor, &task_a_, 100 * sample + 7);
    } else {
      engine_.on_return(anchor, &data, 0, 0, nullptr, 100 * sample + 7);
    }
    engine_.calibration_stamps(&task_a_, &in, &out);
    EXPECT_EQ(in, 100 * sample);
    EXPECT_EQ(out, 100 * sample + 7);
  }
  // A return alone: paired with an entry the rearm marked as crossed.
  engine_.calibration_rearm(&task_a_, true);
  engine_.on_site_return(anchor, &task_a_, 999);
  engine_.calibration_stamps(&task_a_, &in, &out);
  EXPECT_EQ(in, 0u);
  EXPECT_EQ(out, 999u);
  EngineCounters c = engine_.counters();
  EXPECT_EQ(c.unpaired_returns, 0u);
  EXPECT_EQ(c.repeated_boundaries, 0u);
  EXPECT_EQ(c.records, 0u);
  EXPECT_EQ(c.creations, 0u);
  engine_.calibration_end(&task_a_);
  EXPECT_EQ(engine_.counters().in_flight, 0u);
  EXPECT_TRUE(records().empty());
  // A task inside its own creation keeps its slot.
  ProbeData kc{};
  CreationArgs args = fork_args(7);
  engine_.on_entry(Anchor::kKernelClone, &task_b_, &kc, &args, tick());
  EXPECT_EQ(engine_.calibration_begin(&task_b_), -FORKSCOPE_EBUSY);
  engine_.on_return(Anchor::kKernelClone, &kc, 501, 0, nullptr, tick());
  EXPECT_EQ(records().size(), 1u);
}

TEST_F(EngineTest, InterleavedCreationsOnTwoCpusStaySeparate) {
  ProbeData kc_a{}, kc_b{}, cp_a{}, cp_b{}, step{};
  CreationArgs a = fork_args(1, "alpha"), b = fork_args(2, "beta");
  host::set_current_cpu(0);
  engine_.on_entry(Anchor::kKernelClone, &task_a_, &kc_a, &a, tick());
  host::set_current_cpu(1);
  engine_.on_entry(Anchor::kKernelClone, &task_b_, &kc_b, &b, tick());
  engine_.on_entry(Anchor::kCopyProcess, &task_b_, &cp_b, &b, tick());
  host::set_current_cpu(0);
  engine_.on_entry(Anchor::kCopyProcess, &task_a_, &cp_a, &a, tick());
  engine_.on_entry(Anchor::kDupMmap, &task_a_, &step, nullptr, tick());
  clock_ += 777;
  engine_.on_return(Anchor::kDupMmap, &step, 0, 0, nullptr, tick());
  host::set_current_cpu(1);  // a migrated: its copy_process returns on cpu 1
  engine_.on_return(Anchor::kCopyProcess, &cp_a, 0, 11, nullptr, tick());
  engine_.on_return(Anchor::kCopyProcess, &cp_b, 0, 22, nullptr, tick());
  engine_.on_return(Anchor::kKernelClone, &kc_b, 22, 0, nullptr, tick());
  host::set_current_cpu(2);
  engine_.on_return(Anchor::kKernelClone, &kc_a, 11, 0, nullptr, tick());
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u);
  const Record& first = recs[0];
  const Record& second = recs[1];
  EXPECT_STREQ(first.comm, "beta");
  EXPECT_EQ(first.child_pid, 22);
  EXPECT_FALSE(first.present & (ktl::u64{1} << kDupMmapEntry));
  EXPECT_STREQ(second.comm, "alpha");
  EXPECT_EQ(second.child_pid, 11);
  EXPECT_EQ(second.cpu_start, 0);
  EXPECT_EQ(second.cpu_end, 2);
  EXPECT_EQ(second.boundary_ns[kDupMmapReturn] - second.boundary_ns[kDupMmapEntry], 787u);
}

TEST_F(EngineTest, StepOutsideACreationIsCountedAndSkipsItsReturn) {
  ProbeData step{};
  EXPECT_EQ(engine_.on_entry(Anchor::kMmInit, &task_a_, &step, nullptr, tick()), 1);
  EXPECT_EQ(engine_.counters().anchor_other[static_cast<int>(Anchor::kMmInit)], 1u);
  EXPECT_EQ(engine_.counters().records, 0u);
}

TEST_F(EngineTest, FullTableMeansUntrackedButStillCounted) {
  EngineConfig tiny = config_;
  tiny.inflight_slots = 1;
  Engine engine;
  ASSERT_EQ(engine.init(tiny), 0);
  CreationArgs args = fork_args(5);
  ProbeData first{}, second{}, cp{};
  engine.on_entry(Anchor::kKernelClone, &task_a_, &first, &args, tick());
  engine.on_entry(Anchor::kKernelClone, &task_b_, &second, &args, tick());
  EXPECT_EQ(first.decision, Decision::kRecorded);
  EXPECT_EQ(second.decision, Decision::kUntracked);
  engine.on_entry(Anchor::kCopyProcess, &task_b_, &cp, &args, tick());
  engine.on_return(Anchor::kCopyProcess, &cp, 0, 9, nullptr, tick());
  engine.on_return(Anchor::kKernelClone, &second, 9, 0, nullptr, tick());
  EngineCounters c = engine.counters();
  EXPECT_EQ(c.creations, 1u);
  EXPECT_EQ(c.by_decision[static_cast<int>(Decision::kUntracked)], 1u);
  EXPECT_EQ(c.records, 0u);
}

TEST_F(EngineTest, EveryCreationLandsInExactlyOneBucket) {
  Filter only_vfork;
  only_vfork.active = true;
  only_vfork.kind_mask = 1u << static_cast<int>(Kind::kVfork);
  for (int i = 0; i < 9; ++i) create(&task_a_, fork_args(7));  // tracked
  engine_.set_sample_every(3);
  for (int i = 0; i < 9; ++i) create(&task_a_, fork_args(7));  // 3 tracked
  engine_.set_sample_every(1);
  engine_.set_filter(only_vfork);
  for (int i = 0; i < 5; ++i) create(&task_a_, fork_args(7));  // filtered
  engine_.set_filter(Filter{});
  engine_.set_enabled(false);
  for (int i = 0; i < 4; ++i) create(&task_a_, fork_args(7));  // disabled
  engine_.set_enabled(true);
  EngineCounters c = engine_.counters();
  EXPECT_EQ(c.creations, 27u);
  EXPECT_EQ(c.by_decision[static_cast<int>(Decision::kRecorded)], 12u);
  EXPECT_EQ(c.by_decision[static_cast<int>(Decision::kSampledOut)], 6u);
  EXPECT_EQ(c.by_decision[static_cast<int>(Decision::kFiltered)], 5u);
  EXPECT_EQ(c.by_decision[static_cast<int>(Decision::kDisabled)], 4u);
  ktl::u64 buckets = 0;
  for (ktl::u64 v : c.by_decision) buckets += v;
  EXPECT_EQ(buckets, c.creations);
}

// The filter is a seqlock: readers racing a writer see one whole filter or the
// other, never a mix, and a write does not wait for readers.
TEST_F(EngineTest, FilterReadsAreNeverTornByAConcurrentWrite) {
  Filter a;
  a.active = true;
  a.pid = 1111;
  a.tgid = 1111;
  std::strcpy(a.comm, "aaaaaaaaaaaaaaa");
  a.kind_mask = 1u << static_cast<int>(Kind::kFork);
  Filter b;
  b.active = true;
  b.pid = 2222;
  b.tgid = 2222;
  std::strcpy(b.comm, "bbbbbbbbbbbbbbb");
  b.kind_mask = 1u << static_cast<int>(Kind::kThread);
  engine_.set_filter(a);
  std::atomic<bool> stop{false};
  std::atomic<long> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        Filter f = engine_.filter();
        bool is_a = f.pid == 1111 && f.tgid == 1111 && std::string(f.comm) == a.comm &&
                    f.kind_mask == a.kind_mask;
        bool is_b = f.pid == 2222 && f.tgid == 2222 && std::string(f.comm) == b.comm &&
                    f.kind_mask == b.kind_mask;
        // A reader that keeps losing the race gets the inactive filter
        // (counted as filter_contended in the probe path), never a mix.
        if (!is_a && !is_b && f.active) ++torn;
        ++reads;
      }
    });
  }
  // On a loaded host the readers may not run at all during 200000 writes:
  // keep writing until they have read (for at most 10 s).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (long i = 0;
       i < 200000 || (reads.load() <= 1000 && std::chrono::steady_clock::now() < deadline); ++i) {
    engine_.set_filter(i % 2 ? a : b);
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 1000);
}

TEST_F(EngineTest, FailedCopyProcessIsARecordWithErrnoButNotAStatistic) {
  create(&task_a_, fork_args(8), -12);
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].ret, -12);
  EXPECT_TRUE(recs[0].present & (ktl::u64{1} << kCopyProcessReturn));
  EXPECT_FALSE(recs[0].present & (ktl::u64{1} << kDupMmapEntry));
  EngineCounters c = engine_.counters();
  EXPECT_EQ(c.creations, 0u);
  EXPECT_EQ(c.copy_process_failures, 1u);
  EXPECT_EQ(c.clone_failures, 1u);
  StatsSnapshot stats;
  engine_.collect_stats(&stats);
  EXPECT_EQ(stats.rows[kRowTotal][static_cast<int>(Kind::kFork)].count, 0u);
}

TEST_F(EngineTest, KernelCloneFailingBeforeCopyProcess) {
  ProbeData kc{};
  CreationArgs args = fork_args(9);
  engine_.on_entry(Anchor::kKernelClone, &task_a_, &kc, &args, tick());
  engine_.on_return(Anchor::kKernelClone, &kc, -22, 0, nullptr, tick());
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].ret, -22);
  Partition p;
  compute_partition(recs[0].boundary_ns, recs[0].present, false, &p);
  EXPECT_EQ(p.copy_process_ns, 0u);
  EXPECT_EQ(p.total_ns, 10u);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kClonePrologue)], 10u);
}

TEST_F(EngineTest, IoWorkerBeginsAtCopyProcess) {
  CreationArgs args = fork_args(10, "iou-user");
  args.request.io_thread = true;
  args.request.has_fn = true;
  args.request.flags = clone_flag::kVm | clone_flag::kFs | clone_flag::kFiles |
                       clone_flag::kSighand | clone_flag::kThread | clone_flag::kIo;
  ProbeData cp{}, step{};
  EXPECT_EQ(engine_.on_entry(Anchor::kCopyProcess, &task_a_, &cp, &args, tick()), 0);
  engine_.on_entry(Anchor::kCopyThread, &task_a_, &step, nullptr, tick());
  engine_.on_return(Anchor::kCopyThread, &step, 0, 0, nullptr, tick());
  engine_.on_return(Anchor::kCopyProcess, &cp, 0, 77, nullptr, tick());
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, Kind::kIoWorker);
  EXPECT_EQ(recs[0].ret, 77);
  Partition p;
  compute_partition(recs[0].boundary_ns, recs[0].present, false, &p);
  EXPECT_EQ(p.total_ns, p.copy_process_ns);
  EXPECT_EQ(engine_.counters().creations, 1u);
  EXPECT_EQ(engine_.counters().by_decision[static_cast<int>(Decision::kRecorded)], 1u);
}

TEST_F(EngineTest, VforkWaitIsRecordedButNotCountedAsSlowness) {
  CreationArgs args = fork_args(11);
  args.request.flags = clone_flag::kVm | clone_flag::kVfork;
  create(&task_a_, args, 0, 0, /*vfork_wait=*/true);
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].kind, Kind::kVfork);
  Partition p;
  compute_partition(recs[0].boundary_ns, recs[0].present, true, &p);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kVforkWait)], 1000010u);
  EXPECT_EQ(Engine::slowness(recs[0]), p.total_ns - 1000010u);
}

TEST_F(EngineTest, RingOverwriteIsCountedByTheConsumer) {
  for (int i = 0; i < 40; ++i) create(&task_a_, fork_args(12));
  EXPECT_EQ(records().size(), 16u);
  EXPECT_EQ(engine_.counters().ring_overwritten, 24u);
  Record r;
  int consumed = 0;
  ktl::u64 last_seq = 0;
  while (engine_.consume_next(&r)) {
    EXPECT_GT(r.seq, last_seq);
    last_seq = r.seq;
    ++consumed;
  }
  EXPECT_EQ(consumed, 16);
  EngineCounters c = engine_.counters();
  EXPECT_EQ(c.consumed, 16u);
  EXPECT_EQ(c.ring_overwritten, 24u);
  EXPECT_EQ(c.records, c.consumed + c.ring_overwritten);
  EXPECT_FALSE(engine_.has_unconsumed());
}

TEST_F(EngineTest, ConsumerMergesCpusInCompletionOrder) {
  for (int i = 0; i < 6; ++i) {
    host::set_current_cpu(i % 3);
    create(&task_a_, fork_args(13));
  }
  Record r;
  ktl::u64 last_end = 0;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(engine_.consume_next(&r));
    EXPECT_GT(r.end_ns, last_end);
    last_end = r.end_ns;
    // Each CPU numbers its own records: unique, increasing per CPU.
    EXPECT_EQ(seq_cpu(r.seq), static_cast<ktl::u32>(i % 3));
    EXPECT_EQ(seq_count(r.seq), static_cast<ktl::u64>(i / 3 + 1));
    EXPECT_EQ(r.parent_pid, 13);
  }
  EXPECT_FALSE(engine_.consume_next(&r));
}

// Records finished on several CPUs, in an order neither the CPUs' nor the
// starts' order gives: every reader returns them by completion time, with
// one id each.
TEST_F(EngineTest, RecordsFromSeveralCpusComeOutInCompletionOrder) {
  struct Finish {
    unsigned int cpu;
    int task;  // index into tasks
  };
  int tasks[4];
  CreationArgs args[4] = {fork_args(20), fork_args(21), fork_args(22), fork_args(23)};
  ProbeData kc[4] = {}, cp[4] = {};
  // All four begin, in order, on CPU 0; the last one begun ends first.
  host::set_current_cpu(0);
  for (int i = 0; i < 4; ++i) {
    engine_.on_entry(Anchor::kKernelClone, &tasks[i], &kc[i], &args[i], tick());
    engine_.on_entry(Anchor::kCopyProcess, &tasks[i], &cp[i], &args[i], tick());
  }
  const Finish order[] = {{3, 3}, {1, 2}, {3, 0}, {0, 1}};
  for (const Finish& f : order) {
    host::set_current_cpu(f.cpu);
    engine_.on_return(Anchor::kCopyProcess, &cp[f.task], 0, 100 + f.task, nullptr, tick());
    engine_.on_return(Anchor::kKernelClone, &kc[f.task], 100 + f.task, 0, nullptr, tick());
  }
  // Two more that end at one instant on CPUs 2 and 1: the CPU breaks the tie.
  const unsigned int tie_cpus[] = {2, 1};
  ProbeData tie_kc[2] = {}, tie_cp[2] = {};
  int tie_tasks[2];
  CreationArgs tie_args[2] = {fork_args(30), fork_args(31)};
  ktl::u64 instant = clock_ + 1000;
  for (int i = 0; i < 2; ++i) {
    host::set_current_cpu(tie_cpus[i]);
    engine_.on_entry(Anchor::kKernelClone, &tie_tasks[i], &tie_kc[i], &tie_args[i], tick());
    engine_.on_entry(Anchor::kCopyProcess, &tie_tasks[i], &tie_cp[i], &tie_args[i], tick());
    engine_.on_return(Anchor::kCopyProcess, &tie_cp[i], 0, 200 + i, nullptr, tick());
    engine_.on_return(Anchor::kKernelClone, &tie_kc[i], 200 + i, 0, nullptr, instant);
  }
  const int expected_pids[] = {23, 22, 20, 21, 31, 30};
  const unsigned int expected_cpus[] = {3, 1, 3, 0, 1, 2};

  auto check = [&](const std::vector<Record>& recs, const char* reader) {
    ASSERT_EQ(recs.size(), 6u) << reader;
    std::set<ktl::u64> ids;
    for (std::size_t i = 0; i < recs.size(); ++i) {
      EXPECT_EQ(recs[i].parent_pid, expected_pids[i]) << reader << " #" << i;
      EXPECT_EQ(seq_cpu(recs[i].seq), expected_cpus[i]) << reader << " #" << i;
      EXPECT_EQ(recs[i].cpu_end, expected_cpus[i]) << reader << " #" << i;
      ids.insert(recs[i].seq);
      if (i > 0) {
        EXPECT_TRUE(completed_before(recs[i - 1], recs[i])) << reader << " #" << i;
        EXPECT_LE(recs[i - 1].end_ns, recs[i].end_ns) << reader << " #" << i;
      }
    }
    EXPECT_EQ(ids.size(), recs.size()) << reader << ": ids are unique";
  };
  std::vector<Record> recs = records();
  check(recs, "records");
  EXPECT_EQ(recs[4].end_ns, recs[5].end_ns);
  EXPECT_EQ(seq_count(recs[0].seq), 1u);  // CPU 3's first
  EXPECT_EQ(seq_count(recs[2].seq), 2u);  // ...and its second
  std::vector<Record> consumed;
  Record r;
  while (engine_.consume_next(&r)) consumed.push_back(r);
  check(consumed, "trace_pipe");
}

TEST_F(EngineTest, SlowestTiesComeInCompletionOrder) {
  // Identical creations (same slowness) on CPUs 3, 0, 2: CPU order would
  // put CPU 0's first.
  const unsigned int cpus[] = {3, 0, 2};
  for (unsigned int cpu : cpus) {
    host::set_current_cpu(cpu);
    create(&task_a_, fork_args(static_cast<int>(40 + cpu)));
  }
  std::vector<Record> slow(config_.top_n * config_.nr_cpus);
  slow.resize(engine_.collect_slowest(slow.data(), slow.size()));
  ASSERT_EQ(slow.size(), 3u);
  for (std::size_t i = 0; i < slow.size(); ++i) {
    EXPECT_EQ(Engine::slowness(slow[i]), Engine::slowness(slow[0]));
    EXPECT_EQ(seq_cpu(slow[i].seq), cpus[i]) << i;
  }
}

TEST_F(EngineTest, ResetEmptiesEverythingWithoutCountingLosses) {
  for (int i = 0; i < 5; ++i) create(&task_a_, fork_args(14));
  engine_.request_reset();
  EXPECT_EQ(engine_.counters().creations, 0u);  // stale CPUs read as zero
  EXPECT_TRUE(records().empty());
  Record r;
  EXPECT_FALSE(engine_.consume_next(&r));
  create(&task_a_, fork_args(14));
  EngineCounters c = engine_.counters();
  EXPECT_EQ(c.creations, 1u);
  EXPECT_EQ(c.records, 1u);
  EXPECT_EQ(records().size(), 1u);
  ASSERT_TRUE(engine_.consume_next(&r));
  EXPECT_EQ(engine_.counters().ring_overwritten, 0u);
  std::vector<Record> slow(16);
  EXPECT_EQ(engine_.collect_slowest(slow.data(), slow.size()), 1u);
}

TEST_F(EngineTest, SlowestKeepsTheLargestInOrder) {
  const ktl::u64 extras[] = {50, 9000, 10, 700, 30000, 5, 400};
  for (ktl::u64 extra : extras) create(&task_a_, fork_args(15), 0, extra);
  std::vector<Record> slow(16);
  ktl::size_t n = engine_.collect_slowest(slow.data(), slow.size());
  ASSERT_EQ(n, 4u);  // top_n
  ktl::u64 previous = ~0ull;
  for (ktl::size_t i = 0; i < n; ++i) {
    ktl::u64 key = Engine::slowness(slow[i]);
    EXPECT_LE(key, previous);
    previous = key;
  }
  Partition p;
  compute_partition(slow[0].boundary_ns, slow[0].present, false, &p);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kDupMmap)], 30010u);
  compute_partition(slow[3].boundary_ns, slow[3].present, false, &p);
  EXPECT_EQ(p.stage_ns[static_cast<int>(Stage::kDupMmap)], 410u);
}

TEST_F(EngineTest, RepeatedBoundaryKeepsTheFirstAndIsCounted) {
  ProbeData kc{}, cp{}, step{};
  CreationArgs args = fork_args(16);
  engine_.on_entry(Anchor::kKernelClone, &task_a_, &kc, &args, tick());
  engine_.on_entry(Anchor::kCopyProcess, &task_a_, &cp, &args, tick());
  engine_.on_entry(Anchor::kAllocPid, &task_a_, &step, nullptr, tick());
  engine_.on_return(Anchor::kAllocPid, &step, 0, 0, nullptr, tick());
  engine_.on_entry(Anchor::kAllocPid, &task_a_, &step, nullptr, tick());
  engine_.on_return(Anchor::kAllocPid, &step, 0, 0, nullptr, tick());
  engine_.on_return(Anchor::kCopyProcess, &cp, 0, 3, nullptr, tick());
  engine_.on_return(Anchor::kKernelClone, &kc, 3, 0, nullptr, tick());
  EXPECT_EQ(engine_.counters().repeated_boundaries, 2u);
  auto recs = records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].repeated_boundaries, 2);
}

TEST_F(EngineTest, StatsPerKindAndStage) {
  for (int i = 0; i < 3; ++i) create(&task_a_, fork_args(17), 0, 1000);
  CreationArgs thread = fork_args(17);
  thread.request.flags = clone_flag::kVm | clone_flag::kFs | clone_flag::kFiles |
                         clone_flag::kSighand | clone_flag::kThread;
  create(&task_a_, thread);
  StatsSnapshot stats;
  engine_.collect_stats(&stats);
  EXPECT_EQ(stats.rows[kRowTotal][static_cast<int>(Kind::kFork)].count, 3u);
  EXPECT_EQ(stats.rows[kRowTotal][static_cast<int>(Kind::kThread)].count, 1u);
  const HistogramSnapshot& mmap = stats.rows[static_cast<int>(Stage::kDupMmap)][0];
  EXPECT_EQ(mmap.count, 3u);
  EXPECT_EQ(mmap.min, 1010u);
  EXPECT_EQ(mmap.max, 1010u);
}

// An exec by `task`: do_execveat_common around alloc_bprm and a loader.
void run_exec(Engine& engine, const void* task, int pid, ktl::s64 ret, ktl::u64& clock) {
  CreationArgs args;
  args.pid = args.tgid = pid;
  std::strcpy(args.comm, "child");
  ProbeData start{}, step{};
  engine.on_entry(Anchor::kDoExecveatCommon, task, &start, &args, clock += 10);
  CreationArgs named;
  named.filename = "/bin/true";
  engine.on_entry(Anchor::kAllocBprm, task, &step, &named, clock += 10);
  engine.on_return(Anchor::kAllocBprm, &step, 0, 0, nullptr, clock += 10);
  engine.on_entry(Anchor::kLoadElfBinary, task, &step, nullptr, clock += 10);
  engine.on_return(Anchor::kLoadElfBinary, &step, ret, 0, nullptr, clock += 10);
  ReturnFacts facts;
  facts.retval = ret;
  facts.comm = "true";
  engine.on_return(Anchor::kDoExecveatCommon, &start, facts, clock += 10);
}

class SpawnTest : public EngineTest {
 protected:
  // A fork by the parent whose child is `child_task`/`child_pid`.
  void fork_child(const void* child_task, ktl::s32 child_pid) {
    CreationArgs args = fork_args(7, "parent");
    ProbeData kc{}, cp{};
    engine_.on_entry(Anchor::kKernelClone, &task_a_, &kc, &args, tick());
    engine_.on_entry(Anchor::kCopyProcess, &task_a_, &cp, &args, tick());
    ReturnFacts facts;
    facts.child_pid = child_pid;
    facts.child_task = child_task;
    engine_.on_return(Anchor::kCopyProcess, &cp, facts, tick());
    engine_.on_return(Anchor::kKernelClone, &kc, child_pid, 0, nullptr, tick());
  }
  void exit_task(const void* task) {
    ProbeData data{};
    EXPECT_EQ(engine_.on_entry(Anchor::kDoExit, task, &data, nullptr, tick()), 1);
  }
  std::vector<Record> spawns() {
    std::vector<Record> out;
    for (const Record& r : records()) {
      if (r.event == EventType::kSpawn) out.push_back(r);
    }
    return out;
  }
  int child_a_ = 0, child_b_ = 0;
};

TEST_F(SpawnTest, ForkThenExecIsOneSpawnWithItsParts) {
  fork_child(&child_a_, 300);
  clock_ += 5000;  // the child runs before it execs
  run_exec(engine_, &child_a_, 300, 0, clock_);
  auto found = spawns();
  ASSERT_EQ(found.size(), 1u);
  const Record& spawn = found[0];
  EXPECT_EQ(spawn.child_pid, 300);
  EXPECT_EQ(spawn.parent_pid, 7);
  EXPECT_FALSE(spawn.spawn.exited);
  EXPECT_STREQ(spawn.exec.filename, "/bin/true");
  EXPECT_LT(spawn.spawn.fork_start_ns, spawn.spawn.forked_ns);
  EXPECT_LE(spawn.spawn.forked_ns + 5000, spawn.spawn.exec_start_ns);
  EXPECT_LT(spawn.spawn.exec_start_ns, spawn.spawn.end_ns);
  // Only the first exec completes a spawn.
  run_exec(engine_, &child_a_, 300, 0, clock_);
  EXPECT_EQ(spawns().size(), 1u);
  EXPECT_EQ(engine_.counters().spawns, 1u);
}

TEST_F(SpawnTest, FailedExecKeepsWaitingAndExitEndsIt) {
  fork_child(&child_a_, 301);
  run_exec(engine_, &child_a_, 301, -2, clock_);  // ENOENT: not the spawn's end
  EXPECT_TRUE(spawns().empty());
  exit_task(&child_a_);
  auto found = spawns();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].spawn.exited);
  EXPECT_EQ(found[0].spawn.exec_start_ns, 0u);
  EXPECT_EQ(engine_.counters().spawns_exited, 1u);
  exit_task(&child_a_);  // a second exit of the same task finds nothing
  EXPECT_EQ(spawns().size(), 1u);
}

TEST_F(SpawnTest, ExecOrExitWithoutAForkIsNotASpawn) {
  run_exec(engine_, &child_b_, 400, 0, clock_);
  exit_task(&child_b_);
  EXPECT_TRUE(spawns().empty());
  EXPECT_EQ(engine_.counters().execs, 1u);
}

TEST_F(SpawnTest, ReusedTaskPointerReplacesTheStaleEntry) {
  fork_child(&child_a_, 302);  // its exit is never seen
  fork_child(&child_a_, 303);  // the same task_struct, a new pid
  run_exec(engine_, &child_a_, 303, 0, clock_);
  auto found = spawns();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].child_pid, 303);
  exit_task(&child_a_);
  EXPECT_EQ(spawns().size(), 1u);
}

TEST_F(SpawnTest, InterleavedChildrenPairWithTheirOwnForks) {
  fork_child(&child_a_, 310);
  fork_child(&child_b_, 311);
  run_exec(engine_, &child_b_, 311, 0, clock_);
  exit_task(&child_a_);
  auto found = spawns();
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].child_pid, 311);
  EXPECT_FALSE(found[0].spawn.exited);
  EXPECT_EQ(found[1].child_pid, 310);
  EXPECT_TRUE(found[1].spawn.exited);
  EXPECT_LT(found[0].seq, found[1].seq);
}

TEST_F(SpawnTest, ThreadsAndKernelThreadsAreNotSpawns) {
  CreationArgs thread = fork_args(7);
  thread.request.flags = clone_flag::kVm | clone_flag::kFs | clone_flag::kFiles |
                         clone_flag::kSighand | clone_flag::kThread;
  ProbeData kc{}, cp{};
  engine_.on_entry(Anchor::kKernelClone, &task_a_, &kc, &thread, tick());
  engine_.on_entry(Anchor::kCopyProcess, &task_a_, &cp, &thread, tick());
  ReturnFacts facts;
  facts.child_pid = 320;
  facts.child_task = &child_a_;
  engine_.on_return(Anchor::kCopyProcess, &cp, facts, tick());
  engine_.on_return(Anchor::kKernelClone, &kc, 320, 0, nullptr, tick());
  exit_task(&child_a_);
  EXPECT_TRUE(spawns().empty());
}

TEST_F(SpawnTest, FullSpawnTableIsCountedNotSilent) {
  EngineConfig tiny = config_;
  tiny.spawn_slots = 1;
  Engine engine;
  ASSERT_EQ(engine.init(tiny), 0);
  int children[3];
  for (int& child : children) {
    CreationArgs args = fork_args(7);
    ProbeData kc{}, cp{};
    engine.on_entry(Anchor::kKernelClone, &task_a_, &kc, &args, tick());
    engine.on_entry(Anchor::kCopyProcess, &task_a_, &cp, &args, tick());
    ReturnFacts facts;
    facts.child_pid = 330;
    facts.child_task = &child;
    engine.on_return(Anchor::kCopyProcess, &cp, facts, tick());
    engine.on_return(Anchor::kKernelClone, &kc, 330, 0, nullptr, tick());
  }
  EXPECT_EQ(engine.counters().spawn_untracked, 2u);
}

TEST(EngineInit, RejectsBadConfigs) {
  EngineConfig bad;
  bad.inflight_slots = 100;  // not a power of two
  Engine engine;
  EXPECT_EQ(engine.init(bad), -FORKSCOPE_EINVAL);
  EngineConfig zero;
  zero.ring_records = 0;
  Engine engine2;
  EXPECT_EQ(engine2.init(zero), -FORKSCOPE_EINVAL);
  EngineConfig many;
  many.nr_cpus = kMaxCpus + 1;  // a CPU id would not fit in seq
  Engine engine3;
  EXPECT_EQ(engine3.init(many), -FORKSCOPE_EINVAL);
}

// Creations counted at task_newtask: disabled arms no kprobe, and a
// creation that straddles a disable or an enable is counted once, in one
// bucket: the glue tells on_new_task whether a pending return will bucket it.
TEST_F(EngineTest, CreationsAtNewtaskStayExactAcrossToggles) {
  engine_.set_creations_at_newtask(true);
  engine_.set_execs_at_exec_tp(true);
  engine_.set_enabled(false);
  EXPECT_EQ(engine_.wanted_anchors(), 0u);
  CreationArgs args = fork_args(7);
  ProbeData kc{};
  // Disabled and disarmed: the tracepoint alone.
  for (int i = 0; i < 3; ++i) engine_.on_new_task(false);
  // Entered enabled, copy_process returned, then disabled before its end:
  // kernel_clone's pending instance buckets it.
  engine_.set_enabled(true);
  ProbeData cp{};
  engine_.on_entry(Anchor::kKernelClone, &task_a_, &kc, &args, tick());
  engine_.on_entry(Anchor::kCopyProcess, &task_a_, &cp, &args, tick());
  EXPECT_TRUE(Engine::buckets_at_return(Anchor::kKernelClone, kc));
  EXPECT_FALSE(Engine::buckets_at_return(Anchor::kCopyProcess, cp));
  engine_.on_new_task(true);
  engine_.on_return(Anchor::kCopyProcess, &cp, 0, next_pid_, nullptr, tick());
  engine_.set_enabled(false);
  engine_.on_return(Anchor::kKernelClone, &kc, next_pid_++, 0, nullptr, tick());
  // Entered while disarmed, enabled before copy_process ended: no instance.
  engine_.set_enabled(true);
  engine_.on_new_task(false);
  // Entered disabled while kernel_clone was still armed (the delayed disarm).
  engine_.set_enabled(false);
  engine_.on_entry(Anchor::kKernelClone, &task_a_, &kc, &args, tick());
  engine_.on_new_task(true);
  engine_.on_return(Anchor::kKernelClone, &kc, next_pid_++, 0, nullptr, tick());
  // A whole creation while enabled: one count, not two.
  engine_.set_enabled(true);
  engine_.on_entry(Anchor::kKernelClone, &task_a_, &kc, &args, tick());
  engine_.on_entry(Anchor::kCopyProcess, &task_a_, &cp, &args, tick());
  engine_.on_new_task(true);
  engine_.on_return(Anchor::kCopyProcess, &cp, 0, next_pid_, nullptr, tick());
  engine_.on_return(Anchor::kKernelClone, &kc, next_pid_++, 0, nullptr, tick());
  // An io worker: copy_process's return buckets it when it saw it begin...
  CreationArgs io = fork_args(0);
  io.request.io_thread = true;
  engine_.on_entry(Anchor::kCopyProcess, &task_b_, &cp, &io, tick());
  EXPECT_TRUE(Engine::buckets_at_return(Anchor::kCopyProcess, cp));
  engine_.on_new_task(true);
  engine_.on_return(Anchor::kCopyProcess, &cp, 0, next_pid_++, nullptr, tick());
  // ...and the tracepoint while disarmed.
  engine_.set_enabled(false);
  engine_.on_new_task(false);
  EngineCounters c = engine_.counters();
  EXPECT_EQ(c.creations, 9u);
  EXPECT_EQ(c.by_decision[static_cast<int>(Decision::kDisabled)], 6u);
  EXPECT_EQ(c.by_decision[static_cast<int>(Decision::kRecorded)], 3u);
  ktl::u64 buckets = 0;
  for (ktl::size_t d = 0; d < kDecisionCount; ++d) buckets += c.by_decision[d];
  EXPECT_EQ(buckets, c.creations);
}

// Execs its kretprobe missed are counted at sched_process_exec, in the
// disabled bucket; without that tracepoint the exec span stays armed.
TEST_F(EngineTest, UnseenExecsAreCountedAtTheTracepoint) {
  engine_.set_enabled(false);
  engine_.on_unseen_exec();  // not the plan's choice: ignored
  EXPECT_EQ(engine_.counters().execs, 0u);
  engine_.set_creations_at_newtask(true);
  EXPECT_EQ(engine_.wanted_anchors(), kExecSpanAnchors);
  engine_.set_execs_at_exec_tp(true);
  EXPECT_EQ(engine_.wanted_anchors(), 0u);
  engine_.set_creations_at_newtask(false);
  EXPECT_EQ(engine_.wanted_anchors(), kCreationSpanAnchors);
  engine_.on_unseen_exec();
  engine_.on_unseen_exec();
  EngineCounters c = engine_.counters();
  EXPECT_EQ(c.execs, 2u);
  EXPECT_EQ(c.exec_failures, 0u);
  EXPECT_EQ(c.exec_by_decision[static_cast<int>(Decision::kDisabled)], 2u);
  engine_.set_enabled(true);
  EXPECT_EQ(engine_.wanted_anchors(), anchors_at(Detail::kAll));
}

// Failure counting paused by the plan: how often and for how long, since reset.
TEST_F(EngineTest, FailurePausesAreCountedAndTimed) {
  EngineCounters c = engine_.counters();
  EXPECT_EQ(c.failures_paused, 0u);
  EXPECT_EQ(c.failures_pauses, 0u);
  host::set_fake_time_ns(1000);
  engine_.set_failures_paused(true, 1000);
  engine_.set_failures_paused(true, 1500);  // already paused: no second pause
  host::set_fake_time_ns(1700);
  c = engine_.counters();
  EXPECT_EQ(c.failures_paused, 1u);
  EXPECT_EQ(c.failures_pauses, 1u);
  EXPECT_EQ(c.failures_paused_ns, 700u);
  engine_.set_failures_paused(false, 2000);
  engine_.set_failures_paused(true, 5000);
  engine_.set_failures_paused(false, 5100);
  c = engine_.counters();
  EXPECT_EQ(c.failures_paused, 0u);
  EXPECT_EQ(c.failures_pauses, 2u);
  EXPECT_EQ(c.failures_paused_ns, 1100u);
  // A reset while paused: one pause, timed from the reset.
  engine_.set_failures_paused(true, 6000);
  host::set_fake_time_ns(7000);
  engine_.request_reset();
  host::set_fake_time_ns(7400);
  c = engine_.counters();
  EXPECT_EQ(c.failures_pauses, 1u);
  EXPECT_EQ(c.failures_paused_ns, 400u);
  host::set_fake_time_ns(0);
}

}  // namespace
}  // namespace forkscope
