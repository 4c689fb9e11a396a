// SPDX-License-Identifier: GPL-2.0
// The core's C interface end to end: init and exit without leaks (also
// under allocation failure), probe events through the C API, every
// debugfs file's text, and control/filter writes.
#include <forkscope/core.h>
#include <forkscope/cxxrt.h>
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "platform_host.h"

namespace {

// The id of the n-th record finished on cpu (FORKSCOPE_SEQ_CPU_BITS).
std::string seq(unsigned long long n, unsigned int cpu = 0) {
  return std::to_string(n << FORKSCOPE_SEQ_CPU_BITS | cpu);
}

forkscope_core_config small_config() { return forkscope_core_config{64, 32, 4, 64, nullptr}; }

void on_return(unsigned int anchor, void* data, long long retval, int child_pid,
               const forkscope_observation* observation, unsigned long long now,
               const void* child_task = nullptr) {
  forkscope_return_facts facts{};
  facts.retval = retval;
  facts.child_pid = child_pid;
  facts.child_task = child_task;
  facts.observation = observation;
  forkscope_core_on_return(anchor, data, &facts, now);
}

unsigned int anchor_named(const char* name) {
  for (unsigned int i = 0; i < forkscope_core_anchor_count(); ++i) {
    forkscope_anchor_desc desc;
    forkscope_core_anchor_describe(i, &desc);
    if (std::strcmp(desc.names[0], name) == 0) return i;
  }
  ADD_FAILURE() << "no anchor " << name;
  return 0;
}

forkscope_cxxrt_stats rt_stats() {
  forkscope_cxxrt_stats s{};
  forkscope_cxxrt_get_stats(&s);
  return s;
}

std::string render(forkscope_file file) {
  // The glue's share of memory_bytes: kretprobe instances and plan tables.
  forkscope_build_info info{"6.1.0-test", "6.1.0-built", "gcc-test", 40960, 1536};
  forkscope_probe_health probes[64] = {};
  unsigned int n = forkscope_core_anchor_count();
  EXPECT_LE(n, std::size(probes));
  for (unsigned int i = 0; i < n; ++i) {
    forkscope_anchor_desc desc;
    forkscope_core_anchor_describe(i, &desc);
    probes[i] = forkscope_probe_health{};
    probes[i].symbol = desc.names[0];
    probes[i].hits = 10;
    probes[i].entry = FORKSCOPE_HOOK_KRETPROBE;
    probes[i].ret = FORKSCOPE_HOOK_KRETPROBE;
    probes[i].registered = 1;
    probes[i].armed = 1;
  }
  forkscope_text text{};
  EXPECT_EQ(forkscope_core_render(file, &info, probes, n, &text), 0);
  std::string out(text.data, text.length);
  forkscope_core_text_free(&text);
  EXPECT_EQ(text.data, nullptr);
  return out;
}

// One fork through the C API, anchor by anchor, in kernel order.
void simulate_fork(const void* task, int pid, int child, unsigned long long& now,
                   bool tracked = true) {
  forkscope_creation_args args{};
  args.flags = 0x01200000;  // CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID
  args.exit_signal = 17;
  args.origin = FORKSCOPE_ORIGIN_CLONE;
  args.pid = args.tgid = pid;
  args.caller.has_mm = 1;
  std::strcpy(args.comm, "bash");
  alignas(16) unsigned char data[64][32] = {};
  // What a glibc fork's child looks like: everything copied, same nsproxy.
  forkscope_observation seen{};
  seen.same_mask = 0x7f80;      // nsproxy and its members
  seen.child_null_mask = 0x60;  // no sysvsem undo list, no io_context
  seen.parent_is_caller = 1;
  seen.exit_signal = 17;
  unsigned int wake = anchor_named("wake_up_new_task");
  ASSERT_LE(forkscope_core_probe_data_size(), sizeof(data[0]));
  EXPECT_EQ(forkscope_core_on_entry(0, task, data[0], &args, now += 100), 0);
  EXPECT_EQ(forkscope_core_on_entry(1, task, data[1], &args, now += 100), 0);
  for (unsigned int a = 2; a < wake; ++a) {
    // Steps of an untracked creation skip their return probe.
    EXPECT_EQ(forkscope_core_on_entry(a, task, data[a], nullptr, now += 100), tracked ? 0 : 1);
    // Returns as the call-site probes report them: no per-call data.
    forkscope_core_on_site_return(a, task, now += 100);
  }
  on_return(1, data[1], 0, child, &seen, now += 100, &data[63]);
  forkscope_core_on_entry(wake, task, data[wake], nullptr, now += 100);
  forkscope_core_on_site_return(wake, task, now += 100);
  on_return(0, data[0], child, 0, nullptr, now += 100);
}

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host::set_nr_cpu_ids(4);
    host::set_current_cpu(0);
    forkscope_core_config config = small_config();
    ASSERT_EQ(forkscope_core_init(&config), 0);
  }
  void TearDown() override { forkscope_core_exit(); }
  int task_ = 0;
  unsigned long long now_ = 1000;
};

