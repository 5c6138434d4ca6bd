/*
 * trace.c: a game-like frame loop on a pool with tracing hooks, written
 * out as a Chrome trace-event file (Perfetto, chrome://tracing).
 *
 * Each frame moves particles (mp_for), sums their energy (mp_reduce),
 * sorts their depths with a merge sort built on mp_join, resets a
 * counter on every thread (mp_broadcast), animates a few skeletons in a
 * scope (mp_scope_run, mp_scope_spawn), and queues named background
 * tasks with mp_submit_ex: "audio-mix" at MP_PRIO_HIGH, and every few
 * frames "asset-load" followed by "asset-decode", which has asset-load
 * as its prerequisite. Between frames the main thread does a short
 * serial part (it sleeps, as if waiting for the display), so the workers
 * go to sleep now and then.
 *
 * The hooks (mp_config.trace) record each begin and end, with a
 * CLOCK_MONOTONIC time stamp, the kind, the thread index and the task
 * name, into an array allocated before the pool starts: a hook takes a
 * slot with one atomic fetch-and-add and writes it; no lock, no
 * allocation. The program adds its own spans on thread 0 ("frame",
 * "serial"), category "app". After the pool is destroyed, the events are
 * written as {"traceEvents": [...]} with "B"/"E" events (ts in
 * microseconds, tid = the thread index) and "thread_name" metadata.
 *
 * usage: trace [--frames N] [--threads T] [out.json]
 *   --frames N   frames to run (default 30)
 *   --threads T  threads of the pool (default: the CPUs this process may
 *                run on)
 *   out.json     where to write the trace (default trace.json)
 *
 * Prints one line: events, threads, file. Exit status 0 when every call
 * succeeded and every result was right, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <micropool.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- events */

/* The program's own kinds, after the pool's (enum mp_trace_kind). */
enum { APP_FRAME = 100, APP_SERIAL };

typedef struct event {
    uint64_t    ns;      /* since t0 */
    const char *name;    /* a task's name, or NULL */
    int         kind;
    unsigned    index;
    int         end;     /* 0 = begin, 1 = end */
} event;

#define EVENTS_MAX (1u << 20)

typedef struct recorder {
    event           *ev;
    size_t           cap;
    atomic_size_t    next;    /* slots taken (may pass cap: then dropped) */
    struct timespec  t0;
} recorder;

static uint64_t since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000000000u + (uint64_t)t.tv_nsec
           - (uint64_t)t0->tv_nsec;
}

static void record(recorder *r, int end, int kind, unsigned index, const char *name)
{
    uint64_t ns = since(&r->t0);
    size_t i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
    if (i >= r->cap)
        return;                         /* full: counted, not kept */
    r->ev[i] = (event){ns, name, kind, index, end};
}

static void hook_begin(void *arg, int kind, unsigned index, const char *name)
{
    record(arg, 0, kind, index, name);
}

static void hook_end(void *arg, int kind, unsigned index, const char *name)
{
    record(arg, 1, kind, index, name);
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case MP_TRACE_JOB:        return "job";
    case MP_TRACE_PART:       return "part";
    case MP_TRACE_BROADCAST:  return "broadcast";
    case MP_TRACE_SCOPE_TASK: return "scope task";
    case MP_TRACE_TASK:       return "task";
    case MP_TRACE_SLEEP:      return "sleep";
    case APP_FRAME:           return "frame";
    case APP_SERIAL:          return "serial";
    default:                  return "unknown";
    }
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Writes the trace. Events of one thread are in the order that thread
 * recorded them. If the array filled up, the spans still open on each
 * thread are closed at the last time stamp, so the file stays balanced.
 * Returns the number of events written, or -1 on an I/O error. */
