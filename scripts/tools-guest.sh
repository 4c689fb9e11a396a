#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# scripts/tools-check, inside the guest: forkscope's trace events through
# Debian's trace-cmd and perf (record, then report/script parses every
# event), and the forkscope CLI (build/forkscope) against the debugfs files.
D=/sys/kernel/debug/forkscope
W=/opt/forkscope/selftests/fs_workload
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "tools: ok: $*"; }
bad() { fail=$((fail + 1)); echo "tools: FAIL: $*"; }

# "GOOD N": of N event lines, GOOD have stages=A B C ... summing to total_ns.
stages_sum() {
	awk '{
		total = -1; sum = 0; on = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^total_ns=/) { total = substr($i, 10) + 0 }
			if ($i ~ /^stages=/) { on = 1; sum += substr($i, 8) + 0; continue }
			if (on && $i ~ /^[0-9]+$/) sum += $i; else on = 0
		}
		n++; if (total >= 0 && sum == total) good++
	} END { print good + 0, n + 0 }'
}

# trace-cmd, perf and their libraries were copied to /opt/tcmd by scripts/tools-check.
[ -d /opt/tcmd ] && cp -a /opt/tcmd/. /
insmod /opt/forkscope/forkscope.ko || bad "insmod forkscope.ko"

# ------------------------------------------------------------- trace-cmd
if command -v trace-cmd >/dev/null; then
	cd /tmp || exit 1
	if trace-cmd record -q -o /tmp/fs.dat -e forkscope $W fork-exec 5 >/tmp/record.out 2>&1; then
		ok "trace-cmd record -e forkscope"
	else
		bad "trace-cmd record failed:"; tail -n 5 /tmp/record.out
	fi
	trace-cmd report -i /tmp/fs.dat >/tmp/report.txt 2>/tmp/report.err
	nfork=$(grep -c ' fork: .*seq=' /tmp/report.txt)
	nexec=$(grep -c ' exec: .*seq=' /tmp/report.txt)
	nspawn=$(grep -c ' spawn: .*seq=' /tmp/report.txt)
	nbad=$(grep -ci 'FAILED TO PARSE\|unknown\|bad' /tmp/report.txt)
	echo "tools: trace-cmd report: $nfork fork, $nexec exec, $nspawn spawn events"
	grep ' fork: ' /tmp/report.txt | head -n 1
	if [ "$nfork" -ge 5 ] && [ "$nexec" -ge 5 ] && [ "$nspawn" -ge 5 ] && [ "$nbad" -eq 0 ]; then
		ok "trace-cmd report parses the forkscope events ($nfork fork, $nexec exec, $nspawn spawn)"
	else
		bad "trace-cmd report: $nfork fork, $nexec exec, $nspawn spawn, $nbad unparsed"
		head -n 5 /tmp/report.txt /tmp/report.err
	fi
	# trace-cmd prints the stages array as numbers: they sum to total_ns.
	set -- $(grep -E ' (fork|exec): ' /tmp/report.txt | stages_sum)
	if [ "$2" -gt 0 ] && [ "$1" -eq "$2" ]; then
		ok "trace-cmd report: the stages array sums to total_ns in all $2 fork/exec events"
	else
		bad "trace-cmd report: stages sum to total_ns in $1 of $2 fork/exec events"
	fi
	cd / || exit 1
else
	bad "trace-cmd is not in the guest"
fi

# ------------------------------------------------------------- perf
if command -v perf >/dev/null; then
	cd /tmp || exit 1
	if perf record -q -o /tmp/perf.data -e 'forkscope:*' $W fork-exec 5 >/tmp/perf.out 2>&1; then
		ok "perf record -e 'forkscope:*'"
	else
		bad "perf record failed:"; tail -n 5 /tmp/perf.out
	fi
	perf script -i /tmp/perf.data >/tmp/perf.txt 2>/tmp/perf.err
	pfork=$(grep -c 'forkscope:fork: .*seq=' /tmp/perf.txt)
	pexec=$(grep -c 'forkscope:exec: .*seq=' /tmp/perf.txt)
	pspawn=$(grep -c 'forkscope:spawn: .*seq=' /tmp/perf.txt)
	pbad=$(grep -ci 'FAILED TO PARSE' /tmp/perf.txt)
	grep 'forkscope:fork: ' /tmp/perf.txt | head -n 1 | cut -c1-300
	if [ "$pfork" -ge 5 ] && [ "$pexec" -ge 5 ] && [ "$pspawn" -ge 5 ] && [ "$pbad" -eq 0 ]; then
		ok "perf script parses the forkscope events ($pfork fork, $pexec exec, $pspawn spawn)"
	else
		bad "perf script: $pfork fork, $pexec exec, $pspawn spawn, $pbad unparsed"
		head -n 3 /tmp/perf.txt /tmp/perf.err
	fi
	set -- $(grep -E 'forkscope:(fork|exec): ' /tmp/perf.txt | stages_sum)
	if [ "$2" -gt 0 ] && [ "$1" -eq "$2" ]; then
		ok "perf script: the stages array sums to total_ns in all $2 fork/exec events"
	else
		bad "perf script: stages sum to total_ns in $1 of $2 fork/exec events"
	fi
	cd / || exit 1
else
	bad "perf is not in the guest"
fi

# ------------------------------------------------------------- the CLI
if [ -x /opt/forkscope/forkscope ] && [ -f /opt/forkscope/cli-guest.sh ]; then
	. /opt/forkscope/cli-guest.sh
fi

rmmod forkscope || bad "rmmod forkscope"
echo "tools-summary: pass=$pass fail=$fail"
[ "$fail" -eq 0 ]
