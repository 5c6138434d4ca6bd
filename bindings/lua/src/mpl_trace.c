/*
 * mpl_trace.c: the trace recorder of micropool.new{trace = path}.
 *
 * The engine's tracing hooks run on its worker threads, inside its hot
 * paths, while the thread's lua_State may be in the middle of a callback
 * (a sleep inside a join, for one): no Lua code can run there. So the
 * hooks only record: a time stamp, the kind, the thread and the task's
 * name go into a preallocated array (one atomic fetch-and-add per event,
 * no lock, no allocation; the array is touched page by page as it fills).
 * When the pool closes, after the last hook has run, the events are
 * written as a Chrome trace-event file (Perfetto, chrome://tracing), in
 * the format of examples/trace.
 */
#include "mpl_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Events kept; later ones are counted and dropped. */
#define TRACE_EVENTS_MAX (1u << 20)

typedef struct trace_event {
    uint64_t    ns;       /* since the pool was created */
    const char *name;     /* a task's name (interned by the pool), or NULL */
    int         tid;      /* the OS thread */
    unsigned    index;    /* the thread's index in the pool */
    short       kind;
    short       end;
} trace_event;

struct mpl_trace {
    mp_trace_hooks  hooks;
    trace_event    *ev;
    atomic_size_t   next;
    struct timespec t0;
    FILE           *out;
    char           *path;
};

static _Thread_local int my_tid;

static void record(void *arg, int end, int kind, unsigned index, const char *name)
{
    mpl_trace *tr = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    size_t i = atomic_fetch_add_explicit(&tr->next, 1, memory_order_relaxed);
    if (i >= TRACE_EVENTS_MAX)
        return;
    if (!my_tid)
        my_tid = (int)syscall(SYS_gettid);
    trace_event *e = &tr->ev[i];
    e->ns = (uint64_t)(now.tv_sec - tr->t0.tv_sec) * 1000000000u + (uint64_t)now.tv_nsec
            - (uint64_t)tr->t0.tv_nsec;
    e->name = name;
    e->tid = my_tid;
    e->index = index;
    e->kind = (short)kind;
    e->end = (short)end;
}

static void hook_begin(void *arg, int kind, unsigned index, const char *name)
{
    record(arg, 0, kind, index, name);
}

static void hook_end(void *arg, int kind, unsigned index, const char *name)
{
    record(arg, 1, kind, index, name);
}

mpl_trace *mpl_trace_new(const char *path, char *err, size_t errlen)
{
    mpl_trace *tr = calloc(1, sizeof *tr);
    if (tr) {
        tr->ev = calloc(TRACE_EVENTS_MAX, sizeof *tr->ev);
        tr->path = strdup(path);
    }
    if (!tr || !tr->ev || !tr->path) {
        snprintf(err, errlen, "out of memory");
        mpl_trace_free(tr);
        return NULL;
    }
    tr->out = fopen(path, "w");
    if (!tr->out) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        mpl_trace_free(tr);
        return NULL;
    }
    tr->hooks.size = sizeof tr->hooks;
    tr->hooks.begin = hook_begin;
    tr->hooks.end = hook_end;
    tr->hooks.trace_arg = tr;
    clock_gettime(CLOCK_MONOTONIC, &tr->t0);
    return tr;
}

const mp_trace_hooks *mpl_trace_hooks(mpl_trace *tr)
{
    return &tr->hooks;
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

/* A thread seen in the events: its index and how many spans it has open. */
typedef struct trace_thread {
    int      tid;
    unsigned index;
    unsigned depth;
    unsigned skipped;     /* begins nested deeper than `open` follows */
    int      open[64];
} trace_thread;

static void write_event(FILE *f, const trace_event *e, const char *ph, uint64_t ns)
{
    fprintf(f, ",\n{\"ph\":\"%s\",\"pid\":1,\"tid\":%d,\"ts\":%llu.%03u,\"cat\":\"%s\","
               "\"name\":", ph, e->tid, (unsigned long long)(ns / 1000), (unsigned)(ns % 1000),
            kind_name(e->kind));
    json_string(f, e->name ? e->name : kind_name(e->kind));
    fprintf(f, ",\"args\":{\"thread_index\":%u}}", e->index);
}

int mpl_trace_write(mpl_trace *tr, char *err, size_t errlen)
{
    if (!tr->out)
        return 0;
    FILE *f = tr->out;
    tr->out = NULL;
    size_t taken = atomic_load(&tr->next);
    size_t n = taken < TRACE_EVENTS_MAX ? taken : TRACE_EVENTS_MAX;
    trace_thread *th = NULL;
    size_t nth = 0, capth = 0;
    uint64_t last = 0;
    fprintf(f, "{\"traceEvents\":[\n{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\","
               "\"args\":{\"name\":\"micropool (Lua)\"}}");
    for (size_t i = 0; i < n; i++) {
        const trace_event *e = &tr->ev[i];
        size_t k = 0;
        while (k < nth && th[k].tid != e->tid)
            k++;
        if (k == nth) {
            if (nth == capth) {
                size_t cap = capth ? 2 * capth : 16;
                trace_thread *more = realloc(th, cap * sizeof *th);
                if (!more)
                    break;
                th = more;
                capth = cap;
            }
            memset(&th[nth], 0, sizeof th[nth]);
            th[nth].tid = e->tid;
            th[nth].index = e->index;
            nth++;
        }
        /* An end without its begin (dropped) is left out; so are spans
         * nested deeper than we follow. */
        trace_thread *t = &th[k];
        if (e->end) {
            if (t->skipped > 0) {
                t->skipped--;
                continue;
            }
            if (t->depth == 0)
                continue;
            t->depth--;
        } else {
            if (t->depth == sizeof t->open / sizeof t->open[0]) {
                t->skipped++;
                continue;
            }
            t->open[t->depth++] = (int)i;
        }
        write_event(f, e, e->end ? "E" : "B", e->ns);
        if (e->ns > last)
            last = e->ns;
    }
    /* Spans left open when events were dropped end at the last time. */
    for (size_t k = 0; k < nth; k++)
        while (th[k].depth > 0)
            write_event(f, &tr->ev[th[k].open[--th[k].depth]], "E", last);
    for (size_t k = 0; k < nth; k++) {
        char name[64];
        if (th[k].index == 0)
            snprintf(name, sizeof name, "thread %d (outside the pool, index 0)", th[k].tid);
        else
            snprintf(name, sizeof name, "worker %u", th[k].index);
        fprintf(f, ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_name\",\"args\":"
                   "{\"name\":", th[k].tid);
        json_string(f, name);
        fprintf(f, "}},\n{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_sort_index\","
                   "\"args\":{\"sort_index\":%u}}", th[k].tid, th[k].index);
    }
    fprintf(f, "\n],\"otherData\":{\"events_dropped\":%zu}}\n", taken - n);
    free(th);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "cannot write %s: %s", tr->path, strerror(errno));
        return -1;
    }
    return 0;
}

void mpl_trace_free(mpl_trace *tr)
{
    if (!tr)
        return;
    if (tr->out)
        fclose(tr->out);
    free(tr->ev);
    free(tr->path);
    free(tr);
}