TEST_F(CoreTest, AnchorTableStartsWithTheRequiredOnes) {
  ASSERT_GE(forkscope_core_anchor_count(), 20u);
  forkscope_anchor_desc desc;
  forkscope_core_anchor_describe(0, &desc);
  EXPECT_STREQ(desc.names[0], "kernel_clone");
  EXPECT_EQ(desc.names[1], nullptr);  // no _do_fork: the glue needs 5.19+ kernel_clone_args
  EXPECT_EQ(desc.required, 1);
  EXPECT_EQ(desc.role, FORKSCOPE_ROLE_CREATION_START);
  forkscope_core_anchor_describe(1, &desc);
  EXPECT_STREQ(desc.names[0], "copy_process");
  EXPECT_EQ(desc.role, FORKSCOPE_ROLE_COPY_PROCESS);
  int required = 0;
  for (unsigned int i = 0; i < forkscope_core_anchor_count(); ++i) {
    forkscope_core_anchor_describe(i, &desc);
    required += desc.required;
  }
  EXPECT_EQ(required, 2);
}

TEST_F(CoreTest, AForkShowsUpInEveryFile) {
  simulate_fork(&task_, 42, 43, now_);
  std::string counters = render(FORKSCOPE_FILE_COUNTERS);
  EXPECT_NE(counters.find("creations 1\n"), std::string::npos) << counters;
  EXPECT_NE(counters.find("recorded 1\n"), std::string::npos);
  EXPECT_NE(counters.find("probe kernel_clone registered 1 hits 10 armed 1 entry kretprobe return "
                          "kretprobe sites 0 optimized 0 return_hits 0 foreign 0 missed 0\n"),
            std::string::npos)
      << counters;
  EXPECT_NE(counters.find("detail all\n"), std::string::npos);
  std::string trace = render(FORKSCOPE_FILE_TRACE);
  EXPECT_EQ(trace.rfind("#" + seq(1) +
                            " fork bash[42/42] -> 43 cpu0->0 "
                            "flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD",
                        0),
            0u)
      << trace;
  std::string json = render(FORKSCOPE_FILE_RECORDS);
  EXPECT_NE(json.find("\"seq\":" + seq(1) + ",\"event\":\"fork\",\"kind\":\"fork\""),
            std::string::npos)
      << json;
  // The completion time: the last boundary, start plus total.
  EXPECT_NE(json.find("\"end_ns\":" + std::to_string(now_) + ","), std::string::npos) << json;
  EXPECT_NE(json.find("\"stages\":{\"dup_task_struct\":100,\"copy_creds\":100,"), std::string::npos)
      << json;
  EXPECT_EQ(json.back(), '\n');
  EXPECT_NE(json.find("\"verdict\":\"match\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"predicted\":\"mm=copied"), std::string::npos) << json;
  EXPECT_NE(json.find("\"observed\":\"mm=copied"), std::string::npos) << json;
  EXPECT_NE(render(FORKSCOPE_FILE_STATS).find("== kind fork: 1 creations"), std::string::npos);
  EXPECT_NE(render(FORKSCOPE_FILE_HIST).find("@dup_mmap (ns, 1 creations"), std::string::npos);
  EXPECT_NE(render(FORKSCOPE_FILE_SLOWEST).find("#" + seq(1) + " fork bash[42/42]"),
            std::string::npos);
  std::string stages = render(FORKSCOPE_FILE_STAGES);
  EXPECT_NE(stages.find("dup_mmap                direct  measured"), std::string::npos) << stages;
}

