// SPDX-License-Identifier: GPL-2.0
// Host tests of the forkscope CLI's parsing, statistics, diff and exporters,
// fed with debugfs text recorded in the guest (tests/cli/fixtures) and with
// synthetic records.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "analysis.h"
#include "debugfs.h"
#include "exporters.h"
#include "recording.h"

namespace forkscope::cli {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(FORKSCOPE_CLI_FIXTURES) + "/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::string fork_line(std::uint64_t seq, int parent, int child, std::uint64_t start,
                      std::uint64_t dup_mmap, const char* kind = "fork") {
  // total = prologue 10 + copy_process (100 + dup_mmap) + wake 5 + return 5
  return fmt::format(
      R"({{"seq":{},"event":"fork","kind":"{}","parent_pid":{},"parent_tgid":{},"comm":"p{}",)"
      R"("child_pid":{},"ret":{},"errno":null,"start_ns":{},"stages":{{"dup_task_struct":100,)"
      R"("dup_mmap":{}}},"copy_process_ns":{},"clone_prologue_ns":10,"clone_publish_ns":0,)"
      R"("wake_ns":5,"vfork_wait_ns":0,"clone_return_ns":5,"total_ns":{},"verdict":"match"}})",
      seq, kind, parent, parent, parent, child, child, start, dup_mmap, 100 + dup_mmap,
      120 + dup_mmap);
}

std::string exec_line(std::uint64_t seq, int pid, std::uint64_t start, int ret = 0) {
  return fmt::format(
      R"({{"seq":{},"event":"exec","kind":"exec","pid":{},"tgid":{},"comm":"c","old_comm":"c",)"
      R"("new_comm":"true","filename":"/bin/true","ret":{},"errno":null,"start_ns":{},)"
      R"("stages":{{"alloc_bprm":30,"load_elf_binary":70}},"total_ns":100}})",
      seq, pid, pid, ret, start);
}

std::string spawn_line(std::uint64_t seq, int parent, int child, std::uint64_t start) {
  return fmt::format(
      R"({{"seq":{},"event":"spawn","kind":"fork","parent_pid":{},"parent_tgid":{},"comm":"p",)"
      R"("child_pid":{},"exited":false,"filename":"/bin/true","fork_start_ns":{},)"
      R"("forked_ns":{},"exec_start_ns":{},"end_ns":{},"total_ns":{}}})",
      seq, parent, parent, child, start, start + 100, start + 400, start + 500, 500);
}

TEST(Records, ParseTheGuestsRecordsFile) {
  std::vector<Record> recs = parse_records(fixture("records"));
  ASSERT_EQ(recs.size(), lines_of(fixture("records")).size());
  std::size_t forks = 0, execs = 0, spawns = 0;
  for (const Record& r : recs) {
    if (r.is_fork()) {
      ++forks;
      std::uint64_t sum = 0;
      for (const auto& s : r.stages) sum += s.second;
      EXPECT_EQ(sum, r.copy_process_ns) << "seq " << r.seq;
      std::uint64_t total = r.copy_process_ns;
      for (const auto& s : outer_stages(r)) total += s.second;
      EXPECT_EQ(total, r.total_ns) << "seq " << r.seq;
    }
    if (r.is_exec()) {
      ++execs;
      std::uint64_t sum = 0;
      for (const auto& s : r.stages) sum += s.second;
      EXPECT_EQ(sum, r.total_ns) << "seq " << r.seq;
    }
    spawns += r.is_spawn();
  }
  EXPECT_GT(forks, 20u);
  EXPECT_GT(execs, 5u);
  EXPECT_GT(spawns, 5u);
  // Stages keep the records' (stage-map) order.
  EXPECT_EQ(recs[0].stages.front().first, "dup_task_struct");
  EXPECT_EQ(recs[0].stages.back().first, "between_calls");
}

