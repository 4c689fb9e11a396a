// SPDX-License-Identifier: GPL-2.0
// Included first by every core source (via -include): forbids what the
// freestanding core must not use, so a slip fails the build instead of the
// module load. Exceptions and RTTI are also off by compiler flags.
#ifndef KTL_POISON_H
#define KTL_POISON_H

#if !defined(FORKSCOPE_HOST)
#pragma GCC poison try catch throw typeid dynamic_cast
#pragma GCC poison malloc calloc realloc free printf sprintf snprintf strcpy strcat
#pragma GCC poison vector string unique_ptr shared_ptr mutex thread iostream
#endif

#endif  // KTL_POISON_H
