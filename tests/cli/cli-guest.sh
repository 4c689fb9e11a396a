#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Sourced by scripts/tools-guest.sh in the guest (ok/bad/D/W are its): the
# forkscope CLI's numbers against the debugfs files it reads, record -- cmd
# capturing exactly the command's creations, its exports, and one-line
# errors with a non-zero exit for the bad situations.
F=/opt/forkscope/forkscope
cd /tmp || exit 1

# status, stat: the same numbers as counters and stats.
echo reset >$D/control
$W fork 10 >/dev/null; $W vfork 5 >/dev/null; $W thread 5 >/dev/null; $W fork-exec 5 >/dev/null
echo disable >$D/control
sleep 1
# Every process counts, even while disabled: cat's own creation is the one
# more its counters show than the status run before it.
$F status >/tmp/status.txt 2>&1 || bad "forkscope status exited $?"
cat $D/counters >/tmp/counters.txt
cat /tmp/status.txt
cr=$(awk '$1 == "creations" { print $2 }' /tmp/counters.txt)
if grep -q "^creations: $((cr - 1)) " /tmp/status.txt && grep -q '^state: *disabled' /tmp/status.txt; then
	ok "forkscope status: creations and state equal counters ($((cr - 1)))"
else
	bad "forkscope status disagrees with counters (creations $cr, then 1 more for cat)"
fi
for k in all fork vfork thread exec; do
	case $k in
	all) args= ; sec='== all kinds:' ;;
	exec) args=--exec; sec='== kind exec:' ;;
	*) args="--kind $k"; sec="== kind $k:" ;;
	esac
	# Rows of the section: name, count and the six values (ns).
	awk -v s="$sec" 'index($0, s) == 1 { on = 1; next } on && /^==/ { exit }
		on && NF >= 8 && $NF ~ /^[0-9]+$/ && $1 != "stage" { print }' $D/stats |
		sed 's/  */ /g' >/tmp/want.$k
	$F stat $args | tail -n +3 | sed 's/  */ /g' >/tmp/got.$k
	if [ -s /tmp/want.$k ] && cmp -s /tmp/want.$k /tmp/got.$k; then
		ok "forkscope stat $args: $(wc -l </tmp/got.$k) rows equal the stats file"
	else
		bad "forkscope stat $args differs from the stats file"; diff /tmp/want.$k /tmp/got.$k | head -n 5
	fi
done
# report on the live records (every record since the reset is still in the
# rings): counts and means equal the stats file's (its sums are exact).
$F report --kind fork >/tmp/report-live.txt 2>&1
want=$(awk '/^== kind fork:/ { on = 1 } on && /^total \(kernel_clone\)/ { print $3, $5; exit }' $D/stats)
got=$(awk '/^total / { print $2, $3; exit }' /tmp/report-live.txt)
if [ -n "$want" ] && [ "$want" = "$got" ]; then
	ok "forkscope report --kind fork (live): total count and mean equal stats ($got)"
else
	bad "forkscope report --kind fork: '$got', stats: '$want'"; head -n 4 /tmp/report-live.txt
fi
# copy_creds: a direct stage on every kernel (6.12 inlines dup_mmap).
$F hist copy_creds >/tmp/hist.txt
if grep -q '^@copy_creds (ns, ' /tmp/hist.txt &&
	[ "$(awk '/^@copy_creds \(/ { on = 1 } on && /^$/ { exit } on' $D/hist | head -n 5)" = "$(head -n 5 /tmp/hist.txt)" ]; then
	ok "forkscope hist copy_creds equals the hist file's block"
else
	bad "forkscope hist copy_creds"
fi

# record -- cmd: exactly the command's creations, its exit status, state restored.
echo enable >$D/control
echo 'sample 3' >$D/control
$F record -o /tmp/rec.jsonl -- $W fork 7 >/dev/null 2>/tmp/record.err
rc=$?
cat /tmp/record.err
nf=$(grep -c '"event":"fork"' /tmp/rec.jsonl)
ne=$(grep -c '"event":"exec"' /tmp/rec.jsonl)
np=$(grep -c '"event":"spawn"' /tmp/rec.jsonl)
if [ "$rc" -eq 0 ] && [ "$nf" -eq 7 ] && [ "$ne" -eq 1 ] && [ "$np" -eq 7 ]; then
	ok "record -- fs_workload fork 7: exactly 7 creations, 1 exec, 7 spawns"
else
	bad "record -- fs_workload fork 7: exit $rc, $nf creations, $ne execs, $np spawns"
fi
if grep -q '^enabled sample 3' $D/control; then
	ok "record restored the previous state (enabled, sample 3)"
