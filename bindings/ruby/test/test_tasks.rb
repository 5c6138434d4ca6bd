# frozen_string_literal: true

# The background tasks of ABI 1.1 through the Ruby binding: bounded waits,
# priorities, prerequisites, tasks bound to one thread, run_pinned,
# yield_now and the shared pool.

require_relative "helper"

class TestTasks < Minitest::Test
  include MicropoolTestHelper

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # ------------------------------------------------------------ wait(timeout:)

  def test_wait_with_a_timeout_raises_after_that_time_and_leaves_the_task
    Micropool::Pool.open(threads: 1) do |pool|
      task = pool.submit { 7 }
      t = now
      e = assert_raises(Micropool::TimeoutError) { task.wait(timeout: 0.05) }
      elapsed = now - t
      assert_operator elapsed, :>=, 0.045, "the wait must last its timeout"
      assert_operator elapsed, :<, 2.0
      assert_match(/0\.05 s/, e.message)
      refute task.done?, "a timed-out wait must not run the task"
      assert_equal 7, task.wait
    end
  end

  def test_wait_with_a_timeout_returns_the_value_when_the_task_ends_in_time
    Micropool::Pool.open(threads: 2) do |pool|
      task = pool.submit { sleep 0.05; :late }
      assert_equal :late, task.wait(timeout: 5)
      assert_equal :late, task.wait(timeout: 0), "a finished task: a look is enough"
      failing = pool.submit { raise CaseFailure, "inside" }
      assert_raises(CaseFailure) { failing.wait(timeout: 5) }
    end
  end

  def test_wait_with_a_timeout_on_a_cancelled_task_raises_canceled
    Micropool::Pool.open(threads: 1) do |pool|
      task = pool.submit { :never }
      assert task.cancel
      assert_raises(Micropool::Canceled) { task.wait(timeout: 1) }
    end
  end

  def test_wait_timeout_arguments
    Micropool::Pool.open(threads: 1) do |pool|
      task = pool.submit { 1 }
      e = assert_raises(TypeError) { task.wait(timeout: "1") }
      assert_match(/timeout/, e.message)
      [-1, -0.5, Float::NAN, Float::INFINITY].each do |bad|
        e = assert_raises(ArgumentError) { task.wait(timeout: bad) }
        assert_match(/timeout/, e.message)
      end
      assert_raises(ArgumentError) { task.wait(timeut: 1) }
      assert_equal 1, task.wait(timeout: Rational(1, 2)) if task.wait
    end
  end

  # ------------------------------------------------------------ submit options

  # Holds the only worker of a 2-thread pool until the returned Queue gets
  # a value.
  def hold_worker(pool)
    started = Queue.new
    gate = Queue.new
    pool.submit(detach: true) do
      started << true
      gate.pop
    end
    started.pop
    gate
  end

  def wait_until(limit = 10)
    deadline = now + limit
    sleep 0.001 until yield || now > deadline
  end

  def test_priorities_order_the_queue
    order = Queue.new
    Micropool::Pool.open(threads: 2) do |pool|
      gate = hold_worker(pool)
      levels = %i[low normal high]
      12.times { |i| pool.submit(detach: true, priority: levels[i % 3]) { order << i } }
      gate << :go
      wait_until { order.size == 12 }
    end
    seen = Array.new(order.size) { order.pop }
    assert_equal [2, 5, 8, 11, 1, 4, 7, 10, 0, 3, 6, 9], seen,
                 "high first, then normal, then low, each in submission order"
  end

  def test_after_runs_a_task_once_its_prerequisites_have_finished
    log = Queue.new
    Micropool::Pool.open(threads: 3) do |pool|
      first = pool.submit { sleep 0.02; log << :first; 1 }
      second = pool.submit { sleep 0.01; log << :second; 2 }
      last = pool.submit(after: [first, second]) { log << :last; first.done? && second.done? }
      assert last.wait, "both prerequisites were done when the dependent ran"
      chained = pool.submit(after: last) { :chained }
      assert_equal :chained, chained.wait
    end
    assert_equal :last, Array.new(log.size) { log.pop }.last
  end

  def test_a_chain_runs_in_order_on_one_thread_too
    seen = []
    Micropool::Pool.open(threads: 1) do |pool|
      prev = nil
      50.times { |i| prev = pool.submit(after: prev ? [prev] : []) { seen << i } }
      prev.wait # runs the whole chain here
    end
    assert_equal (0...50).to_a, seen
  end

  def test_cancel_on_error_cancels_the_dependents_that_ask_for_it
    ran = Counter.new
    Micropool::Pool.open(threads: 2) do |pool|
      root = pool.submit { raise CaseFailure, "root" }
      cancelled = Array.new(3) { pool.submit(after: root, cancel_on_error: true) { ran.add(1) } }
      grandchild = pool.submit(after: cancelled[0], cancel_on_error: true) { ran.add(1) }
      plain = pool.submit(after: root) { ran.add(100); :ran_anyway }
      pool.submit(after: root, cancel_on_error: true, detach: true) { ran.add(1) }
      cancelled.each { |t| assert_raises(Micropool::Canceled) { t.wait } }
      assert_raises(Micropool::Canceled) { grandchild.wait(timeout: 5) }
      assert_equal :ran_anyway, plain.wait
      assert_raises(CaseFailure) { root.wait }
      # A cancelled prerequisite counts as a failure too.
      later = pool.submit(after: pool.submit(thread: 0) { :never }.tap(&:cancel),
                          cancel_on_error: true) { ran.add(1) }
      assert_raises(Micropool::Canceled) { later.wait }
    end
    assert_equal 100, ran.value
    # (teardown: the blocks of the cancelled tasks are all unregistered)
  end

  def test_the_blocks_of_cancelled_dependents_are_dropped_before_the_pool_closes
    Micropool::Pool.open(threads: 2) do |pool|
      root = pool.submit { raise CaseFailure, "root" }
      20.times { pool.submit(after: root, cancel_on_error: true, detach: true) { :never } }
      assert_raises(CaseFailure) { root.wait }
      # The submits just after the failure look at them.
      deadline = now + 0.2
      pool.submit { :next }.wait until Micropool::Callbacks.live.zero? || now > deadline
      assert_equal 0, Micropool::Callbacks.live
    end
  end

  def test_a_task_bound_to_a_worker_runs_there
    Micropool::Pool.open(threads: 3) do |pool|
      tasks = Array.new(20) { |i| [1 + i % 2, pool.submit(thread: 1 + i % 2) { pool.thread_index }] }
      tasks.each { |want, t| assert_equal want, t.wait }
    end
  end

  def test_a_task_bound_to_thread_zero_never_runs_on_a_worker
    Micropool::Pool.open(threads: 2) do |pool|
      ran = Queue.new
      task = pool.submit(thread: 0) { ran << Thread.current; :here }
      sleep 0.02
      assert ran.empty?, "a task bound to thread 0 ran on a worker"
      assert_equal :here, task.wait, "a wait on it runs it on this thread"
      assert_same Thread.current, ran.pop
    end
  end

  def test_submit_option_errors
    Micropool::Pool.open(threads: 2) do |pool|
      other = Micropool::Pool.new(threads: 1)
      foreign = other.submit { 1 }
      mine = pool.submit { 2 }
      {
        { priority: "high" } => [TypeError, /priority must be a Symbol, not String/],
        { priority: :urgent } => [ArgumentError, /priority must be one of \[:high, :normal, :low\], got :urgent/],
        { thread: 2 } => [ArgumentError, /thread must be in 0..1, got 2/],
        { thread: -1 } => [ArgumentError, /thread must be in 0..1, got -1/],
        { thread: 1.0 } => [TypeError, /thread must be an Integer, not Float/],
        { after: 5 } => [TypeError, /after must be a Task or an Array of Tasks, not Integer/],
        { after: [mine, :x] } => [TypeError, /after must hold Tasks, not Symbol/],
        { after: [mine, foreign] } => [ArgumentError, /after: .* is a task of another pool/],
        { cancel_on_error: 1 } => [TypeError, /cancel_on_error must be true or false/],
        { name: :io } => [TypeError, /name must be a String, not Symbol/],
        { name: "a\0b" } => [ArgumentError, /name must not contain a NUL byte/],
        { prio: :high } => [ArgumentError, /unknown keyword: :prio/]
      }.each do |options, (klass, message)|
        e = assert_raises(klass, options.inspect) { pool.submit(**options) { flunk "queued" } }
        assert_match message, e.message, options.inspect
      end
      assert_equal 2, mine.wait
      assert_equal 1, foreign.wait
      other.close
    end
  end

  def test_options_survive_gc_stress
    Micropool::Pool.open(threads: 2) do |pool|
      GC.stress = true
      begin
        a = pool.submit(priority: :high, name: "gc-a") { [1] }
        b = pool.submit(after: [a], priority: :low, name: "gc-b") { a.wait + [2] }
        c = pool.submit(after: b, thread: 1) { b.wait + [3] }
        assert_equal [1, 2, 3], c.wait
      ensure
        GC.stress = false
      end
    end
  end

  # ------------------------------------------------------------ run_pinned, yield_now

  def test_run_pinned_runs_the_tasks_bound_to_thread_zero_here_by_priority
    Micropool::Pool.open(threads: 2) do |pool|
      ran = Queue.new
      tasks = %i[low normal high normal].each_with_index.map do |level, i|
        pool.submit(thread: 0, priority: level) { ran << [i, Thread.current]; i }
      end
      sleep 0.02
      assert ran.empty?, "a task bound to thread 0 ran on a worker"
      assert_equal 4, pool.run_pinned
      seen = Array.new(ran.size) { ran.pop }
      assert_equal [2, 1, 3, 0], seen.map(&:first), "high, then normal in order, then low"
      assert(seen.all? { |_, th| th.equal?(Thread.current) })
      assert_equal [0, 1, 2, 3], tasks.map(&:wait)
      assert_equal 0, pool.run_pinned, "nothing left"
    end
  end

  def test_run_pinned_stops_after_max_seconds
    Micropool::Pool.open(threads: 1) do |pool|
      tasks = Array.new(5) { pool.submit(thread: 0) { sleep 0.03 } }
      ran = pool.run_pinned(max: 0.05)
      assert_includes 1..3, ran, "max is checked after each task"
      assert_equal 5 - ran, tasks.count { |t| !t.done? }
      assert_equal 5 - ran, pool.run_pinned(max: 10)
    end
  end

  def test_run_pinned_from_a_worker_block_and_bad_arguments
    Micropool::Pool.open(threads: 2) do |pool|
      e = assert_raises(TypeError) { pool.run_pinned(max: "1") }
      assert_match(/max must be a number of seconds, not String/, e.message)
      assert_raises(ArgumentError) { pool.run_pinned(max: -1) }
      assert_raises(ArgumentError) { pool.run_pinned(budget: 1) }
      raised = pool.broadcast do |index, _|
        pool.run_pinned
        nil
      rescue Micropool::InvalidArgument => e
        [index, e.message]
      end
      assert_equal [nil, [1, "run_pinned from a block that runs for a worker of this pool"]], raised
    end
  end

  def test_a_pinned_task_exception_is_its_own
    Micropool::Pool.open(threads: 1) do |pool|
      failing = pool.submit(thread: 0) { raise CaseFailure, "pinned" }
      fine = pool.submit(thread: 0) { :fine }
      assert_equal 2, pool.run_pinned, "an exception in a task does not stop run_pinned"
      assert_raises(CaseFailure) { failing.wait }
      assert_equal :fine, fine.wait
    end
  end

  def test_a_timeout_inside_a_pinned_task_stays_with_that_task
    Micropool::Pool.open(threads: 1) do |pool|
      task = pool.submit(thread: 0) { Timeout.timeout(0.01) { sleep 1 } }
      assert_equal 1, pool.run_pinned, "the task's own timeout does not leave run_pinned"
      assert_raises(Timeout::Error) { task.wait }
    end
  end

  def test_pinned_io_is_readable_while_pinned_tasks_wait
    Micropool::Pool.open(threads: 2) do |pool|
      io = pool.pinned_io
      assert_same io, pool.pinned_io
      assert_nil io.wait_readable(0), "readable with nothing queued"
      task = pool.submit(thread: 0) { :ok }
      assert io.wait_readable(5), "not readable with a pinned task queued"
      assert_equal 1, pool.run_pinned
      assert_nil io.wait_readable(0)
      assert_equal :ok, task.wait
    end
  end

  def test_yield_now_runs_one_piece_of_work_at_a_time
    ran = []
    Micropool::Pool.open(threads: 1) do |pool|
      6.times { |i| pool.submit(detach: true, thread: i.even? ? 0 : nil) { ran << i } }
      yields = 0
      yields += 1 while pool.yield_now
      assert_equal 6, yields
      refute pool.yield_now
    end
    assert_equal (0...6).to_a, ran.sort
  end

  def test_yield_now_inside_a_worker_block_runs_nothing
    Micropool::Pool.open(threads: 2) do |pool|
      assert_equal [true, false], pool.broadcast { |i, _| i.zero? ? (pool.submit { 1 }; pool.yield_now) : pool.yield_now }
    end
  end

  # ------------------------------------------------------------ shared

  def test_the_shared_pool_is_one_pool_until_closed
    pool = Micropool.shared
    assert_same pool, Micropool.shared
    assert pool.shared?
    refute Micropool::Pool.new(threads: 1).tap(&:close).shared?
    assert_equal 45, pool.reduce(10, 0) { |lo, hi, acc| acc + (lo...hi).sum }
    assert_equal [pool.threads] * pool.threads, pool.broadcast { |_i, n| n }
    task = pool.submit { :shared_task }
    assert_equal :shared_task, task.wait
    pool.close
    assert pool.closed?
    again = Micropool.shared
    refute_same pool, again
    refute again.closed?
    assert_equal 1, again.submit { 1 }.wait
  end

  def test_micropool_threads_sets_the_shared_pools_threads
    status, out = run_ruby('require "micropool"; print Micropool.shared.threads')
    assert status.success?, out
    env = { "MICROPOOL_THREADS" => "3" }
    lib = File.expand_path("../lib", __dir__)
    out3 = IO.popen(env, [RbConfig.ruby, "-I", lib, "-e", 'require "micropool"; print Micropool.shared.threads'], &:read)
    assert_equal "3", out3
  end
end
