#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""forkscope's own guest instructions, per function, between two reads of
its version file: the handler cost per creation, exactly (QEMU counts every
translated block it runs; no sampling, no timing).

Boot with the blocks of module space logged (instruction time, one vCPU):
  FORKSCOPE_ACCEL=icount FORKSCOPE_QEMU_ARGS='-d exec,nochain,in_asm
    -dfilter 0xffffffffc0000000+0x3f000000 -D /tmp/q.log' scripts/vm --smp 1 -- \\
    'insmod /opt/forkscope/forkscope.ko; cat /sys/module/forkscope/sections/.text \\
     /sys/module/forkscope/sections/.kprobes.text; cat /sys/kernel/debug/forkscope/version \\
     >/dev/null; WORKLOAD; cat /sys/kernel/debug/forkscope/version >/dev/null; rmmod forkscope'
then: bench/modprof.py /tmp/q.log forkscope.ko OPS .text=ADDR .kprobes.text=ADDR
(.text.unlikely=ADDR too if the module has it). The count starts at the first entry
of render_version and stops at the second, so the load and its calibration are left
out. Blocks outside forkscope's symbols (ftrace and optprobe trampolines, other
modules) are "other": the hooks' own machinery, which the floor also pays.
"""
import bisect
import collections
import re
import subprocess
import sys

MARKER = '_ZN9forkscope12_GLOBAL__N_114render_versionERKNS_13RenderSourcesEP14forkscope_text'


def symbols(ko, sections):
    out = subprocess.run(['objdump', '-t', ko], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        p = line.split()
        if len(p) >= 6 and p[2] == 'F' and p[3] in sections:
            syms.append((int(sections[p[3]], 16) + int(p[0], 16), p[-1]))
    return sorted(syms)


def main():
    log, ko, ops = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sections = dict(a.split('=', 1) for a in sys.argv[4:])
    syms = symbols(ko, sections)
    marker = [a for a, name in syms if name == MARKER][0]
    insns, runs = {}, collections.Counter()
    insn = re.compile(r'^0x([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s+[a-z]')
    start, count, phase = None, 0, 0
    with open(log, errors='replace') as f:
        for line in f:
            if line.startswith('Trace '):
                pc = int(line[line.find('[') + 1:].split('/')[1], 16)
                if pc == marker:
                    phase += 1
                elif phase == 1:
                    runs[pc] += 1
            elif line.startswith('IN:'):
                start, count = None, 0
            elif line.startswith('0x'):
                if insn.match(line):
                    if start is None:
                        start = int(line[2:line.index(':')], 16)
                    count += 1
            elif not line.strip() and start is not None:
                insns[start] = count  # a block's instruction count (the last translation)
                start = None
    addrs = [a for a, _ in syms]
    per = collections.Counter()
    for pc, n in runs.items():
        i = bisect.bisect_right(addrs, pc) - 1
        name = syms[i][1] if i >= 0 and pc - syms[i][0] < 0x4000 else 'other'
        per[name] += insns.get(pc, 1) * n
    names = list(per)
    plain = subprocess.run(['c++filt'], input='\n'.join(names), capture_output=True,
                           text=True).stdout.split('\n')
    own = sum(n for name, n in per.items() if name != 'other')
    print(f'forkscope instructions per op: {own / ops:.0f} (other: {per["other"] / ops:.0f})')
    for (name, n), shown in sorted(zip(per.items(), plain), key=lambda x: -x[0][1])[:40]:
        print(f'{n / ops:10.1f} {shown[:120]}')


if __name__ == '__main__':
    main()
