/*
 * park.pml: the sleep/wake protocol of docs/design.md ("Idling"), as a
 * Promela model for spin. It changes with that section.
 *
 * Spin explores every interleaving of the processes below, which is the
 * sequentially consistent execution the design's argument relies on: the
 * words that matter (work, shared job, sleepers, sleeping, waiting,
 * pending, with BCAST bseq_pub and remaining, with MAILBOX mb_word and
 * mb_pending, with TASKWAIT the task's state and waiters, with HELPER the
 * ready count and nhelpers) are accessed with
 * seq_cst operations, or with relaxed ones that the design shows to be
 * ordered by a seq_cst operation. `sleeping = 1` is a seq_cst store: a
 * broadcaster reads `sleeping` without reading `sleepers`, so ordering it
 * before `sleepers += 1` is not enough (BUG_BCAST_RELAXED_SLEEPING below).
 * One step of a process is one atomic access.
 *
 * Processes:
 *  - W idle workers (mp__idle_sleep in idle.c): look for work; if none,
 *    p = park; sleeping = 1; sleepers += 1; re-check; futex_wait(park, p);
 *    sleeping = 0; sleepers -= 1.
 *  - a publisher: publishes JOBS jobs one at a time (the seq_cst
 *    publication), then wakes one sleeper (mp__wake_idle(pool, 1)):
 *    if sleepers > 0, for each worker w, exchange(w.sleeping, 0) and if it
 *    was 1, park += 1 and futex_wake.
 *  - a joiner (mp_join, deque.c): shares its second half `b` (published
 *    like any job, with a wake-up of one sleeper), then either takes `b`
 *    back or, if a worker stole it, waits for `pending` to become 0 with
 *    the waiting-inside-a-call pattern: p = park; waiting += 1; re-check
 *    pending; futex_wait(park, p); waiting -= 1. The worker that ran `b`
 *    stores pending = 0 and then reads `waiting` (mp__wake_ctx).
 *  - with -DBCAST (the test uses -DJOBS=1): the joiner is worker 0 (a job it runs
 *    calls mp_join) and `b` is an mp_broadcast, run by whichever thread
 *    gets `b`: the joiner when it takes `b` back (the other worker is
 *    idle), or the worker that stole it (the joiner waits inside its
 *    join). The broadcaster stores bseq_pub (seq_cst), calls mp__wake_ctx
 *    for every worker context: load waiting, then sleeping (seq_cst), and
 *    if either is set park += 1 and futex_wake; it never reads
 *    `sleepers`. It runs its own part and part 0, then waits for
 *    `remaining` to reach 0 (waiting-inside-a-call pattern). A part ends
 *    with remaining -= 1 (seq_cst RMW); the one that brings it to 0 calls
 *    mp__wake_ctx on the broadcaster's context. An idle worker runs its
 *    part from find_work and re-checks `bseq_pub > bseen` before
 *    sleeping; the joiner waiting inside its join runs its part from the
 *    wait loop (mp__bcast_duties.run) and re-checks pending broadcasts
 *    before sleeping (mp__bcast_duties.pending in mp__wait_on).
 *  - with -DMAILBOX (the test uses -DW=1 -DJOBS=1; with two workers the
 *    search outgrows 10 GB): the joiner is
 *    replaced by the caller of a cold MP_SPLIT_STATIC loop (mailbox.c,
 *    mp__mailbox_run_loop), an outside thread. It reads the workers' `spinning`
 *    (a hint: the model sets it to 1 only where the engine certainly has
 *    1, after a worker ran a job or a part, so the wake-ups it forces are
 *    real ones); when a worker is not polling the call is cold and the
 *    estimate (warm.c) decides, nondeterministically, whether it wakes.
 *    It posts part k + 1 to worker k's mailbox: mb_pending = 1, then the
 *    seq_cst store mb_word = POSTED, then, if it wakes, mp__wake_worker:
 *    if sleepers > 0 (seq_cst load), exchange(w.sleeping, 0) and if it
 *    was 1, park += 1 and futex_wake. It runs part 0, then collects: the
 *    CAS POSTED -> EMPTY (take_back; its bounded wait for a polling
 *    worker is a delay, which the interleavings contain) and, if it won,
 *    runs the part itself; else the worker has it (TAKEN) and the caller
 *    waits for mb_pending == 0 (waiting-inside-a-call pattern). A worker
 *    takes a POSTED part with the CAS POSTED -> TAKEN from find_work,
 *    runs it, stores mb_pending = 0 (seq_cst) and calls mp__wake_ctx on
 *    the caller. The idle worker re-checks its mailbox before sleeping
 *    (mp__mailbox_visible), and its futex_wait may also end because its
 *    timeout passed (keep watch, worker_sleep and warm.c; at most TMO
 *    times, default 2): it then clears sleeping and sleepers, looks for
 *    work and goes through the whole announce again before it sleeps.
 *    The publisher's job shares the worker with the mailbox: two wakers
 *    exchange the same `sleeping`.
 *  - with -DTASKWAIT (the test uses -DW=1 -DJOBS=0): the joiners are two
 *    threads in mp_task_wait on one task that a settler process runs
 *    (task.c). A waiter puts itself on the task's list under the task's
 *    lock, then twaiters += 1 (seq_cst), and waits for the task's state
 *    with the waiting-inside-a-call pattern (mp__wait_on); then it takes
 *    itself off the list under the lock and twaiters -= 1. The settler
 *    stores the state (seq_cst), loads twaiters and, if it is not 0, walks
 *    the list under the lock and wakes every listed record whose
 *    `waiting` is set (mp__wake_waiter).
 *  - with -DTIMED as well (the test model_park_task_timed): the second
 *    waiter is a bounded one (mp_task_wait_for): its futex_wait may end
 *    because its deadline passed, and then, or at the top of its loop once
 *    the deadline has passed, it gives up: it takes itself off the list
 *    under the lock and returns, and its entry (on its stack) is gone. The
 *    settler must never find a gone entry on the list, and the other
 *    waiter must still be woken.
 *  - with -DHELPER (the test model_park_helper uses -DW=1 -DJOBS=0): a
 *    helper, the joiner of this instance, waits on a task T whose
 *    prerequisite P has not finished (task.c, wait_prerequisites). It puts
 *    itself on the pool's helpers list under hlock, then nhelpers += 1
 *    (seq_cst), then waits with the waiting-inside-a-call pattern
 *    (mp__wait_on) until T leaves T_WAITING: if a task is visible on the
 *    ready list (ready count > 0) it takes it (count -= 1, mp__task_run_one)
 *    and runs it, and running P makes T ready (the helper sets the done
 *    flag itself); else p = park; waiting += 1; last check (T done, or the
 *    ready count > 0, seq_cst loads); futex_wait(park, p); waiting -= 1.
 *    Then it takes itself off the list under hlock and nhelpers -= 1. A
 *    pusher process is worker 0, which finished P's own prerequisite and
 *    makes P ready (ready.c, mp__ready_push): the seq_cst ready count +=
 *    1 (under the list's lock in the engine, which does not matter here),
 *    then mp__task_wake_helpers: load nhelpers (seq_cst) and, if it is not
 *    0, under hlock wake every listed helper whose `waiting` is set
 *    (mp__wake_waiter: park += 1, futex_wake). There are no idle workers:
 *    every worker is busy or waiting, so mp__wake_idle wakes nobody, and
 *    that is the case the helpers list is for. No worker process runs
 *    (W = 1 is the pusher, which does not go back to take P itself: that
 *    would only be another way for P to run); the publisher has no jobs.
 *    T's own list of waiters, where the helper is too (watch), is left
 *    out: here T becomes ready by the helper's own hand.
 *
 * The futex: futex_wait(word, p) atomically compares the word with p and,
 * if equal, queues the thread; futex_wake dequeues every queued thread of
 * that word (the engine wakes with INT_MAX).
 *
 * Properties:
 *  - when no process can move any more (spin's `timeout`), every job was
 *    run, `b` was run and the joiner returned (with -DHELPER: the helper
 *    returned, the pushed task P ran exactly once, nhelpers is 0; with
 *    -DBCAST also: every
 *    broadcast part ran and the broadcaster returned; with -DMAILBOX
 *    instead of the joiner's: every mailbox part ran, exactly once, as
 *    asserted where it runs, and the loop's caller returned): nobody sleeps
 *    while work is visible and no waker is left to wake it (a lost
 *    wake-up fails this assertion);
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
 *  -DBUG_BCAST_RELAXED_SLEEPING (with BCAST) an idle worker's
 *                      `sleeping = 1` is a relaxed store: C11 lets it reach
 *                      a broadcaster, which reads `sleeping` but not
 *                      `sleepers`, only after the worker's re-check. Spin
 *                      runs sequentially consistent interleavings only, so
 *                      the model delays the store for mp__wake_ctx's load
 *                      until after the re-check (mp__wake_idle still sees
 *                      it: it reads `sleepers` first, which orders it)
 *  -DBUG_BCAST_WAIT_UNCHECKED (with BCAST) the joiner's last check before
 *                      sleeping inside its join leaves out pending
 *                      broadcast parts
 *  -DBUG_MAILBOX_NO_TAKEBACK (with MAILBOX) the caller collects a part
 *                      without the take-back CAS, waiting for mb_pending
 *                      == 0 as if the worker had it: after a skipped
 *                      wake-up the sleeping worker never comes, and the
 *                      caller sleeps for ever. (With the wake-up always
 *                      done this collect holds: the skipped wake-up is
 *                      what makes the take-back necessary.)
 *  -DBUG_WATCH_STALE_PARK (with MAILBOX) after its timeout the worker
 *                      clears sleeping and sleepers and goes straight back
 *                      to futex_wait with its old `park` value, without
 *                      re-announcing or re-checking: a job published in
 *                      between finds no sleeper to wake, and the worker
 *                      sleeps with the job visible (a mailbox part posted
 *                      meanwhile the caller takes back; a job has no
 *                      take-back)
 *  -DBUG_TASK_WAKE_EARLY (with TASKWAIT) the settler loads twaiters before
 *                      it stores the state: a waiter that comes between
 *                      sees the task unfinished and sleeps, unwoken
 *  -DBUG_TASK_WAKE_FIRST (with TASKWAIT) the settler wakes only the first
 *                      listed waiter that is asleep; the other sleeps on
 *  -DBUG_TASK_TIMEOUT_STAYS (with TASKWAIT, TIMED) a bounded waiter that
 *                      gives up leaves its entry on the list: the settler
 *                      walks into a stack that is gone
 *  -DBUG_HELPER_LOAD_EARLY (with HELPER) the pusher loads nhelpers before
 *                      it publishes the ready count: a helper that comes
 *                      between finds the list empty and sleeps, unwoken
 *  -DBUG_HELPER_LATE_COUNT (with HELPER) the helper adds itself to
 *                      nhelpers only once it is about to sleep, after its
 *                      last check loaded the ready count: a push between
 *                      the two reads nhelpers 0 and wakes nobody
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

#if defined(BUG_BCAST_RELAXED_SLEEPING) || defined(BUG_BCAST_WAIT_UNCHECKED)
#define BCAST
#endif

#if defined(BUG_MAILBOX_NO_TAKEBACK) || defined(BUG_WATCH_STALE_PARK)
#define MAILBOX
#endif
#ifndef TMO
#define TMO 2
#endif

#if defined(BUG_TASK_TIMEOUT_STAYS)
#define TIMED
#endif
#if defined(BUG_TASK_WAKE_EARLY) || defined(BUG_TASK_WAKE_FIRST) || defined(TIMED)
#define TASKWAIT
#endif
/* The bounded waiter of the TIMED instance: the second one. */
#ifdef TIMED
#define timed(j) (j == 1)
#else
#define timed(j) false
#endif

