# frozen_string_literal: true

# What a callback through the pool costs from Ruby, and what runs in
# parallel. Medians of several runs; prints a table, asserts nothing.
#
#   ruby -I bindings/ruby/lib bindings/ruby/bench/bench.rb [--quick]
#
# (with MICROPOOL_LIB and MICROPOOL_KERNELS_LIB pointing at the build tree
# when the libraries are not installed).

require "micropool"
require "micropool/kernels"
require "etc"

QUICK = ARGV.include?("--quick")
RUNS = QUICK ? 3 : 9

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

# Median seconds of one call of the block, each run timing `reps` calls.
def median(reps = 1)
  times = Array.new(RUNS) do
    t = now
    reps.times { yield }
    (now - t) / reps
  end
  times.sort[RUNS / 2]
end

def us(seconds)
  format("%9.2f us", seconds * 1e6)
end

def ms(seconds)
  format("%9.1f ms", seconds * 1e3)
end

reps = QUICK ? 200 : 2000
puts "micropool #{Micropool.library_version}, Ruby #{RUBY_VERSION}, ffi #{FFI::VERSION}, " \
     "#{Etc.nprocessors} CPUs"
puts
puts "Callbacks (empty Ruby blocks), per operation:"
noop = -> {}
Micropool::Pool.open(threads: 1) do |pool|
  join1 = median(reps) { pool.join(noop, noop) }
  puts "  join, 1 thread (both blocks on the calling thread)  #{us(join1)}  = #{us(join1 / 2)} per block"
  bc1 = median(reps) { pool.broadcast { nil } }
  puts "  broadcast, 1 thread (1 block, calling thread)       #{us(bc1)}"
end
Micropool::Pool.open(threads: 2) do |pool|
  bc2 = median(reps / 4) { pool.broadcast { nil } }
  puts "  broadcast, 2 threads (1 block on a worker)          #{us(bc2)}"
  join2 = median(reps) { pool.join(noop, noop) }
  puts "  join, 2 threads                                     #{us(join2)}"
  helper = 0
  total = 0
  pool.each_range(10_000, 1) do |_lo, _hi|
    total += 1
    helper += 1 if Thread.current.name == "FFI Callback Runner"
  end
  puts "  each_range(10_000, 1), 2 threads: #{total} blocks, #{helper} on a worker's helper thread"
end
puts


n = QUICK ? 1_000_000 : 4_000_000
rng = Random.new(42)
source = Array.new(n) { rng.rand * 100.0 }
packed = source.pack("d*")
buffer = FFI::MemoryPointer.new(:double, n)
fresh = -> { buffer.put_bytes(0, packed) }

# Times the block on a 1-thread and a 2-thread pool, alternating, so that
# both see the same load from other processes; `refill` (if any) runs
# before each timed call. Returns the median times and the median of the
# per-pair ratios.
def paired(refill = nil, &block)
  pools = { 1 => Micropool::Pool.new(threads: 1), 2 => Micropool::Pool.new(threads: 2) }
  times = { 1 => [], 2 => [] }
  RUNS.times do
    [1, 2].each do |threads|
      refill&.call
      t = now
      block.call(pools[threads])
      times[threads] << now - t
    end
  end
  pools.each_value(&:close)
  ratios = times[1].zip(times[2]).map { |a, b| a / b }.sort
  { 1 => times[1].sort[RUNS / 2], 2 => times[2].sort[RUNS / 2], ratio: ratios[RUNS / 2] }
end

puts "CPU-bound loop: x = sin(x) over #{n} doubles"
ruby_seq = median { source.map { |x| Math.sin(x) } }
puts "  Ruby, sequential (Array#map)                        #{ms(ruby_seq)}"
ruby_pool = Micropool::Pool.open(threads: 2) do |pool|
  out = Array.new(n)
  median { pool.each_range(n, 65_536) { |lo, hi| (lo...hi).each { |i| out[i] = Math.sin(source[i]) } } }
end
puts "  Ruby blocks on a 2-thread pool (GVL: no speed-up)   #{ms(ruby_pool)}"
ruby_threads = median do
  out = Array.new(n)
  half = n / 2
  [[0, half], [half, n]].map do |lo, hi|
    Thread.new { (lo...hi).each { |i| out[i] = Math.sin(source[i]) } }
  end.each(&:join)
end
puts "  Ruby blocks on 2 plain Threads (Thread.new, GVL)    #{ms(ruby_threads)}"
native = paired(fresh) { |pool| pool.map!(buffer, :sin) }
puts "  native kernel map!(:sin), 1 thread                  #{ms(native[1])}"
puts "  native kernel map!(:sin), 2 threads                 #{ms(native[2])}   " \
     "speed-up #{format('%.2f', native[:ratio])}x (median of paired runs)"
puts "  native kernel, 2 threads, vs the Ruby loop          #{format('%.1f', ruby_seq / native[2])}x faster"
puts

puts "Sum of #{n} doubles (memory-bound)"
array_sum = median { source.sum }
sums = paired { |pool| pool.sum(buffer) }
puts "  Array#sum #{ms(array_sum)}; native sum, 1 thread #{ms(sums[1])}, 2 threads #{ms(sums[2])}   " \
     "speed-up #{format('%.2f', sums[:ratio])}x"

puts "Sort of #{n} doubles"
array_sort = median { source.sort }
sorts = paired(fresh) { |pool| pool.sort!(buffer) }
puts "  Array#sort #{ms(array_sort)}; native sort!, 1 thread #{ms(sorts[1])}, 2 threads #{ms(sorts[2])}   " \
     "speed-up #{format('%.2f', sorts[:ratio])}x"

puts "Micropool::Buffer: the cost of converting, #{n} doubles"
conv = median { Micropool::Buffer.from(source) }
buf = Micropool::Buffer.from(source)
back = median { buf.to_a }
Micropool::Pool.open(threads: 2) do |pool|
  on_buffer = median { pool.sum(buf) }
  on_array = median { pool.sum(source) }
  puts "  Buffer.from(Array) #{ms(conv)}, Buffer#to_a #{ms(back)}"
  puts "  pool.sum(buffer) #{ms(on_buffer)}; pool.sum(array) #{ms(on_array)} (a copy on every call)"
end
