/*
 * trace-svg.c: draws a Chrome trace-event file, as written by `trace`,
 * as an SVG picture: one row per thread, one box per span coloured by
 * its category (nested spans in lanes below their parent), named tasks
 * labelled, a time axis in microseconds.
 *
 * The parser reads JSON in general (objects, arrays, strings, numbers,
 * true, false, null) but only looks at what a trace-event file of
 * "B"/"E" or "X" events holds: {"traceEvents": [...]} or a bare array;
 * in each event "ph", "tid", "ts", "dur", "cat", "name", and for
 * "thread_name" metadata args.name. Other fields and events are skipped.
 *
 * usage: trace-svg [--check] trace.json [trace.svg]
 *   --check  fail (exit 1) unless every thread's "B" and "E" events are
 *            balanced and properly nested (an "E" closes the last open
 *            "B" of its thread, with the same name when it has one),
 *            time stamps do not go back within a thread, every "X" event
 *            has dur >= 0, and there is at least one span
 *   trace.svg  where to write the picture (default: none with --check,
 *              else trace.svg)
 *
 * Exit status 0 on success, 1 on a bad file or a failed check.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- input */

typedef struct raw_event {
    char   ph;
    long   tid;
    double ts, dur;
    int    has_dur;
    char  *cat, *name, *arg_name;
} raw_event;

typedef struct parser {
    const char *s, *end;
    int         bad;
} parser;

static void fail(parser *p)
{
    p->bad = 1;
    p->s = p->end;
}

static void ws(parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t'))
        p->s++;
}

static int eat(parser *p, char c)
{
    ws(p);
    if (p->s < p->end && *p->s == c) {
        p->s++;
        return 1;
    }
    return 0;
}

/* A string; returns it malloc'ed when `keep`, else NULL. */
static char *string(parser *p, int keep)
{
    ws(p);
    if (p->s >= p->end || *p->s != '"') {
        fail(p);
        return NULL;
    }
    p->s++;
    size_t cap = 16, n = 0;
    char *out = keep ? malloc(cap) : NULL;
    if (keep && !out) {
        fail(p);
        return NULL;
    }
    while (p->s < p->end && *p->s != '"') {
        char c = *p->s++;
        if (c == '\\') {
            if (p->s >= p->end)
                break;
            char e = *p->s++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4 && p->s < p->end; i++, p->s++) {
                    char h = *p->s;
                    v = v * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0');
                }
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            default: c = e; break;        /* \" \\ \/ */
            }
        }
        if (keep) {
            if (n + 1 >= cap) {
                char *bigger = realloc(out, cap *= 2);
                if (!bigger) {
                    free(out);
                    fail(p);
                    return NULL;
                }
                out = bigger;
            }
            out[n++] = c;
        }
    }
    if (p->s >= p->end) {
        free(out);
        fail(p);
        return NULL;
    }
    p->s++;
    if (keep)
        out[n] = '\0';
    return out;
}

static double number(parser *p)
{
    ws(p);
    char *stop;
    errno = 0;
    double v = strtod(p->s, &stop);
    if (stop == p->s || stop > p->end)
        fail(p);
    else
        p->s = stop;
    return v;
}

static void skip_value(parser *p, int depth)
{
    ws(p);
    if (p->s >= p->end || depth > 64) {
        fail(p);
        return;
    }
    char c = *p->s;
    if (c == '"') {
        string(p, 0);
    } else if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        p->s++;
        if (eat(p, close))
            return;
        do {
            if (c == '{') {
                string(p, 0);
                if (!eat(p, ':')) {
                    fail(p);
                    return;
                }
            }
            skip_value(p, depth + 1);
        } while (!p->bad && eat(p, ','));
        if (!eat(p, close))
            fail(p);
    } else if (!strncmp(p->s, "true", 4) || !strncmp(p->s, "null", 4)) {
        p->s += 4;
    } else if (!strncmp(p->s, "false", 5)) {
        p->s += 5;
    } else {
        number(p);
    }
}