#if defined(BUG_HELPER_LOAD_EARLY) || defined(BUG_HELPER_LATE_COUNT)
#define HELPER
#endif

#if defined(BUG_SHARED_FLAG) || defined(SHARED_RECORD)
#define JOINERS 2
#define SHARED
#elif defined(TASKWAIT)
#define JOINERS 2
#else
#define JOINERS 1
#endif

#if defined(BCAST) && defined(SHARED)
#error "BCAST and SHARED_RECORD are separate instances"
#endif
#if defined(MAILBOX) && (defined(BCAST) || defined(SHARED))
#error "MAILBOX is a separate instance"
#endif
#if defined(TASKWAIT) && (defined(BCAST) || defined(SHARED) || defined(MAILBOX))
#error "TASKWAIT is a separate instance"
#endif
#if defined(HELPER) && (defined(BCAST) || defined(SHARED) || defined(MAILBOX) || defined(TASKWAIT))
#error "HELPER is a separate instance"
#endif

/* Parking records: one per worker, then the joiners' (with BCAST the
 * joiner is worker 0 and has no record of its own). */
#ifdef BCAST
#define NREC (W)
#else
#define NREC (W + JOINERS)
#endif

byte work = 0;                  /* published jobs not yet taken */
bool shared_b[JOINERS];         /* a joiner's `b` is stealable */
bool pending[JOINERS];          /* its `b` has not finished */
bool joined[JOINERS];           /* the joiner returned */

