#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# forkscope benchmark, guest side (busybox sh). Run by scripts/bench through
# scripts/vm. Every result line starts with @@ and is parsed on the host.
#
#   bench-guest.sh perf ROUNDS ITERS_PCT WORKERS CONFIGS   configurations x workloads
#   bench-guest.sh scale ITERS                              RSS and VMA scaling
#   bench-guest.sh mem ITERS                                forkscope's memory per ring_size
#   bench-guest.sh compare ROUNDS FORKS                     forkscope (net) against function_graph
set -u
A=/opt/forkscope/add
KO=/opt/forkscope/forkscope.ko
FS=/sys/kernel/debug/forkscope
T=/sys/kernel/debug/tracing
B=$A/fs_bench
export FS_TRUE=$A/fs_true
[ -d $T/events ] || T=/sys/kernel/tracing

say() { echo "@@$*"; }

# The anchors forkscope registers, as resolved on this kernel (its stages
# file); load_elf_binary is skipped for ftrace (the name is not unique).
anchors() {
	insmod $KO || exit 1
	awk '/^anchor +symbol/ { on = 1; next } on && $3 == "yes" && $2 != "load_elf_binary" { print $2 }' $FS/stages
	rmmod forkscope
}

ftrace_kprobe_on() {
	i=0
	for s in $ANCHORS; do
		n=$(echo "$s" | tr . _)
		echo "p:fsb/p_$n $s" >>$T/kprobe_events || say "warn kprobe_event p $s"
		echo "r:fsb/r_$n $s" >>$T/kprobe_events || say "warn kprobe_event r $s"
		i=$((i + 1))
	done
	# copy_process latency: entry timestamp per task, a synthetic event at
	# the return, a histogram of it.
	echo 'cp_lat u64 lat' >>$T/synthetic_events
	echo 'hist:keys=common_pid:ts0=common_timestamp' >$T/events/fsb/p_copy_process/trigger
	echo 'hist:keys=common_pid:lat=common_timestamp-$ts0:onmatch(fsb.p_copy_process).trace(cp_lat,$lat)' \
		>$T/events/fsb/r_copy_process/trigger
	echo 'hist:keys=lat.log2:sort=lat' >$T/events/synthetic/cp_lat/trigger
	echo 1 >$T/events/fsb/enable
	echo 1 >$T/events/synthetic/cp_lat/enable
	echo 1 >$T/tracing_on
}

ftrace_kprobe_off() {
	echo 0 >$T/events/fsb/enable
	echo 0 >$T/events/synthetic/cp_lat/enable
	echo '!hist:keys=lat.log2:sort=lat' >>$T/events/synthetic/cp_lat/trigger
	echo '!hist:keys=common_pid:lat=common_timestamp-$ts0:onmatch(fsb.p_copy_process).trace(cp_lat,$lat)' \
		>>$T/events/fsb/r_copy_process/trigger
	echo '!hist:keys=common_pid:ts0=common_timestamp' >>$T/events/fsb/p_copy_process/trigger
	echo '!cp_lat' >>$T/synthetic_events
	echo >$T/kprobe_events || say "warn kprobe_events not cleared"
	echo >$T/trace
}

# bpftrace (Debian's, brought in with its libraries by scripts/bench): the
# same anchors, entry timestamp per (thread, function), a latency histogram
# per function at the return: per-stage histograms as bpftrace users write them.
BT=/usr/bin/bpftrace
bpftrace_on() {
	[ -x $BT ] || { say "warn bpftrace not in the guest"; return 1; }
	# Per-anchor maps: in 6.1 kretprobes, bpftrace's func builtin does not
	# name the probed function (rethook), so it cannot key one shared map.
	printf '%s\n' 'BEGIN { printf("ready\n"); }' >/tmp/fsb.bt
	for s in $ANCHORS; do
		n=$(echo "$s" | tr . _)
		cat >>/tmp/fsb.bt <<BT
kprobe:$s { @s_$n[tid] = nsecs; }
kretprobe:$s /@s_$n[tid]/ { @ns_$n = hist(nsecs - @s_$n[tid]); delete(@s_$n[tid]); }
BT
	done
	# No stale "ready" from a previous round: the redirection below is
	# done by the child, possibly after the first grep.
	: >/tmp/fsb.bt.out
	t0=$(date +%s)
	$BT /tmp/fsb.bt >/tmp/fsb.bt.out 2>&1 &
	BT_PID=$!
	while ! grep -q '^ready' /tmp/fsb.bt.out; do
		if ! kill -0 $BT_PID 2>/dev/null || [ $(($(date +%s) - t0)) -gt 600 ]; then
			say "warn bpftrace did not start: $(tr '\n' ' ' </tmp/fsb.bt.out | cut -c1-600)"
			kill -INT $BT_PID 2>/dev/null
			wait $BT_PID
			return 1
		fi
		sleep 1
	done
	say "check bpftrace started_in_s=$(($(date +%s) - t0)) $(head -n1 /tmp/fsb.bt.out)"
}