// Every crossing the same bias: post after each entry, pre before each return.
forkscope_boundary_bias uniform_bias(long long entry_post, long long ret_pre, long long spread) {
  forkscope_boundary_bias bias{};
  for (unsigned int a = 0; a < FORKSCOPE_ANCHOR_COUNT; ++a) {
    bias.entry[a] = forkscope_crossing_bias{7, entry_post, 1, spread};
    bias.ret[a] = forkscope_crossing_bias{ret_pre, 9, spread, 1};
  }
  return bias;
}

// The numbers of a stats_net row: count raw_mean raw_p50 bias net_mean net_p50 spread within.
std::vector<long long> net_row(const std::string& text, const std::string& stage) {
  std::vector<long long> v;
  size_t at = text.find("\n" + stage + " ");
  if (at == std::string::npos) return v;
  std::istringstream line(text.substr(at + 1 + stage.size(), text.find('\n', at + 1) - at));
  long long x;
  while (line >> x) v.push_back(x);
  return v;
}

// "key value" after `key ` in the first sums line.
long long sums_value(const std::string& text, const std::string& key) {
  size_t at = text.find("sums ");
  at = text.find(" " + key + " ", at);
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + key.size() + 2));
}

TEST_F(CoreTest, BiasReachesStatsNetAndRecordsWhichKeepTheirRawValues) {
  for (int i = 0; i < 3; ++i) simulate_fork(&task_, 42, 43 + i, now_);
  std::string before = render(FORKSCOPE_FILE_STATS_NET);
  EXPECT_NE(before.find("calibration none"), std::string::npos) << before;
  std::vector<long long> row = net_row(before, "copy_creds");
  ASSERT_EQ(row.size(), 8u) << before;
  EXPECT_EQ(row[0], 3);    // count
  EXPECT_EQ(row[1], 100);  // raw mean: 100 ns between the fake probes
  EXPECT_EQ(row[3], 0);    // no bias yet
  EXPECT_EQ(row[4], 100);  // net = raw
  EXPECT_EQ(render(FORKSCOPE_FILE_TRACE).find(" | bias_ns"), std::string::npos);

  forkscope_boundary_bias bias = uniform_bias(20, 30, 5);
  ASSERT_EQ(forkscope_core_set_boundary_bias(&bias, sizeof(bias)), 0);
  std::string net = render(FORKSCOPE_FILE_STATS_NET);
  EXPECT_NE(net.find("calibration 1\n"), std::string::npos) << net;
  row = net_row(net, "copy_creds");
  ASSERT_EQ(row.size(), 8u) << net;
  EXPECT_EQ(row[1], 100);
  EXPECT_EQ(row[3], 50);  // copy_creds entry's post + its return's pre
  EXPECT_EQ(row[4], 50);
  EXPECT_EQ(row[5], 50);
  EXPECT_EQ(row[6], 10);  // the two spreads
  EXPECT_EQ(row[7], 0);   // 50 > 10: not within
  std::vector<long long> total = net_row(net, "total");
  ASSERT_EQ(total.size(), 8u) << net;
  EXPECT_LT(total[4], total[1]);
  EXPECT_EQ(sums_value(net, "raw_stages_ns"), sums_value(net, "raw_total_ns"));
  EXPECT_EQ(sums_value(net, "net_stages_unclamped_ns"), sums_value(net, "net_total_unclamped_ns"));
  EXPECT_EQ(sums_value(net, "net_total_unclamped_ns"),
            sums_value(net, "raw_total_ns") - sums_value(net, "bias_ns"));
  EXPECT_EQ(sums_value(net, "clamped_ns"), 0);
  std::string json = render(FORKSCOPE_FILE_RECORDS);
  EXPECT_NE(json.find("\"stages\":{\"dup_task_struct\":100,\"copy_creds\":100,"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"bias_ns\":{\"dup_task_struct\":"), std::string::npos) << json;
  EXPECT_NE(json.find(",\"copy_creds\":50,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"calibration\":1"), std::string::npos) << json;
  std::string trace = render(FORKSCOPE_FILE_TRACE);
  EXPECT_NE(trace.find(" copy_creds=100ns"), std::string::npos) << trace;
  EXPECT_NE(trace.find(" | bias_ns dup_task_struct="), std::string::npos) << trace;
  EXPECT_NE(trace.find(" copy_creds=50 "), std::string::npos) << trace;

  // A new calibration while the records exist: they are read with it.
  bias = uniform_bias(60, 70, 5);
  ASSERT_EQ(forkscope_core_set_boundary_bias(&bias, sizeof(bias)), 0);
  net = render(FORKSCOPE_FILE_STATS_NET);
  EXPECT_NE(net.find("calibration 2\n"), std::string::npos) << net;
  row = net_row(net, "copy_creds");
  ASSERT_EQ(row.size(), 8u) << net;
  EXPECT_EQ(row[1], 100);  // raw unchanged
  EXPECT_EQ(row[3], 130);
  EXPECT_EQ(row[4], 0);  // clamped
  EXPECT_EQ(row[7], 3);  // 0 <= 10: within, in every record
  EXPECT_NE(net.find("\ncopy_creds "), std::string::npos);
  EXPECT_NE(net.substr(net.find("\ncopy_creds ")).find("within_spread\n"), std::string::npos);
  EXPECT_GT(sums_value(net, "clamped_ns"), 0);
  EXPECT_EQ(sums_value(net, "net_stages_ns"),
            sums_value(net, "net_total_unclamped_ns") + sums_value(net, "clamped_ns"));
  json = render(FORKSCOPE_FILE_RECORDS);
  EXPECT_NE(json.find("\"copy_creds\":100,"), std::string::npos) << json;
  EXPECT_NE(json.find(",\"copy_creds\":130,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"calibration\":2"), std::string::npos) << json;
}

