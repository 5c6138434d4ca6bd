# frozen_string_literal: true

# Micropool::Buffer: native numbers the kernels work on without a copy.

require_relative "helper"
require "micropool/kernels"

class TestBuffer < Minitest::Test
  include MicropoolTestHelper

  def with_pool(threads = 2, &block)
    Micropool::Pool.open(threads: threads, &block)
  end

  def test_new_is_zeroed_and_from_copies_an_array
    assert_equal [0.0] * 5, Micropool::Buffer.new(5).to_a
    assert_equal [0] * 3, Micropool::Buffer.new(3, type: :int64).to_a
    values = [1.5, -2.0, 3.25]
    buf = Micropool::Buffer.from(values)
    values[0] = 99.0
    assert_equal [1.5, -2.0, 3.25], buf.to_a, "the buffer has its own copy"
    assert_equal [7, -(1 << 62)], Micropool::Buffer.from([7, -(1 << 62)], type: :int64).to_a
    assert_equal 0, Micropool::Buffer.from([]).size
  end

  def test_indexing
    buf = Micropool::Buffer.from([1.0, 2.0, 3.0])
    assert_equal 3, buf.length
    assert_equal 3.0, buf[-1]
    assert_nil buf[3]
    buf[1] = 5
    assert_equal [1.0, 5.0, 3.0], buf.to_a
    assert_raises(IndexError) { buf[3] = 1.0 }
    assert_raises(TypeError) { buf[1.0] }
    ints = Micropool::Buffer.new(2, type: :int64)
    ints[0] = 1 << 40
    assert_equal [1 << 40, 0], ints.to_a
  end

  def test_enumerable
    buf = Micropool::Buffer.from((1..10_000).map(&:to_f)) # more than one chunk of each
    assert_equal 50_005_000.0, buf.sum
    assert_equal [1.0, 2.0], buf.first(2)
    assert_equal 5000, buf.count { |x| x > 5000 }
    assert_equal 10_000, buf.each.size
    assert_equal [3.0, 2.0, 1.0], Micropool::Buffer.from([1.0, 3.0, 2.0]).sort.reverse
  end

  def test_slices_are_views_of_the_same_memory
    buf = Micropool::Buffer.from((0...10).map(&:to_f))
    part = buf.slice(2, 3)
    assert_equal [2.0, 3.0, 4.0], part.to_a
    part[0] = -1.0
    assert_equal(-1.0, buf[2], "a view writes into the buffer")
    assert_equal [[0.0, 1.0, -1.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0]], buf.each_slice(4).map(&:to_a)
    assert_equal [4, 4, 2], buf.each_slice(4).map(&:size)
    assert_equal 3, buf.each_slice(4).size
    assert_raises(IndexError) { buf.slice(8, 3) }
    assert_raises(ArgumentError) { buf.each_slice(0) { nil } }
  end

  def test_a_view_keeps_the_memory_alive
    part = Micropool::Buffer.from(Array.new(100_000) { |i| i.to_f }).slice(99_998, 2)
    GC.start
    GC.compact if GC.respond_to?(:compact)
    assert_equal [99_998.0, 99_999.0], part.to_a
  end

  def test_kernels_work_on_a_buffer_in_place
    rng = Random.new(3)
    values = Array.new(100_001) { rng.rand(-100.0..100.0) }
    with_pool do |pool|
      buf = Micropool::Buffer.from(values)
      assert_in_delta values.sum, pool.sum(buf), 1e-6
      assert_same buf, pool.sort!(buf)
      assert_equal values.sort, buf.to_a
      assert_same buf, pool.map!(buf, :abs)
      assert_equal values.sort.map(&:abs), buf.to_a
      ints = Micropool::Buffer.from([5, 3, 9, 1], type: :int64)
      assert_equal 18, pool.sum(ints, type: :int64)
      assert_equal [1, 3, 5, 9], pool.sort!(ints, type: :int64).to_a
    end
  end

  def test_map_returns_a_new_buffer
    with_pool do |pool|
      buf = Micropool::Buffer.from([1.0, 4.0, 9.0])
      out = pool.map(buf, :sqrt)
      assert_instance_of Micropool::Buffer, out
      assert_equal [1.0, 2.0, 3.0], out.to_a
      assert_equal [1.0, 4.0, 9.0], buf.to_a, "map leaves its argument as it was"
      assert_equal [1.0, 16.0], pool.map([1.0, 4.0], :square)
    end
  end

  def test_kernels_on_slices
    values = (1..1000).map(&:to_f)
    with_pool do |pool|
      buf = Micropool::Buffer.from(values)
      sums = buf.each_slice(300).map { |part| pool.sum(part) }
      assert_equal values.each_slice(300).map(&:sum), sums
      pool.map!(buf.slice(0, 10), :square)
      assert_equal (1..10).map { |x| x.to_f**2 }, buf.first(10)
      assert_equal 11.0, buf[10], "the kernels stay inside the view"
    end
  end

  def test_a_buffer_of_the_wrong_type_is_refused
    with_pool do |pool|
      ints = Micropool::Buffer.new(4, type: :int64)
      assert_raises(ArgumentError) { pool.sum(ints) }
      assert_raises(ArgumentError) { pool.map!(ints, :sin) }
      assert_raises(ArgumentError) { pool.sort!(Micropool::Buffer.new(2), type: :int64) }
    end
    assert_raises(ArgumentError) { Micropool::Buffer.new(2, type: :float) }
    assert_raises(TypeError) { Micropool::Buffer.from("1.0") }
    assert_raises(ArgumentError) { Micropool::Buffer.new(-1) }
  end
end
