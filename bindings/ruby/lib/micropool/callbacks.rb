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
  # - A block never unwinds through C. It runs on a fiber of its own (see
  #   new_runner), where a throw to a catch outside it, break and return
  #   end as exceptions. An exception is stored in the call's Operation and
  #   the trampoline returns a non-zero code, which makes the pool skip the
  #   parts that have not started; the caller raises the stored exception
  #   (or throws again) once the C call has returned.
  # - Asynchronous interrupts of the calling thread are held back while it
  #   is in the C call and let in while its blocks run (see Pool#operate).
  #
  # @api private
  module Callbacks
    # What a trampoline returns when its block failed (a positive value, so
    # it can never be mistaken for one of the library's own codes).
    FAILED = 1

    # Keys are the entries' object_ids: unique among live objects, and
    # never reused in this Ruby. Hash#[]= and Hash#delete with Integer keys
    # are single C calls that run without releasing the GVL, so the
    # registry needs no lock of its own.
    @calls = {}

    class << self
      def register(entry)
        key = entry.object_id
        @calls[key] = entry
        key
      end

      def unregister(key)
        @calls.delete(key)
      end

      def [](key)
        @calls[key]
      end

      # How many blocks are registered right now (for tests: it falls back
      # to zero once every call has returned).
      def live
        @calls.size
      end

      # The [pool, index, on_helper] records of the blocks the current Ruby
      # thread is running, innermost last. Kept on the Thread, not in a
      # fiber-local, so that the fibers blocks run on share it.
      def frames
        thread_state.frames
      end

      # The per-thread state of the binding (an instance variable of the
      # Thread: thread-wide, invisible to Thread#[] and thread_variables).
      def thread_state
        th = Thread.current
        th.instance_variable_get(:@__micropool) ||
          th.instance_variable_set(:@__micropool, ThreadState.new([], []))
      end

      # A fiber that runs blocks, one per resume, and yields what each
      # block raised (DONE when it returned). Every non-local exit out of a
      # block that runs on it ends at its edge: a throw to a catch outside
      # the block becomes UncaughtThrowError, break and return
      # LocalJumpError, all of them plain exceptions.
      def new_runner
        Fiber.new do |job|
          # (while, not loop: a Fiber.yield from inside loop's block costs
          # several times more)
          while true # rubocop:disable Style/InfiniteLoop
            failure = nil
            begin
              entry, kind, x, y = job
              if entry.op.fiber_locals || !Thread.current.equal?(entry.op.thread)
                Thread.handle_interrupt(IMMEDIATE) { perform(entry, kind, x, y) }
              else
                Thread.handle_interrupt(IMMEDIATE) { entry.__send__(kind, x, y) }
              end
            rescue Exception => e # rubocop:disable Lint/RescueException
              failure = e
            end
            # What a block left in Thread#[] does not reach the next one.
            th = Thread.current
            keys = th.keys
            keys.each { |k| th[k] = nil } unless keys.empty?
            job = Fiber.yield(failure || DONE)
          end
        end
      end
    end

    # Runs one callback's block (on a runner): `kind` names the method of
    # the entry that does it. The block sees the fiber-locals that the
    # operation's thread had when the operation started, and on another
    # thread also that thread's thread-locals.
    def self.perform(entry, kind, x, y)
      op = entry.op
      th = Thread.current
      op.fiber_locals&.each { |k, v| th[k] = v }
      return entry.__send__(kind, x, y) if th.equal?(op.thread)

      with_thread_variables(op.thread) { entry.__send__(kind, x, y) }
    end

    # frames and runners: see frames and new_runner; interrupted: while
    # the thread is in Pool#run_pinned or Pool#yield_now, where the
    # exceptions of interrupts that ended a task it ran are collected.
    # Is `e` the error of a Timeout.timeout of `thread` (which knows its
    # thread; a TimeoutError of a bounded wait does not)?
    def self.timeout_of?(e, thread)
      e.is_a?(Timeout::Error) && e.respond_to?(:thread) && e.thread.equal?(thread)
    end

    ThreadState = Struct.new(:frames, :runners, :interrupted)

    # What a runner yields for a block that returned.
    DONE = Object.new.freeze

    # Asynchronous interrupts (Thread#raise, Timeout, Thread#kill, Ctrl-C)
    # are held back while the calling thread is inside a C call of the
    # pool (NEVER) and let in while one of the blocks runs (IMMEDIATE).
    NEVER = { Object => :never }.freeze
    IMMEDIATE = { Object => :immediate }.freeze

    # Raised on the calling thread when a block's thread was killed while
    # it ran for another thread (a helper thread of ffi).
    KILLED_ELSEWHERE = "a thread that ran a block of this operation was killed"

    # The fiber-local variables (Thread#[]) of the current fiber, as
    # [key, value] pairs, or nil when there are none. Keys that begin with
    # "__" are left out: Ruby and libraries keep private per-fiber state
    # under such keys.
    def self.fiber_locals
      th = Thread.current
      keys = th.keys
      return nil if keys.empty?

      pairs = keys.filter_map { |k| [k, th[k]] unless k.start_with?("__") }
      pairs.empty? ? nil : pairs
    end

    # Runs the block with the thread-local variables (thread_variable_get)
    # that `source` has now set on the current thread too; the current
    # thread's own values are put back afterwards.
    def self.with_thread_variables(source)
      th = Thread.current
      names = source.thread_variables.reject { |k| k.start_with?("__") }
      return yield if names.empty?

      saved = names.map { |k| th.thread_variable_get(k) }
      begin
        names.each { |k| th.thread_variable_set(k, source.thread_variable_get(k)) }
        yield
      ensure
        names.each_with_index { |k, i| th.thread_variable_set(k, saved[i]) }
      end
    end

    # One C call (or one background task) and the first failure of any of
    # its callbacks.
    class Operation
      attr_reader :pool, :failure, :fiber_locals, :thread

      # `caller` is the thread whose pending interrupts stop the parts not
      # yet started (nil for a background task, which is not stopped by
      # what happens to the thread that submitted it).
      def initialize(pool, caller = nil)
        @pool = pool
        @failure = nil
        @keys = []
        @caller = caller
        @thread = Thread.current
        @fiber_locals = Callbacks.fiber_locals
        @state = Callbacks.thread_state
        @killed = false
        @interrupted = false
        @in_block = 0 # blocks of this operation the calling thread is in
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
      #
      # The block runs on a fiber of the current thread, so that a
      # non-local exit out of it (a throw to a catch of the calling thread,
      # Timeout's included) ends as an exception at the fiber's edge
      # instead of unwinding through the pool's C frames. The calling
      # thread gets it back, as it was, once the C call has returned.
      def run(entry, kind, index = nil, x = nil, y = nil)
        return FAILED if @failure || @killed

        if Thread.current.equal?(@thread)
          # The thread that started the operation: its native index is that
          # of a calling thread, 0 (not worth a call into C). An interrupt
          # that came while it was in C is not handed to a block that
          # starts now (which might rescue it): the part is skipped, and the
          # interrupt is delivered as the call returns.
          if @caller && Thread.pending_interrupt?
            @interrupted = true
            return FAILED
          end

          state = @state
          frame = @pool.calling_frame
          in_block = true
        else
          return FAILED if stopping?

          state = Callbacks.thread_state
          native = Native.mp_pool_thread_index(@pool.handle_for_callback)
          frame = [@pool, index || (native.negative? ? nil : native), native.negative?]
          return run_on_helper(entry, kind, x, y, state.frames, frame) if native.negative? && state.frames.empty?
        end
        frames = state.frames
        frames.push(frame)
        runner = state.runners.pop || Callbacks.new_runner
        finished = false
        @in_block += 1 if in_block
        begin
          outcome = runner.resume([entry, kind, x, y])
          if outcome.equal?(DONE)
            state.runners.push(runner)
            outcome = nil
          elsif outcome.is_a?(Exception)
            state.runners.push(runner)
          else
            # The block called Fiber.yield: its runner stays suspended inside
            # it, and is never used again.
            outcome = FiberError.new("Fiber.yield out of a micropool block is not supported")
          end
          fail(outcome) if outcome
          finished = true
          outcome ? FAILED : Native::OK
        rescue Exception => e # rubocop:disable Lint/RescueException
          # The runner ended without yielding: its thread is being killed
          # (Thread#kill, Thread#exit, the interpreter's exit), or an
          # interrupt reached this thread between two blocks. (aborting?
          # comes first: a kill still waiting is delivered in its return,
          # while the ensure below can still stop it.)
          dead = aborting?
          dead ? @killed = true : fail(e)
          finished = true
          FAILED
        ensure
          @in_block -= 1 if in_block
          frames.pop
          unless finished
            # A kill of this thread is on its way: a return inside ensure
            # ends it here, before it could unwind through the pool's C
            # frames. On the calling thread the kill is held back and
            # delivered again once the C call has returned.
            @killed = true
            return FAILED # rubocop:disable Lint/EnsureReturn
          end
        end
      end

      # A block that runs for a worker, on the fresh Ruby thread that ffi
      # made for this one callback: no catch of the caller is on this
      # thread's stack (a throw is an UncaughtThrowError here, break and
      # return LocalJumpError) and no interrupt mask is set, so the block
      # runs without a runner.
      def run_on_helper(entry, kind, x, y, frames, frame)
        frames.push(frame)
        finished = false
        begin
          Callbacks.perform(entry, kind, x, y)
          finished = true
          Native::OK
        rescue Exception => e # rubocop:disable Lint/RescueException
          dead = aborting? # (first: see run)
          dead ? @killed = true : fail(e)
          finished = true
          FAILED
        ensure
          frames.pop
          unless finished
            # This thread is being killed: stopped here, as in run.
            @killed = true
            return FAILED # rubocop:disable Lint/EnsureReturn
          end
        end
      end

      # Raises what went wrong in a C call that returned `rc`: the block's
      # exception; a throw out of a block continues as a throw on this
      # thread. A kill of the calling thread, held back while the C call
      # ran, has already ended this thread when this runs.
      def check(rc, what)
        if @failure
          raise @failure unless @failure.instance_of?(UncaughtThrowError)

          throw @failure.tag, @failure.value
        end
        raise Error, KILLED_ELSEWHERE if @killed
        if @interrupted
          raise Error, "#{what}: parts were skipped for an interrupt of the calling thread " \
                       "that did not end the call (Thread.handle_interrupt holds it back)"
        end
        return if rc == Native::OK
        raise Error.for_code(rc, what) if rc.negative?

        raise Error.new("#{what}: unexpected callback result #{rc}", code: rc)
      end

      private

      # A part that starts on another thread is skipped when the calling
      # thread has an interrupt waiting while it is in C, not in one of
      # this operation's blocks (an interrupt that comes while such a block
      # runs is that block's: the block may rescue it, as its own Timeout
      # does).
      def stopping?
        return false unless @caller && @in_block.zero? && @caller.pending_interrupt?

        @interrupted = true
      end

      def aborting?
        Thread.current.status == "aborting"
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

      # The pool thread a background task is bound to, when it is a worker
      # (the frame's index while the block runs on a helper thread).
      def worker
        nil
      end

      # What the trampolines run (on a runner fiber).
      def call_fn(arg = nil, _unused = nil)
        @result = arg.nil? ? @block.call : @block.call(arg)
      end

      def call_range(lo, hi)
        @block.call(lo, hi)
      end

      def call_broadcast(index, count)
        @result[index] = @block.call(index, count)
      end
    end

    # mp_fn: join halves, scope tasks and background tasks.
    FN = FFI::Function.new(:int, [:uintptr_t]) do |key|
      entry = Callbacks[key]
      status = entry.op.run(entry, :call_fn, entry.worker)
      entry.finished
      status
    end

    # mp_range_fn: each_range.
    RANGE = FFI::Function.new(:int, [:uintptr_t, :size_t, :size_t]) do |key, lo, hi|
      entry = Callbacks[key]
      entry.op.run(entry, :call_range, nil, lo, hi)
    end

    # mp_broadcast_fn: broadcast; the results are kept by index.
    BROADCAST = FFI::Function.new(:int, [:uintptr_t, :uint, :uint]) do |key, index, count|
      entry = Callbacks[key]
      entry.op.run(entry, :call_broadcast, index, index, count)
    end

    # mp_map_fn and mp_combine_fn: reduce (see Reduction).
    MAP = FFI::Function.new(:int, [:uintptr_t, :size_t, :size_t, :pointer]) do |key, lo, hi, acc|
      entry = Callbacks[key]
      entry.op.run(entry, :map, nil, lo...hi, acc)
    end

    COMBINE = FFI::Function.new(:void, [:uintptr_t, :pointer, :pointer]) do |key, acc, other|
      entry = Callbacks[key]
      entry.op.run(entry, :combine, nil, acc, other)
      nil
    end

    # mp_scope_fn: the body of Pool#scope.
    SCOPE = FFI::Function.new(:int, [:pointer, :uintptr_t]) do |scope_ptr, key|
      entry = Callbacks[key]
      entry.op.run(entry, :call_fn, nil, scope_ptr)
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

      def map(range, acc)
        store(acc, block.call(range.begin, range.end, load(acc)))
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
