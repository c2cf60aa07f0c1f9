#ifndef CMALLOC_SHIM_H
#define CMALLOC_SHIM_H
// glibc's allocator tuning (mallopt), which the Glibc module does not import.
#include <malloc.h>

static const int CMALLOC_ARENA_MAX = M_ARENA_MAX;
static const int CMALLOC_MMAP_THRESHOLD = M_MMAP_THRESHOLD;
#endif
