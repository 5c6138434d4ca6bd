# frozen_string_literal: true

require "etc"
require "io/wait"

module Micropool
  # A work-stealing thread pool of `threads` threads, the calling thread
  # counted (so N threads start N-1 workers).
  #
  #   Micropool::Pool.open(threads: 4) do |pool|
  #     pool.each_range(1_000, 100) { |lo, hi| ... }
  #   end
  #
  # Ruby blocks hold the GVL: blocks given to a pool never run Ruby code in
  # parallel with each other. What runs in parallel is native code that the
  # pool calls with the GVL released (see Micropool::Kernels, loaded by
  # `require "micropool/kernels"`).
  class Pool
    SPLITS = {
      dynamic: Native::SPLIT_DYNAMIC,
      static: Native::SPLIT_STATIC,
      deterministic: Native::DETERMINISTIC
    }.freeze

    # The native handle and whether it was destroyed, shared with the
    # finalizer (which must not refer to the Pool itself).
    # trace: the Trace whose hooks the pool calls, detached once it is
    # destroyed.
    Handle = Struct.new(:pointer, :closed, :trace)
    private_constant :Handle

    # Creates a pool, yields it and closes it when the block ends (also on
    # an exception), returning the block's value. Without a block it
    # returns the open pool, as new does.
    def self.open(**options)
      pool = new(**options)
      return pool unless block_given?

      begin
        yield pool
      ensure
        pool.close
      end
    end

    # threads:: threads in all, the calling thread counted; 0 = the CPUs
    #           this process may run on (at most 1024).
    # spin_us:: how long an idle thread spins before it sleeps in the
    #           kernel (nil = the library's default, 0 = sleep at once).
    # pin::     pin worker i to the i-th CPU of the process's affinity mask.
    # name::    prefix of the worker threads' names.
    # stack_size:: (since 1.1) each worker's stack in bytes, rounded up to
    #           a page; 0 = the system's default. It is the stack of C code
    #           the workers run (the kernels); Ruby blocks that run for a
    #           worker run on ffi's helper threads, with Ruby's stacks.
    # trace::   (since 1.1) a Trace that records what the threads do; or a
    #           path or an IO that receives the trace as Chrome trace-event
    #           JSON when the pool is closed.
    def initialize(threads: 0, spin_us: nil, pin: false, name: nil, stack_size: 0, trace: nil)
      config = Native::Config.new
      Native.mp_config_init(config)
      config[:threads] = Args.integer(threads, "threads", 0, Native::THREADS_MAX)
      config[:spin_us] = Args.integer(spin_us, "spin_us", 0, 0xffff_ffff) unless spin_us.nil?
      raise TypeError, "pin must be true or false, not #{pin.class}" unless [true, false].include?(pin)

      config[:pin] = pin ? 1 : 0
      unless name.nil?
        raise TypeError, "name must be a String, not #{name.class}" unless name.is_a?(String)
        raise ArgumentError, "name must not contain a NUL byte" if name.include?("\0")

        name_ptr = FFI::MemoryPointer.from_string(name) # copied by mp_pool_create
        config[:name] = name_ptr
      end
      config[:stack_size] = Args.stack_size(stack_size)
      recorder, @trace_sink = Args.trace(trace)
      config[:trace] = recorder.attach if recorder
      out = FFI::MemoryPointer.new(:pointer)
      rc = Native.mp_pool_create(config, out)
      unless rc == Native::OK
        recorder&.detach
        raise Error.for_code(rc, "mp_pool_create")
      end

      adopt(out.read_pointer, trace: recorder)
    end

    # Since 1.1: the Trace that records this pool's work, or nil.
    def trace
      @handle.trace
    end

    # Since 1.1: the process-wide pool (see Micropool.shared).
    # @api private
    def self.shared
      out = FFI::MemoryPointer.new(:pointer)
      rc = Native.mp_pool_shared(out)
      raise Error.for_code(rc, "mp_pool_shared") unless rc == Native::OK

      pool = allocate
      pool.__send__(:adopt, out.read_pointer, shared: true)
      pool
    end

    # True for the pool of Micropool.shared.
    def shared?
      @shared
    end

    private

    # Takes over a native pool (a reference, for the shared one).
    def adopt(pointer, shared: false, trace: nil)
      @shared = shared
      @handle = Handle.new(pointer, false, trace)
      @threads = Native.mp_pool_threads(@handle.pointer)
      # One thread: calls keep the GVL (see Native.mp_join_held).
      @held = @threads == 1
      @calling_frame = [self, 0, false].freeze
      @lock = Mutex.new
      @active = 0
      @closing = false
      @dependents = Task::Dependents.new
      ObjectSpace.define_finalizer(self, Pool.finalizer(@handle))
      Pool.opened(self, @handle)
    end

    public

    # The number of threads, the calling thread counted. Raises
    # ClosedError once the pool is closed, as every other method that
    # asks the pool something does.
    def threads
      raise ClosedError, "the pool is closed" if @handle.closed

      @threads
    end

    def closed?
      @handle.closed
    end

    # Waits for the background tasks already submitted (they may still use
    # the pool), stops the workers and frees the pool. Calling it again does
    # nothing. Raises Deadlock from a block that runs on this pool, and Busy
    # while another thread is inside an operation of this pool.
    def close
      @lock.synchronize do
        return nil if @handle.closed || @closing
        if inside?
          raise Deadlock.new("close called from a block running on this pool",
                             code: Native::EDEADLK)
        end
        raise Busy, "the pool is in use by another thread" if @active.positive?

        @closing = true
      end
      begin
        # Tasks that destroy runs on this thread are blocks like any other:
        # interrupts wait until the C call has returned (see operate).
        rc = Thread.handle_interrupt(Callbacks::NEVER) { Native.mp_pool_destroy(@handle.pointer) }
        raise Error.for_code(rc, "mp_pool_destroy") unless rc == Native::OK

        @handle.closed = true
        @dependents.sweep_all
        finish_trace
      ensure
        @closing = false
      end
      nil
    end

    # The index of the pool thread the current code runs for: 0 on a
    # calling thread, 1..threads-1 in a broadcast part of a worker, -1
    # outside any work of this pool. In other blocks that run for a worker
    # it is nil: ffi runs those on a helper Ruby thread and does not tell
    # which worker is waiting for it.
    def thread_index
      frame = Callbacks.frames.reverse_each.find { |f| f[0].equal?(self) }
      return frame[1] if frame

      Native.mp_pool_thread_index(live_handle)
    end

    # Runs both callables, potentially in parallel, and returns their values
    # as [a_value, b_value] once both have finished. If one raises, the
    # other is skipped when it has not started yet, and the exception is
    # raised here.
    def join(first, second)
      [first, second].each do |c|
        raise TypeError, "join expects callables, got #{c.class}" unless c.respond_to?(:call)
      end
      operate("mp_join") do |op, ptr|
        a = Callbacks::Entry.new(op, first)
        b = Callbacks::Entry.new(op, second)
        ka = op.register(a)
        kb = op.register(b)
        rc = if @held
               Native.mp_join_held(ptr, Callbacks::FN, ka, Callbacks::FN, kb)
             else
               Native.mp_join(ptr, Callbacks::FN, ka, Callbacks::FN, kb)
             end
        [rc, [a.result, b.result]]
      end
    end

    # Yields disjoint, non-empty ranges lo...hi that cover 0...n exactly
    # once. grain is the smallest range worth handing to another thread
    # (0 = let the library pick). split: :dynamic (balanced by stealing),
    # :static (one contiguous share per thread) or :deterministic.
    def each_range(n, grain = 0, split: :dynamic, &block)
      n = Args.integer(n, "n", 0, Args::SIZE_MAX)
      grain = Args.integer(grain, "grain", 0, Args::SIZE_MAX)
      flags = Args.split(split)
      raise ArgumentError, "each_range needs a block" unless block

      operate("mp_for") do |op, ptr|
        entry = Callbacks::Entry.new(op, block)
        key = op.register(entry)
        rc = if @held
               Native.mp_for_held(ptr, n, grain, flags, Callbacks::RANGE, key)
             else
               Native.mp_for(ptr, n, grain, flags, Callbacks::RANGE, key)
             end
        [rc, self]
      end
    end

    # A parallel fold over 0...n. Each part starts from (a copy of)
    # `identity`; the block folds the items lo...hi into it and returns the
    # new accumulator. `combine` (a Symbol or a callable of two arguments)
    # merges partial results, always left with right in range order, so it
    # must be associative but need not be commutative. split: :dynamic,
    # :static or :deterministic (the partition depends only on n and grain,
    # so the result is the same whatever the number of threads).
    def reduce(n, identity, grain = 0, combine: :+, split: :dynamic, &block)
      n = Args.integer(n, "n", 0, Args::SIZE_MAX)
      grain = Args.integer(grain, "grain", 0, Args::SIZE_MAX)
      flags = Args.split(split)
      combiner = Args.combiner(combine)
      raise ArgumentError, "reduce needs a block" unless block

      operate("mp_reduce") do |op, ptr|
        reduction = Callbacks::Reduction.new(op, block, identity, combiner)
        key = op.register(reduction)
        acc = FFI::MemoryPointer.new(:uint64) # zeroed: the identity
        rc = Native.__send__(@held ? :mp_reduce_held : :mp_reduce, ptr, n, grain, flags, acc,
                             Callbacks::Reduction::SLOT, Callbacks::MAP, Callbacks::COMBINE, key)
        [rc, rc.zero? && !op.failure ? reduction.load(acc) : nil]
      end
    end

    # Runs the block once for every index 0...threads, each on its own pool
    # thread (so a barrier among the parts works), and returns the blocks'
    # values by index. Raises Deadlock when called from a block that a
    # helper thread runs for a worker of this pool (that worker could not
    # run its part).
    def broadcast(&block)
      raise ArgumentError, "broadcast needs a block" unless block
      if Callbacks.frames.any? { |f| f[0].equal?(self) && f[2] }
        raise Deadlock.new("broadcast from a block that runs for a worker of this pool " \
                           "would wait on that worker", code: Native::EDEADLK)
      end

      operate("mp_broadcast") do |op, ptr|
        entry = Callbacks::Entry.new(op, block)
        entry.result = Array.new(@threads)
        key = op.register(entry)
        rc = if @held
               Native.mp_broadcast_held(ptr, Callbacks::BROADCAST, key)
             else
               Native.mp_broadcast(ptr, Callbacks::BROADCAST, key)
             end
        [rc, entry.result]
      end
    end

    # Yields a Scope; tasks spawned into it (also from inside other tasks)
    # may run on any thread of the pool, and scope returns, with the
    # block's value, only when the block and every task have finished.
    def scope(&block)
      raise ArgumentError, "scope needs a block" unless block

      scope = nil
      operate("mp_scope_run") do |op, ptr|
        body = lambda do |scope_ptr|
          scope = Scope.new(op, scope_ptr)
          block.call(scope)
        end
        entry = Callbacks::Entry.new(op, body)
        key = op.register(entry)
        rc = if @held
               Native.mp_scope_run_held(ptr, Callbacks::SCOPE, key)
             else
               Native.mp_scope_run(ptr, Callbacks::SCOPE, key)
             end
        [rc, entry.result]
      end
    ensure
      scope&.send(:finish)
    end

    # Queues the block as a background task (the lower priority tier) and
    # returns a Task; with detach: true returns nil, and an exception in
    # the block is only reported on $stderr. The block never runs on the
    # calling thread before submit returns.
    #
    # Since 1.1:
    # priority::  :high, :normal (the default) or :low: a thread that looks
    #             for background work takes the oldest task of the highest
    #             level that has one.
    # after::     a Task or an Array of Tasks of this pool: the block starts
    #             only once every one of them has finished or was cancelled.
    # cancel_on_error:: true: a task of `after` that raised or was
    #             cancelled cancels this one instead (its wait raises
    #             Canceled), and so on down the tasks that carry the flag.
    # thread::    nil (any thread), 1...threads (only that worker runs it)
    #             or 0 (only a thread outside the pool: run_pinned, a wait
    #             on the task, or close).
    # name::      a String passed to the tracing hooks (see Trace).
    def submit(detach: false, priority: :normal, after: nil, cancel_on_error: false,
               thread: nil, name: nil, &block)
      raise ArgumentError, "submit needs a block" unless block
      raise TypeError, "detach must be true or false" unless [true, false].include?(detach)

      options = task_options(priority, after, cancel_on_error, thread, name)
      ptr = acquire
      begin
        dependents.maybe_sweep
        Task.submit(self, ptr, block, detach, options)
      ensure
        release
      end
    end

    # @api private: the tasks of this pool the library may cancel by itself.
    attr_reader :dependents

    # Since 1.1. Runs tasks bound to thread 0 (submit(thread: 0)) on the
    # calling thread, highest priority first and oldest first within a
    # level, until none is left or `max` seconds have passed (checked
    # after each task; max: 0, the default, runs only the tasks queued when
    # it was called). Never sleeps; returns how many tasks it ran. This is
    # the "main thread" pattern: call it from the thread that owns a window
    # or a device, e.g. once per frame.
    #
    # Raises InvalidArgument from a block that runs for a worker of this
    # pool (it runs on one of ffi's helper threads, not a thread of yours).
    def run_pinned(max: 0)
      ns = (Args.seconds(max, "max") * 1_000_000_000).to_i.clamp(0, (1 << 64) - 1)
      if on_helper?
        raise InvalidArgument.new("run_pinned from a block that runs for a worker of this pool",
                                  code: Native::EINVAL)
      end

      run_here("mp_pool_run_pinned") { |ptr| Native.mp_pool_run_pinned(ptr, ns) }
    end

    # Since 1.1. Runs at most one piece of pending work of this pool that
    # the calling thread may run, and returns true if it ran one, false if
    # there was none; never waits. Inside a block on a thread of the pool
    # that is a job, a loop part, a scope task or a background task; on any
    # other thread a background task (tasks bound to thread 0 among them).
    # In a block that runs for a worker (on ffi's helper thread, which the
    # library does not know as that worker) it runs nothing: false.
    def yield_now
      return false if on_helper?

      run_here("mp_yield") { |ptr| Native.mp_yield(ptr) } == 1
    end

    # Since 1.1. An IO that is readable while tasks bound to thread 0 are
    # queued, for an event loop (IO.select, wait_readable) that calls
    # run_pinned when it is. Never read from it or close it: it belongs to
    # the pool, and is closed with it.
    def pinned_io
      @pinned_io ||= begin
        fd = Native.mp_pool_pinned_fd(live_handle)
        raise Error.for_code(fd, "mp_pool_pinned_fd") if fd.negative?

        IO.for_fd(fd, autoclose: false)
      end
    end

    # The pool's counters as a Hash (:jobs, :steals, :sleeps, :wakeups,
    # :tasks_run).
    def stats
      out = Native::Stats.new
      out[:size] = Native::Stats.size
      rc = Native.mp_pool_stats(live_handle, out)
      raise Error.for_code(rc, "mp_pool_stats") unless rc == Native::OK

      %i[jobs steals sleeps wakeups tasks_run].to_h { |k| [k, out[k]] }
    end

    def inspect
      state = closed? ? "closed" : "#{@threads} threads"
      "#<#{self.class.name} #{state}#{' shared' if @shared}>"
    end

    # The native mp_pool *, for code that passes the pool to a C library
    # that uses micropool itself (Micropool::Kernels does).
    def to_ptr
      live_handle
    end

    # @api private: the handle while a callback of this pool runs (the
    # operation that runs it keeps the pool open).
    def handle_for_callback
      @handle.pointer
    end

    # @api private: the frame (see Callbacks.frames) of a block that runs
    # on the thread that started its operation.
    attr_reader :calling_frame

    # @api private: an operation starts; returns the handle.
    def acquire
      @lock.synchronize do
        raise ClosedError, "the pool is closed" if @handle.closed
        raise ClosedError, "the pool is closing" if @closing && !inside?

        @active += 1
      end
      @handle.pointer
    end

    # @api private
    def release
      @lock.synchronize { @active -= 1 }
    end

    private

    def live_handle
      raise ClosedError, "the pool is closed" if @handle.closed

      @handle.pointer
    end

    # The options of submit as what Task.submit takes: nil when they are
    # all the defaults (then it calls mp_submit).
    def task_options(priority, after, cancel_on_error, thread, name)
      level = Args.priority(priority)
      prerequisites = Args.tasks(after, "after", self)
      unless [true, false].include?(cancel_on_error)
        raise TypeError, "cancel_on_error must be true or false, not #{cancel_on_error.class}"
      end
      unless thread.nil?
        thread = Args.integer(thread, "thread", 0, @threads - 1)
      end
      name_ptr = Task.name_pointer(Args.c_string(name, "name")) unless name.nil?
      if level == Native::PRIO_NORMAL && prerequisites.empty? && !cancel_on_error &&
         thread.nil? && name.nil?
        return nil
      end

      opts = Native::TaskOpts.new
      Native.mp_task_opts_init(opts)
      opts[:priority] = level
      opts[:thread] = thread.nil? ? Native::ANY_THREAD : thread
      unless prerequisites.empty?
        list = FFI::MemoryPointer.new(:pointer, prerequisites.size)
        list.write_array_of_pointer(prerequisites.map(&:handle))
        opts[:after] = list
        opts[:nafter] = prerequisites.size
      end
      opts[:flags] = cancel_on_error ? Native::AFTER_CANCEL_ON_ERROR : 0
      opts[:name] = name_ptr if name_ptr
      # (:list keeps the prerequisites' array alive until the call returns.)
      { opts: opts, list: list, cancel_on_error: cancel_on_error,
        worker: thread&.positive? ? thread : nil }
    end

    # run_pinned and yield_now: a C call that runs blocks on this thread
    # only. As in operate, interrupts are held back while it is in C and
    # let in while a block runs; an interrupt that ended a task it ran
    # (Timeout, a throw, Interrupt) is that task's exception (its wait
    # raises it) and is raised again here, once the C call has returned.
    def run_here(what)
      ptr = acquire
      state = Callbacks.thread_state
      outer = state.interrupted
      state.interrupted = []
      begin
        rc = Thread.handle_interrupt(Callbacks::NEVER) { yield ptr }
        raise Error.for_code(rc, what) if rc.negative?

        state.interrupted.each do |failure|
          if failure.is_a?(UncaughtThrowError)
            throw failure.tag, failure.value
          elsif failure.is_a?(SignalException)
            raise failure
          else
            # Timeout's error: #exception throws to the Timeout.timeout
            # that raised it, if that is still running on this thread (it
            # returns when it was one inside the task's block, which ended).
            failure.exception
          end
        end
        rc
      ensure
        state.interrupted = outer
        release
      end
    end

    # The pool is destroyed: its trace is complete. Written out when a path
    # or an IO was given for it.
    def finish_trace
      recorder = @handle.trace
      return unless recorder

      begin
        recorder.write(@trace_sink) if @trace_sink
      ensure
        recorder.detach
      end
    end

    # Is the current Ruby thread running a block for a worker of this pool
    # (on a helper thread of ffi)?
    def on_helper?
      Callbacks.frames.any? { |f| f[0].equal?(self) && f[2] }
    end

    # Is the current Ruby thread running a block of this pool?
    def inside?
      Callbacks.frames.any? { |f| f[0].equal?(self) }
    end

    # Runs one C call: yields a fresh Operation and the handle, expects
    # [rc, value] back, raises what failed and returns value.
    #
    # Asynchronous interrupts of this thread (Thread#raise, Timeout,
    # Thread#kill, Ctrl-C) are held back while the C call runs, so that
    # none unwinds through the pool's C frames; they are let in while a
    # block runs (see Callbacks.new_runner), and any that arrived while
    # this thread waited in C is delivered here, as the call returns. An
    # interrupt waiting for this thread also makes the parts not yet
    # started be skipped. One that was already waiting when the call began
    # is held back by the caller's own Thread.handle_interrupt, and does
    # not skip anything.
    def operate(what)
      ptr = acquire
      op = Callbacks::Operation.new(self, Thread.pending_interrupt? ? nil : Thread.current)
      begin
        rc, value = Thread.handle_interrupt(Callbacks::NEVER) { yield op, ptr }
        op.check(rc, what)
        value
      ensure
        op.release
        release
      end
    end

    class << self
      # The finalizer of an unclosed pool. Blocks that a pool may still
      # call keep the pool reachable (through their operation), so by the
      # time it runs no Ruby code is pending on the pool.
      def finalizer(handle)
        lambda do |_id|
          next if handle.closed

          handle.closed = true
          Native.mp_pool_destroy(handle.pointer)
          handle.trace&.detach
        end
      end

      # Pools still open when the interpreter exits are closed by an
      # at_exit hook, while Ruby threads can still run their pending tasks
      # (finalizers run too late for that).
      def opened(pool, handle)
        OPEN_LOCK.synchronize { OPEN[pool] = handle }
      end

      def close_all_open
        pools = OPEN_LOCK.synchronize { OPEN.keys }
        pools.each do |pool|
          next if pool.closed?

          pool.close
        rescue StandardError => e
          warn "micropool: could not close #{pool.inspect} at exit: #{e.message}"
        end
      end
    end

    OPEN = ObjectSpace::WeakMap.new
    OPEN_LOCK = Mutex.new
    private_constant :OPEN, :OPEN_LOCK
  end

  at_exit { Pool.close_all_open }

  # Argument checks shared by the pool's methods: wrong types raise
  # TypeError, wrong values ArgumentError, before anything reaches C.
  # @api private
  module Args
    SIZE_MAX = (1 << (8 * FFI.type_size(:size_t))) - 1

    module_function

    def integer(value, name, min, max)
      raise TypeError, "#{name} must be an Integer, not #{value.class}" unless value.is_a?(Integer)
      unless value.between?(min, max)
        raise ArgumentError, "#{name} must be in #{min}..#{max}, got #{value}"
      end

      value
    end

    # A duration in seconds: a non-negative, finite Integer, Float or
    # Rational.
    def seconds(value, name)
      unless value.is_a?(Numeric) && value.real?
        raise TypeError, "#{name} must be a number of seconds, not #{value.class}"
      end
      if value.negative? || (value.is_a?(Float) && !value.finite?)
        raise ArgumentError, "#{name} must be a finite, non-negative number of seconds, got #{value}"
      end

      value
    end

    def priority(value)
      raise TypeError, "priority must be a Symbol, not #{value.class}" unless value.is_a?(Symbol)

      Task::PRIORITIES.fetch(value) do
        raise ArgumentError,
              "priority must be one of #{Task::PRIORITIES.keys.inspect}, got #{value.inspect}"
      end
    end

    # nil, a Task or an Array of Tasks, all of `pool`, as an Array.
    def tasks(value, name, pool)
      list = case value
             when nil then []
             when Task then [value]
             when Array then value
             else raise TypeError, "#{name} must be a Task or an Array of Tasks, not #{value.class}"
             end
      list.each do |task|
        raise TypeError, "#{name} must hold Tasks, not #{task.class}" unless task.is_a?(Task)
        unless task.pool.equal?(pool)
          raise ArgumentError, "#{name}: #{task.inspect} is a task of another pool " \
                               "(#{task.pool.inspect}), not of #{pool.inspect}"
        end
      end
      list
    end

    # A String that C can take: no NUL byte inside.
    def c_string(value, name)
      raise TypeError, "#{name} must be a String, not #{value.class}" unless value.is_a?(String)
      raise ArgumentError, "#{name} must not contain a NUL byte" if value.include?("\0")

      value
    end

    def stack_size(value)
      value = integer(value, "stack_size", 0, SIZE_MAX)
      minimum = Etc.sysconf(Etc::SC_THREAD_STACK_MIN) || 16_384
      if value.positive? && value < minimum
        raise ArgumentError, "stack_size must be 0 (the system's default) or at least " \
                             "#{minimum} bytes, got #{value}"
      end

      value
    end

    # trace: of Pool.new as [recorder, where to write it at close].
    def trace(value)
      case value
      when nil then [nil, nil]
      when Micropool::Trace then [value, nil]
      when String then [Micropool::Trace.new, value]
      else
        return [Micropool::Trace.new, value] if value.respond_to?(:write)

        raise TypeError, "trace must be a Micropool::Trace, a path or an IO, not #{value.class}"
      end
    end

    def split(value)
      raise TypeError, "split must be a Symbol, not #{value.class}" unless value.is_a?(Symbol)

      Pool::SPLITS.fetch(value) do
        raise ArgumentError, "split must be one of #{Pool::SPLITS.keys.inspect}, got #{value.inspect}"
      end
    end

    def combiner(value)
      return value.to_proc if value.is_a?(Symbol)
      return value if value.respond_to?(:call)

      raise TypeError, "combine must be a Symbol or a callable, not #{value.class}"
    end
  end
end
