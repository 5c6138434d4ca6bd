#include "alloc_count.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void __libc_free(void *p);
void *__libc_memalign(size_t align, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);
void *memalign(size_t align, size_t size);
void *valloc(size_t size);
void *pvalloc(size_t size);

static atomic_int counting;
static atomic_long allocations;

static void count_one(void)
{
    if (atomic_load_explicit(&counting, memory_order_relaxed))
        atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
}

void *malloc(size_t size)
{
    count_one();
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    count_one();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    count_one();
    return __libc_realloc(p, size);
}

void free(void *p)
{
    __libc_free(p);
}

void *memalign(size_t align, size_t size)
{
    count_one();
    return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    count_one();
    return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    count_one();
    void *p = __libc_memalign(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t size)
{
    count_one();
    return __libc_valloc(size);
}

void *pvalloc(size_t size)
{
    count_one();
    return __libc_pvalloc(size);
}

void mpt_alloc_count_start(void)
{
    atomic_store(&allocations, 0);
    atomic_store(&counting, 1);
}

long mpt_alloc_count_stop(void)
{
    atomic_store(&counting, 0);
    return atomic_load(&allocations);
}

int mpt_alloc_count_probe(void)
{
    /* Called through a pointer, so that the compiler cannot expand it. */
    char *(*volatile dup)(const char *) = strdup;
    mpt_alloc_count_start();
    char *p = dup("probe");
    long n = mpt_alloc_count_stop();
    free(p);
    return n == 1 ? 0 : -1;
}