static void event_object(parser *p, raw_event *e)
{
    memset(e, 0, sizeof *e);
    if (!eat(p, '{')) {
        fail(p);
        return;
    }
    if (eat(p, '}'))
        return;
    do {
        char *key = string(p, 1);
        if (!key || !eat(p, ':')) {
            free(key);
            fail(p);
            return;
        }
        if (!strcmp(key, "ph")) {
            char *ph = string(p, 1);
            e->ph = ph && ph[0] ? ph[0] : '?';
            free(ph);
        } else if (!strcmp(key, "tid")) {
            e->tid = (long)number(p);
        } else if (!strcmp(key, "ts")) {
            e->ts = number(p);
        } else if (!strcmp(key, "dur")) {
            e->dur = number(p);
            e->has_dur = 1;
        } else if (!strcmp(key, "cat")) {
            free(e->cat);
            e->cat = string(p, 1);
        } else if (!strcmp(key, "name")) {
            free(e->name);
            e->name = string(p, 1);
        } else if (!strcmp(key, "args")) {
            ws(p);
            if (p->s < p->end && *p->s == '{') {
                p->s++;
                if (!eat(p, '}')) {
                    do {
                        char *k = string(p, 1);
                        if (!k || !eat(p, ':')) {
                            free(k);
                            fail(p);
                            break;
                        }
                        ws(p);
                        if (!strcmp(k, "name") && p->s < p->end && *p->s == '"') {
                            free(e->arg_name);
                            e->arg_name = string(p, 1);
                        } else {
                            skip_value(p, 1);
                        }
                        free(k);
                    } while (!p->bad && eat(p, ','));
                    if (!eat(p, '}'))
                        fail(p);
                }
            } else {
                skip_value(p, 1);
            }
        } else {
            skip_value(p, 1);
        }
        free(key);
    } while (!p->bad && eat(p, ','));
    if (!eat(p, '}'))
        fail(p);
}

/* ---------------------------------------------------------------- spans */

typedef struct span {
    double      begin, end;
    unsigned    depth;
    const char *cat, *name;
    int         label;            /* the label's line under the row, or -1 */
} span;

typedef struct thread {
    long        tid;
    char       *name;
    span       *spans;
    size_t      nspans, cap;
    size_t     *open;             /* indices of the open "B" spans */
    size_t      nopen, opencap;
    unsigned    lanes;
    unsigned    label_lines;      /* lines of labels under the lanes */
    double      last_ts;
    int         seen_ts;
} thread;

typedef struct trace {
    thread  *t;
    size_t   n, cap;
    raw_event *events;            /* kept for the names */
    size_t   nevents, evcap;
    int      errors;
} trace;

static void *grow(void *v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return v;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *bigger = realloc(v, c * size);
    if (!bigger) {
        fprintf(stderr, "trace-svg: out of memory\n");
        exit(1);
    }
    *cap = c;
    return bigger;
}