TEST_F(CoreTest, BoundaryBiasRefusesWhatIsOutOfRangeAndKeepsItsTable) {
  forkscope_boundary_bias bias = uniform_bias(20, 30, 5);
  EXPECT_EQ(forkscope_core_set_boundary_bias(&bias, sizeof(bias) - 8), -FORKSCOPE_EINVAL);
  EXPECT_EQ(forkscope_core_set_boundary_bias(nullptr, sizeof(bias)), -FORKSCOPE_EINVAL);
  bias.ret[3].pre_ns = 2000000000LL;  // 2 s: no hook costs that
  EXPECT_EQ(forkscope_core_set_boundary_bias(&bias, sizeof(bias)), -FORKSCOPE_EINVAL);
  EXPECT_NE(render(FORKSCOPE_FILE_STATS_NET).find("calibration none"), std::string::npos);
  // A negative median is noise: no bias, never a net above raw.
  bias = uniform_bias(-40, -40, -3);
  ASSERT_EQ(forkscope_core_set_boundary_bias(&bias, sizeof(bias)), 0);
  simulate_fork(&task_, 42, 43, now_);
  std::vector<long long> row = net_row(render(FORKSCOPE_FILE_STATS_NET), "copy_creds");
  ASSERT_EQ(row.size(), 8u);
  EXPECT_EQ(row[3], 0);
  EXPECT_EQ(row[4], row[1]);
}

