# frozen_string_literal: true

# Interrupts while a pool operation runs: Timeout, Thread#kill,
# Thread#raise, Ctrl-C; and several threads on a pool of one thread, whose
# calls keep the GVL. Each case runs in a child process with a time limit,
# so that a regression cannot hang the suite.

require_relative "helper"

class TestInterrupts < Minitest::Test
  include MicropoolTestHelper

  PRELUDE = <<~RUBY
    require "micropool"
    require "timeout"
    $stdout.sync = true
    def now = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    POOL = Micropool::Pool.new(threads: 2)
  RUBY

  # Runs the script after PRELUDE; returns the output, which must be a
  # clean exit.
  def child(script, limit: 20)
    status, output = run_ruby(PRELUDE + script, limit: limit)
    assert status.success?, "the child failed (#{status.inspect}):\n#{output}"
    output
  end

  def test_timeout_raises_timeout_error
    out = child(<<~RUBY)
      t = now
      begin
        Timeout.timeout(0.1) { POOL.each_range(2, 1) { sleep 0.5 } }
        puts "no exception"
      rescue Exception => e
        puts "raised \#{e.class} after \#{(now - t).round(2)}"
      end
      # The pool still works.
      puts "sum \#{POOL.reduce(100, 0) { |lo, hi, acc| acc + (lo...hi).sum }}"
    RUBY
    assert_match(/^raised Timeout::Error after /, out)
    assert_match(/^sum 4950$/, out)
  end

  def test_timeout_of_a_block_on_the_calling_thread_takes_effect_at_once
    out = child(<<~RUBY)
      t = now
      begin
        Timeout.timeout(0.1) { POOL.each_range(1) { sleep 3 } }
      rescue Timeout::Error
        puts "timeout after \#{(now - t).round(2)}"
      end
    RUBY
    elapsed = out[/^timeout after ([\d.]+)$/, 1]
    assert elapsed, out
    assert_operator elapsed.to_f, :<, 1.0, "the block on the calling thread must be interrupted"
  end

  def test_timeout_skips_the_parts_that_have_not_started
    # 40 parts of 0.1 s on 2 threads take 2 s; the timeout at 0.15 s must
    # leave out the parts not yet started.
    out = child(<<~RUBY)
      runs = Queue.new
      t = now
      begin
        Timeout.timeout(0.15) { POOL.each_range(40, 1) { runs << 1; sleep 0.1 } }
      rescue Timeout::Error
        puts "timeout after \#{(now - t).round(2)}, \#{runs.size} parts ran"
      end
    RUBY
    m = out.match(/^timeout after ([\d.]+), (\d+) parts ran$/)
    assert m, out
    assert_operator m[1].to_f, :<, 1.0
    assert_operator m[2].to_i, :<, 20
  end

  def test_a_killed_thread_ends_silently
    out = child(<<~RUBY)
      [[2, 0.3], [1, 3]].each do |n, pause|
        th = Thread.new { POOL.each_range(n, 1) { sleep pause }; puts "not killed" }
        sleep 0.05
        t = now
        th.kill
        value = th.join(10) ? th.value : :still_running
        puts "n=\#{n} joined: \#{value.inspect} status \#{th.status.inspect} after \#{(now - t).round(2)}"
      end
    RUBY
    refute_match(/terminated with exception|LocalJumpError|not killed/, out)
    assert_match(/^n=2 joined: nil status false after /, out)
    m = out.match(/^n=1 joined: nil status false after ([\d.]+)$/)
    assert m, out
    assert_operator m[1].to_f, :<, 1.0, "a kill interrupts the block of the calling thread"
  end

  def test_timeout_and_ctrl_c_on_a_pool_of_one_thread
    out = child(<<~RUBY)
      one = Micropool::Pool.new(threads: 1)
      t = now
      begin
        Timeout.timeout(0.1) { one.each_range(4, 1) { sleep 3 } }
      rescue Timeout::Error
        puts "timeout after \#{(now - t).round(2)}"
      end
      Thread.new { sleep 0.1; Process.kill(:INT, Process.pid) }
      t = now
      begin
        one.join(-> { sleep 3 }, -> { sleep 3 })
      rescue Interrupt
        puts "interrupt after \#{(now - t).round(2)}"
      end
    RUBY
    assert_operator out[/^timeout after ([\d.]+)$/, 1].to_f, :<, 1.0, out
    assert_operator out[/^interrupt after ([\d.]+)$/, 1].to_f, :<, 1.0, out
  end

  def test_several_threads_share_a_pool_of_one_thread
    out = child(<<~RUBY)
      one = Micropool::Pool.new(threads: 1)
      users = Array.new(4) do |k|
        Thread.new do
          Array.new(20) do
            one.reduce(10, 0, 1) { |lo, hi, acc| sleep 0.001; acc + (lo...hi).sum } +
              one.scope { |s| 3.times { s.spawn { sleep 0.001 } }; k } +
              one.broadcast { k }.sum + one.join(-> { k }, -> { k }).sum
          end.uniq
        end
      end
      p users.map(&:value)
    RUBY
    assert_equal "[[45], [49], [53], [57]]\n", out
  end

  def test_a_timeout_inside_the_blocks_stays_inside_them
    # Timeout raises into the thread the block runs on, the calling thread
    # for some parts: that must not stop the other parts.
    out = child(<<~RUBY)
      parts = Queue.new
      10.times do
        POOL.each_range(4, 1) do
          Timeout.timeout(0.02) { sleep 1 }
        rescue Timeout::Error
          parts << 1
        end
      end
      puts "\#{parts.size} timeouts rescued"
    RUBY
    assert_match(/^40 timeouts rescued$/, out)
  end

  def test_timeout_of_nested_and_cpu_bound_blocks
    out = child(<<~RUBY)
      other = Micropool::Pool.new(threads: 2)
      t = now
      begin
        Timeout.timeout(0.1) { POOL.each_range(2, 1) { other.each_range(2, 1) { sleep 0.3 } } }
      rescue Timeout::Error
        puts "nested after \#{(now - t).round(2)}"
      end
      t = now
      begin
        Timeout.timeout(0.1) { POOL.join(-> { x = 0; loop { x += 1 } }, -> { nil }) }
      rescue Timeout::Error
        puts "cpu-bound after \#{(now - t).round(2)}"
      end
    RUBY
    assert_operator out[/^nested after ([\d.]+)$/, 1].to_f, :<, 1.0, out
    assert_operator out[/^cpu-bound after ([\d.]+)$/, 1].to_f, :<, 1.0, out
  end

  def test_thread_raise_reaches_the_caller
    out = child(<<~RUBY)
      th = Thread.new do
        POOL.each_range(2, 1) { sleep 0.3 }
        :finished
      rescue => e
        "rescued \#{e.class}: \#{e.message}"
      end
      sleep 0.05
      th.raise(ArgumentError, "from outside")
      puts th.value
    RUBY
    assert_match(/^rescued ArgumentError: from outside$/, out)
  end

  def test_timeout_kill_and_ctrl_c_reach_a_bounded_wait
    out = child(<<~RUBY)
      one = Micropool::Pool.new(threads: 1)
      task = one.submit { :ran } # nobody runs it while the waits below wait
      t = now
      begin
        Timeout.timeout(0.1) { task.wait(timeout: 5) }
      rescue Micropool::TimeoutError
        puts "the bounded wait's own error"
      rescue Timeout::Error
        puts "timeout after \#{(now - t).round(2)}"
      end
      th = Thread.new { task.wait(timeout: 5); puts "not killed" }
      sleep 0.05
      t = now
      th.kill
      th.join(10)
      puts "killed after \#{(now - t).round(2)}, status \#{th.status.inspect}"
      Thread.new { sleep 0.1; Process.kill(:INT, Process.pid) }
      t = now
      begin
        task.wait(timeout: 5)
      rescue Interrupt
        puts "interrupt after \#{(now - t).round(2)}"
      end
      puts "then \#{task.wait.inspect}"
    RUBY
    refute_match(/own error|not killed/, out)
    [/^timeout after ([\d.]+)$/, /^killed after ([\d.]+), status false$/,
     /^interrupt after ([\d.]+)$/].each do |line|
      elapsed = out[line, 1]
      assert elapsed, "no line #{line.inspect} in:\n#{out}"
      assert_operator elapsed.to_f, :<, 1.0, out
    end
    assert_match(/^then :ran$/, out)
  end

  def test_timeout_kill_and_ctrl_c_reach_run_pinned
    out = child(<<~RUBY)
      t = now
      slow = POOL.submit(thread: 0) { sleep 3; :slept }
      after = POOL.submit(thread: 0) { :next }
      begin
        Timeout.timeout(0.1) { POOL.run_pinned(max: 10) }
        puts "no timeout"
      rescue Timeout::Error
        puts "timeout after \#{(now - t).round(2)}"
      end
      begin
        slow.wait
      rescue Exception => e
        puts "the task got \#{e.class}"
      end
      puts "then \#{after.wait.inspect}"
      POOL.submit(thread: 0, detach: true) { sleep 3 }
      th = Thread.new { POOL.run_pinned; puts "not killed" }
      sleep 0.05
      t = now
      th.kill
      th.join(10)
      puts "killed after \#{(now - t).round(2)}, status \#{th.status.inspect}"
      POOL.submit(thread: 0, detach: true) { sleep 3 }
      Thread.new { sleep 0.1; Process.kill(:INT, Process.pid) }
      t = now
      begin
        POOL.run_pinned
        puts "no interrupt"
      rescue Interrupt
        puts "interrupt after \#{(now - t).round(2)}"
      end
      puts "sum \#{POOL.reduce(100, 0) { |lo, hi, acc| acc + (lo...hi).sum }}"
    RUBY
    refute_match(/no timeout|not killed|no interrupt/, out)
    [/^timeout after ([\d.]+)$/, /^killed after ([\d.]+), status false$/,
     /^interrupt after ([\d.]+)$/].each do |line|
      elapsed = out[line, 1]
      assert elapsed, "no line #{line.inspect} in:\n#{out}"
      assert_operator elapsed.to_f, :<, 1.0, out
    end
    assert_match(/^sum 4950$/, out)
  end

  def test_timeout_and_ctrl_c_reach_yield_now
    out = child(<<~RUBY)
      one = Micropool::Pool.new(threads: 1)
      task = one.submit { sleep 3 }
      t = now
      begin
        Timeout.timeout(0.1) { one.yield_now }
        puts "no timeout"
      rescue Timeout::Error
        puts "timeout after \#{(now - t).round(2)}"
      end
      one.submit(detach: true) { sleep 3 }
      Thread.new { sleep 0.1; Process.kill(:INT, Process.pid) }
      t = now
      begin
        one.yield_now
        puts "no interrupt"
      rescue Interrupt
        puts "interrupt after \#{(now - t).round(2)}"
      end
      puts "yield then \#{one.yield_now.inspect}"
    RUBY
    refute_match(/no timeout|no interrupt|detached task raised/, out)
    [/^timeout after ([\d.]+)$/, /^interrupt after ([\d.]+)$/].each do |line|
      elapsed = out[line, 1]
      assert elapsed, "no line #{line.inspect} in:\n#{out}"
      assert_operator elapsed.to_f, :<, 1.0, out
    end
    assert_match(/^yield then false$/, out)
  end
end
