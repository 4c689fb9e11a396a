// SPDX-License-Identifier: GPL-2.0
/* The tiny static program the benchmark spawns and execs: exit(0), no libc. */
void _start(void)
{
	__asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall");
	__builtin_unreachable();
}
