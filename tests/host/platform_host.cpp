// SPDX-License-Identifier: GPL-2.0
// Host implementation of include/forkscope/platform.h for unit tests: libc
// memory, a thread-local fake CPU id, and recorded logs and warnings.
#include "platform_host.h"

#include <forkscope/platform.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace {

thread_local unsigned int t_cpu = 0;
unsigned int g_nr_cpu_ids = 4;
int g_fail_after = -1;
int g_fail_count = 0;
unsigned long long g_fake_time = 0;
long g_live_blocks = 0;
std::mutex g_alloc_mutex;

// Log and warning lines are kept in fixed storage: the global operator new
// is cxxrt's, which calls forkscope_platform_alloc, so logging must not allocate.
struct LineStore {
  static constexpr int kLines = 64;
  static constexpr int kWidth = 256;
  std::mutex mutex;
  char lines[kLines][kWidth];
  int count = 0;

  void add(const char* text) {
    std::lock_guard<std::mutex> guard(mutex);
    if (count == kLines) return;
    std::snprintf(lines[count++], kWidth, "%s", text);
  }
  std::vector<std::string> take() {
    char copy[kLines][kWidth];
    int n;
    {
      std::lock_guard<std::mutex> guard(mutex);
      n = count;
      std::memcpy(copy, lines, sizeof(copy));
      count = 0;
    }
    return std::vector<std::string>(copy, copy + n);
  }
};
LineStore g_log;
LineStore g_warnings;

// Emitted trace-event views, in fixed storage like the log lines.
struct EventStore {
  static constexpr int kEvents = 256;
  std::mutex mutex;
  forkscope_event_view events[kEvents];
  int count = 0;
};
EventStore g_events;
std::atomic<bool> g_events_enabled{false};

}  // namespace

namespace host {

void set_current_cpu(unsigned int cpu) { t_cpu = cpu; }
void set_nr_cpu_ids(unsigned int n) { g_nr_cpu_ids = n; }
void fail_allocations(int after, int count) {
  std::lock_guard<std::mutex> guard(g_alloc_mutex);
  g_fail_after = after;
  g_fail_count = count;
}
void set_fake_time_ns(unsigned long long ns) { g_fake_time = ns; }

std::atomic<int> g_reader_notifications;
void note_reader_notified() { ++g_reader_notifications; }
int reader_notifications() { return g_reader_notifications.load(); }

std::atomic<int> g_calibrations;
std::atomic<int> g_calibrate_result{0};
int note_calibration() {
  ++g_calibrations;
  return g_calibrate_result.load();
}
int calibrations() { return g_calibrations.load(); }
void set_calibrate_result(int result) { g_calibrate_result = result; }

void set_events_enabled(bool enabled) { g_events_enabled = enabled; }
std::vector<forkscope_event_view> take_events() {
  std::lock_guard<std::mutex> guard(g_events.mutex);
  std::vector<forkscope_event_view> out(g_events.events, g_events.events + g_events.count);
  g_events.count = 0;
  return out;
}

std::vector<std::string> take_log_lines() { return g_log.take(); }
std::vector<std::string> take_warnings() { return g_warnings.take(); }

long live_platform_blocks() {
  std::lock_guard<std::mutex> guard(g_alloc_mutex);
  return g_live_blocks;
}

}  // namespace host

extern "C" {

void* forkscope_platform_alloc(forkscope_size_t size) {
  {
    std::lock_guard<std::mutex> guard(g_alloc_mutex);
    if (g_fail_after == 0 && g_fail_count > 0) {
      --g_fail_count;
      return nullptr;
    }
    if (g_fail_after > 0) --g_fail_after;
    ++g_live_blocks;
  }
  return std::aligned_alloc(16, (size + 15) & ~forkscope_size_t{15});
}

// What aligned_alloc was asked for (16-byte granules).
forkscope_size_t forkscope_platform_footprint(const void*, forkscope_size_t size) {
  return (size + 15) & ~forkscope_size_t{15};
}

void forkscope_platform_free(void* ptr) {
  if (ptr == nullptr) return;
  {
    std::lock_guard<std::mutex> guard(g_alloc_mutex);
    --g_live_blocks;
  }
  std::free(ptr);
}

forkscope_u64 forkscope_platform_now_ns(void) {
  if (g_fake_time != 0) return g_fake_time;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

unsigned int forkscope_platform_cpu(void) { return t_cpu; }
unsigned int forkscope_platform_nr_cpu_ids(void) { return g_nr_cpu_ids; }

void forkscope_platform_log(enum forkscope_log_level, const char* text) { g_log.add(text); }
void forkscope_platform_warn(const char* what) { g_warnings.add(what); }

void forkscope_platform_notify_readers(void) { host::note_reader_notified(); }

int forkscope_platform_calibrate(void) { return host::note_calibration(); }

int forkscope_platform_events_enabled(void) { return g_events_enabled ? 1 : 0; }
void forkscope_platform_emit(const struct forkscope_event_view* view) {
  std::lock_guard<std::mutex> guard(g_events.mutex);
  if (g_events.count < EventStore::kEvents) g_events.events[g_events.count++] = *view;
}

struct forkscope_spinlock {
  std::mutex mutex;
};

struct forkscope_spinlock* forkscope_platform_spinlock_create(void) {
  void* memory = std::malloc(sizeof(forkscope_spinlock));
  return memory == nullptr ? nullptr : new (memory) forkscope_spinlock;
}
void forkscope_platform_spinlock_destroy(struct forkscope_spinlock* lock) {
  if (lock == nullptr) return;
  lock->~forkscope_spinlock();
  std::free(lock);
}
unsigned long forkscope_platform_spin_lock_irqsave(struct forkscope_spinlock* lock) {
  lock->mutex.lock();
  return 0;
}
void forkscope_platform_spin_unlock_irqrestore(struct forkscope_spinlock* lock, unsigned long) {
  lock->mutex.unlock();
}

}  // extern "C"