static thread *thread_of(trace *tr, long tid)
{
    for (size_t i = 0; i < tr->n; i++)
        if (tr->t[i].tid == tid)
            return &tr->t[i];
    tr->t = grow(tr->t, &tr->cap, tr->n + 1, sizeof *tr->t);
    thread *t = &tr->t[tr->n++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    return t;
}

static span *new_span(thread *t)
{
    t->spans = grow(t->spans, &t->cap, t->nspans + 1, sizeof *t->spans);
    return &t->spans[t->nspans++];
}

static void problem(trace *tr, const char *what, long tid, double ts)
{
    if (tr->errors++ < 10)
        fprintf(stderr, "trace-svg: thread %ld at %.3f us: %s\n", tid, ts, what);
}

/* Turns the events into spans, checking them on the way. */
static void add_event(trace *tr, const raw_event *e)
{
    if (e->ph == 'M') {
        if (e->name && !strcmp(e->name, "thread_name") && e->arg_name)
            thread_of(tr, e->tid)->name = e->arg_name;
        return;
    }
    if (e->ph != 'B' && e->ph != 'E' && e->ph != 'X')
        return;
    thread *t = thread_of(tr, e->tid);
    if (t->seen_ts && e->ts < t->last_ts)
        problem(tr, "time stamp goes back", e->tid, e->ts);
    t->seen_ts = 1;
    t->last_ts = e->ts;
    if (e->ph == 'B') {
        span *s = new_span(t);
        *s = (span){e->ts, e->ts, (unsigned)t->nopen, e->cat ? e->cat : "", e->name ? e->name : "", -1};
        t->open = grow(t->open, &t->opencap, t->nopen + 1, sizeof *t->open);
        t->open[t->nopen++] = t->nspans - 1;
        if (t->nopen > t->lanes)
            t->lanes = (unsigned)t->nopen;
    } else if (e->ph == 'E') {
        if (t->nopen == 0) {
            problem(tr, "\"E\" with no open \"B\"", e->tid, e->ts);
            return;
        }
        span *s = &t->spans[t->open[--t->nopen]];
        if (e->name && strcmp(e->name, s->name))
            problem(tr, "\"E\" closes a \"B\" of another name", e->tid, e->ts);
        s->end = e->ts;
    } else {
        if (!e->has_dur || e->dur < 0)
            problem(tr, "\"X\" without dur >= 0", e->tid, e->ts);
        span *s = new_span(t);
        *s = (span){e->ts, e->ts + (e->dur > 0 ? e->dur : 0), (unsigned)t->nopen,
                    e->cat ? e->cat : "", e->name ? e->name : "", -1};
        if (t->nopen + 1 > t->lanes)
            t->lanes = (unsigned)t->nopen + 1;
    }
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "trace-svg: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap *= 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
        }
        buf = bigger;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        fprintf(stderr, "trace-svg: %s: cannot read\n", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int load(trace *tr, const char *path)
{
    size_t len;
    char *text = read_file(path, &len);
    if (!text)
        return -1;
    parser p = {text, text + len, 0};
    int found = 0;
    if (eat(&p, '{')) {
        if (!eat(&p, '}')) {
            do {
                char *key = string(&p, 1);
                if (!key || !eat(&p, ':')) {
                    free(key);
                    fail(&p);
                    break;
                }
                ws(&p);
                if (!strcmp(key, "traceEvents") && p.s < p.end && *p.s == '[') {
                    found = 1;
                    free(key);
                    break;                /* parsed below */
                }
                skip_value(&p, 1);
                free(key);
            } while (!p.bad && eat(&p, ','));
        }
    } else {
        ws(&p);
        found = p.s < p.end && *p.s == '[';
    }
    if (!found || p.bad) {
        fprintf(stderr, "trace-svg: %s: no traceEvents array\n", path);
        free(text);
        return -1;
    }
    eat(&p, '[');
    if (!eat(&p, ']')) {
        do {
            tr->events = grow(tr->events, &tr->evcap, tr->nevents + 1, sizeof *tr->events);
            raw_event *e = &tr->events[tr->nevents++];
            event_object(&p, e);
            if (!p.bad)
                add_event(tr, e);
        } while (!p.bad && eat(&p, ','));
        if (!eat(&p, ']'))
            fail(&p);
    }
    if (p.bad) {
        fprintf(stderr, "trace-svg: %s: not the JSON of a trace near byte %zu\n", path,
                (size_t)(p.s - text));
        free(text);
        return -1;
    }
    free(text);
    return 0;
}

/* ---------------------------------------------------------------- picture */

typedef struct style {
    const char *cat, *fill, *label;
} style;

static const style styles[] = {
    {"part", "#4f86c6", "loop part (mp_for, mp_reduce)"},
    {"job", "#e4572e", "stolen job (mp_join)"},
    {"broadcast", "#9b59b6", "broadcast index"},
    {"scope task", "#2ca58d", "scope task"},
    {"task", "#f2a541", "background task"},
    {"sleep", "#cfcfcf", "sleep"},
    {"app", "#f4f4f4", "the program's own spans (frame, serial)"},
};

static const char *fill_of(const char *cat)
{
    for (size_t i = 0; i < sizeof styles / sizeof styles[0]; i++)
        if (!strcmp(cat, styles[i].cat))
            return styles[i].fill;
    return "#888888";
}

static void xml(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20)
                fputc(*s, f);
        }
}

static int cmp_tid(const void *a, const void *b)
{
    long x = ((const thread *)a)->tid, y = ((const thread *)b)->tid;
    return (x > y) - (x < y);
}

#define WIDTH   1600.0
#define LEFT    170.0
#define RIGHT   20.0
#define LANE    15.0
#define ROWGAP  10.0
#define TOP     58.0
#define LABEL   11.0              /* a line of labels */
#define LABEL_LINES 4
#define CHAR_W  5.0               /* about the width of a 9 px character */