else
	bad "record left the state at: $(head -n 1 $D/control)"
fi
echo 'sample 1' >$D/control
echo disable >$D/control
$F record -o /tmp/rec2.jsonl -- $W fork-exec 3 >/dev/null 2>&1
nf=$(grep -c '"event":"fork"' /tmp/rec2.jsonl)
ne=$(grep -c '"event":"exec"' /tmp/rec2.jsonl)
if [ "$nf" -eq 3 ] && [ "$ne" -eq 4 ] && grep -q '^disabled' $D/control; then
	ok "record -- fs_workload fork-exec 3: 3 creations, 4 execs (descendants too), left disabled"
else
	bad "record -- fork-exec 3: $nf creations, $ne execs, state $(head -n 1 $D/control)"
fi
$F record -o /tmp/rec3.jsonl -- sh -c 'exit 3' 2>/dev/null
rc=$?
[ "$rc" -eq 3 ] && ok "record exits with the command's status (3)" || bad "record exit $rc, not 3"

# record --duration: everything in the window.
( sleep 0.5; $W fork 4 >/dev/null ) &
$F record -o /tmp/dur.jsonl --duration 2 2>/dev/null
wait
nd=$(grep -c '"event":"fork".*"comm":"fs_workload"' /tmp/dur.jsonl)
[ "$nd" -eq 4 ] && ok "record --duration 2: the 4 creations made in the window" ||
	bad "record --duration 2: $nd creations by fs_workload, not 4"

# report, diff, export, plot on the recordings.
$F report /tmp/rec.jsonl >/tmp/report.txt 2>&1 && grep -q '^== all: 7 records' /tmp/report.txt &&
	ok "report: 7 records" || { bad "report"; head -n 5 /tmp/report.txt; }
$F diff /tmp/rec.jsonl /tmp/rec2.jsonl >/tmp/diff.txt 2>&1 && grep -q '^total ' /tmp/diff.txt &&
	ok "diff: per-stage table" || { bad "diff"; head -n 5 /tmp/diff.txt; }
$F export --perfetto /tmp/rec.json /tmp/rec.jsonl 2>/dev/null && grep -q '"traceEvents"' /tmp/rec.json &&
	ok "export --perfetto ($(wc -c </tmp/rec.json) bytes)" || bad "export --perfetto"
$F export --folded /tmp/rec.folded /tmp/rec.jsonl 2>/dev/null &&
	grep -q ';fork;kernel_clone;copy_process;copy_creds ' /tmp/rec.folded &&
	ok "export --folded ($(wc -l </tmp/rec.folded) stacks)" || bad "export --folded"
$F plot --svg /tmp/rec.svg /tmp/rec.jsonl 2>/dev/null && grep -q '</svg>' /tmp/rec.svg &&
	ok "plot --svg" || bad "plot --svg"
$F top -n 1 -i 0.5 >/tmp/top.txt 2>&1 && grep -q '^forkscope top' /tmp/top.txt &&
	ok "top -n 1" || { bad "top"; cat /tmp/top.txt; }
echo enable >$D/control
( sleep 1; $W fork 3 >/dev/null ) &
$F trace --count 3 >/tmp/trace.txt 2>&1
wait
[ "$(grep -c '^#[0-9]' /tmp/trace.txt)" -eq 3 ] && ok "trace --count 3" || { bad "trace"; cat /tmp/trace.txt; }
echo disable >$D/control

# Bad situations: one line, non-zero exit.
one_line_error() { # WHAT WORDS COMMAND...
	what=$1 words=$2
	shift 2
	"$@" >/tmp/err.out 2>/tmp/err.txt
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$(wc -l </tmp/err.txt)" -eq 1 ] && grep -q "$words" /tmp/err.txt; then
		ok "$what: one line, exit $rc: $(cat /tmp/err.txt)"
	else
		bad "$what: exit $rc: $(cat /tmp/err.txt)"
	fi
}
head -c 300 /tmp/rec.jsonl >/tmp/cut.jsonl
one_line_error "truncated recording" "truncated" $F report /tmp/cut.jsonl
sed 's/"forkscope_recording":1/"forkscope_recording":9/' /tmp/rec.jsonl >/tmp/other.jsonl
one_line_error "recording from another version" "format 9" $F report /tmp/other.jsonl
one_line_error "not root" "root" su nobody -s /bin/sh -c "$F status"
rmmod forkscope
one_line_error "module not loaded" "not loaded" $F status
umount /sys/kernel/tracing 2>/dev/null
umount /sys/kernel/debug
one_line_error "debugfs not mounted" "debugfs is not mounted" $F status
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
insmod /opt/forkscope/forkscope.ko
cd / || exit 1