byte sleepers = 0;
bool sleeping[W];
byte park[NREC];
bool infutex[NREC];             /* queued in futex_wait on park[i] */
byte waiting[NREC];             /* a count: a shared record has several */

#ifdef BCAST
byte bseq = 0;                  /* bseq_pub: 1 once the broadcast is published */
byte bseen[W];                  /* ctx->bseen of each worker */
byte remaining = 0;             /* b.remaining: parts not yet finished */
byte bowner;                    /* the broadcaster's record (b.waiter) */
bool bdone = false;             /* the broadcaster returned */
#ifdef BUG_BCAST_RELAXED_SLEEPING
bool sleeping_out[W];           /* the relaxed `sleeping = 1` has reached
                                 * the other threads' mp__wake_ctx */
#define SLEEPING_SEEN(w) (sleeping[w] && sleeping_out[w])
#else
#define SLEEPING_SEEN(w) (sleeping[w])
#endif
#endif

#ifdef MAILBOX
#define EMPTY 0
#define POSTED 1
#define TAKEN 2
byte mb[W];                     /* MB_STATE of each worker's mb_word */
bool mb_pending[W];             /* its mb_pending */
byte ran = 0;                   /* ghost: bit w set once the part posted to
                                 * worker w ran (a bit mask, not an array:
                                 * gcc warns about pan's undo code of an
                                 * atomic writing two arrays at one index) */
