/*
 * The library unloaded (dlclose) while a thread that used it is still
 * alive: a language runtime that closes a module (Lua's lua_close, a
 * plugin host) does this. The thread's parking record is handed back by
 * a pthread key destructor when the thread exits, so that destructor's
 * code must still be there: the library is linked with -z nodelete and
 * stays mapped after its last dlclose (docs/design.md, "Idling").
 *
 * A thread opens a pool, runs a loop on it (taking its record), closes
 * the pool and waits; the main thread dlcloses the library and lets the
 * thread exit. Before the fix the thread's exit jumped into unmapped
 * memory (SIGSEGV).
 *
 * usage: mp_unload PATH-OF-LIBMICROPOOL   exits 0 if the thread exits
 * cleanly and the library is still loaded after dlclose.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>

#include <micropool.h>

typedef int (*create_fn)(const mp_config *, mp_pool **);
typedef int (*for_fn)(mp_pool *, size_t, size_t, unsigned, mp_range_fn, void *);
typedef int (*destroy_fn)(mp_pool *);

static sem_t used, unloaded;
static void *lib;
static int failed;

static int body(void *arg, size_t lo, size_t hi)
{
    (void)arg;
    (void)lo;
    (void)hi;
    return 0;
}

static void *user(void *arg)
{
    (void)arg;
    create_fn create = (create_fn)dlsym(lib, "mp_pool_create");
    for_fn run_for = (for_fn)dlsym(lib, "mp_for");
    destroy_fn destroy = (destroy_fn)dlsym(lib, "mp_pool_destroy");
    mp_pool *p = NULL;
    if (!create || !run_for || !destroy) {
        fprintf(stderr, "unload: a symbol is missing: %s\n", dlerror());
        failed = 1;
    } else if (create(NULL, &p) != MP_OK || run_for(p, 1000, 1, 0, body, NULL) != MP_OK ||
               destroy(p) != MP_OK) {
        fprintf(stderr, "unload: a call of the library failed\n");
        failed = 1;
    }
    sem_post(&used);
    sem_wait(&unloaded);
    return NULL;                        /* the key destructor runs now */
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mp_unload PATH-OF-LIBMICROPOOL\n");
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "unload: dlopen: %s\n", dlerror());
        return 1;
    }
    sem_init(&used, 0, 0);
    sem_init(&unloaded, 0, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, user, NULL) != 0) {
        fprintf(stderr, "unload: pthread_create failed\n");
        return 1;
    }
    sem_wait(&used);
    if (dlclose(lib) != 0) {
        fprintf(stderr, "unload: dlclose: %s\n", dlerror());
        failed = 1;
    }
    void *again = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD);
    printf("unload: after dlclose the library is %s\n", again ? "still loaded" : "unmapped");
    fflush(stdout);
    if (!again)
        failed = 1;
    sem_post(&unloaded);
    pthread_join(t, NULL);
    printf("unload: the thread that used it exited%s\n", failed ? ", but a check failed" : "");
    return failed;
}