TEST_F(CoreTest, ControlAndFilterWritesApplyOrExplain) {
  const char* why = nullptr;
  EXPECT_EQ(forkscope_core_control("disable\n", 8, &why), 0);
  EXPECT_EQ(render(FORKSCOPE_FILE_CONTROL).rfind("disabled sample 1\n", 0), 0u);
  EXPECT_EQ(forkscope_core_control("sample 0", 8, &why), -FORKSCOPE_EINVAL);
  ASSERT_NE(why, nullptr);
  EXPECT_EQ(render(FORKSCOPE_FILE_CONTROL).rfind("disabled sample 1\n", 0), 0u);  // unchanged
  EXPECT_EQ(forkscope_core_control("enable", 6, &why), 0);
  // calibrate goes to the platform once per write; its failure is an EINVAL with a reason.
  int calibrations = host::calibrations();
  EXPECT_EQ(forkscope_core_control("calibrate\n", 10, &why), 0);
  EXPECT_EQ(host::calibrations(), calibrations + 1);
  EXPECT_EQ(forkscope_core_control("calibrate now", 13, &why), -FORKSCOPE_EINVAL);
  EXPECT_EQ(host::calibrations(), calibrations + 1);
  host::set_calibrate_result(-FORKSCOPE_EINVAL);
  why = nullptr;
  EXPECT_EQ(forkscope_core_control("calibrate", 9, &why), -FORKSCOPE_EINVAL);
  ASSERT_NE(why, nullptr);
  EXPECT_NE(std::string(why).find("calibration failed"), std::string::npos);
  host::set_calibrate_result(0);
  EXPECT_EQ(render(FORKSCOPE_FILE_CONTROL).rfind("enabled sample 1\n", 0), 0u);  // unchanged
  EXPECT_EQ(forkscope_core_set_filter("kind=vfork pid=9", 16, &why), 0);
  EXPECT_EQ(render(FORKSCOPE_FILE_FILTER), "pid=9 kind=vfork\n");
  EXPECT_EQ(forkscope_core_set_filter("pid=x", 5, &why), -FORKSCOPE_EINVAL);
  EXPECT_EQ(render(FORKSCOPE_FILE_FILTER), "pid=9 kind=vfork\n");
  simulate_fork(&task_, 9, 10, now_, /*tracked=*/false);
  std::string counters = render(FORKSCOPE_FILE_COUNTERS);
  EXPECT_NE(counters.find("filtered 1\n"), std::string::npos) << counters;
  EXPECT_NE(counters.find("records 0\n"), std::string::npos);
}

TEST_F(CoreTest, ConsumeGivesWholeLinesOnceInOrder) {
  for (int i = 0; i < 3; ++i) simulate_fork(&task_, 50, 60 + i, now_);
  char small[64];
  EXPECT_EQ(forkscope_core_consume(small, sizeof(small)), -FORKSCOPE_ENOSPC);
  std::string buffer(8192, '\0');
  forkscope_s64 n = forkscope_core_consume(buffer.data(), buffer.size());
  ASSERT_GT(n, 0);
  std::string text(buffer.data(), n);
  EXPECT_EQ(text.rfind("#" + seq(1) + " ", 0), 0u);
  EXPECT_NE(text.find("\n#" + seq(2) + " "), std::string::npos);
  EXPECT_NE(text.find("\n#" + seq(3) + " "), std::string::npos);
  EXPECT_EQ(forkscope_core_has_unconsumed(), 0);
  EXPECT_EQ(forkscope_core_consume(buffer.data(), buffer.size()), 0);
  EXPECT_NE(render(FORKSCOPE_FILE_COUNTERS).find("consumed 3\n"), std::string::npos);
}

TEST_F(CoreTest, WaitingReaderIsNotifiedOnCompletion) {
  int before = host::reader_notifications();
  simulate_fork(&task_, 1, 2, now_);
  EXPECT_EQ(host::reader_notifications(), before);
  forkscope_core_set_reader_waiting(1);
  simulate_fork(&task_, 1, 3, now_);
  EXPECT_EQ(host::reader_notifications(), before + 1);
  forkscope_core_set_reader_waiting(0);
}

