/*
 * park.pml: the sleep/wake protocol of docs/design.md ("Idling"), as a
 * Promela model for spin. It changes with that section.
 *
 * Spin explores every interleaving of the processes below, which is the
 * sequentially consistent execution the design's argument relies on: the
 * words that matter (work, shared job, sleepers, sleeping, waiting,
 * pending) are accessed with seq_cst operations, or with relaxed ones that
 * the design shows are ordered by a seq_cst operation (`sleeping = 1`
 * before `sleepers += 1`). One step of a process is one atomic access.
 *
 * Processes:
 *  - W idle workers (worker_sleep in pool.c): look for work; if none,
 *    p = park; sleeping = 1; sleepers += 1; re-check; futex_wait(park, p);
 *    sleeping = 0; sleepers -= 1.
 *  - a publisher: publishes JOBS jobs one at a time (the seq_cst
 *    publication), then wakes one sleeper (mp_wake_idle(pool, 1)):
 *    if sleepers > 0, for each worker w, exchange(w.sleeping, 0) and if it
 *    was 1, park += 1 and futex_wake.
 *  - a joiner (mp_join, join.c): shares its second half `b` (published
 *    like any job, with a wake-up of one sleeper), then either takes `b`
 *    back or, if a worker stole it, waits for `pending` to become 0 with
 *    the waiting-inside-a-call pattern: p = park; waiting += 1; re-check
 *    pending; futex_wait(park, p); waiting -= 1. The worker that ran `b`
 *    stores pending = 0 and then reads `waiting` (mp_wake_ctx).
 *
 * The futex: futex_wait(word, p) atomically compares the word with p and,
 * if equal, queues the thread; futex_wake dequeues every queued thread of
 * that word (the engine wakes with INT_MAX).
 *
 * Properties:
 *  - when no process can move any more (spin's `timeout`), every job was
 *    run, `b` was run and the joiner returned: nobody sleeps while work is
 *    visible and no waker is left to wake it (a lost wake-up fails this
 *    assertion);
 *  - no invalid end state (a deadlock other than workers idle in their
 *    futex wait);
 *  - with -DNP (pan -l): no cycle without progress (nobody spins forever
 *    without running work).
 *
 * Broken variants, each of which spin must reject (the test proves the
 * checker bites):
 *  -DBUG_PUBLISH_LATE  the publisher reads `sleepers` before it publishes
 *  -DBUG_NO_RECHECK    an idle worker sleeps without re-checking for work
 *  -DBUG_PARK_LATE     an idle worker reads `park` after its re-check
 *  -DBUG_WAIT_NO_RECHECK the joiner sleeps without re-checking `pending`
 *  -DBUG_SHARED_FLAG   two joiners share one parking record whose
 *                      `waiting` is a flag, not a count: one clears the
 *                      other's announcement (the engine had this bug in its
 *                      last-resort record until `waiting` became a count)
 *
 * -DSHARED_RECORD checks the last-resort case as the engine does it: two
 * joiners share one record and `waiting` counts them; it must hold.
 */

#ifndef W
#define W 2
#endif
#ifndef JOBS
#define JOBS 2
#endif

#if defined(BUG_SHARED_FLAG) || defined(SHARED_RECORD)
#define JOINERS 2
#define SHARED
#else
#define JOINERS 1
#endif

/* Parking records: one per worker, then the joiners'. */
#define NREC (W + JOINERS)

byte work = 0;                  /* published jobs not yet taken */
bool shared_b[JOINERS];         /* a joiner's `b` is stealable */
bool pending[JOINERS];          /* its `b` has not finished */
bool joined[JOINERS];           /* the joiner returned */

byte sleepers = 0;
bool sleeping[W];
byte park[NREC];
bool infutex[NREC];             /* queued in futex_wait on park[i] */
byte waiting[NREC];             /* a count: a shared record has several */

/* The record a joiner sleeps on: its own, or with SHARED_RECORD (and
 * BUG_SHARED_FLAG) one record shared by both, as the engine's last-resort
 * record (thread.c) is shared by every thread that got no record of its
 * own. */
#ifdef SHARED
#define JREC(j) (W)
#else
#define JREC(j) (W + (j))
#endif

inline futex_wait(r, p) {
    atomic { if :: park[r] == p -> infutex[r] = true :: else -> skip fi }
}

inline futex_wake(r) {
    infutex[r] = false
}

