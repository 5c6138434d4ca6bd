# frozen_string_literal: true

module Micropool
  # How a Ruby block becomes a C callback, safely.
  #
  # - The C function pointers are a handful of FFI::Function trampolines
  #   created once, held by constants, so the GC can never free a closure
  #   that a pool thread is about to call.
  # - A callback's `void *arg` is a key into a registry of live calls, not a
  #   Ruby object's address: the registry keeps the blocks (and whatever
  #   they capture) reachable until the C call that uses them has returned,
  #   or, for a background task, until the task has run or been cancelled.
  # - A block never unwinds through C. An exception is stored in the call's
  #   Operation and the trampoline returns a non-zero code, which makes the
  #   pool skip the parts that have not started; the caller raises the
  #   stored exception once the C call has returned. `break`, `throw` or a
  #   `return` out of a block are stopped the same way and raised as
  #   LocalJumpError.
  #
  # @api private
  module Callbacks
    # What a trampoline returns when its block failed (a positive value, so
    # it can never be mistaken for one of the library's own codes).
    FAILED = 1

    @calls = {}
    @last_key = 0
    @lock = Mutex.new

    class << self
      def register(entry)
        @lock.synchronize do
          @last_key += 1
          @calls[@last_key] = entry
          @last_key
        end
      end

      def unregister(key)
        @lock.synchronize { @calls.delete(key) }
      end

      def [](key)
        @calls[key]
      end

      # How many blocks are registered right now (for tests: it falls back
      # to zero once every call has returned).
      def live
        @lock.synchronize { @calls.size }
      end

      # The [pool, index, on_helper] records of the blocks the current Ruby
      # thread is running, innermost last.
      def frames
        Thread.current[:__micropool_frames] ||= []
      end
    end

    # One C call (or one background task) and the first failure of any of
    # its callbacks.
    class Operation
      attr_reader :pool, :failure

      def initialize(pool)
        @pool = pool
        @failure = nil
        @keys = []
      end

      def register(entry)
        key = Callbacks.register(entry)
        @keys << key
        key
      end

      # Drops every block this operation registered; called once the C call
      # that could run them has returned.
      def release
        @keys.each { |k| Callbacks.unregister(k) }
        @keys.clear
      end

      def fail(exception)
        @failure ||= exception
      end

      # Runs the block of one callback; returns the int the trampoline hands
      # back to C. `index` is the pool thread the block runs for, when the
      # callback says so (broadcast); else the native index of the current
      # thread, or nil on one of ffi's helper threads: ffi runs a callback
      # from a thread Ruby does not know on a new Ruby thread, and the
      # worker's index is not visible there.
      def run(index = nil)
        native = Native.mp_pool_thread_index(@pool.handle_for_callback)
        on_helper = native.negative?
        frames = Callbacks.frames
        frames.push([@pool, index || (on_helper ? nil : native), on_helper])
        finished = false
        begin
          yield
          finished = true
          Native::OK
        rescue Exception => e # rubocop:disable Lint/RescueException
          # Every exception, Interrupt and SystemExit included, belongs to
          # the caller of the pool operation: it is raised again there.
          fail(e)
          finished = true
          FAILED
        ensure
          frames.pop
          unless finished
            fail(LocalJumpError.new("break, throw or return out of a micropool block " \
                                    "is not supported; use next or raise"))
            # A return inside ensure ends the non-local exit here, before it
            # could unwind through the pool's C frames.
            return FAILED # rubocop:disable Lint/EnsureReturn
          end
        end
      end

      # Raises what went wrong in a C call that returned `rc`.
      def check(rc, what)
        raise @failure if @failure
        return if rc == Native::OK
        raise Error.for_code(rc, what) if rc.negative?

        raise Error.new("#{what}: unexpected callback result #{rc}", code: rc)
      end
    end

    # A registered block: the operation it belongs to, the callable, and
    # the value it returned.
    class Entry
      attr_reader :op, :block
      attr_accessor :result

      def initialize(op, block)
        @op = op
        @block = block
        @result = nil
      end

      # Called after the block has run.
      def finished; end
    end

    # mp_fn: join halves, scope tasks and background tasks.
    FN = FFI::Function.new(:int, [:uintptr_t]) do |key|
      entry = Callbacks[key]
      status = entry.op.run { entry.result = entry.block.call }
      entry.finished
      status
    end

    # mp_range_fn: each_range.
    RANGE = FFI::Function.new(:int, [:uintptr_t, :size_t, :size_t]) do |key, lo, hi|
      entry = Callbacks[key]
      entry.op.run { entry.block.call(lo, hi) }
    end

    # mp_broadcast_fn: broadcast; the results are kept by index.
    BROADCAST = FFI::Function.new(:int, [:uintptr_t, :uint, :uint]) do |key, index, count|
      entry = Callbacks[key]
      entry.op.run(index) { entry.result[index] = entry.block.call(index, count) }
    end

    # mp_map_fn and mp_combine_fn: reduce (see Reduction).
    MAP = FFI::Function.new(:int, [:uintptr_t, :size_t, :size_t, :pointer]) do |key, lo, hi, acc|
      entry = Callbacks[key]
      entry.op.run { entry.map(lo, hi, acc) }
    end

    COMBINE = FFI::Function.new(:void, [:uintptr_t, :pointer, :pointer]) do |key, acc, other|
      entry = Callbacks[key]
      entry.op.run { entry.combine(acc, other) }
      nil
    end

    # mp_scope_fn: the body of Pool#scope.
    SCOPE = FFI::Function.new(:int, [:pointer, :uintptr_t]) do |scope_ptr, key|
      entry = Callbacks[key]
      entry.op.run { entry.result = entry.block.call(scope_ptr) }
    end

    # The accumulator of mp_reduce as the C side sees it: one 64-bit slot
    # per part, holding 0 for "the identity" or k for partials[k - 1]. The
    # Ruby values themselves stay in this object.
    class Reduction < Entry
      SLOT = 8

      def initialize(op, block, identity, combiner)
        super(op, block)
        @identity = identity
        @combiner = combiner
        @partials = []
        @lock = Mutex.new
      end

      def map(lo, hi, acc)
        store(acc, block.call(lo, hi, load(acc)))
      end

      def combine(acc, other)
        store(acc, @combiner.call(load(acc), load(other)))
      end

      def load(acc)
        slot = acc.get_uint64(0)
        return fresh_identity if slot.zero?

        @lock.synchronize { @partials.fetch(slot - 1) }
      end

      private

      def store(acc, value)
        slot = @lock.synchronize do
          @partials << value
          @partials.size
        end
        acc.put_uint64(0, slot)
      end

      # Every part starts from its own copy of a mutable identity (a shallow
      # dup), so a block may append to it.
      def fresh_identity
        @identity.frozen? ? @identity : @identity.dup
      end
    end
  end
end
