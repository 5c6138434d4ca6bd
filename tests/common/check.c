#include "check.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "test";
static int abort_on_fail;
static atomic_long tried, failures;
static char first[256] = "(none)";

void mpt_checks_init(const char *name, int abort_on_failure)
{
    prog = name;
    abort_on_fail = abort_on_failure;
}

void mpt_fail_at(const char *file, int line, const char *fmt, ...)
{
    long n = atomic_fetch_add(&failures, 1);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (n == 0)
        snprintf(first, sizeof first, "%s:%d: %s", base, line, why);
    if (n < MPT_REPORT_MAX)
        fprintf(stderr, "%s: FAIL %s:%d: %s\n", prog, base, line, why);
    else if (n == MPT_REPORT_MAX)
        fprintf(stderr, "%s: more failures, not shown\n", prog);
    if (abort_on_fail)
        abort();
}

void mpt_tried(long n) { atomic_fetch_add(&tried, n); }
long mpt_tried_count(void) { return atomic_load(&tried); }
long mpt_failures(void) { return atomic_load(&failures); }
const char *mpt_first_failure(void) { return first; }

int mpt_summary(const char *what)
{
    printf("%s: %ld %s tried, %ld failed\n", prog, mpt_tried_count(), what, mpt_failures());
    return mpt_failures() ? 1 : 0;
}