TEST_F(CoreTest, VersionShowsStaticInitAndConfig) {
  std::string text = render(FORKSCOPE_FILE_VERSION);
  EXPECT_EQ(text.rfind(std::string("forkscope ") + FORKSCOPE_VERSION + "\n", 0), 0u);
  EXPECT_NE(text.find("kernel 6.1.0-test\n"), std::string::npos);
  EXPECT_NE(text.find("cxxrt_static_init ok\n"), std::string::npos);
  // glibc ran the host binary's constructors once; cxxrt was never asked to.
  EXPECT_NE(text.find("cxxrt_static_init_runs 1\n"), std::string::npos);
  EXPECT_NE(text.find("ring_records_per_cpu 32\n"), std::string::npos);
}

// The value on a "key value" line of a rendered file (-1 if absent).
long long field(const std::string& text, const std::string& key) {
  std::size_t at = text.find("\n" + key + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + key.size() + 2));
}

TEST_F(CoreTest, VersionMemoryIsTheHeapPlusTheGluesShare) {
  std::string text = render(FORKSCOPE_FILE_VERSION);
  long long heap = field(text, "memory_heap_bytes");
  // The allocator's footprint: the requested bytes plus headers and rounding.
  ASSERT_GT(heap, field(text, "cxxrt_live_bytes"));
  EXPECT_EQ(field(text, "memory_kretprobe_bytes"), 40960);
  EXPECT_EQ(field(text, "memory_plan_bytes"), 1536);
  EXPECT_EQ(field(text, "memory_bytes"), heap + 40960 + 1536);
}

TEST(CoreInit, FailsCleanlyAtEveryAllocationPoint) {
  // Fail the 1st, then the 2nd, ... allocation until init succeeds; each
  // failure must return -ENOMEM and leave nothing allocated.
  forkscope_cxxrt_stats before = rt_stats();
  forkscope_core_config config = small_config();
  int failures_seen = 0;
  for (int after = 0; after < 64; ++after) {
    host::fail_allocations(after, 1);
    int err = forkscope_core_init(&config);
    host::fail_allocations(-1, 0);
    if (err == 0) {
      forkscope_core_exit();
      break;
    }
    ++failures_seen;
    EXPECT_EQ(err, -FORKSCOPE_ENOMEM);
    EXPECT_EQ(rt_stats().live_allocs, before.live_allocs)
        << "leak after failing allocation " << after;
  }
  EXPECT_GE(failures_seen, 8);  // engine, per-CPU table, rings, histograms, slots...
  EXPECT_FALSE(host::take_log_lines().empty());
}

TEST(CoreInit, ExitReleasesEverythingEvenAfterTraffic) {
  forkscope_cxxrt_stats before = rt_stats();
  forkscope_core_config config = small_config();
  ASSERT_EQ(forkscope_core_init(&config), 0);
  int task = 0;
  unsigned long long now = 5;
  for (int i = 0; i < 100; ++i) simulate_fork(&task, 1, 2 + i, now);
  render(FORKSCOPE_FILE_RECORDS);
  forkscope_core_exit();
  EXPECT_EQ(rt_stats().live_allocs, before.live_allocs);
  EXPECT_EQ(rt_stats().live_bytes, before.live_bytes);
}

TEST(CoreInit, RejectsABadConfiguration) {
  forkscope_core_config config{100, 32, 4, 64, nullptr};  // inflight slots must be a power of two
  EXPECT_EQ(forkscope_core_init(&config), -FORKSCOPE_EINVAL);
}

TEST(CoreInit, EventsAndReadsBeforeInitAreHarmless) {
  unsigned char data[32] = {};
  EXPECT_EQ(forkscope_core_on_entry(0, &data, data, nullptr, 1), 1);
  on_return(0, data, 5, 0, nullptr, 2);
  forkscope_text text{};
  EXPECT_EQ(forkscope_core_render(FORKSCOPE_FILE_COUNTERS, nullptr, nullptr, 0, &text),
            -FORKSCOPE_EINVAL);
  const char* why = nullptr;
  EXPECT_EQ(forkscope_core_control("enable", 6, &why), -FORKSCOPE_EINVAL);
  EXPECT_NE(why, nullptr);
  char buf[4096];
  EXPECT_EQ(forkscope_core_consume(buf, sizeof(buf)), -FORKSCOPE_EINVAL);
}

}  // namespace

