// SPDX-License-Identifier: GPL-2.0
// Trace-event views: every published record becomes exactly one view while
// events are enabled and none while they are off, and the view's fields are
// the record's, as the records file shows them.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine.h"
#include "event_view.h"
#include "platform_host.h"

namespace forkscope {
namespace {

constexpr ktl::u64 kSigchldFlags = clone_flag::kChildSettid | clone_flag::kChildCleartid;

class EventViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host::set_current_cpu(0);
    host::take_events();
    EngineConfig config;
    config.nr_cpus = 2;
    config.inflight_slots = 64;
    config.ring_records = 64;
    config.top_n = 4;
    ASSERT_EQ(engine_.init(config), 0);
  }
  void TearDown() override {
    host::set_events_enabled(false);
    host::take_events();
  }

  CreationArgs args(int pid, const char* comm) {
    CreationArgs a;
    a.request.flags = kSigchldFlags;
    a.request.exit_signal = kSigchld;
    a.request.origin = Origin::kSysFork;
    a.pid = a.tgid = pid;
    std::strncpy(a.comm, comm, sizeof(a.comm) - 1);
    return a;
  }

  // A fork whose child (child_task, child_pid) is tracked for its spawn.
  void fork_child(const void* task, const void* child_task, ktl::s32 child_pid, ktl::s64 err = 0) {
    CreationArgs a = args(7, "parent");
    ProbeData kc{}, cp{}, step{};
    engine_.on_entry(Anchor::kKernelClone, task, &kc, &a, tick());
    engine_.on_entry(Anchor::kCopyProcess, task, &cp, &a, tick());
    engine_.on_entry(Anchor::kDupMmap, task, &step, nullptr, tick());
    clock_ += 300;
    engine_.on_return(Anchor::kDupMmap, &step, 0, 0, nullptr, tick());
    ReturnFacts facts;
    facts.retval = err;
    facts.child_pid = err == 0 ? child_pid : 0;
    facts.child_task = err == 0 ? child_task : nullptr;
    engine_.on_return(Anchor::kCopyProcess, &cp, facts, tick());
    engine_.on_return(Anchor::kKernelClone, &kc, err == 0 ? child_pid : err, 0, nullptr, tick());
  }

  void exec(const void* task, ktl::s32 pid, ktl::s64 ret) {
    CreationArgs a = args(pid, "child");
    ProbeData start{}, step{};
    engine_.on_entry(Anchor::kDoExecveatCommon, task, &start, &a, tick());
    CreationArgs named;
    named.filename = "/bin/true";
    engine_.on_entry(Anchor::kAllocBprm, task, &step, &named, tick());
    engine_.on_return(Anchor::kAllocBprm, &step, 0, 0, nullptr, tick());
    ReturnFacts facts;
    facts.retval = ret;
    facts.comm = "true";
    engine_.on_return(Anchor::kDoExecveatCommon, &start, facts, tick());
  }

  std::vector<Record> records() {
    std::vector<Record> out(engine_.ring_capacity_total());
    out.resize(engine_.collect_records(out.data(), out.size()));
    return out;
  }

  ktl::u64 tick() { return clock_ += 10; }

  Engine engine_;
  ktl::u64 clock_ = 1000000;
  int parent_ = 0, child_ = 0;
};

TEST_F(EventViewTest, NothingIsEmittedWhileEventsAreOff) {
  fork_child(&parent_, &child_, 300);
  exec(&child_, 300, 0);
  EXPECT_EQ(records().size(), 3u);  // fork, exec, spawn
  EXPECT_TRUE(host::take_events().empty());
}