bpftrace_off() {
	kill -INT $BT_PID 2>/dev/null
	wait $BT_PID
	say "check bpftrace histograms=$(grep -c '^@ns_' /tmp/fsb.bt.out) copy_process_samples=$(awk '/^@ns_copy_process:/ { on = 1; next } on && /^$/ { exit } on && /^\[/ { sub(/\|.*/, ""); n += $NF } END { print n + 0 }' /tmp/fsb.bt.out)"
}

# Hook hits so far (entries + returns of every anchor), while forkscope is loaded.
plan_hits() {
	[ -r $FS/counters ] && awk '$1 == "probe" { h += $6 + $18 } END { print h + 0 }' $FS/counters
}
creations() {
	[ -r $FS/counters ] && awk '$1 == "creations" { print $2 }' $FS/counters
}
# The overhead forkscope's own calibration predicts from its hits so far (ns).
plan_predicted() {
	[ -r $FS/calibration ] && awk '$1 == "predicted_overhead_ns" { print $2 }' $FS/calibration
}
# The load's calibration runs in the background: measure only once it is done.
insmod_calibrated() {
	insmod $KO "$@" || return 1
	i=0
	while [ $i -lt 60 ] && grep -q '^calibration pending' $FS/calibration 2>/dev/null; do
		sleep 1
		i=$((i + 1))
	done
	say "calibration $(head -n1 $FS/calibration 2>/dev/null) $(grep '^check ' $FS/calibration 2>/dev/null | tr '\n' ' ')"
}

# Disarming follows a disable 100 ms later and is slow under TCG (README):
# wait until no kprobe is armed and failure counting is paused, then 1 s
# more for the kprobe optimizer's and RCU's tail.
wait_disarmed() {
	i=0
	while [ $i -lt 60 ]; do
		grep -q '^failures_paused 1$' $FS/counters &&
			! grep -v DISABLED /sys/kernel/debug/kprobes/list | grep -q . && break
		sleep 1
		i=$((i + 1))
	done
	sleep 1
	say "check disabled armed_kprobes $(grep -vc DISABLED /sys/kernel/debug/kprobes/list) $(grep '^failures_paused ' $FS/counters)"
}

setup() {
	case $1 in
	baseline) ;;
	disabled) insmod_calibrated && echo disable >$FS/control && wait_disarmed ;;
	enabled) insmod_calibrated ;;
	summary) insmod_calibrated detail=summary ;;
	events) insmod_calibrated && echo 1 >$T/events/forkscope/enable ;;
	floor) insmod_calibrated probe_mode=floor ;;
	kretprobe) insmod_calibrated mechanism=kretprobe ;;
	floor_kretprobe) insmod_calibrated probe_mode=floor mechanism=kretprobe ;;
	fgraph)
		echo kernel_clone >$T/set_graph_function
		echo function_graph >$T/current_tracer
		echo 1 >$T/tracing_on ;;
	kprobe_hist) ftrace_kprobe_on ;;
	bpftrace) bpftrace_on ;;
	*) say "warn unknown config $1"; return 1 ;;
	esac
}

teardown() {
	case $1 in
	disabled | enabled | summary | floor | kretprobe | floor_kretprobe | events)
		# Counters first: proof the configuration was what it claims.
		case $1 in enabled | summary | kretprobe)
			say "check $1 recorded $(awk '$1 == "recorded" { print $2 }' $FS/counters)" ;;
		esac
		if [ "$1" = events ]; then
			echo 0 >$T/events/forkscope/enable
			say "check events recorded $(awk '$1 == "recorded" { print $2 }' $FS/counters) events_in_buffer $(grep -c ': fork: ' $T/trace)"
			echo >$T/trace
		fi
		rmmod forkscope ;;
	fgraph)
		echo nop >$T/current_tracer
		echo >$T/set_graph_function
		echo >$T/trace ;;
	kprobe_hist)
		say "check kprobe_hist cp_lat_hits $(grep -m1 '^Totals' -A1 $T/events/synthetic/cp_lat/hist | tr '\n' ' ')"
		ftrace_kprobe_off ;;
	bpftrace) [ -z "${BT_PID:-}" ] || bpftrace_off ;;
	esac
}