/* mp_wake_idle(pool, 1) */
inline wake_one_idle() {
    if
    :: sleepers > 0 ->
        i = 0;
        do
        :: i < W ->
            atomic { old = sleeping[i]; sleeping[i] = false };
            if
            :: old -> park[i]++; futex_wake(i); break
            :: else -> i++
            fi
        :: else -> break
        od;
        i = 0; old = false
    :: else -> skip
    fi
}

/* mp_wake_ctx(joiner): the joiner's waiting flag (it is not an idle
 * worker, so `sleeping` of its context is 0). */
inline wake_joiner(j) {
    if
    :: waiting[JREC(j)] > 0 -> park[JREC(j)]++; futex_wake(JREC(j))
    :: else -> skip
    fi
}

proctype worker(byte me) {
    byte p, i, j;
    bool old;
    bool visible;
end_idle:
    do
    :: /* find_work: a stealable `b` first, then a job */
        if
        :: atomic { j < JOINERS && shared_b[j] -> shared_b[j] = false };
            /* run b, then pending = 0 (seq_cst), then mp_wake_ctx */
progress_b:  pending[j] = false;
            wake_joiner(j);
            j = 0
        :: atomic { j < JOINERS && !shared_b[j] -> j++ }
        :: atomic { j >= JOINERS && work > 0 -> work--; j = 0 };
progress_job: skip
        :: atomic { j >= JOINERS && work == 0 -> j = 0 };
            /* nothing found: worker_sleep */
#ifndef BUG_PARK_LATE
            p = park[me];
#endif
            sleeping[me] = true;
            sleepers++;
            /* the seq_cst re-check of mp_work_visible */
#ifdef BUG_NO_RECHECK
            visible = false;
#else
            visible = work > 0;
            i = 0;
            do
            :: i < JOINERS -> visible = visible || shared_b[i]; i++
            :: else -> break
            od;
            i = 0;
#endif
#ifdef BUG_PARK_LATE
            p = park[me];
#endif
            if
            :: !visible ->
                futex_wait(me, p);
end_sleep:      !infutex[me]
            :: else -> skip
            fi;
            sleeping[me] = false;
            sleepers--;
            p = 0; visible = false
        fi
    od
}

proctype publisher() {
    byte i, n = 0, s;
    bool old;
    do
    :: n < JOBS ->
#ifdef BUG_PUBLISH_LATE
        s = sleepers;            /* read before publishing: wrong */
        work++;
        if
        :: s > 0 -> wake_one_idle()
        :: else -> skip
        fi;
#else
        work++;                  /* the seq_cst publication */
        wake_one_idle();
#endif
        n++
    :: else -> break
    od
}

proctype joiner(byte j) {
    byte p, i;
    bool old;
    bool got;
    pending[j] = true;
    shared_b[j] = true;          /* the seq_cst CAS that shares b */
    wake_one_idle();
    /* run a (nothing to model), then pop b */
    atomic { got = shared_b[j]; shared_b[j] = false };
    if
    :: got -> pending[j] = false   /* not stolen: run it here */
    :: else ->
        /* wait_job: spin, then park until pending == 0 (mp_park) */
        do
        :: !pending[j] -> break
        :: else ->
            p = park[JREC(j)];
#ifdef BUG_SHARED_FLAG
            waiting[JREC(j)] = 1;
#else
            waiting[JREC(j)]++;
#endif
#ifdef BUG_WAIT_NO_RECHECK
            futex_wait(JREC(j), p);
            !infutex[JREC(j)];
#else
            if
            :: pending[j] -> futex_wait(JREC(j), p); !infutex[JREC(j)]
            :: else -> skip
            fi;
#endif
#ifdef BUG_SHARED_FLAG
            waiting[JREC(j)] = 0;
#else
            waiting[JREC(j)]--;
#endif
            p = 0
        od
    fi;
    joined[j] = true
}

proctype monitor() {
    byte j;
    timeout ->
        assert(work == 0);   /* the publisher has ended: all JOBS were published */
        j = 0;
        do
        :: j < JOINERS -> assert(joined[j] && !pending[j] && !shared_b[j]); j++
        :: else -> break
        od;
}

init {
    byte i;
    atomic {
        i = 0;
        do
        :: i < W -> run worker(i); i++
        :: else -> break
        od;
        run publisher();
        i = 0;
        do
        :: i < JOINERS -> run joiner(i); i++
        :: else -> break
        od;
        run monitor()
    }
}