TEST_F(EventViewTest, OneEventPerRecordWithTheRecordsFields) {
  host::set_events_enabled(true);
  fork_child(&parent_, &child_, 300);
  exec(&child_, 300, 0);
  fork_child(&parent_, &child_, 0, -FORKSCOPE_ENOMEM);
  std::vector<Record> recs = records();
  std::vector<forkscope_event_view> events = host::take_events();
  ASSERT_EQ(recs.size(), 4u);
  ASSERT_EQ(events.size(), recs.size());
  for (const Record& r : recs) {
    const forkscope_event_view* v = nullptr;
    for (const forkscope_event_view& e : events) {
      if (e.seq == r.seq) v = &e;
    }
    ASSERT_NE(v, nullptr) << "no event for record " << r.seq;
    Partition p;
    compute_record_partition(r, &p);
    EXPECT_EQ(v->pid, r.parent_pid);
    EXPECT_EQ(v->tgid, r.parent_tgid);
    EXPECT_STREQ(v->comm, r.comm);
    switch (r.event) {
      case EventType::kFork: {
        EXPECT_EQ(v->event, FORKSCOPE_EVENT_FORK);
        EXPECT_STREQ(v->kind, "fork");
        EXPECT_EQ(v->ret, r.ret);
        EXPECT_EQ(v->errno_value, r.ret < 0 ? -r.ret : 0);
        EXPECT_EQ(v->child_pid, r.succeeded() ? 300 : 0);
        EXPECT_EQ(v->flags_raw, kSigchldFlags);
        EXPECT_EQ(v->exit_signal, static_cast<int>(kSigchld));
        EXPECT_STREQ(v->verdict, verdict_name(r.verdict.kind));
        EXPECT_EQ(v->total_ns, p.total_ns);
        EXPECT_EQ(v->copy_process_ns, p.copy_process_ns);
        ASSERT_EQ(v->nr_stages, kStageCount);
        ktl::u64 sum = 0;
        for (ktl::size_t s = 0; s < kStageCount; ++s) {
          bool ran = (p.ran_mask & (ktl::u64{1} << s)) != 0;
          EXPECT_EQ(v->stages_ns[s], ran ? p.stage_ns[s] : 0) << stage_info(Stage(s)).name;
          sum += v->stages_ns[s];
        }
        EXPECT_EQ(sum, p.total_ns);  // the stages sum to the total, as in records
        if (r.succeeded()) {
          EXPECT_EQ(v->stages_ns[static_cast<int>(Stage::kDupMmap)], 310u);
        }
        break;
      }
      case EventType::kExec:
        EXPECT_EQ(v->event, FORKSCOPE_EVENT_EXEC);
        EXPECT_EQ(v->ret, 0);
        EXPECT_STREQ(v->filename, "/bin/true");
        EXPECT_STREQ(v->new_comm, "true");
        EXPECT_EQ(v->total_ns, p.total_ns);
        EXPECT_EQ(v->stages_ns[static_cast<int>(Stage::kAllocBprm)], 10u);
        break;
      case EventType::kSpawn:
        EXPECT_EQ(v->event, FORKSCOPE_EVENT_SPAWN);
        EXPECT_STREQ(v->kind, "fork");
        EXPECT_EQ(v->child_pid, 300);
        EXPECT_EQ(v->exited, 0);
        EXPECT_STREQ(v->filename, "/bin/true");
        EXPECT_EQ(v->fork_start_ns, r.spawn.fork_start_ns);
        EXPECT_EQ(v->end_ns, r.spawn.end_ns);
        EXPECT_EQ(v->total_ns, r.spawn.end_ns - r.spawn.fork_start_ns);
        EXPECT_EQ(v->nr_stages, 0u);
        break;
    }
  }
}

TEST(EventView, ExecFailureCarriesItsErrnoAndNoNewComm) {
  Record r;
  r.event = EventType::kExec;
  r.seq = 9;
  r.ret = -FORKSCOPE_ENOENT;
  std::strcpy(r.comm, "sh");
  std::strcpy(r.exec.new_comm, "never");
  std::strcpy(r.exec.filename, "/nope");
  Partition p;
  compute_record_partition(r, &p);
  forkscope_event_view v;
  std::memset(&v, 0x5a, sizeof(v));
  build_event_view(r, p, &v);
  EXPECT_EQ(v.event, FORKSCOPE_EVENT_EXEC);
  EXPECT_EQ(v.errno_value, FORKSCOPE_ENOENT);
  EXPECT_STREQ(v.new_comm, "");
  EXPECT_STREQ(v.filename, "/nope");
  EXPECT_STREQ(v.kind, "exec");
  EXPECT_EQ(v.child_pid, 0);
}

}  // namespace
}  // namespace forkscope
