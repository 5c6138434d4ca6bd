/*
 * The checks of micropool's test programs, on any thread: each failure is
 * counted and, up to MPT_REPORT_MAX of them, printed on stderr with its
 * file and line; the program ends with mpt_summary(). The Criterion suite
 * (unit/support.h) records its pool-thread checks here too.
 *
 *   MPT_EXPECT(call, want)       an int result must equal `want`
 *   MPT_CHECK(cond)              a condition; the reason is its text
 *   MPT_CHECKF(cond, fmt, ...)   a condition, with a printf-style reason
 *   MPT_FAILF(fmt, ...)          a failure found by the caller's own test
 *
 * Every MPT_EXPECT counts as one check tried; mpt_tried() adds others.
 */
#ifndef MPT_CHECK_H
#define MPT_CHECK_H

#define MPT_REPORT_MAX 30

/* The program's name, which starts each line printed (default "test"),
 * and whether a failure aborts at once (a fuzz target must crash). */
void mpt_checks_init(const char *name, int abort_on_failure);

void mpt_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mpt_tried(long n);
long mpt_tried_count(void);
long mpt_failures(void);
/* "file:line: reason" of the first failure, "(none)" before one. */
const char *mpt_first_failure(void);
/* Prints "<name>: <tried> <what> tried, <failures> failed" and returns the
 * exit status: 0 when nothing failed, else 1. */
int mpt_summary(const char *what);

#define MPT_FAILF(...) mpt_fail_at(__FILE__, __LINE__, __VA_ARGS__)

#define MPT_CHECK(cond) \
    ((cond) ? (void)0 : mpt_fail_at(__FILE__, __LINE__, "%s", #cond))

#define MPT_CHECKF(cond, ...)                                                        \
    do {                                                                             \
        if (!(cond))                                                                 \
            mpt_fail_at(__FILE__, __LINE__, __VA_ARGS__);                            \
    } while (0)

#define MPT_EXPECT(call, want)                                                       \
    do {                                                                             \
        int got_ = (call);                                                           \
        mpt_tried(1);                                                                \
        if (got_ != (int)(want))                                                     \
            mpt_fail_at(__FILE__, __LINE__, "%s returned %d, want %d", #call, got_,  \
                        (int)(want));                                                \
    } while (0)

#endif
