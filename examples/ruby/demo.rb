# frozen_string_literal: true

# micropool from Ruby: a parallel sum and a quicksort, each written twice:
# with Ruby blocks (pool.reduce, pool.join), which take turns on the GVL,
# and with the native kernels, which run on every pool thread at once.
#
#   ruby -I bindings/ruby/lib examples/ruby/demo.rb [--quick]
#
# Exits non-zero if any result is wrong.

require "micropool"
require "micropool/kernels"

n = ARGV.include?("--quick") ? 200_000 : 2_000_000
rng = Random.new(2024)
numbers = Array.new(n) { rng.rand(1_000_000) }

def clock
  t = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  value = yield
  [value, (Process.clock_gettime(Process::CLOCK_MONOTONIC) - t) * 1e3]
end

# Quicksort with Ruby blocks: the two sides of a partition are a join; below
# the cut-off a side is sorted by Array#sort.
def quicksort(pool, list)
  return list.sort if list.size <= 5_000

  pivot = list[list.size / 2]
  smaller, rest = list.partition { |x| x < pivot }
  equal, larger = rest.partition { |x| x == pivot }
  left, right = pool.join(-> { quicksort(pool, smaller) }, -> { quicksort(pool, larger) })
  left + equal + right
end

def row(label, value, millis)
  printf("  %-40s %-15s %8.1f ms\n", label, value, millis)
end

failures = []
Micropool::Pool.open(threads: 2) do |pool|
  puts "micropool #{Micropool.library_version} from Ruby #{RUBY_VERSION}, #{pool.threads} threads, #{n} integers"

  expected_sum = numbers.sum
  sum, t = clock { pool.reduce(n, 0, 10_000) { |lo, hi, acc| acc + numbers[lo...hi].sum } }
  failures << "reduce sum" unless sum == expected_sum
  row("sum with Ruby blocks (pool.reduce)", sum, t)

  expected = numbers.sort
  sorted, t = clock { quicksort(pool, numbers) }
  failures << "quicksort" unless sorted == expected
  row("quicksort with Ruby blocks (pool.join)", sorted == expected ? "sorted" : "WRONG", t)


  # The native kernels work on native memory, filled once from the Array.
  buffer, t = clock { FFI::MemoryPointer.new(:int64, n).tap { |m| m.write_array_of_int64(numbers) } }
  row("copy to native memory", "", t)
  native_sum, t = clock { pool.sum(buffer, type: :int64) }
  failures << "native sum" unless native_sum == expected_sum
  row("sum with the native kernel", native_sum, t)
  _, t = clock { pool.sort!(buffer, type: :int64) }
  ok = buffer.read_array_of_int64(n) == expected
  failures << "native sort" unless ok
  row("quicksort with the native kernel", ok ? "sorted" : "WRONG", t)
end

if failures.empty?
  puts "  all results correct"
else
  warn "wrong results: #{failures.join(', ')}"
  exit 1
end