bool spinning[W];               /* the hint: the worker polls for work */
bool hdone = false;             /* the caller of the static loop returned */
#endif

#ifdef TASKWAIT
bool tdone = false;             /* the task's state is DONE */
byte twaiters = 0;              /* task.waiters */
bool onlist[JOINERS];           /* the waiter's entry is on the task's list */
bool tlock = false;             /* task.wlock */
bool expired = false;           /* the bounded waiter's deadline passed */
bool gone[JOINERS];             /* the waiter returned: its entry is gone */
#endif

#ifdef HELPER
bool tready = false;            /* T has left T_WAITING (P ran) */
byte rcount = 0;                /* the ready list's count (r->n) */
byte pran = 0;                  /* ghost: how many times P ran */
byte nhelpers = 0;              /* tasks.nhelpers */
bool hlisted[JOINERS];          /* the helper's entry is on tasks.helpers */
bool hlock = false;             /* tasks.hlock */
#endif

/* The record a joiner sleeps on: its own, or with SHARED_RECORD (and
 * BUG_SHARED_FLAG) one record shared by both, as the engine's last-resort
 * record (thread.c) is shared by every thread that got no record of its
 * own. */
#ifdef BCAST
#define JREC(j) (0)
#elif defined(SHARED)
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

/* mp__wake_idle(pool, 1) */
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

#ifdef MAILBOX
/* mp__wake_worker(pool, w): the same `sleepers` load, then that one
 * worker's exchange (the relaxed load before it only saves the RMW). */
inline wake_worker(w) {
    if
    :: sleepers > 0 ->
        atomic { old = sleeping[w]; sleeping[w] = false };
        if
        :: old -> park[w]++; futex_wake(w)
        :: else -> skip
        fi;
        old = false
    :: else -> skip
    fi
}
#endif

/* mp__wake_ctx(joiner): the joiner's waiting flag (it is not an idle
 * worker, so `sleeping` of its context is 0). */
inline wake_joiner(j) {
    if
    :: waiting[JREC(j)] > 0 -> park[JREC(j)]++; futex_wake(JREC(j))
    :: else -> skip
    fi
}