static long write_trace(const recorder *r, unsigned threads, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "trace: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = atomic_load(&r->next);
    if (n > r->cap)
        n = r->cap;
    long written = 0;
    fprintf(f, "{\"traceEvents\":[\n");
    fprintf(f, "{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\","
               "\"args\":{\"name\":\"micropool frame loop\"}}");
    for (unsigned t = 0; t < threads; t++) {
        fprintf(f, ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"name\":\"thread_name\","
                   "\"args\":{\"name\":", t);
        char buf[48];
        if (t == 0)
            snprintf(buf, sizeof buf, "main (thread 0)");
        else
            snprintf(buf, sizeof buf, "frame-%u (worker %u)", t, t);
        json_string(f, buf);
        fprintf(f, "}}");
        fprintf(f, ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"name\":\"thread_sort_index\","
                   "\"args\":{\"sort_index\":%u}}", t, t);
    }
    /* Depth of each thread's open spans, to close them if events were
     * dropped. */
    unsigned *depth = calloc(threads, sizeof *depth);
    int (*open_kind)[64] = calloc(threads, sizeof *open_kind);
    uint64_t last = 0;
    if (!depth || !open_kind) {
        fprintf(stderr, "trace: out of memory\n");
        free(depth);
        free(open_kind);
        fclose(f);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const event *e = &r->ev[i];
        unsigned t = e->index < threads ? e->index : 0;
        if (e->ns > last)
            last = e->ns;
        if (!e->end) {
            if (depth[t] < 64)
                open_kind[t][depth[t]] = e->kind;
            depth[t]++;
        } else if (depth[t] > 0) {
            depth[t]--;
        }
        const char *cat = e->kind >= APP_FRAME ? "app" : kind_name(e->kind);
        fprintf(f, ",\n{\"ph\":\"%s\",\"pid\":1,\"tid\":%u,\"ts\":%llu.%03u,\"cat\":",
                e->end ? "E" : "B", t, (unsigned long long)(e->ns / 1000),
                (unsigned)(e->ns % 1000));
        json_string(f, cat);
        fprintf(f, ",\"name\":");
        json_string(f, e->name ? e->name : kind_name(e->kind));
        fprintf(f, "}");
        written++;
    }
    for (unsigned t = 0; t < threads; t++)
        while (depth[t] > 0) {
            depth[t]--;
            int kind = depth[t] < 64 ? open_kind[t][depth[t]] : 0;
            fprintf(f, ",\n{\"ph\":\"E\",\"pid\":1,\"tid\":%u,\"ts\":%llu.%03u,"
                       "\"cat\":\"%s\",\"name\":\"%s\"}",
                    t, (unsigned long long)(last / 1000), (unsigned)(last % 1000),
                    kind >= APP_FRAME ? "app" : kind_name(kind), kind_name(kind));
            written++;
        }
    free(depth);
    free(open_kind);
    fprintf(f, "\n],\"displayTimeUnit\":\"ms\"}\n");
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "trace: %s: write error\n", path);
        return -1;
    }
    return written;
}

/* ---------------------------------------------------------------- frame */

#define PARTICLES 20000
#define SKELETONS 4
#define BONES 2000

typedef struct particle {
    float x, y, vx, vy;
} particle;

typedef struct world {
    mp_pool  *pool;
    particle *p;
    float    *depth, *tmp;        /* the sort's keys and its scratch */
    float     bones[SKELETONS][BONES];
    unsigned  frame;
    atomic_uint resets;           /* broadcast parts run */
    float     audio[512];
    unsigned  assets_loaded, assets_decoded;
} world;

static int move_particles(void *arg, size_t begin, size_t end)
{
    world *w = arg;
    const float dt = 1.0f / 60.0f;
    for (size_t i = begin; i < end; i++) {
        particle *q = &w->p[i];
        q->vy -= 9.81f * dt;
        q->x += q->vx * dt;
        q->y += q->vy * dt;
        if (q->y < 0.0f) {            /* bounce off the floor */
            q->y = -q->y;
            q->vy = -0.9f * q->vy;
        }
        if (q->x < 0.0f || q->x > 100.0f)
            q->vx = -q->vx;
        w->depth[i] = q->x * 0.37f + q->y * 0.61f;
    }
    return 0;
}

static int energy_map(void *arg, size_t begin, size_t end, void *acc)
{
    const world *w = arg;
    double e = 0.0;
    for (size_t i = begin; i < end; i++)
        e += 0.5 * ((double)w->p[i].vx * w->p[i].vx + (double)w->p[i].vy * w->p[i].vy)
             + 9.81 * w->p[i].y;
    *(double *)acc += e;
    return 0;
}

static void energy_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(double *)acc += *(const double *)other;
}

/* A merge sort of w->depth over [lo, hi) with mp_join for the halves. */
typedef struct sort_arg {
    world *w;
    size_t lo, hi;
} sort_arg;

static int sort_range(void *arg);