/* A named task: a task whose name is not its kind's. */
static int named(const span *s)
{
    return !strcmp(s->cat, "task") && strcmp(s->name, "task") && s->name[0];
}

/* Puts each named task's label on the first line under its thread's row
 * where it does not run into the label before it (up to LABEL_LINES lines;
 * past them, on the last). */
static void place_labels(thread *t, double t0, double scale)
{
    double free_x[LABEL_LINES];
    for (int i = 0; i < LABEL_LINES; i++)
        free_x[i] = -1e30;
    for (size_t k = 0; k < t->nspans; k++) {
        span *s = &t->spans[k];
        if (!named(s))
            continue;
        double x = LEFT + (s->begin - t0) * scale;
        int line = LABEL_LINES - 1;
        for (int i = 0; i < LABEL_LINES; i++)
            if (free_x[i] <= x) {
                line = i;
                break;
            }
        free_x[line] = x + CHAR_W * (double)strlen(s->name) + 4;
        s->label = line;
        if ((unsigned)line + 1 > t->label_lines)
            t->label_lines = (unsigned)line + 1;
    }
}

static double row_height(const thread *t)
{
    return (t->lanes ? t->lanes : 1) * LANE + t->label_lines * LABEL + ROWGAP;
}

static int draw(trace *tr, const char *path, const char *title)
{
    qsort(tr->t, tr->n, sizeof *tr->t, cmp_tid);
    double t0 = 0, t1 = 0;
    int any = 0;
    for (size_t i = 0; i < tr->n; i++)
        for (size_t k = 0; k < tr->t[i].nspans; k++) {
            const span *s = &tr->t[i].spans[k];
            if (!any || s->begin < t0)
                t0 = s->begin;
            if (!any || s->end > t1)
                t1 = s->end;
            any = 1;
        }
    if (t1 <= t0)
        t1 = t0 + 1;
    double pw = WIDTH - LEFT - RIGHT, scale = pw / (t1 - t0);

    double height = TOP;
    for (size_t i = 0; i < tr->n; i++) {
        place_labels(&tr->t[i], t0, scale);
        height += row_height(&tr->t[i]);
    }
    double legend_y = height + 14;
    height = legend_y + 24;

    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "trace-svg: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n",
            WIDTH, height, WIDTH, height);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"10\" y=\"16\" font-size=\"13\" font-weight=\"bold\">");
    xml(f, title);
    fprintf(f, "</text>\n");

    /* The time axis: ticks at 1, 2 or 5 times a power of ten, about ten of
     * them. */
    double range = t1 - t0, step = 1;
    while (step * 10 < range / 10)
        step *= 10;
    if (step * 2 >= range / 10)
        step *= 2;
    else if (step * 5 >= range / 10)
        step *= 5;
    else
        step *= 10;
    fprintf(f, "<text x=\"%.1f\" y=\"34\" text-anchor=\"end\">time (us)</text>\n", LEFT - 8);
    fprintf(f, "<line x1=\"%.1f\" y1=\"42\" x2=\"%.1f\" y2=\"42\" stroke=\"black\"/>\n", LEFT,
            LEFT + pw);
    for (double t = 0; t <= range + 1e-9; t += step) {
        double x = LEFT + t * scale;
        fprintf(f, "<line x1=\"%.1f\" y1=\"38\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#e0e0e0\"/>\n",
                x, x, legend_y - 10);
        fprintf(f, "<line x1=\"%.1f\" y1=\"38\" x2=\"%.1f\" y2=\"42\" stroke=\"black\"/>\n", x, x);
        fprintf(f, "<text x=\"%.1f\" y=\"34\" text-anchor=\"middle\">%.0f</text>\n", x, t);
    }

    double y = TOP;
    for (size_t i = 0; i < tr->n; i++) {
        const thread *t = &tr->t[i];
        unsigned lanes = t->lanes ? t->lanes : 1;
        char fallback[32];
        snprintf(fallback, sizeof fallback, "thread %ld", t->tid);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", LEFT - 8,
                y + LANE * 0.75);
        xml(f, t->name ? t->name : fallback);
        fprintf(f, "</text>\n");
        double bottom = y + row_height(t) - ROWGAP / 2;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#bbbbbb\"/>\n",
                LEFT, bottom, LEFT + pw, bottom);
        for (size_t k = 0; k < t->nspans; k++) {
            const span *s = &t->spans[k];
            double x = LEFT + (s->begin - t0) * scale, w = (s->end - s->begin) * scale;
            if (w < 0.6)
                w = 0.6;
            double sy = y + s->depth * LANE;
            int app = !strcmp(s->cat, "app");
            fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\"%s>"
                       "<title>",
                    x, sy + 1, w, LANE - 2, fill_of(s->cat),
                    app ? " stroke=\"#999999\" stroke-width=\"0.5\"" : "");
            xml(f, s->name);
            fprintf(f, " (%s): %.3f to %.3f us, %.3f us</title></rect>\n", s->cat, s->begin - t0,
                    s->end - t0, s->end - s->begin);
            if (s->label >= 0) {
                /* A tick from the box down to its label. */
                double ly = y + lanes * LANE + (s->label + 1) * LABEL;
                fprintf(f, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" "
                           "stroke=\"%s\" stroke-width=\"0.8\"/>",
                        x + 0.3, sy + LANE - 1, x + 0.3, ly - 8, fill_of(s->cat));
                fprintf(f, "<text x=\"%.2f\" y=\"%.1f\" font-size=\"9\">", x, ly);
                xml(f, s->name);
                fprintf(f, "</text>\n");
            }
        }
        y += row_height(t);
    }

    double x = LEFT;
    for (size_t i = 0; i < sizeof styles / sizeof styles[0]; i++) {
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\" "
                   "stroke=\"#999999\" stroke-width=\"0.5\"/>",
                x, legend_y - 10, styles[i].fill);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 16, legend_y, styles[i].label);
        x += 22 + 6.2 * (double)strlen(styles[i].label);
    }
    fprintf(f, "</svg>\n");
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "trace-svg: %s: write error\n", path);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size == 0) {
        fprintf(stderr, "trace-svg: %s: empty after writing\n", path);
        return -1;
    }
    return 0;
}

