// SPDX-License-Identifier: GPL-2.0
// libFuzzer target for what root may write to control and filter: the parsers must never
// read past the write, an accepted filter must round-trip, and a rejected write must leave
// the core's state exactly as it was.
#include <forkscope/core.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "control.h"

namespace {

[[noreturn]] void fail(const char* what) {
  __builtin_printf("fuzz_control: %s\n", what);
  std::abort();
}

std::string render(enum forkscope_file file) {
  forkscope_text text{};
  if (forkscope_core_render(file, nullptr, nullptr, 0, &text) != 0) fail("render failed");
  std::string copy(text.data, text.length);
  forkscope_core_text_free(&text);
  return copy;
}

// Parser level: bounds (ASan sees the exact-size buffer libFuzzer hands us), results in
// the documented ranges, and print -> parse -> print of every accepted filter.
void check_parsers(const char* input, size_t size) {
  forkscope::ControlCommand command;
  const char* why = nullptr;
  if (forkscope::parse_control(input, size, &command, &why) == 0) {
    if (command.op == forkscope::ControlCommand::Op::kSample &&
        (command.sample_every < 1 || command.sample_every > 1000000))
      fail("sample outside 1..1000000 accepted");
  } else if (why == nullptr || why[0] == '\0') {
    fail("control rejected without a reason");
  }

  forkscope::Filter filter;
  why = nullptr;
  if (forkscope::parse_filter(input, size, &filter, &why) != 0) {
    if (why == nullptr || why[0] == '\0') fail("filter rejected without a reason");
    return;
  }
  if (filter.pid < 0 || filter.pid > 4194304 || filter.tgid < 0 || filter.tgid > 4194304)
    fail("pid/tgid outside 0..4194304 accepted");
  if (std::strlen(filter.comm) > 15) fail("comm longer than 15 accepted");
  char printed[512];
  ktl::StringBuilder out(printed, sizeof(printed));
  forkscope::append_filter(out, filter);
  if (out.truncated()) fail("printed filter truncated");
  std::string first(out.c_str(), out.length());
  forkscope::Filter again;
  if (forkscope::parse_filter(first.data(), first.size(), &again, &why) != 0)
    fail("printed filter does not parse");
  if (again.active != filter.active || again.pid != filter.pid || again.tgid != filter.tgid ||
      std::strcmp(again.comm, filter.comm) != 0 || again.kind_mask != filter.kind_mask)
    fail("filter does not round-trip");
}

// Core level: a rejected write leaves control and filter as they were.
void check_core(const char* input, size_t size) {
  const std::string control_before = render(FORKSCOPE_FILE_CONTROL);
  const std::string filter_before = render(FORKSCOPE_FILE_FILTER);
  const char* why = nullptr;
  if (forkscope_core_control(input, size, &why) != 0) {
    if (render(FORKSCOPE_FILE_CONTROL) != control_before) fail("rejected control changed state");
    if (render(FORKSCOPE_FILE_FILTER) != filter_before) fail("rejected control changed the filter");
  }
  if (forkscope_core_set_filter(input, size, &why) != 0) {
    if (render(FORKSCOPE_FILE_FILTER) != filter_before) fail("rejected filter changed state");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  forkscope_core_config config{};
  config.inflight_slots = 64;
  config.ring_records = 16;
  config.top_n = 4;
  config.spawn_slots = 64;
  if (forkscope_core_init(&config) != 0) fail("forkscope_core_init failed");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* input = reinterpret_cast<const char*>(data);
  check_parsers(input, size);
  check_core(input, size);
  return 0;
}