TEST(Records, CompletionOrderIsEndThenCpuThenCount) {
  auto id = [](std::uint64_t count, std::uint64_t cpu) {
    return count << FORKSCOPE_SEQ_CPU_BITS | cpu;
  };
  // A fork without end_ns (an older recording): its last boundary.
  Record old_fork = parse_record(fork_line(id(7, 0), 1, 2, 1000, 30));
  EXPECT_EQ(old_fork.end_ns, 1000u + 150u);
  std::string with_end = fork_line(id(1, 1), 1, 3, 1000, 30);
  with_end.insert(with_end.find(",\"stages\""), ",\"end_ns\":1150");
  Record fork = parse_record(with_end);
  EXPECT_EQ(fork.end_ns, 1150u);
  Record spawn = parse_record(spawn_line(id(8, 0), 1, 2, 650));  // ends at 1150 too
  EXPECT_EQ(spawn.end_ns, 1150u);
  Record exec = parse_record(exec_line(id(2, 1), 2, 1000));  // ends at 1100
  // exec first (earlier end); then CPU 0 before CPU 1; on CPU 0, count 7 before 8.
  std::vector<Record> recs{fork, spawn, exec, old_fork};
  std::sort(recs.begin(), recs.end(),
            [](const Record& a, const Record& b) { return a.order_key() < b.order_key(); });
  std::vector<std::uint64_t> ids;
  for (const Record& r : recs) ids.push_back(r.seq);
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{id(2, 1), id(7, 0), id(8, 0), id(1, 1)}));
}