static void release(trace *tr)
{
    for (size_t i = 0; i < tr->nevents; i++) {
        free(tr->events[i].cat);
        free(tr->events[i].name);
        free(tr->events[i].arg_name);
    }
    for (size_t i = 0; i < tr->n; i++) {
        free(tr->t[i].spans);
        free(tr->t[i].open);
    }
    free(tr->t);
    free(tr->events);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    int check = 0;
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check"))
            check = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            in = out = NULL, argc = 0;
        else if (!in)
            in = argv[i];
        else if (!out)
            out = argv[i];
        else
            in = NULL, argc = 0;
    }
    if (!in) {
        fprintf(stderr, "usage: trace-svg [--check] trace.json [trace.svg]\n");
        return 1;
    }
    if (!out && !check)
        out = "trace.svg";

    trace tr = {0};
    if (load(&tr, in) != 0) {
        release(&tr);
        return 1;
    }
    size_t spans = 0;
    for (size_t i = 0; i < tr.n; i++) {
        spans += tr.t[i].nspans;
        if (tr.t[i].nopen)
            problem(&tr, "\"B\" never closed", tr.t[i].tid, tr.t[i].last_ts);
        /* An unclosed span is drawn to the thread's last time stamp. */
        for (size_t k = 0; k < tr.t[i].nopen; k++)
            tr.t[i].spans[tr.t[i].open[k]].end = tr.t[i].last_ts;
    }
    if (spans == 0)
        problem(&tr, "no spans", 0, 0);
    if (check && tr.errors) {
        fprintf(stderr, "trace-svg: %s: check failed (%d problems)\n", in, tr.errors);
        release(&tr);
        return 1;
    }

    int rc = 0;
    if (out) {
        const char *base = strrchr(in, '/');
        char title[256];
        snprintf(title, sizeof title, "%s: %zu spans on %zu thread%s", base ? base + 1 : in,
                 spans, tr.n, tr.n == 1 ? "" : "s");
        rc = draw(&tr, out, title) != 0;
    }
    if (!rc)
        printf("trace-svg: %s: %zu spans on %zu thread%s%s%s%s\n", in, spans, tr.n,
               tr.n == 1 ? "" : "s", check ? ", balanced" : "", out ? ", drawn to " : "",
               out ? out : "");
    release(&tr);
    return rc;
}
