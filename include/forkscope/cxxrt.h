/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The freestanding C++ runtime's C interface: the glue starts and stops it
 * and reads its accounting (live allocations must be zero after unload).
 */
#ifndef FORKSCOPE_CXXRT_H
#define FORKSCOPE_CXXRT_H

#include <forkscope/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

struct forkscope_cxxrt_stats {
	forkscope_u64 ctors_run;          /* .init_array entries run by forkscope_cxxrt_init */
	forkscope_u64 ctors_by_kernel;    /* 1: the module loader ran them (CONFIG_CONSTRUCTORS) */
	forkscope_u64 dtors_registered;   /* __cxa_atexit registrations */
	forkscope_u64 allocs;             /* successful allocations, ever */
	forkscope_u64 alloc_failures;     /* allocations that returned NULL */
	forkscope_u64 live_allocs;        /* allocations not yet freed */
	forkscope_u64 live_bytes;         /* bytes requested by live allocations */
	forkscope_u64 live_footprint_bytes; /* what the allocator holds for them (headers, rounding) */
	forkscope_u64 bad_frees;          /* frees of a pointer cxxrt never handed out */
	forkscope_u64 unchecked_allocs;   /* AllocChecker results nobody checked */
	forkscope_u64 pure_virtual_calls; /* calls to __cxa_pure_virtual */
};

typedef void (*forkscope_ctor_fn)(void);

/*
 * Run the constructors in [begin, end) in order; returns how many ran.
 * May sleep (constructors may allocate).
 */
forkscope_u64 forkscope_cxxrt_run_ctors(forkscope_ctor_fn const *begin, forkscope_ctor_fn const *end);

/*
 * Module only: run the module's own .init_array (the kernel does not without
 * CONFIG_CONSTRUCTORS; pass run_ctors = 0 when it already did). May sleep.
 */
int forkscope_cxxrt_init(int run_ctors);
/* Module only: run destructors registered through __cxa_atexit, newest first. May sleep. */
void forkscope_cxxrt_exit(void);

/* Allocation with accounting; align is a power of two. May sleep. */
void *forkscope_cxxrt_alloc(forkscope_size_t size, forkscope_size_t align);
void forkscope_cxxrt_free(void *ptr);

/* Snapshot of the counters. Any context. */
void forkscope_cxxrt_get_stats(struct forkscope_cxxrt_stats *out);

/* Non-zero once a fault (pure virtual call, bad free, unchecked allocation) happened. Any. */
int forkscope_cxxrt_faulted(void);

#ifdef __cplusplus
}
#endif

#endif /* FORKSCOPE_CXXRT_H */
