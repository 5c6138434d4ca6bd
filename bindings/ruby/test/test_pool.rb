# frozen_string_literal: true

# What the Ruby binding adds to the C library: exceptions that come back
# whole, argument checks, callbacks that survive the GC, pools that close.

require_relative "helper"

class TestPool < Minitest::Test
  include MicropoolTestHelper

  class CustomFailure < StandardError
    def initialize(detail)
      super("custom failure: #{detail}")
    end
  end

  def with_pool(threads = 2, &block)
    Micropool::Pool.open(threads: threads, &block)
  end

  # ------------------------------------------------------------ basics

  def test_library_version
    assert_equal "1.1.0", Micropool.library_version
    assert_equal Micropool::VERSION, Micropool.library_version
  end

  def test_open_yields_an_open_pool_and_returns_the_block_value
    result = with_pool(3) do |pool|
      refute pool.closed?
      assert_equal 3, pool.threads
      :value
    end
    assert_equal :value, result
  end

  def test_threads_zero_means_the_cpus
    with_pool(0) { |pool| assert_operator pool.threads, :>=, 1 }
  end

  def test_join_returns_both_values
    with_pool { |pool| assert_equal [1, "two"], pool.join(-> { 1 }, proc { "two" }) }
  end

  def test_join_accepts_any_callable
    callable = Object.new
    def callable.call
      :called
    end
    with_pool { |pool| assert_equal %i[called called], pool.join(callable, callable) }
  end

  def test_each_range_returns_the_pool
    with_pool { |pool| assert_same pool, pool.each_range(10) { |_lo, _hi| nil } }
  end

  def test_each_range_with_zero_items_calls_nothing
    with_pool { |pool| pool.each_range(0) { flunk "called for n = 0" } }
  end

  def test_broadcast_returns_the_values_by_index
    with_pool(3) do |pool|
      assert_equal [[0, 3], [1, 3], [2, 3]], pool.broadcast { |i, n| [i, n] }
    end
  end

  def test_a_barrier_among_broadcast_parts_works
    # Every part waits until all have arrived: this only finishes if the
    # parts really run at once (on their own Ruby threads for the workers).
    arrived = Queue.new
    with_pool(3) do |pool|
      pool.broadcast do |_i, count|
        arrived << 1
        Thread.pass until arrived.size == count
      end
    end
    assert_equal 3, arrived.size
  end

  def test_reduce_combines_in_range_order
    # Array concatenation is associative but not commutative.
    with_pool do |pool|
      list = pool.reduce(200, [], 3) { |lo, hi, acc| acc + (lo...hi).to_a }
      assert_equal (0...200).to_a, list
    end
  end

  def test_reduce_gives_each_part_its_own_copy_of_a_mutable_identity
    identity = []
    with_pool do |pool|
      list = pool.reduce(100, identity, 1) do |lo, hi, acc|
        (lo...hi).each { |i| acc << i }
        acc
      end
      assert_equal (0...100).to_a, list
    end
    assert_empty identity, "the caller's identity must not be modified"
  end

  def test_reduce_of_nothing_is_the_identity
    with_pool { |pool| assert_equal 7, pool.reduce(0, 7) { flunk "called for n = 0" } }
  end

  def test_reduce_with_a_symbol_or_a_callable_combine
    with_pool do |pool|
      assert_equal 3_628_800, pool.reduce(10, 1, 1, combine: :*) { |lo, hi, acc| acc * (lo + 1...hi + 1).reduce(1, :*) }
      max = pool.reduce(1000, -1, 10, combine: ->(a, b) { [a, b].max }) { |lo, hi, acc| [acc, (lo...hi).max].max }
      assert_equal 999, max
    end
  end

  def test_static_and_deterministic_splits
    with_pool do |pool|
      %i[static deterministic dynamic].each do |split|
        parts = Queue.new
        pool.each_range(100, 0, split: split) { |lo, hi| parts << (hi - lo) }
        assert_equal 100, Array.new(parts.size) { parts.pop }.sum, split.to_s
      end
    end
  end

  def test_scope_returns_the_block_value_after_all_tasks
    runs = Counter.new
    value = with_pool do |pool|
      pool.scope do |s|
        10.times { s.spawn { runs.add(1) } }
        :body
      end
    end
    assert_equal :body, value
    assert_equal 10, runs.value
  end

  def test_a_scope_cannot_be_used_after_it_ended
    kept = nil
    with_pool do |pool|
      pool.scope { |s| kept = s }
      assert_raises(Micropool::ClosedError) { kept.spawn { nil } }
    end
  end

  def test_stats
    with_pool do |pool|
      pool.each_range(100, 1) { nil }
      stats = pool.stats
      assert_equal %i[jobs steals sleeps wakeups tasks_run], stats.keys
      assert(stats.values.all? { |v| v.is_a?(Integer) && v >= 0 })
      assert_operator stats[:jobs], :>=, 1
    end
  end

  def test_thread_index_on_the_calling_thread
    Micropool::Pool.open(threads: 1) do |pool|
      assert_equal(-1, pool.thread_index)
      seen = []
      pool.each_range(3, 1) { seen << pool.thread_index }
      assert_equal [0], seen.uniq
    end
  end

  # ------------------------------------------------------------ tasks

  def test_task_wait_returns_the_value_every_time
    with_pool do |pool|
      task = pool.submit { [:result] }
      assert_equal [:result], task.wait
      assert_equal [:result], task.value
      assert task.done?
      refute task.cancel, "a finished task cannot be cancelled"
    end
  end

  def test_cancel_twice_and_wait_on_a_cancelled_task
    Micropool::Pool.open(threads: 1) do |pool|
      task = pool.submit { flunk "a cancelled task ran" }
      assert task.cancel
      assert task.cancel, "cancelling again still says it will never run"
      e = assert_raises(Micropool::Canceled) { task.wait }
      assert_equal Micropool::Native::ECANCELED, e.code
    end
  end

  def test_a_task_exception_comes_back_from_wait
    with_pool do |pool|
      task = pool.submit { raise CustomFailure, "in a task" }
      e = assert_raises(CustomFailure) { task.wait }
      assert_equal "custom failure: in a task", e.message
    end
  end

  def test_a_detached_task_exception_is_reported
    _out, err = capture_subprocess_io do
      pool = Micropool::Pool.new(threads: 2)
      pool.submit(detach: true) { raise CustomFailure, "detached" }
      pool.close
    end
    assert_match(/detached task raised TestPool::CustomFailure: custom failure: detached/, err)
  end

  def test_tasks_that_nobody_references_still_run
    runs = Counter.new
    pool = Micropool::Pool.new(threads: 2)
    20.times { pool.submit { runs.add(1) } } # the Task objects are dropped at once
    GC.start
    pool.close
    assert_equal 20, runs.value
  end

  # ------------------------------------------------------------ exceptions

  def test_an_exception_keeps_its_class_message_and_backtrace
    with_pool do |pool|
      # The part of index 1 runs for the worker, on one of ffi's helper
      # threads: the exception crosses threads and C frames.
      e = assert_raises(CustomFailure) do
        pool.broadcast { |i, _| raise CustomFailure, "part #{i}" if i == 1 }
      end
      assert_equal "custom failure: part 1", e.message
      assert(e.backtrace.any? { |line| line.include?(__FILE__) }, "the block's line is in the backtrace")
    end
  end

  def test_exceptions_from_every_kind_of_block
    with_pool do |pool|
      checks = {
        join: -> { pool.join(-> { 1 }, -> { raise CustomFailure, "join" }) },
        each_range: -> { pool.each_range(50, 1) { |lo, hi| raise CustomFailure, "each_range" if (lo...hi).cover?(25) } },
        reduce_map: lambda {
          pool.reduce(50, 0, 1) do |lo, hi, acc|
            raise CustomFailure, "reduce_map" if (lo...hi).cover?(49)

            acc + 1
          end
        },
        reduce_combine: -> { pool.reduce(50, 0, 1, combine: ->(_, _) { raise CustomFailure, "reduce_combine" }) { |_, _, a| a } },
        broadcast: -> { pool.broadcast { raise CustomFailure, "broadcast" } },
        scope_body: -> { pool.scope { raise CustomFailure, "scope_body" } },
        scope_task: -> { pool.scope { |s| s.spawn { raise CustomFailure, "scope_task" } } }
      }
      checks.each do |name, run|
        e = assert_raises(CustomFailure, name.to_s) { run.call }
        assert_equal "custom failure: #{name}", e.message
      end
      # The pool is still fine afterwards.
      assert_equal 4950, pool.reduce(100, 0) { |lo, hi, acc| acc + (lo...hi).sum }
    end
  end

  def test_non_standard_errors_come_back_too
    with_pool do |pool|
      assert_raises(NotImplementedError) { pool.join(-> { raise NotImplementedError, "x" }, -> { 1 }) }
      e = assert_raises(SystemExit) { pool.each_range(4, 1) { exit 3 } }
      assert_equal 3, e.status
    end
  end

  def test_an_exception_in_a_nested_operation_reaches_the_outer_caller
    with_pool do |pool|
      e = assert_raises(CustomFailure) do
        pool.each_range(4, 1) do |lo, hi|
          pool.join(-> { nil }, -> { raise CustomFailure, "nested" }) if (lo...hi).cover?(2)
        end
      end
      assert_equal "custom failure: nested", e.message
    end
  end

  def test_break_and_return_out_of_a_block_raise_local_jump_error
    with_pool do |pool|
      assert_raises(LocalJumpError) { pool.each_range(10, 1) { break } }
      assert_raises(LocalJumpError) { pool.broadcast { |i, _| break if i == 1 } }
      assert_raises(LocalJumpError) { pool.join(proc { return }, -> { 1 }) }
      # next is the normal way out of a block.
      assert_equal 4950, pool.reduce(100, 0, 10) { |lo, hi, acc| next acc + (lo...hi).sum }
      assert_equal 45, pool.reduce(10, 0) { |lo, hi, acc| acc + (lo...hi).sum }, "the pool still works"
    end
  end

  def test_fiber_yield_out_of_a_block_raises_fiber_error
    with_pool do |pool|
      [:out, nil].each do |value|
        e = assert_raises(FiberError) { pool.join(-> { Fiber.yield(value) }, -> { 1 }) }
        assert_match(/not supported/, e.message)
      end
      assert_equal [1, 2], pool.join(-> { 1 }, -> { 2 }), "the pool still works"
    end
  end

  def test_a_throw_out_of_a_block_reaches_the_outer_catch
    with_pool do |pool|
      ran = Counter.new
      caught = catch(:out) do
        pool.join(-> { throw :out, :escaped }, -> { ran.add(1) })
        :stayed
      end
      assert_equal :escaped, caught
      # From a block that runs for the worker, on ffi's helper thread.
      caught = catch(:out) do
        pool.broadcast { |i, _| throw :out, [:from, i] if i == 1 }
        :stayed
      end
      assert_equal [:from, 1], caught
      # From a nested operation, through two C calls.
      caught = catch(:deep) do
        pool.each_range(4, 1) { |lo, _| pool.join(-> { throw :deep, lo }, -> { nil }) if lo == 2 }
        :stayed
      end
      assert_equal 2, caught
      # Without a catch it is the UncaughtThrowError of any throw.
      e = assert_raises(UncaughtThrowError) { pool.each_range(2, 1) { throw :nowhere, 5 } }
      assert_equal [:nowhere, 5], [e.tag, e.value]
      assert_equal 45, pool.reduce(10, 0) { |lo, hi, acc| acc + (lo...hi).sum }, "the pool still works"
    end
  end

  # ------------------------------------------------------------ thread locals

  def test_blocks_see_the_fiber_and_thread_locals_of_the_caller
    Thread.current[:user] = "alice"
    Thread.current.thread_variable_set(:locale, "fr")
    with_pool do |pool|
      # Part 1 runs for the worker, on one of ffi's helper threads.
      seen = pool.broadcast { [Thread.current[:user], Thread.current.thread_variable_get(:locale)] }
      assert_equal [%w[alice fr], %w[alice fr]], seen
      users = Queue.new
      pool.each_range(8, 1) do
        sleep 0.005 # long enough for the worker to take parts
        users << Thread.current[:user]
      end
      assert_equal ["alice"] * 8, Array.new(users.size) { users.pop }
      nested = pool.broadcast { pool.join(-> { Thread.current[:user] }, -> { Thread.current[:user] }) }
      assert_equal [%w[alice alice]] * 2, nested
      assert_equal "alice", pool.submit { Thread.current[:user] }.wait
    end
  ensure
    Thread.current[:user] = nil
    Thread.current.thread_variable_set(:locale, nil)
  end

  def test_what_a_block_sets_in_thread_locals_stays_in_that_block
    Thread.current[:user] = "alice"
    with_pool do |pool|
      pool.broadcast do
        Thread.current[:user] = "bob"
        Thread.current[:scratch] = 1
      end
      assert_equal "alice", Thread.current[:user]
      assert_nil Thread.current[:scratch]
      assert_equal [["alice", nil]] * 2, pool.broadcast { [Thread.current[:user], Thread.current[:scratch]] }
    end
  ensure
    Thread.current[:user] = nil
  end

  # ------------------------------------------------------------ arguments

  def test_wrong_argument_types_raise_type_error
    with_pool do |pool|
      assert_raises(TypeError) { pool.each_range("10") { nil } }
      assert_raises(TypeError) { pool.each_range(10, 1.5) { nil } }
      assert_raises(TypeError) { pool.each_range(nil) { nil } }
      assert_raises(TypeError) { pool.each_range(10, split: "static") { nil } }
      assert_raises(TypeError) { pool.reduce(10.0, 0) { 0 } }
      assert_raises(TypeError) { pool.reduce(10, 0, combine: 5) { 0 } }
      assert_raises(TypeError) { pool.join(1, 2) }
      assert_raises(TypeError) { pool.join(-> { 1 }, nil) }
      assert_raises(TypeError) { pool.submit(detach: 1) { nil } }
    end
    assert_raises(TypeError) { Micropool::Pool.new(threads: "2") }
    assert_raises(TypeError) { Micropool::Pool.new(threads: 2, pin: 1) }
    assert_raises(TypeError) { Micropool::Pool.new(threads: 2, name: :sym) }
    assert_raises(TypeError) { Micropool::Pool.new(threads: 2, spin_us: 1.0) }
  end

  def test_wrong_argument_values_and_counts_raise_argument_error
    with_pool do |pool|
      assert_raises(ArgumentError) { pool.each_range(-1) { nil } }
      assert_raises(ArgumentError) { pool.each_range(1 << 64) { nil } }
      assert_raises(ArgumentError) { pool.each_range(10, -5) { nil } }
      assert_raises(ArgumentError) { pool.each_range(10) }
      assert_raises(ArgumentError) { pool.each_range(10, 1, 2) { nil } }
      assert_raises(ArgumentError) { pool.each_range(10, split: :bogus) { nil } }
      assert_raises(ArgumentError) { pool.each_range }
      assert_raises(ArgumentError) { pool.reduce(10) { 0 } }
      assert_raises(ArgumentError) { pool.reduce(10, 0) }
      assert_raises(ArgumentError) { pool.join(-> { 1 }) }
      assert_raises(ArgumentError) { pool.join(-> { 1 }, -> { 2 }, -> { 3 }) }
      assert_raises(ArgumentError) { pool.broadcast }
      assert_raises(ArgumentError) { pool.scope }
      assert_raises(ArgumentError) { pool.submit }
      assert_raises(ArgumentError) { pool.scope { |s| s.spawn } }
    end
    assert_raises(ArgumentError) { Micropool::Pool.new(threads: -1) }
    assert_raises(ArgumentError) { Micropool::Pool.new(threads: 1025) }
    assert_raises(ArgumentError) { Micropool::Pool.new(threads: 2, spin_us: -1) }
    assert_raises(ArgumentError) { Micropool::Pool.new(threads: 2, name: "a\0b") }
    assert_raises(ArgumentError) { Micropool::Pool.new(bogus: 1) }
    assert_raises(ArgumentError) { Micropool::Pool.new(2) }
  end

  def test_pool_options_are_passed_on
    Micropool::Pool.open(threads: 2, spin_us: 0, pin: true, name: "rb-test") do |pool|
      assert_equal 2, pool.threads
      assert_equal [0, 1], pool.broadcast { |i, _| i }
    end
  end

  def test_error_classes
    e = Micropool::Error.for_code(Micropool::Native::EINVAL, "ctx")
    assert_instance_of Micropool::InvalidArgument, e
    assert_equal Micropool::Native::EINVAL, e.code
    assert_equal "ctx: #{Micropool::Native.mp_strerror(Micropool::Native::EINVAL)}", e.message
    {
      Micropool::Native::ENOMEM => Micropool::NoMemory, Micropool::Native::EBUSY => Micropool::Busy,
      Micropool::Native::EDEADLK => Micropool::Deadlock, Micropool::Native::ESHUTDOWN => Micropool::Shutdown,
      Micropool::Native::ECANCELED => Micropool::Canceled
    }.each { |code, klass| assert_instance_of klass, Micropool::Error.for_code(code) }
    [Micropool::InvalidArgument, Micropool::ClosedError, Micropool::Canceled,
     Micropool::TimeoutError, Micropool::Failure].each do |klass|
      assert_operator klass, :<, Micropool::Error
      assert_operator klass, :<, StandardError
    end
    # Micropool::Error is a module: raising it, or making one, gives the
    # plain Failure, which every `rescue Micropool::Error` catches.
    e = assert_raises(Micropool::Error) { raise Micropool::Error, "by hand" }
    assert_instance_of Micropool::Failure, e
    assert_equal "by hand", e.message
    assert_equal(-22, Micropool::Error.new("x", code: -22).code)
  end

  def test_timeout_error_is_both_a_micropool_error_and_a_timeout_error
    assert_instance_of Micropool::TimeoutError, Micropool::Error.for_code(Micropool::Native::ETIMEDOUT)
    assert_operator Micropool::TimeoutError, :<, Timeout::Error
    with_pool(1) do |pool| # no worker: nobody runs the task while we wait
      task = pool.submit { :ran }
      caught = begin
        task.wait(timeout: 0.01)
        nil
      rescue Micropool::Error => e
        e
      end
      assert_instance_of Micropool::TimeoutError, caught
      assert_equal Micropool::Native::ETIMEDOUT, caught.code
      assert_raises(Timeout::Error) { task.wait(timeout: 0) }
      assert_equal :ran, task.wait
    end
  end

  # ------------------------------------------------------------ GC safety

  def test_callbacks_survive_gc_stress
    results = nil
    with_pool do |pool|
      GC.stress = true
      begin
        sum = pool.reduce(40, 0, 4) { |lo, hi, acc| acc + (lo...hi).sum }
        pair = pool.join(-> { "a" * 3 }, -> { [1, 2, 3].map(&:to_s) })
        parts = pool.broadcast { |i, _| "part #{i}" }
        count = Counter.new
        pool.each_range(20, 2) { |lo, hi| count.add(hi - lo) }
        task = pool.submit { :task }
        results = [sum, pair, parts, count.value, task.wait]
      ensure
        GC.stress = false
      end
    end
    assert_equal [780, ["aaa", %w[1 2 3]], ["part 0", "part 1"], 20, :task], results
  end

  def test_blocks_are_released_once_their_call_returns
    with_pool do |pool|
      100.times { |i| pool.each_range(4, 1) { i } }
      assert_equal 0, Micropool::Callbacks.live
      task = pool.submit { 1 }
      task.wait
      assert_equal 0, Micropool::Callbacks.live, "a task's block leaves once it has run"
    end
  end

  def test_several_ruby_threads_share_one_pool
    with_pool(3) do |pool|
      users = Array.new(4) do |k|
        Thread.new do
          Array.new(10) do
            pool.reduce(1000, 0, 50) do |lo, hi, acc|
              inner = Counter.new
              pool.each_range(hi - lo) { |a, b| inner.add(b - a) }
              acc + (lo...hi).sum + k * inner.value
            end
          end
        end
      end
      users.each_with_index do |user, k|
        assert_equal [499_500 + k * 1000], user.value.uniq, "Ruby thread #{k}"
      end
    end
  end

  # ------------------------------------------------------------ closing

  def open_and_drop_pools(count)
    count.times { Micropool::Pool.new(threads: 3).each_range(10) { nil } }
    nil
  end

  def test_a_collected_pool_stops_its_workers
    threads = -> { Dir.children("/proc/self/task").size }
    before = threads.call
    open_and_drop_pools(20) # 40 workers
    assert_operator threads.call, :>=, before + 40
    3.times { GC.start }
    # Conservative stack scanning may keep a pool or two alive.
    assert_operator threads.call, :<=, before + 8, "the finalizers must have closed the pools"
  end

  def test_pools_left_open_are_closed_at_exit_after_their_tasks
    script = <<~RUBY
      require "micropool"
      pool = Micropool::Pool.new(threads: 2)
      5.times { |i| pool.submit(detach: true) { sleep 0.01; print "ran \#{i};" } }
    RUBY
    lib = File.expand_path("../lib", __dir__)
    output = IO.popen([RbConfig.ruby, "-I", lib, "-e", script], err: %i[child out], &:read)
    assert $?.success?, output
    assert_equal (0...5).map { |i| "ran #{i};" }.sort, output.scan(/ran \d;/).sort
  end

  def test_open_closes_the_pool_at_the_end_of_the_block
    kept = Micropool::Pool.open(threads: 2) { |pool| pool }
    assert kept.closed?
    assert_nil kept.close, "closing again does nothing"
    assert_raises(Micropool::ClosedError) { kept.each_range(10) { nil } }
    assert_raises(Micropool::ClosedError) { kept.join(-> {}, -> {}) }
    assert_raises(Micropool::ClosedError) { kept.submit { nil } }
    assert_raises(Micropool::ClosedError) { kept.thread_index }
    assert_raises(Micropool::ClosedError) { kept.stats }
    assert_raises(Micropool::ClosedError) { kept.threads }
    assert_equal "#<Micropool::Pool closed>", kept.inspect
  end

  def test_open_closes_the_pool_when_the_block_raises
    kept = nil
    assert_raises(CustomFailure) do
      Micropool::Pool.open(threads: 2) do |pool|
        kept = pool
        raise CustomFailure, "leaving"
      end
    end
    assert kept.closed?
  end

  def test_close_runs_pending_tasks
    runs = Counter.new
    pool = Micropool::Pool.new(threads: 1)
    tasks = Array.new(5) { pool.submit { runs.add(1) } }
    pool.close
    assert_equal 5, runs.value
    assert(tasks.all?(&:done?))
    assert_equal [1, 2, 3, 4, 5], tasks.map(&:wait).sort, "handles stay valid after close"
  end

  def test_tasks_run_by_close_may_use_the_pool_but_not_submit
    outcome = Queue.new
    pool = Micropool::Pool.new(threads: 1)
    pool.submit(detach: true) do
      outcome << pool.reduce(10, 0) { |lo, hi, acc| acc + (lo...hi).sum }
      begin
        pool.submit { nil }
        outcome << :submitted
      rescue Micropool::Shutdown => e
        outcome << e.code
      end
    end
    pool.close
    assert_equal [45, Micropool::Native::ESHUTDOWN], [outcome.pop, outcome.pop]
    assert_raises(Micropool::ClosedError) { pool.each_range(1) { nil } }
  end

  def test_close_from_inside_the_pool_raises_deadlock
    with_pool do |pool|
      errors = pool.broadcast do
        pool.close
        nil
      rescue Micropool::Deadlock => e
        e
      end
      assert(errors.all?(Micropool::Deadlock), errors.inspect)
      refute pool.closed?
    end
  end

  def test_close_while_another_thread_uses_the_pool_raises_busy
    pool = Micropool::Pool.new(threads: 2)
    started = Queue.new
    release = Queue.new
    user = Thread.new { pool.join(-> { started << 1; release.pop }, -> { nil }) }
    started.pop
    assert_raises(Micropool::Busy) { pool.close }
    release << 1
    user.join
    pool.close
    assert pool.closed?
  end

  def test_broadcast_from_a_block_that_runs_for_a_worker_raises_deadlock
    with_pool do |pool|
      outcome = pool.broadcast do |i, _|
        next :caller if i.zero?

        begin
          pool.broadcast { nil }
          :no_error
        rescue Micropool::Deadlock
          :deadlock
        end
      end
      assert_equal %i[caller deadlock], outcome
    end
  end
end