TEST(Records, BadLinesAreNamed) {
  EXPECT_THROW(parse_records("{\"seq\":1}\n"), Error);
  EXPECT_THROW(parse_records("{\"seq\":1,\"event\":\"fork\"}\n"), Error);
  EXPECT_THROW(parse_records("not json\n"), Error);
  try {
    parse_records(fork_line(1, 1, 2, 0, 0) + "\n{\"seq\":2,\"event\":\"bogus\"}\n");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}

std::string recording_text(const std::vector<std::string>& lines) {
  std::ostringstream out;
  RecordingHeader header;
  header.kernel = "6.1.0-test";
  header.command = "make -j2";
  header.duration_s = 1.5;
  write_recording(out, header, lines, 3);
  return out.str();
}

TEST(Recording, RoundTrip) {
  std::vector<std::string> lines = {fork_line(1, 10, 11, 1000, 50), exec_line(2, 11, 2000),
                                    spawn_line(3, 10, 11, 1000)};
  std::istringstream in(recording_text(lines));
  Recording rec = read_recording(in, "r.jsonl");
  EXPECT_EQ(rec.header.kernel, "6.1.0-test");
  EXPECT_EQ(rec.header.command, "make -j2");
  EXPECT_EQ(rec.lost, 3u);
  ASSERT_EQ(rec.records.size(), 3u);
  EXPECT_EQ(rec.records[0].total_ns, 170u);
  EXPECT_EQ(rec.records[1].filename, "/bin/true");
  EXPECT_EQ(rec.records[2].child_pid, 11);
}

std::string error_of(const std::string& text) {
  std::istringstream in(text);
  try {
    read_recording(in, "r.jsonl");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Recording, TruncatedOtherVersionAndForeignFilesAreRefused) {
  std::string full = recording_text({fork_line(1, 10, 11, 1000, 50), exec_line(2, 11, 2000)});
  std::vector<std::string> lines = lines_of(full);
  // No end line.
  std::string no_end = lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n";
  EXPECT_NE(error_of(no_end).find("truncated"), std::string::npos) << error_of(no_end);
  // Cut in the middle of a record.
  std::string cut = full.substr(0, full.find(lines[2]) + 40);
  EXPECT_NE(error_of(cut).find("truncated"), std::string::npos) << error_of(cut);
  // The end line counts more records than there are.
  std::string short_of = lines[0] + "\n" + lines[1] + "\n" + lines[3] + "\n";
  EXPECT_NE(error_of(short_of).find("truncated"), std::string::npos) << error_of(short_of);
  // Another format version.
  std::string other = full;
  other.replace(other.find("\"forkscope_recording\":1"), 23, "\"forkscope_recording\":7");
  EXPECT_NE(error_of(other).find("format 7"), std::string::npos) << error_of(other);
  // A records dump, not a recording.
  EXPECT_NE(error_of(fork_line(1, 10, 11, 1000, 50) + "\n").find("not a forkscope recording"),
            std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_EQ(error_of(full), "");
}

TEST(Recording, DescendantsOfTheCommandOnly) {
  // 500 is the recorder, 100 the command: it forks 101 (which vforks 102,
  // whose exec completes before the vfork's record) and a thread 103 (which
  // forks 104); 200 is unrelated.
  std::string text = fork_line(1, 500, 100, 0, 0) + "\n" + exec_line(2, 100, 10) + "\n" +
                     fork_line(3, 100, 101, 20, 0) + "\n" + exec_line(4, 102, 30) + "\n" +
                     fork_line(5, 101, 102, 25, 0, "vfork") + "\n" + fork_line(6, 200, 201, 40, 0) +
                     "\n" + fork_line(7, 100, 103, 50, 0, "thread") + "\n" +
                     fork_line(8, 103, 104, 60, 0) + "\n" + spawn_line(9, 100, 101, 20) + "\n" +
                     spawn_line(10, 500, 100, 0) + "\n" + exec_line(11, 201, 70) + "\n";
  std::vector<Record> recs = parse_records(text);
  std::vector<std::uint64_t> seqs;
  for (std::size_t i : descendant_records(recs, 100)) seqs.push_back(recs[i].seq);
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{2, 3, 4, 5, 7, 8, 9}));
}

TEST(Analysis, SummaryIsExact) {
  std::vector<Record> recs =
      parse_records(fork_line(1, 1, 2, 0, 100) + "\n" + fork_line(2, 1, 3, 1000, 300) + "\n" +
                    fork_line(3, 1, 4, 2000, 200, "vfork") + "\n" + exec_line(4, 2, 3000) + "\n" +
                    exec_line(5, 3, 4000, -2) + "\n");
  Summary all = summarize(recs, "all");
  EXPECT_EQ(all.records, 3u);
  const StageStat* dup = all.row("dup_mmap");
  ASSERT_NE(dup, nullptr);
  EXPECT_EQ(dup->count(), 3u);
  EXPECT_EQ(dup->mean(), 200u);
  EXPECT_EQ(dup->percentile(500), 200u);
  EXPECT_EQ(dup->min(), 100u);
  EXPECT_EQ(dup->max(), 300u);
  EXPECT_EQ(all.row("total")->mean(), 320u);
  EXPECT_EQ(all.row("copy_process")->mean(), 300u);
  EXPECT_EQ(all.rows.back().name, "total");
  Summary fork = summarize(recs, "fork");
  EXPECT_EQ(fork.row("total")->count(), 2u);
  Summary exec = summarize(recs, "exec");
  EXPECT_EQ(exec.records, 2u);
  EXPECT_EQ(exec.failed, 1u);
  EXPECT_EQ(exec.row("total")->count(), 1u);
  EXPECT_NE(format_summary(all).find("dup_mmap"), std::string::npos);
}

TEST(Analysis, DiffShowsTheChangePerStage) {
  std::vector<Record> a = parse_records(fork_line(1, 1, 2, 0, 100) + "\n");
  std::vector<Record> b = parse_records(fork_line(1, 1, 2, 0, 200) + "\n");
  std::string text = format_diff(summarize(a, "all"), summarize(b, "all"), "a", "b");
  std::string row;
  for (const std::string& line : lines_of(text)) {
    if (line.rfind("dup_mmap ", 0) == 0) row = line;
  }
  EXPECT_NE(row.find("+100.0%"), std::string::npos) << text;
  EXPECT_NEAR(change_percent(220, 320), 45.45, 0.01);
  EXPECT_EQ(change_percent(0, 5), 0);
}

TEST(Debugfs, ParsersReadTheGuestsFiles) {
  KeyValues counters = parse_key_values(fixture("counters"));
  EXPECT_EQ(counters.number("creations"), 31u);
  EXPECT_EQ(counters.text("filter"), "clear");
  EXPECT_EQ(counters.number("enabled"), 1u);
  EXPECT_EQ(counters.probe_lines.size(), 38u);
  std::vector<StatsSection> stats = parse_stats(fixture("stats"));
  ASSERT_GE(stats.size(), 4u);
  EXPECT_EQ(stats[0].kind, "all");
  EXPECT_EQ(stats[0].count, 34u);
  const StatsRow* total = stats[0].row("total (kernel_clone)");
  ASSERT_NE(total, nullptr);
  EXPECT_EQ(total->count, 34u);
  EXPECT_EQ(stats[0].rows.front().name, "dup_task_struct");
  EXPECT_EQ(stats[0].rows.front().min, 81480u);
  EXPECT_EQ(stats[0].rows.front().mean, 156071u);
  bool exec = false;
  for (const StatsSection& s : stats) exec = exec || s.kind == "exec";
  EXPECT_TRUE(exec);
  StageMap map = parse_stage_map(fixture("stages"));
  EXPECT_EQ(map.stages.size(), 55u);
  EXPECT_EQ(map.stages[0].name, "dup_task_struct");
  EXPECT_TRUE(map.stages[0].measured());
  EXPECT_EQ(map.anchors.size(), 38u);
  EXPECT_EQ(map.anchors[0].symbol, "kernel_clone");
  EXPECT_TRUE(map.anchors[0].registered);
  EXPECT_TRUE(map.anchors[0].armed);
  EXPECT_EQ(map.anchors[0].entry, "kretprobe");
  EXPECT_EQ(map.anchors[2].name, "copy_creds");
  EXPECT_EQ(map.anchors[2].entry, "ftrace");
  EXPECT_EQ(map.anchors[2].ret, "callsite");
  EXPECT_EQ(map.anchors[2].sites, 1u);
  EXPECT_EQ(map.anchors[2].hits, map.anchors[2].returns);
  EXPECT_EQ(map.anchors.back().entry, "tracepoint");
  std::vector<HistBlock> hist = parse_hist(fixture("hist"));
  ASSERT_FALSE(hist.empty());
  EXPECT_EQ(hist[0].stage, "dup_task_struct");
  EXPECT_FALSE(hist[0].lines.empty());
  ControlState control = parse_control(fixture("control"));
  EXPECT_TRUE(control.enabled);
  EXPECT_EQ(control.sample, 1u);
  EXPECT_FALSE(parse_control("disabled sample 4\n").enabled);
  EXPECT_EQ(parse_control("disabled sample 4\n").sample, 4u);
}

TEST(Perfetto, SlicesNestAndNeverOverlapOnATrack) {
  std::vector<Record> recs = parse_records(fixture("records"));
  std::size_t clamped = 0;
  std::vector<Slice> slices = perfetto_slices(recs, &clamped);
  EXPECT_EQ(clamped, 0u);
  EXPECT_EQ(overlapping_slices(slices), 0u);
  // Every creation's children cover it exactly; copy_process's stages too.
  std::uint64_t first = UINT64_MAX;
  for (std::size_t i = 0; i < slices.size(); ++i) {
    first = std::min(first, slices[i].ts_ns);
    if (slices[i].depth != 0 || slices[i].category != "fork") continue;
    std::uint64_t children = 0;
    for (std::size_t j = i + 1; j < slices.size() && slices[j].depth > 0; ++j) {
      if (slices[j].depth == 1) children += slices[j].dur_ns;
    }
    EXPECT_EQ(children, slices[i].dur_ns) << slices[i].name;
  }
  EXPECT_EQ(first, 0u);  // relative to the first record
  // A slice crossing another on its track is found.
  std::vector<Slice> bad = {{1, 1, "a", "fork", 0, 100, 0, 1}, {1, 1, "b", "fork", 50, 100, 0, 2}};
  EXPECT_EQ(overlapping_slices(bad), 1u);
  bad[1].tid = 2;
  EXPECT_EQ(overlapping_slices(bad), 0u);
}

TEST(Perfetto, ChromeTraceEventJson) {
  std::vector<Record> recs =
      parse_records(fork_line(1, 10, 11, 5000, 50) + "\n" + exec_line(2, 11, 5200) + "\n" +
                    spawn_line(3, 10, 11, 5000) + "\n");
  nlohmann::json doc = nlohmann::json::parse(perfetto_json(recs));
  ASSERT_TRUE(doc["traceEvents"].is_array());
  int complete = 0, names = 0;
  bool fork_slice = false, exec_on_child = false, spawn_on_child = false;
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "M") {
      ++names;
      continue;
    }
    ASSERT_EQ(e["ph"], "X");
    ++complete;
    if (e["cat"] == "fork") {
      fork_slice = true;
      EXPECT_EQ(e["tid"], 10);
      EXPECT_DOUBLE_EQ(e["ts"].get<double>(), 0.0);
      EXPECT_DOUBLE_EQ(e["dur"].get<double>(), 0.17);  // 170 ns in µs
    }
    if (e["cat"] == "exec") {
      exec_on_child = e["tid"] == 11;
      EXPECT_DOUBLE_EQ(e["ts"].get<double>(), 0.2);
    }
    if (e["cat"] == "spawn") spawn_on_child = e["tid"] == 11;
  }
  EXPECT_TRUE(fork_slice);
  EXPECT_TRUE(exec_on_child);
  EXPECT_TRUE(spawn_on_child);
  EXPECT_EQ(names, 2);
  // fork + prologue + copy_process + 2 stages + wake + return; exec + 2; spawn + 2
  EXPECT_EQ(complete, 7 + 3 + 3);
}