namespace {

forkscope_load_cost cost_of(const forkscope_core_config& config, unsigned long long probe_bytes,
                            unsigned long long ram, int* err) {
  forkscope_load_cost cost{};
  *err = forkscope_core_load_cost(&config, probe_bytes, ram, 16, 65536, &cost);
  return cost;
}

}  // namespace

TEST(LoadBudget, EngineBytesAreWhatInitAllocates) {
  const forkscope_core_config configs[] = {
      small_config(), {1024, 1024, 16, 4096, nullptr}, {4096, 4096, 1024, 4096, nullptr}};
  for (const forkscope_core_config& config : configs) {
    int err = 0;
    forkscope_load_cost cost = cost_of(config, 0, 1ULL << 40, &err);
    forkscope_cxxrt_stats before = rt_stats();
    ASSERT_EQ(forkscope_core_init(&config), 0);
    unsigned long long used = rt_stats().live_bytes - before.live_bytes;
    forkscope_core_exit();
    // Never less than init takes; more only by alignment and array headers.
    EXPECT_GE(cost.engine_bytes, used) << "ring " << config.ring_records;
    EXPECT_LE(cost.engine_bytes, used + used / 100 + 4096) << "ring " << config.ring_records;
    EXPECT_GT(cost.reading_bytes, 0u);
  }
}

TEST(LoadBudget, TheLimitIsTheSmallerOfTheCapAndAnEighthOfRam) {
  int err = 0;
  forkscope_core_config config = small_config();
  EXPECT_EQ(cost_of(config, 0, 1ULL << 30, &err).limit_bytes, (1ULL << 30) / 8);
  EXPECT_EQ(cost_of(config, 0, 2ULL << 30, &err).limit_bytes, 256ULL << 20);
  EXPECT_EQ(cost_of(config, 0, 64ULL << 30, &err).limit_bytes, 256ULL << 20);
  EXPECT_EQ(cost_of(config, 0, 0, &err).limit_bytes, 0u);
  EXPECT_EQ(err, -FORKSCOPE_EINVAL);  // nothing fits in no RAM
}

TEST(LoadBudget, RefusesBeyondTheLimitAndNamesTheLargestRingThatFits) {
  host::set_nr_cpu_ids(2);
  int err = 0;
  const unsigned long long ram = 2ULL << 30;
  forkscope_core_config config{8192, 65536, 1024, 4096, nullptr};
  forkscope_load_cost cost = cost_of(config, 1 << 20, ram, &err);
  EXPECT_EQ(err, -FORKSCOPE_EINVAL);
  EXPECT_GT(cost.total_bytes, cost.limit_bytes);
  EXPECT_EQ(cost.total_bytes, cost.engine_bytes + cost.reading_bytes + cost.probe_bytes);
  ASSERT_GT(cost.fitting_ring, 16u);
  ASSERT_LT(cost.fitting_ring, 65536u);
  // The edge: the ring named fits, one more record per CPU does not.
  config.ring_records = cost.fitting_ring;
  forkscope_load_cost edge = cost_of(config, 1 << 20, ram, &err);
  EXPECT_EQ(err, 0);
  EXPECT_LE(edge.total_bytes, edge.limit_bytes);
  config.ring_records = cost.fitting_ring + 1;
  forkscope_load_cost beyond = cost_of(config, 1 << 20, ram, &err);
  EXPECT_EQ(err, -FORKSCOPE_EINVAL);
  EXPECT_GT(beyond.total_bytes, beyond.limit_bytes);
  // Probes alone beyond the limit: no ring fits.
  EXPECT_EQ(cost_of(config, 300ULL << 20, ram, &err).fitting_ring, 0u);
  EXPECT_EQ(err, -FORKSCOPE_EINVAL);
  // Saturating, never wrapping: absurd sizes are refused, not accepted.
  host::set_nr_cpu_ids(1u << 30);
  config.ring_records = 65536;
  EXPECT_EQ(cost_of(config, ~0ULL, ram, &err).total_bytes, ~0ULL);
  EXPECT_EQ(err, -FORKSCOPE_EINVAL);
  host::set_nr_cpu_ids(4);
}
