// backend_tbb.cpp: the oneTBB rows. Everything runs inside one task_arena
// of T threads, and a global_control keeps the library at T threads.
#include "bench.h"
#include "suite.h"

#include <tbb/blocked_range.h>
#include <tbb/flow_graph.h>
#include <tbb/global_control.h>
#include <tbb/parallel_invoke.h>
#include <tbb/parallel_reduce.h>
#include <tbb/parallel_sort.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <vector>

namespace {

tbb::global_control *limit, *stack;
tbb::task_arena *arena;

const char *tbb_start(unsigned threads)
{
    limit = new tbb::global_control(tbb::global_control::max_allowed_parallelism, threads);
    if (bench_stack_size)
        stack = new tbb::global_control(tbb::global_control::thread_stack_size, bench_stack_size);
    arena = new tbb::task_arena(static_cast<int>(threads));
    arena->initialize();
    return nullptr;
}

tbb::task_arena *low_arena, *high_arena;   // the priority test's, made on first use

void tbb_stop()
{
    delete low_arena;
    delete high_arena;
    low_arena = high_arena = nullptr;
    delete arena;
    delete stack;
    delete limit;
}

uint64_t tbb_empty_reduce(unsigned threads)
{
    return arena->execute([threads] {
        return tbb::parallel_reduce(
            tbb::blocked_range<unsigned>(0, threads, 1), uint64_t(0),
            [](const tbb::blocked_range<unsigned> &r, uint64_t acc) {
                for (unsigned i = r.begin(); i != r.end(); ++i)
                    bench_mark_part();
                return acc + r.size();
            },
            std::plus<uint64_t>());
    });
}

long fib_invoke(int n)
{
    if (n < 2)
        return n;
    long x, y;
    tbb::parallel_invoke([&] { x = fib_invoke(n - 1); }, [&] { y = fib_invoke(n - 2); });
    return x + y;
}

long tbb_fib(int n)
{
    return arena->execute([n] { return fib_invoke(n); });
}

uint64_t tbb_count(uint64_t n)
{
    uint64_t share = std::max<uint64_t>(1, n / static_cast<uint64_t>(arena->max_concurrency()));
    return arena->execute([n, share] {
        return tbb::parallel_reduce(
            tbb::blocked_range<uint64_t>(0, n, share), uint64_t(0),
            [](const tbb::blocked_range<uint64_t> &r, uint64_t acc) {
                return acc + bench_count_range(r.begin(), r.end());
            },
            std::plus<uint64_t>(), tbb::static_partitioner());
    });
}

void tbb_post(bench_job_fn fn, void *arg)
{
    // enqueue: fire and forget, run by a worker of the arena
    arena->enqueue([fn, arg] { fn(arg); });
}

int tbb_tasks(size_t n)
{
    arena->execute([n] {
        tbb::task_group g;
        for (size_t i = 0; i < n; i++)
            g.run([] { bench_tick(nullptr); });
        g.wait();
    });
    return 0;
}

// The wavefront as a flow graph: a continue_node per cell, an edge from
// each cell to its right and lower neighbours; built and run each time.
int tbb_wavefront_flow(unsigned n)
{
    using node_t = tbb::flow::continue_node<tbb::flow::continue_msg>;
    arena->execute([n] {
        tbb::flow::graph g;
        std::vector<std::unique_ptr<node_t>> cells(static_cast<size_t>(n) * n);
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++) {
                auto &c = cells[static_cast<size_t>(i) * n + j];
                c = std::make_unique<node_t>(
                    g, [](const tbb::flow::continue_msg &) { bench_tick(nullptr); });
                if (i > 0)
                    tbb::flow::make_edge(*cells[static_cast<size_t>(i - 1) * n + j], *c);
                if (j > 0)
                    tbb::flow::make_edge(*cells[static_cast<size_t>(i) * n + j - 1], *c);
            }
        cells[0]->try_put(tbb::flow::continue_msg());
        g.wait_for_all();
    });
    return 0;
}