TEST(Folded, StacksSumToTheRecordsTotals) {
  std::vector<Record> recs = parse_records(fixture("records"));
  std::string folded = folded_stacks(recs);
  std::uint64_t sum = 0, totals = 0;
  for (const std::string& line : lines_of(folded)) {
    std::size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos);
    EXPECT_EQ(line.find(' '), space) << "a frame with a blank: " << line;
    sum += std::stoull(line.substr(space + 1));
  }
  for (const Record& r : recs) {
    if (!r.is_spawn()) totals += r.total_ns;
  }
  EXPECT_EQ(sum, totals);
  EXPECT_NE(folded.find("sh;fork;kernel_clone;copy_process;dup_mmap "), std::string::npos);
  EXPECT_NE(folded.find(";exec;do_execveat_common;load_elf_binary "), std::string::npos);
  // Identical stacks are summed into one line.
  std::vector<Record> two =
      parse_records(fork_line(1, 1, 2, 0, 100) + "\n" + fork_line(2, 1, 3, 10, 300) + "\n");
  EXPECT_NE(folded_stacks(two).find("p1;fork;kernel_clone;copy_process;dup_mmap 400\n"),
            std::string::npos);
}

TEST(Plot, SvgHasABarPerKindAndAHistogram) {
  std::vector<Record> recs = parse_records(fixture("records"));
  std::string svg = plot_svg(recs, "test");
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  for (const std::string& kind : kinds_of(recs)) {
    EXPECT_NE(svg.find(">" + kind + " ("), std::string::npos) << kind;
  }
  EXPECT_NE(svg.find(">exec ("), std::string::npos);
  EXPECT_NE(svg.find("creation latency"), std::string::npos);
}

}  // namespace
}  // namespace forkscope::cli
