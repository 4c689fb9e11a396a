#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo, inside the guest: load forkscope, run a small fork workload,
# and show what forkscope saw next to the kernel's own counter.
set -e
D=/sys/kernel/debug/forkscope
W=/opt/forkscope/selftests/fs_workload
processes() { awk '/^processes/ {print $2}' /proc/stat; }
creations() { awk '/^creations/ {print $2}' $D/counters; }

echo "== insmod forkscope.ko"
insmod /opt/forkscope/forkscope.ko
head -n 2 $D/version
c0=$(creations); p0=$(processes)
echo "== workload (times are QEMU TCG wall times, not real hardware)"
$W fork 100
$W vfork 100
$W thread 100
$W fork-exec 50
c1=$(creations); p1=$(processes)
echo "== forkscope saw $((c1 - c0)) creations; /proc/stat 'processes' grew by $((p1 - p0))"
echo
echo "== $D/stats (kind fork)"
awk '/^== kind fork/{on=1} on&&/^$/{exit} on' $D/stats
echo
echo "== $D/hist: dup_mmap"
awk '/^@dup_mmap /{on=1} on&&/^$/{exit} on' $D/hist
echo
echo "== $D/trace (last fork)"
grep ' fork ' $D/trace | tail -n 1
echo
echo "== $D/verdicts"
head -n 6 $D/verdicts
echo
echo "== $D/counters"
head -n 12 $D/counters
rmmod forkscope
echo "== rmmod forkscope: $(ls $D 2>/dev/null | wc -l) files left in $D"
