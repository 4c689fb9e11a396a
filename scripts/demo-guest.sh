#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo, inside the guest: load forkscope, run a small fork workload,
# and show what forkscope saw (through the forkscope CLI) next to the
# kernel's own counter.
set -e
D=/sys/kernel/debug/forkscope
W=/opt/forkscope/selftests/fs_workload
F=/opt/forkscope/forkscope
processes() { awk '/^processes/ {print $2}' /proc/stat; }
creations() { awk '/^creations/ {print $2}' $D/counters; }

echo "== insmod forkscope.ko"
insmod /opt/forkscope/forkscope.ko
c0=$(creations); p0=$(processes)
echo "== workload (times are QEMU TCG wall times, not real hardware)"
$W fork 100
$W vfork 100
$W thread 100
$W fork-exec 50
c1=$(creations); p1=$(processes)
echo "== forkscope saw $((c1 - c0)) creations; /proc/stat 'processes' grew by $((p1 - p0))"
echo
echo "== forkscope status"
$F status
echo
echo "== forkscope stat --kind fork"
$F stat --kind fork
echo
echo "== forkscope hist dup_mmap"
$F hist dup_mmap
echo
echo "== $D/trace (last fork)"
grep ' fork ' $D/trace | tail -n 1
echo
echo "== forkscope record -o /tmp/demo.jsonl -- fs_workload fork-exec 20"
$F record -o /tmp/demo.jsonl -- $W fork-exec 20
echo
echo "== forkscope report /tmp/demo.jsonl (exec part)"
$F report /tmp/demo.jsonl | awk '/^== exec/{on=1} on&&/^$/{exit} on'
$F export --folded /tmp/demo.folded /tmp/demo.jsonl
sort -k2 -n -r /tmp/demo.folded | head -n 5
rmmod forkscope
echo "== rmmod forkscope: $(ls $D 2>/dev/null | wc -l) files left in $D"
