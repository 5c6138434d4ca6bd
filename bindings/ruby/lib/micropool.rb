# frozen_string_literal: true

# micropool: a low-latency work-stealing thread pool (libmicropool.so.1),
# bound with the ffi gem.
#
#   require "micropool"
#
#   Micropool::Pool.open(threads: 4) do |pool|
#     a, b = pool.join(-> { fib(20) }, -> { fib(21) })
#     pool.each_range(10_000, 1_000) { |lo, hi| ... }
#     total = pool.reduce(1_000_000, 0) { |lo, hi, acc| acc + (lo...hi).sum }
#     pool.broadcast { |index, count| ... }
#     task = pool.submit { expensive }
#     task.wait
#   end
#
# Ruby blocks hold the GVL, so the blocks of one operation take turns:
# they never run Ruby code in parallel. Native code started from Ruby with
# the GVL released does run in parallel on every pool thread; see
# Micropool::Kernels (require "micropool/kernels").
require_relative "micropool/version"
require_relative "micropool/native"
require_relative "micropool/error"
require_relative "micropool/callbacks"
require_relative "micropool/pool"
require_relative "micropool/scope"
require_relative "micropool/task"

module Micropool
  # Since 1.1; loads the gem's native library (as micropool/kernels does).
  autoload :Trace, "micropool/trace"

  # The version of the libmicropool that is loaded, e.g. "1.1.0".
  def self.library_version
    Native.mp_version
  end

  @shared = nil
  @shared_lock = Mutex.new

  # Since 1.1. The process-wide pool: one set of workers that every
  # library of the process shares (C libraries too, through
  # mp_pool_shared), with the library's defaults; the environment variable
  # MICROPOOL_THREADS, read when the library makes the pool, sets its
  # threads. The same Pool every time, until it is closed: closing it drops
  # this process's Ruby reference (the pool ends when the last reference
  # does), and the next call makes a new one.
  def self.shared
    @shared_lock.synchronize do
      @shared = nil if @shared&.closed?
      @shared ||= Pool.shared
    end
  end
end
