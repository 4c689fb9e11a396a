// SPDX-License-Identifier: GPL-2.0
/*
 * The one table of kernel symbols forkscope depends on, resolved by name at
 * load. Kernel-version differences live here (alternate names, compiler
 * suffixes such as .isra.0), not in #ifs across the sources.
 */
#include <linux/kprobes.h>
#include <linux/string.h>

#include "glue.h"

#define FS_MAX_ALTERNATES 3

struct fs_symbol {
	const char *names[FS_MAX_ALTERNATES];	/* newest kernel's name first */
	bool required;
	unsigned long address;
	char resolved[64];	/* the name actually found, with suffix */
};

static struct fs_symbol fs_symbols[FS_SYM_COUNT] = {
	[FS_SYM_KERNEL_CLONE] = {
		.names = { "kernel_clone", "_do_fork" },
		.required = true,
	},
};

/* Suffixes GCC adds to specialised copies of a static function. */
static const char *const fs_clone_suffixes[] = {
	"", ".isra.0", ".isra.1", ".constprop.0", ".constprop.1", ".part.0",
};

typedef unsigned long (*fs_kallsyms_lookup_fn)(const char *name);

/*
 * kallsyms_lookup_name is not exported since 5.7; a kprobe on it reports
 * its address, the usual way for tracing modules to reach it.
 */
static fs_kallsyms_lookup_fn fs_find_kallsyms_lookup(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	fs_kallsyms_lookup_fn fn;

	if (register_kprobe(&kp) < 0)
		return NULL;
	fn = (fs_kallsyms_lookup_fn)kp.addr;
	unregister_kprobe(&kp);
	return fn;
}

static bool fs_name_denied(const char *deny_list, const char *name)
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

static unsigned long fs_lookup_one(fs_kallsyms_lookup_fn lookup,
				   const char *base, char *resolved, size_t size)
{
	static char candidate[KSYM_NAME_LEN];
	unsigned long addr;
	int i;

	for (i = 0; i < ARRAY_SIZE(fs_clone_suffixes); i++) {
		snprintf(candidate, sizeof(candidate), "%s%s", base,
			 fs_clone_suffixes[i]);
		addr = lookup(candidate);
		if (addr) {
			strscpy(resolved, candidate, size);
			return addr;
		}
	}
	return 0;
}

/*
 * Resolves every symbol; names in deny_list (comma-separated) are treated as
 * absent, so tests can show what happens on a kernel that lacks them.
 * Returns -ENOENT naming the first missing required symbol.
 */
int fs_symbols_resolve(const char *deny_list)
{
	fs_kallsyms_lookup_fn lookup = fs_find_kallsyms_lookup();
	int id, alt;

	if (!lookup) {
		pr_err("cannot find kallsyms_lookup_name; refusing to load\n");
		return -ENOENT;
	}
	for (id = 0; id < FS_SYM_COUNT; id++) {
		struct fs_symbol *sym = &fs_symbols[id];

		sym->address = 0;
		sym->resolved[0] = '\0';
		for (alt = 0; alt < FS_MAX_ALTERNATES && sym->names[alt]; alt++) {
			if (fs_name_denied(deny_list, sym->names[alt]))
				continue;
			sym->address = fs_lookup_one(lookup, sym->names[alt],
						     sym->resolved,
						     sizeof(sym->resolved));
			if (sym->address)
				break;
		}
		if (!sym->address && sym->required) {
			pr_err("required kernel symbol %s not found; refusing to load\n",
			       sym->names[0]);
			return -ENOENT;
		}
		if (!sym->address)
			pr_notice("optional kernel symbol %s not found\n",
				  sym->names[0]);
	}
	return 0;
}

unsigned long fs_symbol_address(enum fs_symbol_id id)
{
	return fs_symbols[id].address;
}

const char *fs_symbol_name(enum fs_symbol_id id)
{
	return fs_symbols[id].resolved[0] ? fs_symbols[id].resolved :
					    fs_symbols[id].names[0];
}
