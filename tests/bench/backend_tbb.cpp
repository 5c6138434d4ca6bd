// backend_tbb.cpp: the oneTBB rows. Everything runs inside one task_arena
// of T threads, and a global_control keeps the library at T threads.
#include "bench.h"
#include "suite.h"

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_invoke.h>
#include <tbb/parallel_reduce.h>
#include <tbb/parallel_sort.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <functional>

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

void tbb_stop()
{
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
    b.suite_root = tbb_suite_root;
    return b;
}

const bench_backend tbb_backend = make_backend();

} // namespace

// The suite's join (suite.h): parallel_invoke of the two calls.
extern "C" int suite_join(bench_job_fn a, void *a_arg, bench_job_fn b, void *b_arg)
{
    int ra = 0, rb = 0;
    tbb::parallel_invoke([&] { ra = a(a_arg); }, [&] { rb = b(b_arg); });
    return ra ? ra : rb;
}

extern "C" const bench_backend *const bench_backends[] = { &tbb_backend, nullptr };
