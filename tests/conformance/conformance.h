/* conformance.h: what the C runner's files share (conformance.c, the
 * kinds of 1.0 and the driver; conformance_1_1.c, the kinds of 1.1). */
#ifndef MP_CONFORMANCE_H
#define MP_CONFORMANCE_H

#include <stdint.h>

#include <micropool.h>

/* The value every failing callback returns: positive, so never a library
 * code. */
#define CASE_ERROR 4242

struct conf_case {
    char name[64];
    char kind[64];
    long long threads;
    long long a, b;
    int has_a, has_b;
    char expect[64];
    int line;
};

/* The outcome of running one case. */
struct outcome {
    int64_t value;      /* the result compared with `expect` */
    int rc;             /* for error kinds: what the call returned */
    int is_error;       /* the kind reports a callback error */
    const char *where;  /* where the error kind makes a callback fail */
    char problem[256];  /* set when a check inside the case failed */
};

/* Records the first problem of a case. */
void problem(struct outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A pool of `threads` threads, or NULL with a problem recorded. */
mp_pool *make_pool(long long threads, struct outcome *o);
/* mp_pool_destroy, recording a problem if it fails. */
void end_pool(mp_pool *pool, struct outcome *o);

struct kind {
    const char *name;
    void (*run)(const struct conf_case *, struct outcome *);
    int needs_a, needs_b;
};

/* The kinds of 1.1 (conformance_1_1.c). */
extern const struct kind kinds_1_1[];
extern const size_t kinds_1_1_count;

#endif
