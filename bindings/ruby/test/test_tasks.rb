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
end
