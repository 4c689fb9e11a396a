// SPDX-License-Identifier: GPL-2.0
// forkscope: the command-line front end of the forkscope module's debugfs
// files (status, stat, hist, top, trace, record) and of recordings
// (report, diff, export, plot). The parsing and formatting it uses live
// in recording/debugfs/analysis/exporters.cpp; this file does the I/O.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "analysis.h"
#include "debugfs.h"
#include "exporters.h"
#include "recording.h"

namespace forkscope::cli {
namespace {

using Clock = std::chrono::steady_clock;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(fmt::format("cannot create {}", path));
  out << text;
  out.close();
  if (!out) throw Error(fmt::format("writing {} failed", path));
}

Recording load_recording(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open {}", path));
  return read_recording(in, path);
}

// A recording from a file, or the live records.
std::vector<Record> records_from(const Debugfs& fs, const std::string& path) {
  if (!path.empty()) return load_recording(path).records;
  return parse_records(fs.read("records"));
}

// ------------------------------------------------------------- status
int cmd_status(const Debugfs& fs) {
  KeyValues version = parse_key_values(fs.read("version"));
  KeyValues c = parse_key_values(fs.read("counters"));
  StageMap map = parse_stage_map(fs.read("stages"));
  std::string release = version.text("forkscope");
  fmt::print("forkscope {} loaded on kernel {} (built for {}; this CLI is {})\n", release,
             version.text("kernel"), version.text("built_for"), kCliVersion);
  fmt::print("state:     {}, sample 1 in {}, filter {}\n",
             c.number("enabled") ? "enabled" : "disabled", c.number("sample_every"),
             c.text("filter"));
  fmt::print(
      "creations: {} ({} failed): recorded {}, filtered {}, sampled out {}, disabled {}, "
      "untracked {}\n",
      c.number("creations"), c.number("clone_failures"), c.number("recorded"), c.number("filtered"),
      c.number("sampled_out"), c.number("disabled"), c.number("untracked"));
  fmt::print("execs:     {} ({} failed): recorded {}\n", c.number("execs"),
             c.number("exec_failures"), c.number("exec_recorded"));
  fmt::print("spawns:    {} ({} exited without exec)\n", c.number("spawns"),
             c.number("spawns_exited"));
  fmt::print("records:   {} published, {} consumed\n", c.number("records"), c.number("consumed"));
  fmt::print("verdicts:  {} matched, {} mismatched, {} unchecked\n", c.number("verdict_matched"),
             c.number("verdict_mismatched"), c.number("verdict_unchecked"));
  static const char* const kLosses[] = {"ring_overwritten",    "probes_missed",   "untracked",
                                        "exec_untracked",      "spawn_untracked", "stale_slots",
                                        "exec_events_dropped", "unattributed"};
  std::string losses;
  for (const char* key : kLosses) {
    if (c.number(key) != 0)
      losses += fmt::format("{}{} {}", losses.empty() ? "" : ", ", key, c.number(key));
  }
  fmt::print("losses:    {}\n", losses.empty() ? "none" : losses);
  std::size_t measured = 0;
  std::string merged;
  for (const StageMapEntry& s : map.stages) {
    if (s.measured()) {
      ++measured;
    } else {
      merged += fmt::format("{}{} ({})", merged.empty() ? "" : ", ", s.name, s.status);
    }
  }
  std::size_t registered = 0;
  std::string missing;
  for (const AnchorEntry& a : map.anchors) {
    if (a.registered) {
      ++registered;
    } else {
      missing += fmt::format("{}{}", missing.empty() ? "" : ", ", a.name);
    }
  }
  fmt::print("stages:    {} of {} measured{}{}\n", measured, map.stages.size(),
             merged.empty() ? "" : "; ", merged);
  fmt::print("anchors:   {} of {} probed{}{}\n", registered, map.anchors.size(),
             missing.empty() ? "" : "; absent: ", missing);
  return 0;
}

// ------------------------------------------------------------- stat, hist
int cmd_stat(const Debugfs& fs, const std::string& kind, bool exec) {
  std::vector<StatsSection> sections = parse_stats(fs.read("stats"));
  std::string want = exec ? "exec" : kind.empty() ? "all" : kind;
  for (const StatsSection& s : sections) {
    if (s.kind != want) continue;
    fmt::print("== {}: {} {} since reset (ns)\n", want == "all" ? "all kinds" : want, s.count,
               want == "exec" ? "execs" : "creations");
    fmt::print("{:<27} {:>9} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}\n", "stage", "count", "min",
               "mean", "p50", "p90", "p99", "max");
    for (const StatsRow& r : s.rows) {
      fmt::print("{:<27} {:>9} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}\n", r.name, r.count, r.min,
                 r.mean, r.p50, r.p90, r.p99, r.max);
    }
    return 0;
  }
  throw Error(fmt::format("no {} since reset", want == "all"    ? std::string("creations")
                                               : want == "exec" ? std::string("execs")
                                                                : "creations of kind " + want));
}

int cmd_hist(const Debugfs& fs, const std::string& stage) {
  std::vector<HistBlock> blocks = parse_hist(fs.read("hist"));
  bool found = false;
  for (const HistBlock& b : blocks) {
    if (b.stage != stage) continue;
    if (found) fmt::print("\n");
    fmt::print("{}\n", b.title);
    for (const std::string& line : b.lines) fmt::print("{}\n", line);
    found = true;
  }
  if (!found) {
    std::string names;
    for (const HistBlock& b : blocks) {
      if (names.find(" " + b.stage + ",") == std::string::npos) names += " " + b.stage + ",";
    }
    if (!names.empty()) names.pop_back();
    throw Error(fmt::format("no histogram for stage '{}' (have:{})", stage,
                            names.empty() ? " none yet" : names));
  }
  return 0;
}

// ------------------------------------------------------------- top
int cmd_top(const Debugfs& fs, double interval, int iterations) {
  bool tty = isatty(1);
  // Ids of the records the last read showed: a record is new if it was not
  // there (ids are unique, not ordered across CPUs).
  std::set<std::uint64_t> seen;
  for (const Record& r : parse_records(fs.read("records"))) seen.insert(r.seq);
  KeyValues before = parse_key_values(fs.read("counters"));
  for (int i = 0; iterations == 0 || i < iterations; ++i) {
    auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
    std::vector<Record> fresh;
    std::set<std::uint64_t> shown;
    for (Record& r : parse_records(fs.read("records"))) {
      shown.insert(r.seq);
      if (!seen.count(r.seq)) fresh.push_back(std::move(r));
    }
    seen = std::move(shown);
    KeyValues now = parse_key_values(fs.read("counters"));
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::map<std::pair<std::string, std::string>, std::uint64_t> rate;
    for (const Record& r : fresh) {
      if (!r.is_spawn()) rate[{r.comm, r.kind}]++;
    }
    std::vector<std::pair<std::uint64_t, std::pair<std::string, std::string>>> by_rate;
    for (const auto& [key, n] : rate) by_rate.push_back({n, key});
    std::sort(by_rate.rbegin(), by_rate.rend());
    if (tty) fmt::print("\033[H\033[2J");
    fmt::print("forkscope top: {} records in {:.1f} s ({:.0f}/s); creations {} execs {}\n",
               fresh.size(), secs, static_cast<double>(fresh.size()) / secs,
               now.number("creations") - before.number("creations"),
               now.number("execs") - before.number("execs"));
    fmt::print("\n{:>10}  {:<16} {:<10}\n", "per s", "comm", "kind");
    for (std::size_t k = 0; k < by_rate.size() && k < 10; ++k) {
      fmt::print("{:>10.1f}  {:<16} {:<10}\n", static_cast<double>(by_rate[k].first) / secs,
                 by_rate[k].second.first, by_rate[k].second.second);
    }
    std::vector<const Record*> slow;
    for (const Record& r : fresh) {
      if (!r.is_spawn()) slow.push_back(&r);
    }
    std::sort(slow.begin(), slow.end(),
              [](const Record* a, const Record* b) { return a->total_ns > b->total_ns; });
    fmt::print("\nslowest {:>12}  {:<16} {:<10} {:>8}  {}\n", "total_ns", "comm", "kind", "pid",
               "dominant stage");
    for (std::size_t k = 0; k < slow.size() && k < 5; ++k) {
      auto [stage, ns] = slow[k]->dominant_stage();
      fmt::print("        {:>12}  {:<16} {:<10} {:>8}  {} {} ns ({:.0f}%)\n", slow[k]->total_ns,
                 slow[k]->comm, slow[k]->kind, slow[k]->pid, stage, ns,
                 slow[k]->total_ns ? 100.0 * ns / slow[k]->total_ns : 0.0);
    }
    std::string losses;
    for (const char* key :
         {"ring_overwritten", "probes_missed", "untracked", "exec_untracked", "spawn_untracked"}) {
      std::uint64_t d = now.number(key) - before.number(key);
      if (d) losses += fmt::format(" {} +{}", key, d);
    }
    fmt::print("\nlosses:{}\n", losses.empty() ? " none" : losses);
    std::fflush(stdout);
    before = now;
  }
  return 0;
}

// ------------------------------------------------------------- trace
int cmd_trace(const Debugfs& fs, long count, bool color) {
  fs.check();
  std::ifstream pipe(fs.dir() + "/trace_pipe");
  if (!pipe) throw Error("cannot open " + fs.dir() + "/trace_pipe");
  std::string line;
  for (long n = 0; (count == 0 || n < count) && std::getline(pipe, line); ++n) {
    bool mismatch = line.find("VERDICT=MISMATCH") != std::string::npos;
    if (mismatch && color) {
      fmt::print("\033[1;31m{}\033[0m\n", line);
    } else {
      fmt::print("{}{}\n", mismatch ? "!!! " : "", line);
    }
    std::fflush(stdout);
  }
  return 0;
}

// ------------------------------------------------------------- record
volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int cmd_record(const Debugfs& fs, const std::string& out_path, double duration,
               const std::vector<std::string>& command) {
  if (command.empty() && duration <= 0) {
    throw Error("record needs --duration SECONDS or -- COMMAND [ARGS...]");
  }
  fs.check();
  ControlState previous = parse_control(fs.read("control"));
  KeyValues c0 = parse_key_values(fs.read("counters"));
  if (c0.text("filter") != "clear" && !c0.text("filter").empty()) {
    fmt::print(stderr, "forkscope: note: filter '{}' is active: only what it matches is recorded\n",
               c0.text("filter"));
  }
  // Records already there at the start are not ours; the rest are kept in
  // completion order.
  std::set<std::uint64_t> before_start;
  for (const Record& r : parse_records(fs.read("records"))) before_start.insert(r.seq);
  std::map<decltype(Record{}.order_key()), std::string> lines;
  auto collect = [&] {
    std::istringstream in(fs.read("records"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      Record r = parse_record(line);
      if (!before_start.count(r.seq)) lines.emplace(r.order_key(), line);
    }
  };
  if (previous.sample != 1) fs.write("control", "sample 1");
  if (!previous.enabled) fs.write("control", "enable");
  auto restore = [&] {
    if (!previous.enabled) fs.write("control", "disable");
    if (previous.sample != 1) fs.write("control", fmt::format("sample {}", previous.sample));
  };
  auto t0 = Clock::now();
  int status = 0;
  pid_t child = 0;
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  try {
    if (!command.empty()) {
      child = fork();
      if (child < 0) throw Error("fork failed");
      if (child == 0) {
        std::vector<char*> argv;
        for (const std::string& a : command) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execvp(argv[0], argv.data());
        fmt::print(stderr, "forkscope: cannot run {}: {}\n", command[0], std::strerror(errno));
        _exit(127);
      }
      for (;;) {
        pid_t done = waitpid(child, &status, WNOHANG);
        if (done == child) break;
        collect();
        poll(nullptr, 0, 100);
      }
    } else {
      while (!g_stop && std::chrono::duration<double>(Clock::now() - t0).count() < duration) {
        collect();
        poll(nullptr, 0, 100);
      }
    }
    collect();
  } catch (...) {
    restore();
    throw;
  }
  restore();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  KeyValues c1 = parse_key_values(fs.read("counters"));
  std::uint64_t lost = c1.number("ring_overwritten") - c0.number("ring_overwritten");
  std::vector<std::string> kept;
  std::vector<Record> parsed;
  for (const auto& [key, line] : lines) parsed.push_back(parse_record(line));
  std::vector<std::string> all;
  for (const auto& [key, line] : lines) all.push_back(line);
  if (child > 0) {
    for (std::size_t i : descendant_records(parsed, child)) kept.push_back(all[i]);
  } else {
    kept = all;
  }
  RecordingHeader header;
  header.kernel = parse_key_values(fs.read("version")).text("kernel");
  for (const std::string& a : command) header.command += (header.command.empty() ? "" : " ") + a;
  header.duration_s = secs;
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("cannot create " + out_path);
  write_recording(out, header, kept, lost);
  out.close();
  if (!out) throw Error("writing " + out_path + " failed");
  std::size_t forks = 0, execs = 0, spawns = 0;
  for (const std::string& line : kept) {
    Record r = parse_record(line);
    forks += r.is_fork();
    execs += r.is_exec();
    spawns += r.is_spawn();
  }
  fmt::print(stderr,
             "forkscope: {} records ({} creations, {} execs, {} spawns) in {:.1f} s -> {}{}\n",
             kept.size(), forks, execs, spawns, secs, out_path,
             lost ? fmt::format(" ({} records overwritten before they were read: "
                                "raise ring_size)",
                                lost)
                  : "");
  if (child > 0) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  }
  return 0;
}

// ------------------------------------------------------------- report, diff
int cmd_report(const Debugfs& fs, const std::string& path, const std::string& kind) {
  Recording rec;
  if (path.empty()) {
    rec.records = parse_records(fs.read("records"));
    rec.header.kernel = parse_key_values(fs.read("version")).text("kernel");
  } else {
    rec = load_recording(path);
  }
  fmt::print("recording {}: {} records, forkscope {}, kernel {}, {:.1f} s{}{}\n",
             path.empty() ? "(live records)" : path, rec.records.size(), rec.header.version,
             rec.header.kernel, rec.header.duration_s,
             rec.header.command.empty() ? "" : ", command: ", rec.header.command);
  if (rec.lost) fmt::print("note: {} records were lost to ring overwrites\n", rec.lost);
  std::vector<std::string> groups;
  if (!kind.empty()) {
    groups.push_back(kind);
  } else {
    groups.push_back("all");
    std::vector<std::string> kinds = kinds_of(rec.records);
    if (kinds.size() > 1) groups.insert(groups.end(), kinds.begin(), kinds.end());
    groups.push_back("exec");
  }
  for (const std::string& g : groups) {
    Summary s = summarize(rec.records, g);
    if (s.records == 0) continue;
    fmt::print("\n{}", format_summary(s));
  }
  std::vector<const Record*> slow;
  std::uint64_t spawn_count = 0, spawn_sum = 0;
  for (const Record& r : rec.records) {
    if (r.is_spawn()) {
      ++spawn_count;
      spawn_sum += r.total_ns;
    } else {
      slow.push_back(&r);
    }
  }
  std::sort(slow.begin(), slow.end(),
            [](const Record* a, const Record* b) { return a->total_ns > b->total_ns; });
  if (!slow.empty()) fmt::print("\nslowest:\n");
  for (std::size_t i = 0; i < slow.size() && i < 5; ++i) {
    const Record& r = *slow[i];
    auto [stage, ns] = r.dominant_stage();
    fmt::print("  #{} {} {}[{}] {} ns, most in {} ({} ns, {:.0f}%)\n", r.seq, r.kind, r.comm, r.pid,
               r.total_ns, stage, ns, r.total_ns ? 100.0 * ns / r.total_ns : 0.0);
  }
  if (spawn_count) {
    fmt::print("\nspawns: {}, mean fork-to-exec {} ns\n", spawn_count, spawn_sum / spawn_count);
  }
  return 0;
}

int cmd_diff(const std::string& a_path, const std::string& b_path, const std::string& kind) {
  Recording a = load_recording(a_path);
  Recording b = load_recording(b_path);
  std::string group = kind.empty() ? "all" : kind;
  fmt::print("{}",
             format_diff(summarize(a.records, group), summarize(b.records, group), a_path, b_path));
  Summary ea = summarize(a.records, "exec"), eb = summarize(b.records, "exec");
  if (kind.empty() && (ea.records || eb.records)) {
    fmt::print("\n{}", format_diff(ea, eb, a_path, b_path));
  }
  return 0;
}

}  // namespace
}  // namespace forkscope::cli

