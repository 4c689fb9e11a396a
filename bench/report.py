#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the raw guest output in build/bench/ into BENCHMARKS.md and SVG plots.

usage: report.py RAW_DIR OUT_MD SVG_DIR
RAW_DIR holds perf-smp1.out, perf-smp4.out, scale.out, mem.out and meta.txt
(any may be missing). No third-party modules: the SVG is written by hand.
"""
import math
import os
import re
import statistics
import sys

CONFIG_ORDER = ["baseline", "disabled", "enabled", "floor", "fgraph", "kprobe_hist", "bpftrace",
                "summary", "kretprobe", "floor_kretprobe", "events"]
CONFIG_LABEL = {
    "baseline": "1 baseline (not loaded)",
    "disabled": "2 forkscope loaded, disabled",
    "enabled": "3 forkscope enabled",
    "floor": "4 probe floor (empty handlers)",
    "fgraph": "5 function_graph kernel_clone",
    "kprobe_hist": "6 kprobe events + hist",
    "bpftrace": "7 bpftrace",
    "summary": "8 forkscope detail=summary",
    "kretprobe": "9 forkscope mechanism=kretprobe (the old plan)",
    "floor_kretprobe": "10 the old floor (a kretprobe per anchor, empty handlers)",
    "events": "11 forkscope enabled, trace events on",
}
SHORT = {"baseline": "1 base", "disabled": "2 disabled", "enabled": "3 forkscope",
         "floor": "4 floor", "fgraph": "5 fgraph", "kprobe_hist": "6 kprobe+hist",
         "bpftrace": "7 bpftrace", "summary": "8 summary", "kretprobe": "9 old plan",
         "floor_kretprobe": "10 old floor", "events": "11 events on"}
WORKLOAD_ORDER = ["fork", "vfork", "spawn", "thread", "clone3_newuts", "forkexec"]
WORKLOAD_LABEL = {
    "fork": "fork+_exit+waitpid",
    "vfork": "vfork+_exit",
    "spawn": "posix_spawn (tiny static)",
    "thread": "pthread_create+join",
    "clone3_newuts": "clone3(CLONE_NEWUTS)",
    "forkexec": "fork+execve (tiny static)",
}


def kv(line):
    return dict(m.groups() for m in re.finditer(r"([\w:]+)=(\S+)", line))


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def fmt_ratio(r):
    return f"×{r:.2f}" if r < 10 else f"×{r:.1f}"


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return None


def perf_section(lines, title, instructions=False):
    samples, iters = {}, {}
    hits = {}  # (workload, config) -> [hook hits, creations]
    checks, anchors, warns = [], None, []
    # A bpftrace start seen without its "Attaching" line matched a stale
    # "ready" from an earlier round (fixed in bench-guest.sh since): that
    # round ran partly untraced, so its bpftrace samples are dropped.
    invalid, stale = set(), False
    for line in lines:
        if line.startswith("@@check bpftrace started_in_s="):
            stale = "Attaching" not in line
        elif line.startswith("@@time ") and kv(line).get("config") == "bpftrace":
            if stale:
                invalid.add(kv(line)["round"])
            stale = False
    dropped = 0
    for line in lines:
        if line.startswith("@@res "):
            d = kv(line)
            if d["config"] == "bpftrace" and d["round"] in invalid:
                dropped += 1
                continue
            samples.setdefault((d["workload"], d["config"]), []).append(int(d["ns_per_op"]))
            workers = d["workers"]
            iters[d["workload"]] = d["iters"]
        elif line.startswith("@@hits ") and "round=" in line:
            d = kv(line)
            h = hits.setdefault((d["workload"], d["config"]), [0, 0, 0])
            h[0] += int(d["hooks"])
            h[1] += int(d["creations"])
            # The overhead forkscope's calibration predicts from these hits.
            h[2] += int(d.get("predicted_ns", 0))
        elif line.startswith("@@check "):
            checks.append(line[8:])
        elif line.startswith("@@anchors "):
            anchors = line.split()[1]
        elif line.startswith("@@warn"):
            warns.append(line)
    if not samples:
        return [f"### {title}\n", "No results (the run failed or was skipped).\n"]
    configs = [c for c in CONFIG_ORDER if any(k[1] == c for k in samples)]
    workloads = [w for w in WORKLOAD_ORDER if any(k[0] == w for k in samples)]
    rounds = max(int(kv(l)["round"]) for l in lines if l.startswith("@@res "))
    med = {k: statistics.median(v) for k, v in samples.items()}
    out = [f"### {title}\n"]
    out.append(f"{rounds} rounds × 3 repetitions per configuration, interleaved "
               f"(each round runs every configuration, each configuration every workload); "
               f"{workers} worker(s); operations per worker per measurement: "
               + ", ".join(f"{w} {iters[w]}" for w in WORKLOAD_ORDER if w in iters)
               + ". Cells: median ns/op over all "
               f"repetitions, and the interquartile range as ± % of the median.\n")
    unit = (lambda v: f"{v / 1e3:.1f} k") if instructions else fmt_ns
    if instructions:
        out.append("**Median guest instructions per operation** (`-icount shift=0,sleep=off`: "
                   "guest time advances 1 ns per guest instruction, so these are instruction "
                   "counts; they reproduce from run to run, but say nothing of trap, cache or "
                   "pipeline costs on real hardware)\n")
    else:
        out.append("**Median time per operation (TCG; not real-hardware times)**\n")
    out.append("| workload | " + " | ".join(SHORT[c] for c in configs) + " |")
    out.append("|---|" + "---|" * len(configs))
    for w in workloads:
        cells = []
        for c in configs:
            v = samples.get((w, c))
            if not v:
                cells.append("–")
                continue
            lo, hi = quartiles(v)
            m = med[(w, c)]
            cells.append(f"{unit(m)} ±{100 * (hi - lo) / 2 / m:.0f}%")
        out.append(f"| {WORKLOAD_LABEL[w]} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("**Overhead: median ratio to the baseline (config 1) — read these**\n")
    cfg = [c for c in configs if c != "baseline"]
    out.append("| workload | " + " | ".join(SHORT[c] for c in cfg) + " |")
    out.append("|---|" + "---|" * len(cfg))
    for w in workloads:
        base = med.get((w, "baseline"))
        cells = [fmt_ratio(med[(w, c)] / base) if base and (w, c) in med else "–" for c in cfg]
        out.append(f"| {WORKLOAD_LABEL[w]} | " + " | ".join(cells) + " |")
    out.append("")
    peers = [c for c in ("fgraph", "kprobe_hist", "bpftrace") if c in configs]
    out.append("**forkscope (3) against the probe floor (4) and against each peer**\n")
    out.append("Handler share = (3 − 4) / (3 − 1): the part of forkscope's overhead spent in "
               "its own handlers rather than in the kprobe/kretprobe machinery. "
               "“3 / peer” below 1 means forkscope is cheaper than that peer.\n")
    hdr = ["workload", "3 / 4 (floor)", "floor overhead (4−1)", "handler cost (3−4)", "handler share"]
    hdr += [f"3 / {SHORT[p]}" for p in peers]
    out.append("| " + " | ".join(hdr) + " |")
    out.append("|---|" + "---|" * (len(hdr) - 1))
    for w in workloads:
        b, e, f = med.get((w, "baseline")), med.get((w, "enabled")), med.get((w, "floor"))
        if None in (b, e, f):
            continue
        share = (e - f) / (e - b) if e - b > 0 else float("nan")
        row = [WORKLOAD_LABEL[w], fmt_ratio(e / f), fmt_ns(f - b), fmt_ns(e - f),
               f"{100 * share:.0f}%" if not math.isnan(share) else "–"]
        row += [f"{e / med[(w, p)]:.2f}" if (w, p) in med else "–" for p in peers]
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    if "events" in configs and "enabled" in configs:
        out.append("**Trace events: forkscope enabled with its trace events on (11) against "
                   "off (3).** Off, each record costs one static-key test (in 3 already); on, "
                   "it also writes one event to the ftrace ring buffer.\n")
        dis = os.path.join(RAW_DIR, "events-enabled.dis") if RAW_DIR else ""
        if dis and os.path.exists(dis) and os.path.getsize(dis) > 0:
            out.append("`forkscope_platform_events_enabled()` as built (objdump of forkscope.ko; "
                       "the `xchg %ax,%ax` are the static keys' 2-byte NOPs, patched into jumps "
                       "only while an event is on; the first `call` is ftrace's `__fentry__`, "
                       "itself a NOP at run time):\n")
            out.append("```")
            out.extend(l.rstrip() for l in open(dis))
            out.append("```\n")
        out.append("| workload | 11 / 3 | events cost (11−3) per op |")
        out.append("|---|---|---|")
        for w in workloads:
            e, v = med.get((w, "enabled")), med.get((w, "events"))
            if None in (e, v):
                continue
            cost = fmt_ns(v - e) if v >= e else "−" + fmt_ns(e - v)
            out.append(f"| {WORKLOAD_LABEL[w]} | {fmt_ratio(v / e)} | {cost} |")
        out.append("")
    if instructions and hits:
        out.append("**Cost per hook hit** (the plan's own hooks, from forkscope's counters around "
                   "each workload): (3 − 4) / hits = forkscope's handler instructions per hit, "
                   "(4 − 1) / hits = the hooks' own instructions per hit, (8 − 1) / hits at "
                   "`detail=summary`.\n")
        out.append("| workload | hits per op (3) | handler per hit (3−4) | hooks per hit (4−1) "
                   "| hits per op (8) | summary per hit (8−1) |")
        out.append("|---|---|---|---|---|---|")
        for w in workloads:
            b, e, f = med.get((w, "baseline")), med.get((w, "enabled")), med.get((w, "floor"))
            he = hits.get((w, "enabled"))
            if None in (b, e, f) or not he or not he[1]:
                continue
            per_op = he[0] / he[1]
            row = [WORKLOAD_LABEL[w], f"{per_op:.1f}", f"{(e - f) / per_op:.0f}",
                   f"{(f - b) / per_op:.0f}"]
            hs, sm = hits.get((w, "summary")), med.get((w, "summary"))
            if hs and hs[1] and sm is not None:
                row += [f"{hs[0] / hs[1]:.1f}", f"{(sm - b) / (hs[0] / hs[1]):.0f}"]
            else:
                row += ["–", "–"]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    predicted = [w for w in workloads if hits.get((w, "enabled"), [0, 0, 0])[2]]
    if predicted:
        out.append("**Self-check: forkscope's predicted overhead against the measured one** "
                   "(predicted: the hits of every hook during the workload times the cost "
                   "per hit its calibration measured at load, from its `calibration` file; "
                   "measured: enabled (3) − baseline (1), per creation).\n")
        out.append("| workload | predicted per creation | measured (3−1) | predicted / measured |")
        out.append("|---|---|---|---|")
        for w in predicted:
            b, e = med.get((w, "baseline")), med.get((w, "enabled"))
            he = hits[(w, "enabled")]
            if None in (b, e) or not he[1]:
                continue
            pred, meas = he[2] / he[1], e - b
            ratio = fmt_ratio(pred / meas) if meas > 0 else "–"
            out.append(f"| {WORKLOAD_LABEL[w]} | {pred:.0f} | {meas:.0f} | {ratio} |")
        out.append("")
    if anchors:
        out.append(f"Anchors probed by forkscope, the floor and the kprobe events: {anchors} "
                   "(kprobe events skip `load_elf_binary`, whose name is not unique).\n")
    if checks:
        out.append("Sanity checks from the guest (forkscope really recorded; the ftrace "
                   "histogram really counted):\n")
        out.append("```")
        out.extend(sorted(set(re.sub(r"\s+", " ", c) for c in checks))[:8])
        out.append("```\n")
    if invalid:
        out.append(f"bpftrace round(s) {', '.join(sorted(invalid))} dropped ({dropped} samples): "
                   "the guest script saw a stale `ready` from the previous round's output file "
                   "and started the workloads before bpftrace had attached (its histograms "
                   "counted only part of them). Fixed in `bench/bench-guest.sh` after this run.\n")
    if warns:
        out.append("Warnings: " + "; ".join(sorted(set(warns))) + "\n")
    return out


# ------------------------------------------------------ forkscope vs function_graph
CMP_FUNCS = ["dup_mmap", "copy_creds", "alloc_pid"]
CMP_TOOLS = [("forkscope", "forkscope net (stats_net)"), ("fgraph", "function_graph")]


def cmp_section(lines):
    """Per function and tool: the median over rounds of each round's median, the
    spread of those round medians (min-max, and relative), and the ratio."""
    per = {}  # (func, tool) -> [(round, median, mean, extra)]
    for line in lines:
        if not line.startswith("@@cmp "):
            continue
        d = kv(line)
        if int(d.get("n", 0)) <= 0 or "median_ns" not in d:
            continue
        per.setdefault((d["func"], d["tool"]), []).append(
            (int(d["round"]), int(d["median_ns"]), int(d["mean_ns"]), d))
    if not per:
        return ["No comparison in this run (phase `cmp1i`).", ""]
    rounds = max(r for v in per.values() for r, *_ in v)
    out = [f"{rounds} interleaved rounds in one boot; per round and tool, the same number of "
           "forks (`fs_bench run fork`); forkscope's value is its `stats_net` row (median "
           "and mean net of the calibrated bias; medians are histogram bucket midpoints, "
           "within 3.2%), function_graph's the median and mean of the durations it printed "
           "with `set_ftrace_filter` set to the three functions (its own probe effect "
           "included: it does not correct for it). Spread: the round medians' range, and "
           "its half-width relative to the median.\n"]
    out.append("| function | forkscope net median | its spread | forkscope raw median | "
               "function_graph median | its spread | forkscope / function_graph |")
    out.append("|---|---|---|---|---|---|---|")
    for f in CMP_FUNCS:
        cells, meds = [f"`{f}`"], {}
        for tool, _ in CMP_TOOLS:
            v = per.get((f, tool))
            if not v:
                cells += ["–", "–"] + (["–"] if tool == "forkscope" else [])
                continue
            ms = [m for _, m, _, _ in v]
            med = statistics.median(ms)
            meds[tool] = med
            half = (max(ms) - min(ms)) / 2
            cells += [fmt_ns(med), f"{fmt_ns(min(ms))}–{fmt_ns(max(ms))} (±{100 * half / med:.1f}%)"
                      if med else "–"]
            if tool == "forkscope":
                raw = statistics.median(int(d.get("raw_median_ns", 0)) for *_, d in v)
                cells.append(fmt_ns(raw))
        if meds.get("forkscope") and meds.get("fgraph"):
            cells.append(fmt_ratio(meds["forkscope"] / meds["fgraph"]))
        else:
            cells.append("–")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("Per round (median / mean, ns):\n")
    out.append("| round | " + " | ".join(f"{f} {t}" for f in CMP_FUNCS for t, _ in CMP_TOOLS) + " |")
    out.append("|---" * (1 + len(CMP_FUNCS) * len(CMP_TOOLS)) + "|")
    for r in range(1, rounds + 1):
        row = [str(r)]
        for f in CMP_FUNCS:
            for t, _ in CMP_TOOLS:
                hit = [x for x in per.get((f, t), []) if x[0] == r]
                row.append(f"{hit[0][1]} / {hit[0][2]}" if hit else "–")
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    return out


# ------------------------------------------------------------------ scaling
def parse_scale(lines):
    points = []  # dicts: what, kind, size, wall, stages {name: (count, mean, p50)}
    cur = None
    for line in lines:
        if line.startswith("@@stats-begin "):
            _, what, kind, size, _, wall = line.split()[:6]
            cur = {"what": what, "kind": kind, "size": int(size), "wall": int(wall),
                   "stages": {}, "section": None}
        elif line.startswith("@@stats-end"):
            points.append(cur)
            cur = None
        elif cur is not None:
            if line.startswith("== "):
                cur["section"] = line
                continue
            if cur["section"] is None or not cur["section"].startswith("== all kinds"):
                continue
            m = re.match(r"^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", line)
            if m:
                cur["stages"][m.group(1).strip()] = (int(m.group(2)), int(m.group(4)),
                                                     int(m.group(5)))
    return points


def stage(p, name, col=2):
    v = p["stages"].get(name)
    return v[col] if v and v[0] else 0


def lsq(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0, my
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


SERIES = [
    ("fork", "dup_mmap", "fork: dup_mmap stage", "#d62728", ""),
    ("fork", "total (kernel_clone)", "fork: total (kernel_clone)", "#1f77b4", ""),
    ("vfork", "total (kernel_clone)", "vfork: total (kernel_clone, incl. vfork wait)", "#2ca02c", ""),
    ("vfork", "copy_process (all stages)", "vfork: copy_process", "#2ca02c", "5,4"),
    ("clone_vm", "total (kernel_clone)", "CLONE_VM: total (kernel_clone)", "#9467bd", ""),
]


def svg_plot(points, what, xlabel, path, title):
    W, H, L, R, T, B = 760, 470, 80, 250, 40, 60
    pw, ph = W - L - R, H - T - B
    series = []
    for kind, st, label, color, dash in SERIES:
        pts = sorted((p["size"], stage(p, st)) for p in points if p["what"] == what and p["kind"] == kind)
        pts = [(x, y) for x, y in pts if y > 0]
        if pts:
            series.append((label, color, dash, pts))
    if not series:
        return False
    xs = [x for s in series for x, _ in s[3]]
    ys = [y for s in series for _, y in s[3]]
    x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    x1 = max(x1, x0 + 1)
    y1 = max(y1, y0 + 1)

    def px(x):
        return L + (math.log10(x) - x0) / (x1 - x0) * pw

    def py(y):
        return T + ph - (math.log10(y) - y0) / (y1 - y0) * ph

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L + pw / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    for e in range(x0, x1 + 1):
        X = px(10 ** e)
        o.append(f'<line x1="{X:.1f}" y1="{T}" x2="{X:.1f}" y2="{T + ph}" stroke="#ddd"/>')
        o.append(f'<text x="{X:.1f}" y="{T + ph + 16}" text-anchor="middle">{10 ** e:g}</text>')
    for e in range(y0, y1 + 1):
        Y = py(10 ** e)
        o.append(f'<line x1="{L}" y1="{Y:.1f}" x2="{L + pw}" y2="{Y:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{L - 6}" y="{Y + 4:.1f}" text-anchor="end">{fmt_ns(10 ** e)}</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="black"/>')
    o.append(f'<text x="{L + pw / 2}" y="{H - 20}" text-anchor="middle">{xlabel} (log)</text>')
    o.append(f'<text x="18" y="{T + ph / 2}" text-anchor="middle" '
             f'transform="rotate(-90 18 {T + ph / 2})">median time per creation, TCG (log)</text>')
    for i, (label, color, dash, pts) in enumerate(series):
        d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        da = f' stroke-dasharray="{dash}"' if dash else ""
        o.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"{da}/>')
        for x, y in pts:
            o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
        ly = T + 10 + i * 20
        o.append(f'<line x1="{L + pw + 12}" y1="{ly}" x2="{L + pw + 36}" y2="{ly}" '
                 f'stroke="{color}" stroke-width="2"{da}/>')
        o.append(f'<text x="{L + pw + 40}" y="{ly + 4}" font-size="11">{label}</text>')
    o.append(f'<text x="{L + pw + 12}" y="{T + ph}" font-size="10" fill="#555">'
             'forkscope stats, p50 per point</text>')
    o.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(o) + "\n")
    return True


def scale_section(lines, svg_dir, md_dir):
    points = parse_scale(lines)
    if not points:
        return ["No scaling results (the run failed or was skipped).\n"]
    out = []
    meta = {}
    for line in lines:
        if line.startswith("@@scale "):
            f = line.split()
            meta[(f[1], int(f[2]))] = (int(f[4]), int(f[6]))
    iters = None
    for what, unit, xlabel, fname in (("rss", "MiB", "parent RSS, MiB", "scaling-rss.svg"),
                                      ("vmas", "VMA", "parent VMA count", "scaling-vmas.svg")):
        pts = [p for p in points if p["what"] == what]
        if not pts:
            continue
        sizes = sorted({p["size"] for p in pts})
        out.append(f"#### Parent {'RSS' if what == 'rss' else 'VMA count'}\n")
        out.append(f"| {unit}s | parent VmRSS KiB / lines in maps | fork dup_mmap | fork copy_process | "
                   "fork total | vfork copy_process | vfork total | CLONE_VM copy_process | "
                   "CLONE_VM total |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        by = {(p["kind"], p["size"]): p for p in pts}
        for s in sizes:
            row = [str(s), "%s / %s" % meta.get((what, s), ("?", "?"))]
            for kind, st in (("fork", "dup_mmap"), ("fork", "copy_process (all stages)"),
                             ("fork", "total (kernel_clone)"),
                             ("vfork", "copy_process (all stages)"), ("vfork", "total (kernel_clone)"),
                             ("clone_vm", "copy_process (all stages)"),
                             ("clone_vm", "total (kernel_clone)")):
                p = by.get((kind, s))
                row.append(fmt_ns(stage(p, st)) if p else "–")
            out.append("| " + " | ".join(row) + " |")
        out.append("")
        out.append(f"Least-squares fit over the points above (p50 per point, all sizes), "
                   f"time = a + slope × {unit}s:\n")
        out.append("| series | slope per " + unit + " | intercept |")
        out.append("|---|---|---|")
        for kind, st, label, _, _ in SERIES:
            xy = [(p["size"], stage(p, st)) for p in pts if p["kind"] == kind]
            if len(xy) < 2:
                continue
            sl, ic = lsq([x for x, _ in xy], [y for _, y in xy])
            out.append(f"| {label} | {fmt_ns(sl) if sl >= 0 else '-' + fmt_ns(-sl)} | {fmt_ns(ic)} |")
        out.append("")
        if svg_plot(points, what, xlabel, os.path.join(svg_dir, fname),
                    f"Creation time vs parent {'RSS' if what == 'rss' else 'VMA count'} (QEMU TCG)"):
            rel = os.path.relpath(os.path.join(svg_dir, fname), md_dir)
            out.append(f"![stage time vs {xlabel}]({rel})\n")
    return out


# ------------------------------------------------------------------- memory
def mem_section(lines):
    rows = [kv(l) | {"phase": kv(l)["phase"]} for l in lines if l.startswith("@@mem ")]
    if not rows:
        return ["No memory results (the run failed or was skipped).\n"]
    out = ["| ring_size | phase | cxxrt live bytes | cxxrt live allocs | creations | "
           "ring_overwritten | Δ Slab KiB | Δ Percpu KiB | Δ VmallocUsed KiB | Δ MemFree KiB |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    before = {}
    for r in rows:
        ring = r["ring"]
        if r["phase"] == "before_load":
            before[ring] = r
            continue
        b = before.get(ring, {})

        def delta(key, sign=1):
            try:
                return str(sign * (int(r[key + ":"]) - int(b[key + ":"])))
            except (KeyError, ValueError):
                return "–"
        out.append(f"| {ring} | {r['phase']} | {r.get('cxxrt_live_bytes', '–')} | "
                   f"{r.get('cxxrt_live_allocs', '–')} | {r.get('creations', '–')} | "
                   f"{r.get('ring_overwritten', '–')} | {delta('Slab')} | {delta('Percpu')} | "
                   f"{delta('VmallocUsed')} | {delta('MemFree', -1)} |")
    out.append("")
    return out


RAW_DIR = ""


def main():
    global RAW_DIR
    raw, md, svg_dir = sys.argv[1:4]
    RAW_DIR = raw
    md_dir = os.path.dirname(os.path.abspath(md))
    meta = read(os.path.join(raw, "meta.txt")) or []
    out = ["# forkscope benchmarks", ""]
    out.append("Generated by `bench/report.py` from the raw guest output of one `make bench` run "
               "(kept in `build/bench/`). **All times are wall times inside a QEMU TCG guest "
               "(software emulation), not real-hardware times**: every guest instruction is "
               "emulated, page-table work especially, so absolute values are tens of times "
               "real ones and the costs of different kernel paths are distorted. Read the "
               "**ratios** between configurations measured side by side in the same boot, "
               "per workload; there is deliberately no blended figure across workloads.\n")
    out.append("## Run\n")
    out.append("```")
    out.extend(meta)
    out.append("```\n")
    out.append(open(os.path.join(os.path.dirname(__file__), "method.md"), encoding="utf-8").read())
    out.append("## Results: cost per process creation\n")
    for name, title, instructions in (
            ("perf-icount-smp1.out", "1 vCPU, 1 worker, instruction time (the primary table)", True),
            ("perf-smp1.out", "1 vCPU, 1 worker, wall time", False),
            ("perf-smp4.out", "4 vCPUs, 4 workers (one per vCPU), wall time", False)):
        lines = read(os.path.join(raw, name))
        out.extend(perf_section(lines or [], title, instructions))
        out.append("")
    out.append("## forkscope (net) against function_graph, 1 vCPU, instruction time\n")
    out.extend(cmp_section(read(os.path.join(raw, "cmp-icount.out")) or []))
    out.append("## Scaling: fork copies page tables, not pages\n")
    out.append("Parent built by `fs_bench scale` (anonymous 4 KiB pages, `MADV_NOHUGEPAGE`, "
               "every page touched; VMAs: one page each, alternating `PROT_READ` and "
               "`PROT_READ|PROT_WRITE` so neighbours cannot merge, every page touched). For each "
               "size and each of fork, vfork and `clone(CLONE_VM|SIGCHLD)`: `reset`, a filter on "
               "the benchmark's tgid, N creations, then forkscope's own `stats` (p50 per stage). "
               "vfork and CLONE_VM share the mm, so they have no `dup_mmap` stage.\n")
    out.extend(scale_section(read(os.path.join(raw, "scale.out")) or [], svg_dir, md_dir))
    out.append("## forkscope's own memory\n")
    out.append("Per `ring_size` (records per CPU), 4 vCPUs: at load, after a low-rate storm (1 "
               "worker) and after a high-rate storm (4 workers; vfork, threads, fork), and after "
               "unload. `cxxrt live bytes` is forkscope's exact allocation count from its C++ "
               "runtime (`version` file); the Δ columns are /proc/meminfo against just before "
               "the load (after `drop_caches`; noisy by a few hundred KiB).\n")
    out.extend(mem_section(read(os.path.join(raw, "mem.out")) or []))
    tail = os.path.join(os.path.dirname(__file__), "notes.md")
    if os.path.exists(tail):
        out.append(open(tail, encoding="utf-8").read())
    with open(md, "w", encoding="utf-8") as f:
        f.write("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
