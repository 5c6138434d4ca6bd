/* shared.c: the process-wide pool (mp_pool_shared), made on the first
 * call and destroyed when its last reference is dropped. See
 * docs/design.md, "The shared pool". */
#include "pool.h"

#include <errno.h>
#include <stdlib.h>

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static mp_pool *shared;             /* under shared_mu */
static size_t shared_refs;          /* under shared_mu */

/* MICROPOOL_THREADS: a decimal number from 1 to MP_THREADS_MAX; anything
 * else is ignored (0: the default). */
static unsigned threads_from_env(void)
{
    const char *s = getenv("MICROPOOL_THREADS");
    if (!s || *s < '0' || *s > '9')
        return 0;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > MP_THREADS_MAX)
        return 0;
    return (unsigned)v;
}

int mp_pool_shared(mp_pool **out)
{
    if (!out)
        return MP_EINVAL;
    int rc = MP_OK;
    pthread_mutex_lock(&shared_mu);
    if (!shared) {
        mp_config cfg;
        mp_config_init(&cfg);
        cfg.threads = threads_from_env();
        mp_pool *pool;
        rc = mp_pool_create(&cfg, &pool);
        if (rc == MP_OK)
            shared = pool;
    }
    if (rc == MP_OK) {
        shared_refs++;
        *out = shared;
    }
    pthread_mutex_unlock(&shared_mu);
    return rc;
}

bool mp__shared_release(mp_pool *pool)
{
    bool last = true;
    pthread_mutex_lock(&shared_mu);
    if (pool == shared) {
        last = --shared_refs == 0;
        if (last)
            shared = NULL;          /* the next mp_pool_shared makes a new one */
    }
    pthread_mutex_unlock(&shared_mu);
    return last;
}
