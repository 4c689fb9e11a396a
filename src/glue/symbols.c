// SPDX-License-Identifier: GPL-2.0
/*
 * Resolves the core's anchor table (one table of every kernel function
 * forkscope probes, with older kernels' names) against the running kernel
 * at load, tolerating compiler suffixes such as .isra.0.
 */
#include <linux/kprobes.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <forkscope/core.h>

#include "glue.h"

struct forkscope_symbol {
	unsigned long address;
	char resolved[64];	/* the name actually found, with suffix */
};

static struct forkscope_symbol *forkscope_symbols;
static unsigned int forkscope_nr_symbols;
/* Data the verdict reads; optional (a Debian patch). */
static const int *forkscope_userns_clone;
static unsigned long (*forkscope_lookup)(const char *name);

/* Suffixes GCC adds to specialised copies of a static function. */
static const char *const forkscope_clone_suffixes[] = {
	"", ".isra.0", ".isra.1", ".constprop.0", ".constprop.1", ".part.0",
};

typedef unsigned long (*forkscope_kallsyms_lookup_fn)(const char *name);

/*
 * kallsyms_lookup_name is not exported since 5.7; a kprobe on it reports
 * its address, the usual way for tracing modules to reach it.
 */
static forkscope_kallsyms_lookup_fn forkscope_find_kallsyms_lookup(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	forkscope_kallsyms_lookup_fn fn;

	if (register_kprobe(&kp) < 0)
		return NULL;
	fn = (forkscope_kallsyms_lookup_fn)kp.addr;
	unregister_kprobe(&kp);
	return fn;
}

static bool forkscope_name_denied(const char *deny_list, const char *name)
{
	size_t len = strlen(name);
	const char *p = deny_list;

	while (p && *p) {
		const char *end = strchrnul(p, ',');

		if ((size_t)(end - p) == len && !strncmp(p, name, len))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

/* Init text, freed after boot; [0, 0) when the kernel does not say. */
static unsigned long forkscope_init_text_start, forkscope_init_text_end;

/*
 * Names are not unique: init/main.c's __init mm_init() shares its name with
 * fork.c's, which a debug build renames mm_init.isra.0. A name that resolves
 * into freed init text is never the function we want; try the next suffix.
 */
static bool forkscope_in_init_text(unsigned long addr)
{
	return addr >= forkscope_init_text_start && addr < forkscope_init_text_end;
}

static unsigned long forkscope_lookup_one(forkscope_kallsyms_lookup_fn lookup,
				   const char *base, char *resolved, size_t size)
{
	char candidate[64];
	unsigned long addr;
	int i;

	for (i = 0; i < ARRAY_SIZE(forkscope_clone_suffixes); i++) {
		if (snprintf(candidate, sizeof(candidate), "%s%s", base,
			     forkscope_clone_suffixes[i]) >= sizeof(candidate))
			continue;
		addr = lookup(candidate);
		if (addr && forkscope_in_init_text(addr)) {
			pr_info("%s resolves into init text; not the one to probe\n",
				candidate);
			continue;
		}
		if (addr) {
			strscpy(resolved, candidate, size);
			return addr;
		}
	}
	return 0;
}

/*
 * Resolves every anchor; names in deny_list (comma-separated) are treated
 * as absent, so tests can show what happens on a kernel that lacks them.
 * Returns -ENOENT naming the first missing required symbol.
 */
int forkscope_symbols_resolve(const char *deny_list)
{
	forkscope_kallsyms_lookup_fn lookup = forkscope_find_kallsyms_lookup();
	unsigned int id, alt;

	if (!lookup) {
		pr_err("cannot find kallsyms_lookup_name; refusing to load\n");
		return -ENOENT;
	}
	forkscope_lookup = lookup;
	forkscope_init_text_start = lookup("_sinittext");
	forkscope_init_text_end = lookup("_einittext");
	if (!forkscope_init_text_start || forkscope_init_text_end <= forkscope_init_text_start)
		forkscope_init_text_start = forkscope_init_text_end = 0;
	forkscope_nr_symbols = forkscope_core_anchor_count();
	forkscope_symbols = kcalloc(forkscope_nr_symbols, sizeof(*forkscope_symbols), GFP_KERNEL);
	if (!forkscope_symbols)
		return -ENOMEM;
	for (id = 0; id < forkscope_nr_symbols; id++) {
		struct forkscope_symbol *sym = &forkscope_symbols[id];
		struct forkscope_anchor_desc desc;

		forkscope_core_anchor_describe(id, &desc);
		for (alt = 0; alt < FORKSCOPE_ANCHOR_NAMES && desc.names[alt]; alt++) {
			if (forkscope_name_denied(deny_list, desc.names[alt]))
				continue;
			sym->address = forkscope_lookup_one(lookup, desc.names[alt],
						     sym->resolved,
						     sizeof(sym->resolved));
			if (sym->address)
				break;
		}
		if (!sym->address && desc.required) {
			pr_err("required kernel symbol %s not found; refusing to load\n",
			       desc.names[0]);
			kfree(forkscope_symbols);
			forkscope_symbols = NULL;
			return -ENOENT;
		}
		if (!sym->address)
			pr_notice("kernel symbol %s not found: its stage merges into its neighbour (see stages)\n",
				  desc.names[0]);
	}
	forkscope_userns_clone = forkscope_name_denied(deny_list, "unprivileged_userns_clone") ? NULL :
			  (const int *)lookup("unprivileged_userns_clone");
	return 0;
}

/* Traceable (this file keeps ftrace's flags) and never called. */
noinline void forkscope_ftrace_parking(void)
{
	barrier();
}

const int *forkscope_unprivileged_userns_clone(void)
{
	return forkscope_userns_clone;
}

unsigned long forkscope_symbol_lookup(const char *name)
{
	return forkscope_lookup ? forkscope_lookup(name) : 0;
}

void forkscope_symbols_release(void)
{
	forkscope_lookup = NULL;
	kfree(forkscope_symbols);
	forkscope_symbols = NULL;
}

unsigned long forkscope_symbol_address(unsigned int anchor)
{
	return anchor < forkscope_nr_symbols ? forkscope_symbols[anchor].address : 0;
}

const char *forkscope_symbol_name(unsigned int anchor)
{
	if (anchor >= forkscope_nr_symbols || !forkscope_symbols[anchor].address)
		return NULL;
	return forkscope_symbols[anchor].resolved;
}
