// SPDX-License-Identifier: GPL-2.0
// A record's text with its bias stays within the line bounds the readers
// size their buffers by (kTraceLineMax, kJsonLineMax), at its longest.
#include <gtest/gtest.h>

#include <string>

#include "format.h"

namespace forkscope {
namespace {

BiasTable largest_bias() {
  BiasTable t;
  for (ktl::size_t a = 0; a < kAnchorCount; ++a) {
    // The door's largest values: a second per part.
    t.entry[a] = t.ret[a] = CrossingBias{1000000000, 1000000000, 1000000000, 1000000000};
  }
  t.generation = ktl::kU64Max;
  return t;
}

std::string trace_of(const Record& r, const BiasTable* bias) {
  static char buffer[16384];
  ktl::StringBuilder out(buffer, sizeof(buffer));
  append_trace_line(out, r, bias);
  return std::string(buffer, out.length());
}

std::string json_of(const Record& r, const BiasTable* bias) {
  static char buffer[16384];
  ktl::StringBuilder out(buffer, sizeof(buffer));
  append_json_line(out, r, bias);
  return std::string(buffer, out.length());
}

TEST(NetFormat, TheLongestForkRecordWithItsBiasFitsItsLineBounds) {
  Record r;
  r.event = EventType::kFork;
  r.seq = ktl::kU64Max;
  r.present = (ktl::u64{1} << kBoundaryCount) - 1;
  for (int b = 0; b < kBoundaryCount; ++b)
    r.boundary_ns[b] = (ktl::u64{1} << 50) + b * 999999999ull;
  r.request.flags = ~ktl::u64{0};
  r.request.exit_signal = 64;
  for (ktl::size_t i = 0; i + 1 < kCommLength; ++i) r.comm[i] = '"';  // escaped twice as long
  r.parent_pid = r.parent_tgid = -2147483647;
  r.ret = -FORKSCOPE_ERESTARTNOINTR;
  r.verdict.kind = VerdictKind::kMismatch;
  r.verdict.reason = "observed state differs from the prediction in several resources at once";
  BiasTable bias = largest_bias();
  std::string trace = trace_of(r, &bias);
  std::string json = json_of(r, &bias);
  ASSERT_NE(trace.find(" | bias_ns "), std::string::npos);
  ASSERT_NE(json.find("\"bias_ns\":{"), std::string::npos);
  EXPECT_LT(trace.size(), kTraceLineMax) << trace.size();
  EXPECT_LT(json.size(), kJsonLineMax) << json.size();
  EXPECT_GT(trace.size(), trace_of(r, nullptr).size())
      << trace_of(r, nullptr).size() << " " << json_of(r, nullptr).size();  // the bias is in there
}

TEST(NetFormat, TheLongestExecRecordWithItsBiasFitsItsLineBounds) {
  Record r;
  r.event = EventType::kExec;
  r.seq = ktl::kU64Max;
  for (ktl::size_t i = 0; i + 1 < kFilenameLength; ++i) r.exec.filename[i] = '\\';
  for (ktl::size_t i = 0; i + 1 < kCommLength; ++i) r.comm[i] = r.exec.new_comm[i] = '"';
  // Every exec anchor nested once, then returns: as many stages as one exec has.
  constexpr Anchor kOrder[] = {Anchor::kDoExecveatCommon,
                               Anchor::kAllocBprm,
                               Anchor::kMmInit,
                               Anchor::kPgdAlloc,
                               Anchor::kCopyStringKernel,
                               Anchor::kCopyStrings,
                               Anchor::kBprmExecve,
                               Anchor::kDoOpenExecat,
                               Anchor::kSchedExec,
                               Anchor::kLoadScript,
                               Anchor::kLoadElfBinary,
                               Anchor::kBeginNewExec,
                               Anchor::kDupFd,
                               Anchor::kSetupNewExec,
                               Anchor::kSetupArgPages,
                               Anchor::kFinalizeExec,
                               Anchor::kFreeBprm};
  ktl::u32 t = 0;
  for (Anchor a : kOrder) {
    r.exec.events[r.exec.event_count++] = ExecEvent{t += 99999999, a, false};
    if (a != Anchor::kDoExecveatCommon && a != Anchor::kBprmExecve && a != Anchor::kLoadElfBinary &&
        a != Anchor::kAllocBprm && a != Anchor::kMmInit) {
      r.exec.events[r.exec.event_count++] = ExecEvent{t += 99999999, a, true};
    }
  }
  for (Anchor a : {Anchor::kLoadElfBinary, Anchor::kBprmExecve, Anchor::kDoExecveatCommon}) {
    r.exec.events[r.exec.event_count++] = ExecEvent{t += 1, a, true};
  }
  r.exec.events_dropped = 65535;
  BiasTable bias = largest_bias();
  std::string trace = trace_of(r, &bias);
  std::string json = json_of(r, &bias);
  ASSERT_NE(trace.find(" | bias_ns "), std::string::npos);
  EXPECT_LT(trace.size(), kTraceLineMax) << trace.size();
  EXPECT_LT(json.size(), kJsonLineMax) << json.size();
}

std::string stage_bias_of(const BiasTable& bias, const forkscope_probe_health* probes,
                          ktl::size_t n) {
  static char buffer[16384];
  ktl::StringBuilder out(buffer, sizeof(buffer));
  append_stage_bias(out, bias, probes, n);
  return std::string(buffer, out.length());
}

TEST(NetFormat, StagesShowTheBiasOfRegisteredAnchorsOnly) {
  forkscope_probe_health probes[kAnchorCount] = {};
  BiasTable bias;
  EXPECT_NE(stage_bias_of(bias, probes, kAnchorCount).find("Not calibrated"), std::string::npos);

  auto copy_creds = static_cast<ktl::size_t>(Anchor::kCopyCreds);
  probes[copy_creds].registered = true;
  probes[copy_creds].entry = FORKSCOPE_HOOK_FTRACE;
  probes[copy_creds].ret = FORKSCOPE_HOOK_CALLSITE;
  bias.entry[copy_creds] = CrossingBias{11, 22, 3, 4};
  bias.ret[copy_creds] = CrossingBias{55, 66, 7, 8};
  auto alloc_pid = static_cast<ktl::size_t>(Anchor::kAllocPid);
  bias.entry[alloc_pid] = CrossingBias{999, 999, 0, 0};  // not registered: not shown
  bias.generation = 3;
  std::string text = stage_bias_of(bias, probes, kAnchorCount);
  EXPECT_EQ(text.find("Not calibrated"), std::string::npos);
  EXPECT_NE(text.find("Calibration 3."), std::string::npos) << text;
  std::string row = text.substr(text.find("\ncopy_creds") + 1);
  row = row.substr(0, row.find('\n'));
  EXPECT_NE(row.find("ftrace"), std::string::npos) << row;
  EXPECT_NE(row.find("11(3)"), std::string::npos) << row;
  EXPECT_NE(row.find("22(4)"), std::string::npos) << row;
  EXPECT_NE(row.find("callsite"), std::string::npos) << row;
  EXPECT_NE(row.find("55(7)"), std::string::npos) << row;
  EXPECT_NE(row.find("66(8)"), std::string::npos) << row;
  EXPECT_EQ(text.find("999"), std::string::npos) << text;
}

}  // namespace
}  // namespace forkscope
