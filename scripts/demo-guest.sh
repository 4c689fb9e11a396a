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
echo "== $D/version"
cat $D/version
c0=$(creations); p0=$(processes)
echo "== workload"
$W fork 200
$W vfork 200
$W thread 200
$W fork-exec 100
c1=$(creations); p1=$(processes)
echo "== $D/counters"
cat $D/counters
echo "== forkscope saw $((c1 - c0)) creations; the kernel's /proc/stat 'processes' grew by $((p1 - p0))"
rmmod forkscope
echo "== rmmod forkscope: $(ls $D 2>/dev/null | wc -l) files left in $D"