int main(int argc, char** argv) {
  using namespace forkscope::cli;
  // "record ... -- COMMAND ARGS": everything after "--" is the command.
  std::vector<std::string> command;
  int cli_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      command.assign(argv + i + 1, argv + argc);
      cli_argc = i;
      break;
    }
  }
  CLI::App app{"forkscope: where process creation spends its time (the forkscope module's CLI)"};
  app.require_subcommand(1);
  std::string debugfs = kDefaultDebugfs;
  app.add_option("--debugfs", debugfs, "forkscope's debugfs directory")->capture_default_str();
  app.set_version_flag("--version", std::string("forkscope ") + kCliVersion);

  app.add_subcommand("status", "loaded? enabled? counters, losses, the stage map in brief");
  auto* stat = app.add_subcommand("stat", "the stats table (all creation kinds by default)");
  std::string kind;
  bool exec = false;
  stat->add_option("--kind", kind, "one kind: fork, vfork, thread, clone, clone3, kthread, ...");
  stat->add_flag("--exec", exec, "execs instead of creations");
  auto* hist = app.add_subcommand("hist", "one stage's latency histogram");
  std::string stage;
  hist->add_option("STAGE", stage, "stage name (see forkscope status / the stages file)")
      ->required();
  auto* top =
      app.add_subcommand("top", "refreshing view: creations/s by comm and kind, slowest, losses");
  double interval = 1.0;
  int iterations = 0;
  top->add_option("-i,--interval", interval, "seconds between refreshes")->capture_default_str();
  top->add_option("-n,--iterations", iterations, "stop after N refreshes (0: never)");
  auto* trace = app.add_subcommand("trace", "follow trace_pipe, mismatches highlighted");
  long count = 0;
  bool no_color = false;
  trace->add_option("-c,--count", count, "stop after N lines");
  trace->add_flag("--no-color", no_color, "no ANSI colours");
  auto* record = app.add_subcommand(
      "record",
      "record creations and execs: of -- COMMAND ARGS (and its descendants), or for --duration S");
  std::string out_path = "forkscope.jsonl";
  double duration = 0;
  record->add_option("-o,--output", out_path, "recording file")->capture_default_str();
  record->add_option("-d,--duration", duration, "seconds to record everything");
  auto* report =
      app.add_subcommand("report", "stage statistics of a recording (or the live records)");
  std::string file_a, file_b;
  report->add_option("RECORDING", file_a, "recording (default: the live records)");
  report->add_option("--kind", kind, "one kind only");
  auto* diff = app.add_subcommand("diff", "two recordings' stage statistics side by side");
  diff->add_option("A", file_a, "recording")->required();
  diff->add_option("B", file_b, "recording")->required();
  diff->add_option("--kind", kind, "one kind only");
  auto* exp = app.add_subcommand("export", "a recording (or the live records) for other tools");
  std::string perfetto_out, folded_out, recording;
  exp->add_option("--perfetto", perfetto_out, "Chrome Trace Event JSON for ui.perfetto.dev");
  exp->add_option("--folded", folded_out, "folded stacks for flamegraph.pl / speedscope");
  exp->add_option("RECORDING", recording, "recording (default: the live records)");
  auto* plot = app.add_subcommand("plot", "SVG: stage breakdown per kind, latency histogram");
  std::string svg_out;
  plot->add_option("--svg", svg_out, "output file")->required();
  plot->add_option("RECORDING", recording, "recording (default: the live records)");

  try {
    app.parse(cli_argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!command.empty() && !record->parsed()) {
    fmt::print(stderr, "forkscope: '-- COMMAND' is for forkscope record\n");
    return 2;
  }
  try {
    Debugfs fs(debugfs);
    if (app.got_subcommand("status")) return cmd_status(fs);
    if (stat->parsed()) return cmd_stat(fs, kind, exec);
    if (hist->parsed()) return cmd_hist(fs, stage);
    if (top->parsed()) return cmd_top(fs, interval, iterations);
    if (trace->parsed()) return cmd_trace(fs, count, !no_color && isatty(1));
    if (record->parsed()) return cmd_record(fs, out_path, duration, command);
    if (report->parsed()) return cmd_report(fs, file_a, kind);
    if (diff->parsed()) return cmd_diff(file_a, file_b, kind);
    if (exp->parsed()) {
      if (perfetto_out.empty() == folded_out.empty()) {
        throw Error("export needs one of --perfetto OUT or --folded OUT");
      }
      std::vector<Record> records = records_from(fs, recording);
      if (!perfetto_out.empty()) {
        forkscope::cli::write_file(perfetto_out, perfetto_json(records));
        fmt::print(stderr, "forkscope: {} records -> {} (open in ui.perfetto.dev)\n",
                   records.size(), perfetto_out);
      } else {
        forkscope::cli::write_file(folded_out, folded_stacks(records));
        fmt::print(stderr, "forkscope: {} records -> {} (flamegraph.pl {} > fork.svg)\n",
                   records.size(), folded_out, folded_out);
      }
      return 0;
    }
    if (plot->parsed()) {
      std::vector<Record> records = records_from(fs, recording);
      forkscope::cli::write_file(
          svg_out, plot_svg(records, recording.empty() ? "forkscope (live)" : recording));
      fmt::print(stderr, "forkscope: {} records -> {}\n", records.size(), svg_out);
      return 0;
    }
  } catch (const Error& e) {
    fmt::print(stderr, "forkscope: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "forkscope: {}\n", e.what());
    return 1;
  }
  return 0;
}
