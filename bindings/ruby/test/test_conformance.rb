# frozen_string_literal: true

# Runs every case of tests/conformance/cases.txt (the file named by
# MICROPOOL_CASES, else the one in the source tree) through the Ruby
# binding; with MICROPOOL_CASES naming cases-1.1.txt, the cases of ABI
# 1.1. A case whose kind this runner does not implement fails.

require_relative "helper"

class TestConformance < Minitest::Test
  include MicropoolTestHelper

  CASES_FILE = ENV["MICROPOOL_CASES"] ||
               File.expand_path("../../../tests/conformance/cases.txt", __dir__)

  Case = Struct.new(:name, :kind, :threads, :a, :b, :expect)

  def self.load_cases
    File.readlines(CASES_FILE, chomp: true).filter_map do |line|
      line = line.sub(/#.*/, "").strip
      next if line.empty?

      fields = line.split
      raise "#{CASES_FILE}: malformed line: #{line}" unless fields.size == 6

      name, kind, threads, a, b, expect = fields
      int = ->(s) { s == "-" ? nil : Integer(s, 10) }
      Case.new(name, kind, int.call(threads), int.call(a), int.call(b), expect)
    end
  end

  CASES = load_cases

  def test_the_cases_file_is_not_empty
    least = File.basename(CASES_FILE) == "cases-1.1.txt" ? 15 : 30
    assert_operator CASES.size, :>=, least, "too few cases read from #{CASES_FILE}"
  end

  CASES.each do |c|
    define_method("test_#{c.name}") { run_case(c) }
  end

  private

  def run_case(c)
    runner = "kind_#{c.kind}"
    flunk "conformance kind #{c.kind.inspect} (case #{c.name}) is not implemented by the Ruby runner" \
      unless respond_to?(runner, true)

    if c.expect.start_with?("error:")
      where = c.expect.delete_prefix("error:")
      e = assert_raises(CaseFailure, "case #{c.name}: the failure must come back") do
        send(runner, c, where)
      end
      assert_equal where, e.message, "case #{c.name}: the failure's message"
    else
      assert_equal Integer(c.expect, 10), send(runner, c), "case #{c.name}"
    end
  end

  # Sorts the ranges a loop was called with and checks that they are
  # non-empty and tile [0, n) exactly; returns the sum of the indices.
  def check_cover(ranges, n)
    ranges.sort!
    pos = 0
    ranges.each do |lo, hi|
      assert_operator lo, :<, hi, "empty range #{lo}...#{hi}"
      assert_equal pos, lo, "ranges must cover [0, #{n}) exactly once: #{lo}...#{hi} follows #{pos}"
      pos = hi
    end
    assert_equal n, pos, "ranges must end at n"
    ranges.sum { |lo, hi| index_sum(lo, hi) }
  end

  def index_sum(lo, hi)
    (lo + hi - 1) * (hi - lo) / 2
  end

  def open_pool(c, &block)
    Micropool::Pool.open(threads: c.threads, &block)
  end

  def kind_for_cover(c, split: :dynamic)
    ranges = Queue.new
    open_pool(c) do |pool|
      pool.each_range(c.a, c.b, split: split) { |lo, hi| ranges << [lo, hi] }
    end
    list = Array.new(ranges.size) { ranges.pop }
    assert_operator list.size, :<=, c.threads, "static: at most one part per thread" if split == :static
    check_cover(list, c.a)
  end

  def kind_for_static(c)
    kind_for_cover(c, split: :static)
  end

  def kind_reduce_sum(c)
    open_pool(c) do |pool|
      pool.reduce(c.a, 0, c.b) { |lo, hi, acc| acc + index_sum(lo, hi) }
    end
  end

  HASH_MOD = 1_000_003

  def kind_reduce_hash(c)
    combine = lambda do |x, y|
      [(x[0] * 31.pow(y[1], HASH_MOD) + y[0]) % HASH_MOD, x[1] + y[1]]
    end
    result = open_pool(c) do |pool|
      pool.reduce(c.a, [0, 0], c.b, combine: combine) do |lo, hi, acc|
        h = acc[0]
        (lo...hi).each { |i| h = (h * 31 + i) % HASH_MOD }
        [h, acc[1] + (hi - lo)]
      end
    end
    assert_equal c.a, result[1], "the fold must have seen every item"
    result[0]
  end

  def kind_reduce_det(c)
    results = (1..4).map do |threads|
      Micropool::Pool.open(threads: threads) do |pool|
        pool.reduce(c.a, 0.0, c.b, split: :deterministic) do |lo, hi, acc|
          (lo...hi).each { |i| acc += 1.0 / (i + 1) }
          acc
        end
      end
    end
    harmonic = (0...c.a).sum { |i| 1.0 / (i + 1) }
    assert_in_delta harmonic, results[0], 1e-9 * harmonic, "the sum itself"
    results.map { |x| [x].pack("G") }.uniq.size == 1 ? 1 : 0
  end

  def fib_join(pool, n, cutoff)
    return n if n < 2
    return fib_join(pool, n - 1, cutoff) + fib_join(pool, n - 2, cutoff) if n <= cutoff

    x, y = pool.join(-> { fib_join(pool, n - 1, cutoff) }, -> { fib_join(pool, n - 2, cutoff) })
    x + y
  end

  def kind_join_fib(c)
    open_pool(c) { |pool| fib_join(pool, c.a, c.b) }
  end

  def kind_join_error(c, where)
    open_pool(c) do |pool|
      pool.join(-> { 1 }, -> { raise CaseFailure, where })
    end
  end

  def kind_for_error(c, where)
    open_pool(c) do |pool|
      pool.each_range(c.a, 1) do |lo, hi|
        raise CaseFailure, where if (lo...hi).cover?(c.b)
      end
    end
  end

  def kind_reduce_error(c, where)
    open_pool(c) do |pool|
      pool.reduce(c.a, 0, 1) do |lo, hi, acc|
        raise CaseFailure, where if (lo...hi).cover?(c.b)

        acc + index_sum(lo, hi)
      end
    end
  end

  def kind_broadcast_all(c)
    seen = Queue.new
    open_pool(c) do |pool|
      pool.broadcast do |index, count|
        assert_equal c.threads, count, "count seen by part #{index}"
        seen << index
      end
    end
    indices = Array.new(seen.size) { seen.pop }.sort
    assert_equal((0...c.threads).to_a, indices, "every index exactly once")
    indices.size
  end

  def kind_broadcast_error(c, where)
    open_pool(c) do |pool|
      pool.broadcast { |index, _| raise CaseFailure, where if index == c.threads - 1 }
    end
  end

  def kind_nested_for(c)
    count = Counter.new
    open_pool(c) do |pool|
      pool.each_range(c.a) do |lo, hi|
        (lo...hi).each { pool.each_range(c.b) { |l2, h2| count.add(h2 - l2) } }
      end
    end
    count.value
  end

  def kind_nested_join_for(c)
    count = Counter.new
    open_pool(c) do |pool|
      _, sum = pool.join(
        -> { pool.each_range(c.a) { |lo, hi| count.add(hi - lo) } },
        -> { pool.reduce(c.b, 0) { |lo, hi, acc| acc + index_sum(lo, hi) } }
      )
      count.value + sum
    end
  end

  def kind_scope_tree(c)
    runs = Counter.new
    open_pool(c) do |pool|
      pool.scope do |scope|
        c.a.times do
          scope.spawn do |s|
            runs.add(1)
            c.b.times { s.spawn { runs.add(1) } }
          end
        end
      end
    end
    runs.value
  end

  def kind_scope_error(c, where)
    open_pool(c) do |pool|
      pool.scope do |scope|
        c.a.times { |i| scope.spawn { raise CaseFailure, where if i == c.b } }
      end
    end
  end

  def kind_submit_wait(c)
    open_pool(c) do |pool|
      tasks = Array.new(c.a) { |i| pool.submit { i } }
      tasks.sum(&:wait)
    end
  end

  def kind_submit_error(c, where)
    open_pool(c) do |pool|
      pool.submit { raise CaseFailure, where }.wait
    end
  end

  def kind_submit_cancel(c)
    runs = Counter.new
    open_pool(c) do |pool|
      task = pool.submit { runs.add(1) }
      assert task.cancel, "a task that has not started must be cancellable"
      assert_raises(Micropool::Canceled) { task.wait }
      assert task.done?, "a cancelled task is done"
    end
    runs.value
  end

  def kind_close_pending(c)
    runs = Counter.new
    pool = Micropool::Pool.new(threads: c.threads)
    c.a.times { pool.submit(detach: true) { runs.add(1) } }
    pool.close
    runs.value
  end

  def kind_thread_index(c)
    open_pool(c) do |pool|
      assert_equal(-1, pool.thread_index, "outside any call")
      matches = pool.broadcast { |index, _| pool.thread_index == index }
      assert_equal(-1, pool.thread_index, "after the broadcast")
      matches.count(true)
    end
  end

  # ------------------------------------------------------------ ABI 1.1 (cases-1.1.txt)

  LEVELS = { 1 => :high, 0 => :normal, -1 => :low }.freeze

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  def wait_until(limit)
    deadline = now + limit
    sleep 0.001 until yield || now > deadline
  end

  def kind_prio_order(c)
    seen = []
    Micropool::Pool.open(threads: 2) do |pool|
      started = Queue.new
      gate = Queue.new
      pool.submit(detach: true) { started << true; gate.pop } # holds the worker
      started.pop
      levels = %i[high normal low]
      c.a.times { |i| pool.submit(detach: true, priority: levels[i % 3]) { seen << i } }
      gate << :open
      # Only the worker may take them (close would run some here, beside it).
      wait_until(30) { seen.size == c.a }
    end
    expected = (0...3).flat_map { |level| (level...c.a).step(3).to_a }
    seen.each_with_index.count { |id, pos| expected[pos] == id }
  end

  def kind_after_chain(c)
    seen = []
    open_pool(c) do |pool|
      prev = nil
      c.a.times do |i|
        # The prerequisite's Task is dropped at once: nothing keeps it.
        prev = pool.submit(after: prev ? [prev] : []) { seen << i }
      end
      prev.wait
    end
    seen.each_with_index.count { |id, pos| id == pos }
  end

  def kind_after_diamond(c)
    ran = Counter.new
    saw = nil
    open_pool(c) do |pool|
      root = pool.submit { ran.add(1) }
      mids = Array.new(c.a) { pool.submit(after: root) { ran.add(1) } }
      last = pool.submit(after: mids) do
        saw = ran.value
        ran.add(1)
      end
      last.wait
    end
    assert_equal c.a + 1, saw, "the last task saw that many tasks done"
    ran.value
  end

  def kind_after_cancel_on_error(c)
    ran = Counter.new
    open_pool(c) do |pool|
      root = pool.submit { raise CaseFailure, "prerequisite" }
      (c.a + c.b).times do |i|
        flagged = i < c.a
        task = pool.submit(after: root, cancel_on_error: flagged) { ran.add(1); 0 }
        if flagged
          assert_raises(Micropool::Canceled, "flagged dependent #{i}") { task.wait }
        else
          assert_equal 0, task.wait, "dependent #{i} without the flag"
        end
      end
      e = assert_raises(CaseFailure) { root.wait }
      assert_equal "prerequisite", e.message
    end
    ran.value
  end

  def kind_bound_worker(c)
    flunk "bound_worker needs a pool with workers (threads >= 2)" if c.threads < 2
    good = Counter.new
    open_pool(c) do |pool|
      tasks = Array.new(c.a) do |i|
        want = 1 + i % (c.threads - 1)
        pool.submit(thread: want) { good.add(1) if pool.thread_index == want }
      end
      tasks.each(&:wait)
    end
    good.value
  end

  def kind_pinned_run(c)
    ran = Counter.new
    open_pool(c) do |pool|
      c.a.times { |i| pool.submit(detach: true, thread: 0, priority: LEVELS.fetch(i % 3 - 1)) { ran.add(1) } }
      sleep 0.01
      assert_equal 0, ran.value, "tasks bound to thread 0 ran on a worker"
      n = pool.run_pinned(max: 0)
      assert_equal ran.value, n, "run_pinned's count against the tasks that ran"
      n
    end
  end

  def kind_wait_for_timeout(c)
    Micropool::Pool.open(threads: 1) do |pool| # no worker: nobody runs the task
      task = pool.submit { 7 }
      assert_raises(Micropool::TimeoutError) { task.wait(timeout: Rational(c.b, 1_000_000)) }
      refute task.done?, "the task is done after the timeout"
      task.wait
    end
  end

  def kind_yield_outside(c)
    ran = Counter.new
    Micropool::Pool.open(threads: 1) do |pool|
      c.a.times do |i|
        pool.submit(detach: true, priority: LEVELS.fetch(i % 3 - 1), thread: i.odd? ? 0 : nil) { ran.add(1) }
      end
      yields = 0
      yields += 1 while pool.yield_now
      assert_equal ran.value, yields, "yields that returned true against the tasks that ran"
      yields
    end
  end
end
