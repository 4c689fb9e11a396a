// SPDX-License-Identifier: GPL-2.0
// The core's C interface: counters per CPU, text formats, and clean failure
// (no leaks) when memory runs out during init.
#include <forkscope/core.h>
#include <forkscope/cxxrt.h>
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "platform_host.h"

namespace {

std::map<std::string, unsigned long long> parse_counters(const std::string& text) {
  std::map<std::string, unsigned long long> values;
  std::istringstream in(text);
  std::string key;
  unsigned long long value;
  while (in >> key) {
    if (key == "probe") {
      std::string rest;
      std::getline(in, rest);
      continue;
    }
    in >> value;
    values[key] = value;
  }
  return values;
}

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host::set_nr_cpu_ids(4);
    ASSERT_EQ(fs_core_init(), 0);
  }
  void TearDown() override {
    fs_core_exit();
    host::set_current_cpu(0);
  }
  std::string counters(const fs_probe_health* probes = nullptr, unsigned int n = 0) {
    char buf[4096];
    fs_s64 len = fs_core_format_counters(buf, sizeof(buf), probes, n);
    EXPECT_GE(len, 0);
    return std::string(buf, len > 0 ? len : 0);
  }
};

TEST_F(CoreTest, CountsCreationsAndFailuresAcrossCpus) {
  host::set_current_cpu(0);
  fs_core_on_clone_return(100);
  fs_core_on_clone_return(-11);
  host::set_current_cpu(3);
  fs_core_on_clone_return(101);
  fs_core_on_clone_return(102);
  auto values = parse_counters(counters());
  EXPECT_EQ(values["creations"], 3u);
  EXPECT_EQ(values["clone_failures"], 1u);
  EXPECT_EQ(values["clone_returns"], 4u);
  EXPECT_EQ(values["unattributed"], 0u);
}

TEST_F(CoreTest, CpuBeyondTableIsCountedNotLost) {
  host::set_current_cpu(4);  // nr_cpu_ids is 4
  fs_core_on_clone_return(7);
  auto values = parse_counters(counters());
  EXPECT_EQ(values["creations"], 0u);
  EXPECT_EQ(values["unattributed"], 1u);
}

TEST_F(CoreTest, ZeroReturnIsNotACreation) {
  fs_core_on_clone_return(0);
  auto values = parse_counters(counters());
  EXPECT_EQ(values["creations"], 0u);
  EXPECT_EQ(values["clone_returns"], 1u);
}

TEST_F(CoreTest, ListsProbeHealth) {
  fs_probe_health probes[] = {{"kernel_clone", 12, 3, 1}};
  std::string text = counters(probes, 1);
  EXPECT_NE(text.find("probe kernel_clone registered 1 hits 12 missed 3\n"), std::string::npos)
      << text;
}

TEST_F(CoreTest, SmallBufferGivesEnospcNotPartialText) {
  char buf[16];
  EXPECT_EQ(fs_core_format_counters(buf, sizeof(buf), nullptr, 0), -FS_ENOSPC);
}

TEST_F(CoreTest, VersionShowsStaticInitAndBuild) {
  char buf[1024];
  fs_build_info info{"6.1.0-test", "6.1.0-built", "gcc-test"};
  fs_s64 len = fs_core_format_version(buf, sizeof(buf), &info);
  ASSERT_GT(len, 0);
  std::string text(buf, len);
  EXPECT_EQ(text.rfind(std::string("forkscope ") + FS_VERSION + "\n", 0), 0u);
  EXPECT_NE(text.find("kernel 6.1.0-test\n"), std::string::npos);
  EXPECT_NE(text.find("cxxrt_static_init ok\n"), std::string::npos);
}

TEST(CoreInit, FailsCleanlyWhenEveryAllocationPointFails) {
  // Fail the 1st, then the 2nd, ... allocation until init succeeds; each
  // failure must return -ENOMEM and leave no allocation behind.
  fs_cxxrt_stats before{};
  fs_cxxrt_get_stats(&before);
  int failures_seen = 0;
  for (int after = 0; after < 16; ++after) {
    host::fail_allocations(after, 1);
    int err = fs_core_init();
    host::fail_allocations(-1, 0);
    fs_cxxrt_stats now{};
    fs_cxxrt_get_stats(&now);
    if (err == 0) {
      fs_core_exit();
      break;
    }
    ++failures_seen;
    EXPECT_EQ(err, -FS_ENOMEM);
    EXPECT_EQ(now.live_allocs, before.live_allocs) << "leak after failing allocation " << after;
  }
  EXPECT_GE(failures_seen, 2);  // the core object and the per-CPU table
  EXPECT_FALSE(host::take_log_lines().empty());
}

TEST(CoreInit, ExitReleasesEverything) {
  fs_cxxrt_stats before{};
  fs_cxxrt_get_stats(&before);
  ASSERT_EQ(fs_core_init(), 0);
  fs_core_exit();
  fs_cxxrt_stats after{};
  fs_cxxrt_get_stats(&after);
  EXPECT_EQ(after.live_allocs, before.live_allocs);
  EXPECT_EQ(after.live_bytes, before.live_bytes);
}

TEST(CoreInit, EventsBeforeInitAreIgnoredNotACrash) {
  fs_core_on_clone_return(5);
  char buf[256];
  EXPECT_EQ(fs_core_format_counters(buf, sizeof(buf), nullptr, 0), -FS_EINVAL);
}

}  // namespace