#ifdef BCAST
/* mp__wake_ctx(ctx) of worker context r: ctx->thread is fixed here (record
 * r); load waiting, and only if it is 0 load sleeping. */
inline wake_ctx(r) {
    if
    :: waiting[r] > 0 -> park[r]++; futex_wake(r)
    :: else ->
        if
        :: SLEEPING_SEEN(r) -> park[r]++; futex_wake(r)
        :: else -> skip
        fi
    fi
}

/* The end of run_part: fetch_sub(remaining, 1) (seq_cst); the part that
 * brings it to 0 wakes the broadcaster. */
inline part_done() {
    atomic { old = (remaining == 1); remaining-- };
    if
    :: old -> old = false; wake_ctx(bowner)
    :: else -> skip
    fi
}

/* mp_broadcast called by worker `me` (uses the caller's p, i, old). */
inline broadcast(me) {
    atomic { remaining = W + 1; bowner = me };   /* the record, not yet shared */
    bseq = 1;                    /* the seq_cst store of bseq_pub */
    i = 0;
    do
    :: i < W -> wake_ctx(i); i++
    :: else -> break
    od;
    i = 0;
    bseen[me] = bseq;            /* mp__bcast_run_one: its own part */
    part_done();
    part_done();                 /* run_part(&b, 0) */
    /* mp__wait_zero(ctx, &b.remaining): mp__bcast_duties.run and the
     * pending-broadcast check of mp__wait_on find nothing, the
     * broadcaster has run its own part. */
    do
    :: remaining == 0 -> break
    :: else ->
        p = park[me];
        waiting[me]++;
        if
        :: remaining > 0 -> futex_wait(me, p); !infutex[me]
        :: else -> skip
        fi;
        waiting[me]--;
        p = 0
    od;
    bdone = true
}
#endif

/* mp_join: the joiner's side (uses the caller's p, i, old, got and, with
 * BCAST, visible). */
inline join(j) {
    pending[j] = true;
    shared_b[j] = true;          /* the seq_cst CAS that shares b */
    wake_one_idle();
    /* run a (nothing to model), then pop b */
    atomic { got = shared_b[j]; shared_b[j] = false };
    if
#ifdef BCAST
    :: got -> broadcast(JREC(j)); pending[j] = false   /* not stolen: run it here */
#else
    :: got -> pending[j] = false   /* not stolen: run it here */
#endif
    :: else ->
        /* wait_job: spin, then park until pending == 0 (mp__wait_on) */
        do
        :: !pending[j] -> break
#ifdef BCAST
        /* mp__bcast_duties.run: a part addressed to this worker */
        :: atomic { pending[j] && bseq > bseen[JREC(j)] -> bseen[JREC(j)] = bseq };
            part_done()
        :: atomic { pending[j] && bseq <= bseen[JREC(j)] } ->
            p = park[JREC(j)];
            waiting[JREC(j)]++;
            visible = !pending[j];
#ifndef BUG_BCAST_WAIT_UNCHECKED
            visible = visible || bseq > bseen[JREC(j)];  /* mp__bcast_duties.pending */
#endif
            if
            :: !visible -> futex_wait(JREC(j), p); !infutex[JREC(j)]
            :: else -> skip
            fi;
            waiting[JREC(j)]--;
            p = 0; visible = false
#else
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
#endif
        od
    fi;
    joined[j] = true
}

#ifdef TASKWAIT
inline task_lock() {
    atomic { !tlock -> tlock = true }
}

/* mp_task_wait on a task another thread runs (wait_settled): the list,
 * then mp__wait_on until the state is DONE, or, for the bounded waiter,
 * until its deadline. */
inline task_wait(j) {
    task_lock(); onlist[j] = true; tlock = false;
    twaiters++;
    do
    :: tdone -> break
    :: timed(j) && expired -> break
    :: else ->
        p = park[JREC(j)];
        waiting[JREC(j)]++;
        if
        :: !tdone ->
            futex_wait(JREC(j), p);
            if
            :: !infutex[JREC(j)] -> skip
            :: timed(j) ->       /* the deadline: the sleep ends by itself */
                atomic { infutex[JREC(j)] = false; expired = true }
            fi
        :: else -> skip
        fi;
        waiting[JREC(j)]--;
        p = 0
    od;
    task_lock();
#ifdef BUG_TASK_TIMEOUT_STAYS
    if
    :: timed(j) && !tdone -> skip   /* wrong: the entry stays */
    :: else -> onlist[j] = false
    fi;
#else
    onlist[j] = false;
#endif
    tlock = false;
    twaiters--;
    gone[j] = true;
    joined[j] = true
}