static void insertion_sort(float *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        float x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static int sort_range(void *arg)
{
    sort_arg *s = arg;
    float *v = s->w->depth, *t = s->w->tmp;
    size_t n = s->hi - s->lo;
    if (n <= 64) {
        insertion_sort(v + s->lo, n);
        return 0;
    }
    size_t mid = s->lo + n / 2;
    sort_arg a = {s->w, s->lo, mid}, b = {s->w, mid, s->hi};
    int rc = n > 2048 ? mp_join(s->w->pool, sort_range, &a, sort_range, &b)
                      : (sort_range(&a) | sort_range(&b));
    if (rc != MP_OK)
        return rc;
    size_t i = s->lo, j = mid, k = s->lo;
    while (i < mid && j < s->hi)
        t[k++] = v[j] < v[i] ? v[j++] : v[i++];
    while (i < mid)
        t[k++] = v[i++];
    while (j < s->hi)
        t[k++] = v[j++];
    memcpy(v + s->lo, t + s->lo, n * sizeof *v);
    return 0;
}

static int reset_counters(void *arg, unsigned index, unsigned count)
{
    world *w = arg;
    if (index >= count)
        return 1;
    atomic_fetch_add_explicit(&w->resets, 1, memory_order_relaxed);
    return 0;
}

typedef struct skeleton_arg {
    world   *w;
    unsigned s;
} skeleton_arg;

static int animate(void *arg)
{
    skeleton_arg *a = arg;
    float *b = a->w->bones[a->s];
    float phase = (float)a->w->frame * 0.1f + (float)a->s;
    for (unsigned i = 0; i < BONES; i++) {
        float x = phase + (float)i * 0.001f;
        b[i] = x - x * x * x / 6.0f + x * x * x * x * x / 120.0f;   /* ~sin */
    }
    return 0;
}

static int animate_all(mp_scope *scope, void *arg)
{
    skeleton_arg *args = arg;
    for (unsigned s = 0; s < SKELETONS; s++) {
        int rc = mp_scope_spawn(scope, animate, &args[s]);
        if (rc != MP_OK)
            return rc;
    }
    return 0;
}

static int audio_mix(void *arg)
{
    world *w = arg;
    for (unsigned i = 0; i < 512; i++) {
        float acc = 0.0f;
        for (unsigned v = 0; v < 16; v++)
            acc += (float)((i * (v + 1) + w->frame) % 97) * 0.001f;
        w->audio[i] = acc;
    }
    return 0;
}

static void busy_us(unsigned us)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000u
               + (uint64_t)((t.tv_nsec - t0.tv_nsec) / 1000) < us);
}

static int asset_load(void *arg)
{
    world *w = arg;
    busy_us(300);                     /* as if reading a file */
    w->assets_loaded++;
    return 0;
}

static int asset_decode(void *arg)
{
    world *w = arg;
    busy_us(200);
    w->assets_decoded++;
    return 0;
}

#define CHECK(call)                                                              \
    do {                                                                         \
        int rc_ = (call);                                                        \
        if (rc_ != MP_OK) {                                                      \
            fprintf(stderr, "trace: frame %u: %s: %s\n", w->frame, #call,         \
                    mp_strerror(rc_));                                           \
            return 1;                                                            \
        }                                                                        \
    } while (0)

static int run_frame(world *w, recorder *rec)
{
    record(rec, 0, APP_FRAME, 0, NULL);

    /* Background work first, so that it overlaps the frame. */
    mp_task_opts o;
    mp_task_opts_init(&o);
    o.priority = MP_PRIO_HIGH;
    o.name = "audio-mix";
    mp_task *audio = NULL, *load = NULL, *decode = NULL;
    CHECK(mp_submit_ex(w->pool, audio_mix, w, &o, &audio));
    if (w->frame % 5 == 0) {
        mp_task_opts_init(&o);
        o.priority = MP_PRIO_LOW;
        o.name = "asset-load";
        CHECK(mp_submit_ex(w->pool, asset_load, w, &o, &load));
        mp_task_opts_init(&o);
        o.name = "asset-decode";
        o.after = &load;
        o.nafter = 1;
        o.flags = MP_AFTER_CANCEL_ON_ERROR;
        CHECK(mp_submit_ex(w->pool, asset_decode, w, &o, &decode));
    }

    CHECK(mp_for(w->pool, PARTICLES, 1024, MP_SPLIT_DYNAMIC, move_particles, w));

    double energy = 0.0;
    CHECK(mp_reduce(w->pool, PARTICLES, 2048, 0, &energy, sizeof energy, energy_map,
                    energy_combine, w));
    if (!(energy > 0.0)) {
        fprintf(stderr, "trace: frame %u: energy %g\n", w->frame, energy);
        return 1;
    }

    sort_arg s = {w, 0, PARTICLES};
    CHECK(sort_range(&s));
    for (size_t i = 1; i < PARTICLES; i++)
        if (w->depth[i - 1] > w->depth[i]) {
            fprintf(stderr, "trace: frame %u: depths not sorted at %zu\n", w->frame, i);
            return 1;
        }

    unsigned before = atomic_load(&w->resets);
    CHECK(mp_broadcast(w->pool, reset_counters, w));
    if (atomic_load(&w->resets) - before != mp_pool_threads(w->pool)) {
        fprintf(stderr, "trace: frame %u: broadcast ran %u parts\n", w->frame,
                atomic_load(&w->resets) - before);
        return 1;
    }

    skeleton_arg sk[SKELETONS];
    for (unsigned i = 0; i < SKELETONS; i++)
        sk[i] = (skeleton_arg){w, i};
    CHECK(mp_scope_run(w->pool, animate_all, sk));

    CHECK(mp_task_wait(audio));
    mp_task_release(audio);
    if (decode) {
        CHECK(mp_task_wait(decode));      /* runs after load, so load is done */
        CHECK(mp_task_wait(load));
        mp_task_release(decode);
        mp_task_release(load);
    }
    record(rec, 1, APP_FRAME, 0, NULL);

    /* The serial part: the main thread alone, as if presenting the frame
     * and waiting for the display. */
    record(rec, 0, APP_SERIAL, 0, NULL);
    busy_us(200);
    struct timespec nap = {0, 1500000};
    nanosleep(&nap, NULL);
    record(rec, 1, APP_SERIAL, 0, NULL);
    return 0;
}