// The plain version: a counter per cell; the task that takes a
// neighbour's count to 0 runs it in the same task_group.
struct wave_tg {
    unsigned n;
    std::unique_ptr<std::atomic<uint32_t>[]> left;
    tbb::task_group g;

    void cell(size_t c)
    {
        bench_tick(nullptr);
        unsigned i = static_cast<unsigned>(c / n), j = static_cast<unsigned>(c % n);
        if (j + 1 < n && left[c + 1].fetch_sub(1) == 1)
            g.run([this, c] { cell(c + 1); });
        if (i + 1 < n && left[c + n].fetch_sub(1) == 1)
            g.run([this, c] { cell(c + n); });
    }
};

int tbb_wavefront_tg(unsigned n)
{
    arena->execute([n] {
        wave_tg w;
        w.n = n;
        size_t cells = static_cast<size_t>(n) * n;
        w.left.reset(new std::atomic<uint32_t>[cells]);
        for (size_t c = 0; c < cells; c++)
            w.left[c].store((c / n > 0) + (c % n > 0));
        w.g.run([&w] { w.cell(0); });
        w.g.wait();
    });
    return 0;
}

// Priority: the low tasks in an arena of priority low, the high one in an
// arena of priority high (oneTBB's arena priorities), both enqueued.
double tbb_prio_latency(size_t nlow)
{
    if (!low_arena) {
        // The caller only submits: the arenas hold the T - 1 workers.
        int c = std::max(1, arena->max_concurrency() - 1);
        low_arena = new tbb::task_arena(c, 0, tbb::task_arena::priority::low);
        high_arena = new tbb::task_arena(c, 0, tbb::task_arena::priority::high);
        low_arena->initialize();
        high_arena->initialize();
    }
    bench_prio_reset();
    for (size_t i = 0; i < nlow; i++)
        low_arena->enqueue([] { bench_prio_low(nullptr); });
    uint64_t t0 = bench_now_ns();
    high_arena->enqueue([] { bench_prio_high(nullptr); });
    return bench_prio_wait(t0, nlow);
}

void tbb_sort(int *v, size_t n)
{
    arena->execute([v, n] { tbb::parallel_sort(v, v + n); });
}

int tbb_suite_root(bench_job_fn fn, void *arg)
{
    return arena->execute([fn, arg] { return fn(arg); });
}

bench_backend make_backend()
{
    bench_backend b = {};
    b.name = "tbb";
    b.start = tbb_start;
    b.stop = tbb_stop;
    b.settle_ms = 50; // idle workers spin briefly, then leave the arena and sleep
    b.empty_reduce = tbb_empty_reduce;
    b.fib = tbb_fib;
    b.count = tbb_count;
    b.post = tbb_post;
    b.tasks = tbb_tasks;
    b.sort = tbb_sort;
    b.wavefront = tbb_wavefront_flow;
    b.prio_latency = tbb_prio_latency;
    b.suite_root = tbb_suite_root;
    return b;
}

bench_backend make_taskgroup_backend()
{
    bench_backend b = {};
    b.name = "tbb-taskgroup";
    b.start = tbb_start;
    b.stop = tbb_stop;
    b.settle_ms = 50;
    b.wavefront = tbb_wavefront_tg;
    return b;
}

const bench_backend tbb_backend = make_backend();
const bench_backend tbb_taskgroup_backend = make_taskgroup_backend();

} // namespace

// The suite's join (suite.h): parallel_invoke of the two calls.
extern "C" int suite_join(bench_job_fn a, void *a_arg, bench_job_fn b, void *b_arg)
{
    int ra = 0, rb = 0;
    tbb::parallel_invoke([&] { ra = a(a_arg); }, [&] { rb = b(b_arg); });
    return ra ? ra : rb;
}

extern "C" const bench_backend *const bench_backends[] = { &tbb_backend, &tbb_taskgroup_backend,
                                                          nullptr };