/* settle(): the state, then the waiters on the list. */
proctype settler() {
    byte i;
    bool any;
#ifdef BUG_TASK_WAKE_EARLY
    any = (twaiters > 0);        /* wrong: read before the store */
    tdone = true;
#else
    tdone = true;
    any = (twaiters > 0);
#endif
    if
    :: any ->
        task_lock();
        i = 0;
        do
        :: i < JOINERS ->
            assert(!(onlist[i] && gone[i]));   /* no entry of a stack that is gone */
            if
            :: onlist[i] && waiting[JREC(i)] > 0 -> park[JREC(i)]++; futex_wake(JREC(i));
#ifdef BUG_TASK_WAKE_FIRST
                break;
#endif
                i++
            :: else -> i++
            fi
        :: else -> break
        od;
        tlock = false
    :: else -> skip
    fi
}
#endif

#ifdef HELPER
inline helper_lock() {
    atomic { !hlock -> hlock = true }
}

/* wait_prerequisites: the helpers list and nhelpers, then mp__wait_on
 * with help (mp__task_run_one) and more (mp__task_visible) until T leaves
 * T_WAITING, then off the list (uses the caller's p, visible, counted). */
inline helper_wait(j) {
    helper_lock(); hlisted[j] = true; hlock = false;
#ifndef BUG_HELPER_LATE_COUNT
    nhelpers++;                  /* seq_cst, before the last check */
    counted = true;
#endif
    do
    :: tready -> break
    :: else ->
        if
        /* help: a task is visible, pop it (under the list's lock) */
        :: atomic { rcount > 0 -> rcount-- };
progress_run: assert(pran == 0);
            pran++;              /* runs P: T becomes ready */
            tready = true
        :: else ->
            p = park[JREC(j)];
            waiting[JREC(j)]++;
            visible = tready;    /* the last check: over, then more */
            visible = visible || rcount > 0;
#ifdef BUG_HELPER_LATE_COUNT
            if                   /* wrong: counted only after the check */
            :: !counted -> nhelpers++; counted = true
            :: else -> skip
            fi;
#endif
            if
            :: !visible -> futex_wait(JREC(j), p); !infutex[JREC(j)]
            :: else -> skip
            fi;
            waiting[JREC(j)]--;
            p = 0; visible = false
        fi
    od;
    helper_lock(); hlisted[j] = false; hlock = false;
    if
    :: counted -> nhelpers--; counted = false
    :: else -> skip
    fi;
    joined[j] = true
}

/* Worker 0 finishes P's prerequisite and makes P ready: mp__ready_push,
 * then (mp__wake_idle finds no sleeper) mp__task_wake_helpers. */
proctype pusher() {
    byte i;
    bool any;
#ifdef BUG_HELPER_LOAD_EARLY
    any = (nhelpers > 0);        /* wrong: read before the publication */
    rcount++;
#else
    rcount++;                    /* the seq_cst publication */
    any = (nhelpers > 0);
#endif
    if
    :: any ->
        helper_lock();
        i = 0;
        do
        :: i < JOINERS ->
            assert(!(hlisted[i] && joined[i]));   /* no entry of a helper that returned */
            if
            :: hlisted[i] && waiting[JREC(i)] > 0 -> park[JREC(i)]++; futex_wake(JREC(i)); i++
            :: else -> i++
            fi
        :: else -> break
        od;
        hlock = false
    :: else -> skip
    fi
}
#endif