perf() {
	rounds=$1 pct=$2 workers=$3 configs=$4
	ANCHORS=$(anchors)
	say "anchors $(echo $ANCHORS | wc -w) $(echo $ANCHORS)"
	# workload base_iterations (per worker, at 100 %)
	set -- fork 200 vfork 1000 spawn 200 thread 1000 clone3_newuts 200 forkexec 150
	wl="$*"
	r=1
	while [ $r -le "$rounds" ]; do
		for c in $configs; do
			t0=$(date +%s)
			BT_PID=
			setup "$c" || { say "warn setup $c failed"; teardown "$c"; continue; }
			set -- $wl
			while [ $# -ge 2 ]; do
				w=$1 n=$(($2 * pct / 100 / workers))
				[ $n -ge 10 ] || n=10
				shift 2
				h0=$(plan_hits) c0=$(creations) p0=$(plan_predicted)
				$B run "$w" $n 3 "$workers" | while read -r a b c2 d; do
					[ "$a" = rep ] && say "res round=$r config=$c workload=$w workers=$workers iters=$n rep=$b ns_per_op=$d"
				done
				[ -z "$h0" ] || say "hits round=$r config=$c workload=$w hooks=$(($(plan_hits) - h0)) creations=$(($(creations) - c0))${p0:+ predicted_ns=$(($(plan_predicted) - p0))}"
			done
			teardown "$c"
			say "time round=$r config=$c seconds=$(($(date +%s) - t0))"
		done
		r=$((r + 1))
	done
}

# forkscope (net, from stats_net) against function_graph on the same
# functions, the same forks, interleaved round by round in one boot: per
# round and function, each tool's median and mean (function_graph: of the
# durations it printed; set_ftrace_filter makes each function a leaf).
CMP_FUNCS="dup_mmap copy_creds alloc_pid"
fgraph_stats() { # function: "n=N median_ns=M mean_ns=A" from the trace
	awk -v f="$1();" '$NF == f { for (i = 2; i <= NF; i++) if ($i == "us") print $(i - 1) * 1000 }' $T/trace |
		sort -n | awk '{ v[NR] = $1; s += $1 } END { if (NR) printf "n=%d median_ns=%d mean_ns=%d", NR, v[int((NR + 1) / 2)], s / NR; else printf "n=0" }'
}

compare() {
	rounds=$1 forks=$2 r=1
	while [ $r -le "$rounds" ]; do
		t0=$(date +%s)
		# One at a time: a name this kernel lacks (inlined) must not leave
		# the filter empty, which would trace every function.
		echo >$T/set_ftrace_filter
		funcs=
		for f in $CMP_FUNCS; do
			if echo "$f" >>$T/set_ftrace_filter 2>/dev/null; then
				funcs="$funcs $f"
			else
				say "warn no ftrace function $f"
			fi
		done
		[ -n "$funcs" ] || return 1
		echo function_graph >$T/current_tracer
		echo >$T/trace
		echo 1 >$T/tracing_on
		$B run fork "$forks" 1 1 >/dev/null
		echo 0 >$T/tracing_on
		for f in $funcs; do
			say "cmp round=$r tool=fgraph func=$f $(fgraph_stats $f)"
		done
		echo nop >$T/current_tracer
		echo >$T/set_ftrace_filter
		echo >$T/trace
		echo 1 >$T/tracing_on
		insmod_calibrated || return 1
		echo reset >$FS/control
		$B run fork "$forks" 1 1 >/dev/null
		for f in $CMP_FUNCS; do
			say "cmp round=$r tool=forkscope func=$f $(awk -v f=$f '/^== creations/ { on = 1 } /^== execs/ { on = 0 } on && $1 == f { printf "n=%d raw_median_ns=%d bias_ns=%d median_ns=%d mean_ns=%d spread_ns=%d", $2, $4, $5, $7, $6, $8 }' $FS/stats_net)"
		done
		rmmod forkscope
		say "time round=$r config=compare seconds=$(($(date +%s) - t0))"
		r=$((r + 1))
	done
}

scale() {
	iters=$1
	insmod $KO || exit 1
	for mib in 1 4 16 64 256 1024; do
		$B scale rss $mib "$iters"
	done
	for n in 10 100 1000 3000 10000; do
		$B scale vmas $n "$iters"
	done
	rmmod forkscope
}

meminfo() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	awk '/^(MemFree|Slab|SUnreclaim|Percpu|VmallocUsed):/ { printf "%s=%s ", $1, $2 }' /proc/meminfo
}

mem() {
	iters=$1
	for ring in 16 1024 16384; do
		say "mem ring=$ring phase=before_load $(meminfo)"
		insmod $KO ring_size=$ring || continue
		say "mem ring=$ring phase=loaded $(meminfo) $(awk '/^cxxrt_live/ { printf "%s=%s ", $1, $2 }' $FS/version) $(dmesg | grep 'forkscope: loaded' | tail -n1 | sed 's/.*: //')"
		for rate in low high; do
			t0=$(date +%s)
			if [ $rate = low ]; then
				$B run vfork "$iters" 1 1 >/dev/null
				$B run fork $((iters / 5)) 1 1 >/dev/null
			else
				$B run vfork "$iters" 1 4 >/dev/null
				$B run thread "$iters" 1 4 >/dev/null
				$B run fork $((iters / 5)) 1 4 >/dev/null
			fi
			say "mem ring=$ring phase=after_${rate}_storm seconds=$(($(date +%s) - t0)) $(meminfo) $(awk '/^cxxrt_live/ { printf "%s=%s ", $1, $2 }' $FS/version) $(awk '$1 == "creations" || $1 == "recorded" || $1 == "ring_overwritten" { printf "%s=%s ", $1, $2 }' $FS/counters)"
		done
		rmmod forkscope
		say "mem ring=$ring phase=unloaded $(meminfo)"
	done
}

mode=$1
shift
say "begin $mode $(uname -r) nproc=$(nproc) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
"$mode" "$@"
say "end $mode"