/* ---------------------------------------------------------------- main */

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return -1;
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned frames = 30, threads = 0;
    const char *path = "trace.json";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
            if (parse_uint(argv[++i], 100000, &frames) || frames == 0) {
                fprintf(stderr, "trace: bad --frames %s\n", argv[i]);
                return 1;
            }
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (parse_uint(argv[++i], MP_THREADS_MAX, &threads)) {
                fprintf(stderr, "trace: bad --threads %s\n", argv[i]);
                return 1;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "usage: trace [--frames N] [--threads T] [out.json]\n");
            return 1;
        } else {
            path = argv[i];
        }
    }

    static recorder rec;
    rec.cap = EVENTS_MAX;
    rec.ev = malloc(rec.cap * sizeof *rec.ev);
    world *w = calloc(1, sizeof *w);
    if (w) {
        w->p = malloc(PARTICLES * sizeof *w->p);
        w->depth = malloc(PARTICLES * sizeof *w->depth);
        w->tmp = malloc(PARTICLES * sizeof *w->tmp);
    }
    if (!rec.ev || !w || !w->p || !w->depth || !w->tmp) {
        fprintf(stderr, "trace: out of memory\n");
        return 1;
    }
    uint64_t seed = 88172645463325252u;
    for (size_t i = 0; i < PARTICLES; i++) {
        float f[4];
        for (int k = 0; k < 4; k++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            f[k] = (float)(seed >> 40) / (float)(1u << 24);
        }
        w->p[i] = (particle){f[0] * 100.0f, f[1] * 50.0f + 1.0f, f[2] * 20.0f - 10.0f,
                             f[3] * 10.0f};
    }
    clock_gettime(CLOCK_MONOTONIC, &rec.t0);

    mp_trace_hooks hooks = {sizeof hooks, hook_begin, hook_end, &rec};
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = threads;
    cfg.name = "frame";
    cfg.trace = &hooks;
    int rc = mp_pool_create(&cfg, &w->pool);
    if (rc != MP_OK) {
        fprintf(stderr, "trace: mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    unsigned nthreads = mp_pool_threads(w->pool);

    int failed = 0;
    for (w->frame = 0; w->frame < frames && !failed; w->frame++)
        failed = run_frame(w, &rec);

    rc = mp_pool_destroy(w->pool);
    if (rc != MP_OK) {
        fprintf(stderr, "trace: mp_pool_destroy: %s\n", mp_strerror(rc));
        failed = 1;
    }
    unsigned loads = (frames + 4) / 5;
    if (!failed && (w->assets_loaded != loads || w->assets_decoded != loads)) {
        fprintf(stderr, "trace: %u assets loaded, %u decoded, %u expected\n",
                w->assets_loaded, w->assets_decoded, loads);
        failed = 1;
    }

    size_t taken = atomic_load(&rec.next);
    long written = write_trace(&rec, nthreads, path);
    if (written < 0)
        failed = 1;
    else
        printf("trace: %ld events (%zu dropped), %u thread%s, %u frame%s, written to %s\n",
               written, taken > rec.cap ? taken - rec.cap : 0, nthreads,
               nthreads == 1 ? "" : "s", frames, frames == 1 ? "" : "s", path);
    free(rec.ev);
    free(w->p);
    free(w->depth);
    free(w->tmp);
    free(w);
    return failed;
}