proctype worker(byte me) {
    byte p, i, j;
    bool old;
    bool visible;
#ifdef MAILBOX
    byte tmo = 0;                /* timeouts so far (at most TMO) */
#endif
#ifdef BUG_WATCH_STALE_PARK
    bool stale;
#endif
#ifdef BCAST
    bool got;
    if
    :: me == 0 -> join(0)        /* worker 0 runs a job that calls mp_join */
    :: else -> skip
    fi;
#endif
end_idle:
    do
    :: /* find_work: (with BCAST a broadcast part, with MAILBOX the part in
        * its mailbox,) a stealable `b`, a job */
        if
#ifdef MAILBOX
        :: atomic { mb[me] == POSTED -> mb[me] = TAKEN;   /* mp__mailbox_run_one's CAS */
                    assert((ran & (1 << me)) == 0); ran = ran | (1 << me) };   /* runs it */
            /* its last touch of the mailbox (seq_cst), then mp__wake_ctx
             * on the poster; `spinning` stays as it was, then 1 */
progress_part: mb_pending[me] = false;
            wake_joiner(0);
            spinning[me] = true
#endif
#ifdef BCAST
        :: atomic { bseq > bseen[me] -> bseen[me] = bseq };
            part_done()          /* a broadcast part */
        :: atomic { j < JOINERS && shared_b[j] -> shared_b[j] = false };
            /* run b (the broadcast), then pending = 0 (seq_cst), then
             * mp__wake_ctx on the joiner (worker 0) */
progress_b:  broadcast(me);
            pending[j] = false;
            wake_ctx(JREC(j));
            j = 0
#else
        :: atomic { j < JOINERS && shared_b[j] -> shared_b[j] = false };
            /* run b, then pending = 0 (seq_cst), then mp__wake_ctx */
progress_b:  pending[j] = false;
            wake_joiner(j);
            j = 0
#endif
        :: atomic { j < JOINERS && !shared_b[j] -> j++ }
#ifdef MAILBOX
        /* a stolen job runs with `spinning` 0 (deque.c), then polling */
        :: atomic { j >= JOINERS && work > 0 -> work--; j = 0; spinning[me] = false };
progress_job: spinning[me] = true
#else
        :: atomic { j >= JOINERS && work > 0 -> work--; j = 0 };
progress_job: skip
#endif
#ifdef BCAST
        :: atomic { j >= JOINERS && work == 0 && bseq <= bseen[me] -> j = 0 };
#elif defined(MAILBOX)
        :: atomic { j >= JOINERS && work == 0 && mb[me] != POSTED -> j = 0;
                    spinning[me] = false };   /* the spin is over */
#else
        :: atomic { j >= JOINERS && work == 0 -> j = 0 };
#endif
            /* nothing found: worker_sleep */
#ifndef BUG_PARK_LATE
            p = park[me];
#endif
            sleeping[me] = true;
            sleepers++;
            /* the seq_cst re-check of work_visible */
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
#ifdef BCAST
            visible = visible || bseq > bseen[me];   /* mp__bcast_visible */
#endif
#ifdef MAILBOX
            visible = visible || mb[me] == POSTED;   /* mp__mailbox_visible */
#endif
#endif
#ifdef BUG_BCAST_RELAXED_SLEEPING
            sleeping_out[me] = true;   /* the relaxed store arrives only now */
#endif
#ifdef BUG_PARK_LATE
            p = park[me];
#endif
            if
            :: !visible ->
                futex_wait(me, p);
#ifdef MAILBOX
                /* keep watch: mp__futex_wait_until may also return because
                 * its timeout passed (any number of times, here at most
                 * TMO); the worker then spins (loops for work) and goes
                 * through the whole announce again before it sleeps */
end_sleep:      if
                :: !infutex[me]
                :: atomic { infutex[me] && tmo < TMO -> infutex[me] = false; tmo++ }
#ifdef BUG_WATCH_STALE_PARK
                    ; stale = true
#endif
                fi
#else
end_sleep:      !infutex[me]
#endif
            :: else -> skip
            fi;
            sleeping[me] = false;
#ifdef BUG_BCAST_RELAXED_SLEEPING
            sleeping_out[me] = false;
#endif
            sleepers--;
#ifdef BUG_WATCH_STALE_PARK
            /* wrong: after the timeout, straight back to futex_wait with
             * the old p, no re-announce, no re-check (sleeping is 0) */
            if
            :: stale ->
                stale = false;
                futex_wait(me, p);
end_stale:      !infutex[me]
            :: else -> skip
            fi;
#endif
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

#ifndef BCAST
proctype joiner(byte j) {
    byte p, i;
    bool old;
    bool got;
#ifdef HELPER
    bool visible, counted;
#endif
#ifdef TASKWAIT
    task_wait(j)
#elif defined(HELPER)
    helper_wait(j)
#else
    join(j)
#endif
}
#endif

#ifdef MAILBOX
/* mp__mailbox_run_loop: an MP_SPLIT_STATIC loop of W + 1 parts, part k + 1
 * posted to worker k's mailbox (the caller holds flat_busy: one poster).
 * The caller is an outside thread: its record is JREC(0), its context's
 * `sleeping` is 0. */
proctype caller() {
    byte p, i, k;
    bool old, wake, got;
    /* cold: a worker it posts to is not polling (relaxed loads) */
    k = 0;
    do
    :: k < W && spinning[k] -> k++
    :: k < W && !spinning[k] -> break
    :: k >= W -> break
    od;
    if
    :: k < W ->                  /* cold: the estimate decides (warm.c) */
        if
        :: wake = false
        :: wake = true
        fi
    :: else -> wake = true
    fi;
    /* post: mb_pending = 1 (relaxed), then the seq_cst store of
     * mb_word = POSTED, then mp__wake_worker if the call wakes */
    k = 0;
    do
    :: k < W ->
        mb_pending[k] = true;
        mb[k] = POSTED;
        if
        :: wake -> wake_worker(k)
        :: else -> skip
        fi;
        k++
    :: else -> break
    od;
    /* runs part 0 (nothing to model), then collects part k + 1 */
    k = 0;
    do
    :: k < W ->
        /* take_back: a polling worker gets a bounded wait first, a delay
         * the interleavings contain; then the CAS POSTED -> EMPTY */
#ifdef BUG_MAILBOX_NO_TAKEBACK
        got = false;             /* wrong: waits as if the worker had it */
#else
        atomic {
            got = (mb[k] == POSTED);
            if
            :: got -> mb[k] = EMPTY; assert((ran & (1 << k)) == 0); ran = ran | (1 << k)   /* runs it */
            :: else -> skip
            fi
        };
#endif
        if
        :: got -> skip
        :: else ->
            /* mp__wait_zero(ctx, &w->mb_pending) */
            do
            :: !mb_pending[k] -> break
            :: else ->
                p = park[JREC(0)];
                waiting[JREC(0)]++;
                if
                :: mb_pending[k] -> futex_wait(JREC(0), p); !infutex[JREC(0)]
                :: else -> skip
                fi;
                waiting[JREC(0)]--;
                p = 0
            od
        fi;
        got = false;
        k++
    :: else -> break
    od;
    hdone = true
}
#endif

proctype monitor() {
    byte j;
    timeout ->
        assert(work == 0);   /* the publisher has ended: all JOBS were published */
#ifdef BCAST
        assert(bseq == 1 && bdone && remaining == 0);   /* the broadcaster returned */
        j = 0;
        do
        :: j < W -> assert(bseen[j] == bseq); j++       /* every part ran */
        :: else -> break
        od;
#endif
#ifdef MAILBOX
        assert(hdone);           /* the caller returned */
        j = 0;
        do
        /* it ran (once: asserted where it runs), and the worker that
         * took it is done with the mailbox */
        :: j < W -> assert((ran & (1 << j)) != 0 && mb[j] != POSTED && (mb[j] == EMPTY || !mb_pending[j])); j++
        :: else -> break
        od;
#else
        j = 0;
        do
        :: j < JOINERS -> assert(joined[j] && !pending[j] && !shared_b[j]); j++
        :: else -> break
        od;
#ifdef TASKWAIT
        assert(tdone && twaiters == 0 && !tlock);
#endif
#ifdef HELPER
        assert(tready && pran == 1 && rcount == 0 && nhelpers == 0 && !hlock && !hlisted[0]);
#endif
#endif
}

init {
    byte i;
    atomic {
#ifndef HELPER                 /* with HELPER worker 0 is the pusher */
        i = 0;
        do
        :: i < W -> run worker(i); i++
        :: else -> break
        od;
#endif
        run publisher();
#ifdef MAILBOX
        run caller();
#elif !defined(BCAST)
        i = 0;
        do
        :: i < JOINERS -> run joiner(i); i++
        :: else -> break
        od;
#endif
#ifdef TASKWAIT
        run settler();
#endif
#ifdef HELPER
        run pusher();
#endif
        run monitor()
    }
}
