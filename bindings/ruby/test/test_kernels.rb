# frozen_string_literal: true

# The native kernels: the part of the Ruby binding that runs in parallel.

require_relative "helper"
require "micropool/kernels"

class TestKernels < Minitest::Test
  include MicropoolTestHelper

  def with_pool(threads = 2, &block)
    Micropool::Pool.open(threads: threads, &block)
  end

  def random_doubles(n, seed = 1)
    rng = Random.new(seed)
    Array.new(n) { rng.rand(-1000.0..1000.0) }
  end

  def test_sum_of_doubles_in_every_container
    data = random_doubles(100_003)
    expected = data.sum # Kahan-compensated in Ruby: close, not bitwise
    memory = FFI::MemoryPointer.new(:double, data.size)
    memory.write_array_of_double(data)
    with_pool do |pool|
      [data, data.pack("d*"), memory].each do |container|
        assert_in_delta expected, pool.sum(container), 1e-6, container.class.name
      end
      assert_in_delta 0.0, pool.sum([]), 0.0
    end
  end

  def test_sum_of_doubles_is_bitwise_equal_on_any_number_of_threads
    data = random_doubles(200_000, 7).pack("d*")
    sums = [1, 2, 3, 4].map { |t| with_pool(t) { |pool| pool.sum(data) } }
    assert_equal 1, sums.map { |s| [s].pack("G") }.uniq.size, sums.inspect
  end

  def test_sum_of_int64_is_exact
    data = Array.new(50_000) { |i| (i.even? ? 1 : -1) * (i << 20) }
    with_pool do |pool|
      assert_equal data.sum, pool.sum(data, type: :int64)
      assert_equal data.sum, pool.sum(data.pack("q*"), type: :int64)
    end
  end

  def test_an_int64_overflow_raises_range_error
    big = (1 << 62)
    with_pool do |pool|
      assert_raises(RangeError) { pool.sum([big, big], type: :int64) }
      assert_raises(RangeError) { pool.sum(Array.new(40_000) { big / 10_000 }, type: :int64) }
    end
  end

  def test_sort_doubles_like_array_sort
    data = random_doubles(100_000, 3)
    with_pool do |pool|
      array = data.dup
      assert_same array, pool.sort!(array)
      assert_equal data.sort, array
      packed = data.pack("d*")
      pool.sort!(packed)
      assert_equal data.sort, packed.unpack("d*")
      memory = FFI::MemoryPointer.new(:double, data.size)
      memory.write_array_of_double(data)
      pool.sort!(memory)
      assert_equal data.sort, memory.read_array_of_double(data.size)
    end
  end

  def test_sort_inputs_that_defeat_naive_quicksort
    n = 60_000
    inputs = {
      sorted: (0...n).to_a, reversed: (0...n).to_a.reverse, equal: Array.new(n, 5),
      organ_pipe: (0...n / 2).to_a + (0...n / 2).to_a.reverse, few_values: Array.new(n) { |i| i % 3 }
    }
    with_pool do |pool|
      inputs.each do |name, data|
        ints = data.dup
        pool.sort!(ints, type: :int64)
        assert_equal data.sort, ints, name.to_s
        floats = data.map(&:to_f)
        pool.sort!(floats)
        assert_equal floats.sort, floats, "#{name} as doubles"
      end
    end
  end

  def test_sort_puts_nans_last
    data = [3.0, Float::NAN, -1.0, Float::INFINITY, Float::NAN, -Float::INFINITY, 0.0]
    with_pool do |pool|
      pool.sort!(data)
      assert_equal [-Float::INFINITY, -1.0, 0.0, 3.0, Float::INFINITY], data.first(5)
      assert(data.last(2).all?(&:nan?))
    end
  end

  def test_sort_int64_extremes
    data = [2**63 - 1, -2**63, 0, -1, 1] * 5000
    with_pool do |pool|
      pool.sort!(data, type: :int64)
      assert_equal data.sort, data
    end
  end

  def test_map_matches_ruby_math
    data = random_doubles(50_000, 5).map(&:abs)
    with_pool do |pool|
      { sqrt: ->(x) { Math.sqrt(x) }, sin: ->(x) { Math.sin(x) }, square: ->(x) { x * x },
        abs: ->(x) { x.abs } }.each do |op, fn|
        mapped = data.dup
        pool.map!(mapped, op)
        0.step(data.size - 1, 997) do |i|
          x = data[i]
          assert_in_delta fn.call(x), mapped[i], 1e-12 * [1.0, fn.call(x).abs].max, "#{op}(#{x})"
        end
      end
    end
  end

  def test_kernel_argument_errors
    with_pool do |pool|
      assert_raises(TypeError) { pool.sum(42) }
      assert_raises(TypeError) { pool.sum([1.0], type: "double") }
      assert_raises(ArgumentError) { pool.sum([1.0], type: :float) }
      assert_raises(ArgumentError) { pool.sum("123") } # not a multiple of 8 bytes
      assert_raises(TypeError) { pool.sum(["a"]) }
      assert_raises(ArgumentError) { pool.map!([1.0], :tan) }
      assert_raises(TypeError) { pool.map!([1.0], "sqrt") }
      assert_raises(ArgumentError) { pool.sort! }
      assert_raises(FrozenError) { pool.sort!([2.0, 1.0].pack("d*").freeze) }
      assert_raises(FrozenError) { pool.sort!([2.0, 1.0].freeze) }
      assert_equal 3.0, pool.sum([1.0, 2.0].pack("d*").freeze), "a frozen string can be read"
    end
    closed = Micropool::Pool.open(threads: 2) { |pool| pool }
    assert_raises(Micropool::ClosedError) { closed.sum([1.0]) }
  end
end
