// SPDX-License-Identifier: GPL-2.0
// Test controls for the host platform: fake CPUs, injected allocation
// failures, and captured log and warning lines.
#ifndef FORKSCOPE_TESTS_PLATFORM_HOST_H
#define FORKSCOPE_TESTS_PLATFORM_HOST_H

#include <forkscope/platform.h>

#include <string>
#include <vector>

namespace host {

// The CPU id forkscope_platform_cpu() reports on this thread (default 0).
void set_current_cpu(unsigned int cpu);
// What forkscope_platform_nr_cpu_ids() reports (default 4).
void set_nr_cpu_ids(unsigned int n);
// The next `count` allocations after `after` successful ones return NULL.
void fail_allocations(int after, int count);
// forkscope_platform_now_ns() returns this value instead of the real clock (0 = real).
void set_fake_time_ns(unsigned long long ns);

// How often the core woke trace_pipe readers.
int reader_notifications();
// forkscope_platform_calibrate: counts its calls and returns the result set here (0).
int note_calibration();
int calibrations();
void set_calibrate_result(int result);
void note_reader_notified();

// What forkscope_platform_events_enabled() reports (default false), and the
// views forkscope_platform_emit() received since the last take (at most 256 kept).
void set_events_enabled(bool enabled);
std::vector<forkscope_event_view> take_events();

std::vector<std::string> take_log_lines();
std::vector<std::string> take_warnings();
long live_platform_blocks();

}  // namespace host

#endif  // FORKSCOPE_TESTS_PLATFORM_HOST_H
