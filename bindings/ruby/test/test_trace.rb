# frozen_string_literal: true

# Pool options of ABI 1.1: tracing (Micropool::Trace, recorded by C hooks
# without the GVL) and the workers' stack size.

require_relative "helper"
require "json"
require "stringio"
require "tempfile"
require "micropool/trace"

class TestTrace < Minitest::Test
  include MicropoolTestHelper

  # Every thread's events nest: each end closes the last open begin of the
  # same kind.
  def assert_balanced(events)
    open = Hash.new { |h, k| h[k] = [] }
    events.each do |e|
      if e.phase == :begin
        open[e.thread] << e
      else
        top = open[e.thread].pop
        assert top, "an end without a begin on thread #{e.thread}: #{e.inspect}"
        assert_equal [top.kind, top.name], [e.kind, e.name], "the end of another span"
        assert_operator e.time, :>=, top.time
      end
    end
    assert(open.values.all?(&:empty?), "spans left open: #{open.inspect}")
  end

  def test_the_hooks_record_every_kind_of_work
    trace = Micropool::Trace.new
    t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    Micropool::Pool.open(threads: 2, trace: trace) do |pool|
      assert_same trace, pool.trace
      pool.each_range(8, 1) { sleep 0.001 }
      pool.broadcast { nil }
      pool.scope { |s| 4.times { s.spawn { sleep 0.001 } } }
      pool.submit(name: "io") { :io }.wait
      pool.submit(name: "pinned", thread: 0) { 1 }
      pool.run_pinned
      sleep 0.05 # the worker goes to sleep
    end
    t1 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    events = trace.events
    assert_balanced(events)
    kinds = events.map(&:kind).uniq
    %i[part broadcast scope_task task sleep].each { |k| assert_includes kinds, k }
    assert_equal [[:begin, :task, "io"], [:end, :task, "io"]],
                 events.select { |e| e.name == "io" }.map { |e| [e.phase, e.kind, e.name] }
    assert_equal [0, 0], events.select { |e| e.name == "pinned" }.map(&:thread),
                 "a task bound to thread 0 ran on the caller"
    assert_equal [0, 1], events.map(&:thread).uniq.sort
    assert(events.all? { |e| e.time.between?(t0, t1) }, "times are on Ruby's monotonic clock")
    assert_equal 2, events.count { |e| e.kind == :broadcast && e.phase == :begin }
    assert_equal 0, trace.dropped
    assert_equal events.size, trace.count
  end

  def test_a_full_trace_counts_what_it_drops_and_still_writes_balanced_json
    trace = Micropool::Trace.new(capacity: 5)
    Micropool::Pool.open(threads: 2, trace: trace) { |pool| pool.each_range(20, 1) { nil } }
    assert_equal 5, trace.events.size
    assert_operator trace.dropped, :>, 0
    assert_equal trace.count - 5, trace.dropped
    doc = JSON.parse(JSON.generate(trace.to_chrome))
    spans = doc["traceEvents"].reject { |e| e["ph"] == "M" }
    spans.group_by { |e| e["tid"] }.each_value do |list|
      assert_equal list.count { |e| e["ph"] == "B" }, list.count { |e| e["ph"] == "E" }
    end
  end

  def test_a_path_or_an_io_receives_chrome_trace_json_when_the_pool_closes
    Tempfile.create(["micropool", ".json"]) do |file|
      pool = Micropool::Pool.new(threads: 2, trace: file.path)
      pool.submit(name: "load") { 1 }.wait
      assert_equal 0, File.size(file.path), "written at close, not before"
      pool.close
      doc = JSON.parse(File.read(file.path))
      events = doc.fetch("traceEvents")
      load = events.select { |e| e["name"] == "load" }
      assert_equal %w[B E], load.map { |e| e["ph"] }
      assert_equal "task", load.first["cat"]
      assert(events.any? { |e| e["ph"] == "M" && e["name"] == "thread_name" })
    end
    io = StringIO.new
    Micropool::Pool.open(threads: 2, trace: io) { |pool| pool.each_range(4, 1) { nil } }
    assert(JSON.parse(io.string)["traceEvents"].any? { |e| e["cat"] == "part" })
    refute io.closed?
  end

  def test_a_trace_outlives_its_pools
    trace = Micropool::Trace.new
    3.times { Micropool::Pool.new(threads: 2, trace: trace).submit { 1 }.wait }
    GC.start # the pools' finalizers destroy them; the trace's memory stays
    Micropool::Pool.open(threads: 2, trace: trace) { |pool| pool.submit(name: "last") { 1 }.wait }
    assert(trace.events.any? { |e| e.name == "last" })
    assert_balanced(trace.events.reject { |e| e.kind == :sleep })
  end

  def test_trace_and_stack_size_arguments
    e = assert_raises(TypeError) { Micropool::Pool.new(threads: 1, trace: 5) }
    assert_match(/trace must be a Micropool::Trace, a path or an IO, not Integer/, e.message)
    assert_raises(ArgumentError) { Micropool::Trace.new(capacity: 0) }
    assert_raises(TypeError) { Micropool::Trace.new(capacity: "1") }
    assert_raises(TypeError) { Micropool::Trace.new.write(5) }
    e = assert_raises(TypeError) { Micropool::Pool.new(threads: 1, stack_size: "1M") }
    assert_match(/stack_size must be an Integer, not String/, e.message)
    assert_raises(ArgumentError) { Micropool::Pool.new(threads: 1, stack_size: -1) }
    e = assert_raises(ArgumentError) { Micropool::Pool.new(threads: 2, stack_size: 1000) }
    assert_match(/stack_size must be 0 .* or at least \d+ bytes, got 1000/, e.message)
    assert_raises(ArgumentError) { Micropool::Pool.new(threads: 2, stak_size: 1 << 20) }
  end

  def test_workers_with_a_stack_size_run_the_kernels
    require "micropool/kernels"
    data = Array.new(100_000) { |i| (i * 7919) % 100_003 }
    [64 << 10, 8 << 20].each do |bytes|
      Micropool::Pool.open(threads: 2, stack_size: bytes) do |pool|
        assert_equal data.sort, pool.sort!(data.dup, type: :int64), "stack_size #{bytes}"
        assert_equal [0, 1], pool.broadcast { |i, _| i }
      end
    end
  end
end
