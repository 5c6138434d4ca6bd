/*
 * compat.c: a program built against the 1.0 header (include/: the last
 * header of 1.0, a frozen copy whose types and declarations are 1.0.0's;
 * only its comments changed after 1.0.0) runs unchanged against this
 * library. Its
 * mp_config is 1.0's size: mp_config_init must bind to the 1.0 version
 * (mp_config_init@MICROPOOL_1.0) and write no byte past it, which the
 * canary right after the config shows. Then the config creates a pool that
 * does work as 1.0 promised.
 */
#include <micropool.h>

#include <stdio.h>
#include <string.h>

#if MICROPOOL_VERSION_MINOR != 0
#error "compat.c must be built against the 1.0 header"
#endif

/* A program linked against libmicropool 1.0.0 has its references bound to
 * MICROPOOL_1.0, the only node that library had. Linked here against the
 * newer library, the reference to mp_config_init would take the default
 * version, so it is bound to 1.0's by hand, as the old link bound it. */
__asm__(".symver mp_config_init, mp_config_init@MICROPOOL_1.0");

static int fails;

#define CHECK(c, ...)                                                         \
    do {                                                                      \
        if (!(c)) {                                                           \
            printf("FAIL: " __VA_ARGS__);                                     \
            printf("\n");                                                     \
            fails++;                                                          \
        }                                                                     \
    } while (0)

static int count(void *arg, size_t begin, size_t end)
{
    __atomic_fetch_add((size_t *)arg, end - begin, __ATOMIC_RELAXED);
    return 0;
}

int main(void)
{
    struct {
        mp_config cfg;
        unsigned char canary[64];
    } s;
    memset(&s, 0xA5, sizeof s);
    mp_config_init(&s.cfg);
    CHECK(s.cfg.size == sizeof(mp_config), "size %zu, want 1.0's %zu", s.cfg.size,
          sizeof(mp_config));
    for (size_t i = 0; i < sizeof s.canary; i++)
        CHECK(s.canary[i] == 0xA5, "mp_config_init wrote byte %zu past 1.0's mp_config", i);
    s.cfg.threads = 2;
    mp_pool *pool = NULL;
    int rc = mp_pool_create(&s.cfg, &pool);
    CHECK(rc == MP_OK, "mp_pool_create: %d (%s)", rc, mp_strerror(rc));
    if (pool) {
        size_t n = 0;
        CHECK(mp_for(pool, 100000, 1, 0, count, &n) == MP_OK && n == 100000, "mp_for counted %zu",
              n);
        mp_stats st;
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        CHECK(mp_pool_stats(pool, &st) == MP_OK && st.jobs >= 1, "mp_pool_stats");
        CHECK(mp_pool_destroy(pool) == MP_OK, "mp_pool_destroy");
    }
    printf("compat-1.0: %s, library %s, config of %zu bytes\n", fails ? "FAILED" : "OK",
           mp_version(), sizeof(mp_config));
    return fails ? 1 : 0;
}
