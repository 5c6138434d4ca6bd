# frozen_string_literal: true

module Micropool
  # A background task returned by Pool#submit.
  class Task
    PRIORITIES = {
      high: Native::PRIO_HIGH,
      normal: Native::PRIO_NORMAL,
      low: Native::PRIO_LOW
    }.freeze

    # The task's registered block: when it has run (or has been cancelled)
    # it leaves the registry, and a detached task reports its exception.
    class Entry < Callbacks::Entry
      attr_accessor :key
      attr_reader :worker

      def initialize(op, block, detached, worker = nil)
        super(op, block)
        @detached = detached
        @worker = worker
      end

      def finished
        Callbacks.unregister(key)
        return unless op.failure

        # A failure cancels the dependents that carry cancel_on_error.
        op.pool.dependents.changed
        return if collect_interrupt || !@detached

        warn "micropool: detached task raised #{op.failure.class}: #{op.failure.message}"
      end

      private

      # Inside Pool#run_pinned or Pool#yield_now, an interrupt of the
      # running thread that ended this task (a signal such as Ctrl-C's
      # Interrupt, Timeout.timeout's error, a throw to a catch outside the
      # block) is handed to that call, which raises it again. True if it
      # was.
      def collect_interrupt
        interrupted = Callbacks.thread_state.interrupted
        return false unless interrupted

        failure = op.failure
        return false unless failure.is_a?(UncaughtThrowError) || failure.is_a?(SignalException) ||
                            Callbacks.timeout_of?(failure, Thread.current)

        interrupted << failure
        true
      end
    end
    private_constant :Entry

    # The tasks of one pool that the library may cancel by itself (those
    # submitted with cancel_on_error: a prerequisite that fails or is
    # cancelled cancels them, and their blocks never run). Their blocks stay
    # registered until they are seen done: at the submits of the moment
    # after a failure or a cancel (the library cancels the dependents just
    # after the failed task has settled, so the first look may come too
    # early), when their number has doubled, on a wait that reports the
    # cancel, and when the pool closes.
    #
    # @api private
    class Dependents
      # How long after a failure or a cancel each submit looks.
      WINDOW = 0.25

      def initialize
        @watched = {} # key => [handle, owner]; no owner: the handle is ours
        @changed_until = nil
        @swept_at = 0
        @lock = Mutex.new
      end

      def watch(key, handle, owner)
        @lock.synchronize { @watched[key] = [handle, owner] }
      end

      def changed
        @changed_until = Process.clock_gettime(Process::CLOCK_MONOTONIC) + WINDOW
      end

      # Called before each submit: cheap unless something may have been
      # cancelled.
      def maybe_sweep
        return if @watched.empty?
        recent = @changed_until && Process.clock_gettime(Process::CLOCK_MONOTONIC) < @changed_until
        @changed_until = nil unless recent
        return unless recent || @watched.size >= 2 * @swept_at + 16

        sweep
      end

      def sweep
        @lock.synchronize do
          @watched.delete_if do |key, (handle, owner)|
            next false unless Native.mp_task_done(handle) == 1

            Callbacks.unregister(key)
            Native.mp_task_release(handle) if owner.nil?
            true
          end
          @swept_at = @watched.size
        end
      end

      # The pool was destroyed: every task has settled.
      def sweep_all
        sweep
      end
    end

    # @api private
    def self.submit(pool, pointer, block, detached, options = nil)
      worker = options && options[:worker]
      entry = Entry.new(Callbacks::Operation.new(pool), block, detached, worker)
      entry.key = Callbacks.register(entry)
      watched = options && options[:cancel_on_error]
      out = detached && !watched ? nil : FFI::MemoryPointer.new(:pointer)
      rc = if options
             Native.mp_submit_ex(pointer, Callbacks::FN, entry.key, options[:opts], out)
           else
             Native.mp_submit(pointer, Callbacks::FN, entry.key, out)
           end
      unless rc == Native::OK
        Callbacks.unregister(entry.key)
        raise Error.for_code(rc, options ? "mp_submit_ex" : "mp_submit")
      end
      task = detached ? nil : new(out.read_pointer, entry)
      pool.dependents.watch(entry.key, out.read_pointer, task) if watched
      task
    end

    # Names of tasks (passed to tracing hooks) as C strings. The library
    # does not copy a name and a tracing hook may read it after the task
    # has ended, so each distinct name is kept for the life of the process:
    # use a few fixed names, not a new one per task.
    @names = {}
    @names_lock = Mutex.new

    # @api private
    def self.name_pointer(name)
      @names_lock.synchronize do
        @names[name] ||= FFI::MemoryPointer.from_string(name).freeze
      end
    end

    # @api private: the pool this task belongs to.
    def pool
      @entry.op.pool
    end

    # @api private: the native handle, for mp_submit_ex's prerequisites.
    attr_reader :handle

    # @api private
    def initialize(handle, entry)
      @handle = handle
      @entry = entry
      ObjectSpace.define_finalizer(self, Task.releaser(handle))
    end

    # How long one slice of a bounded wait lasts: interrupts of the waiting
    # thread (Timeout, Thread#kill, Ctrl-C) are taken between slices.
    WAIT_SLICE = 0.01

    # Waits for the task and returns the block's value; raises the block's
    # exception, or Canceled if the task was cancelled.
    #
    # Without a timeout, a task not yet started runs on this thread. With
    # timeout: (seconds, since 1.1) it never runs here: when the task has
    # not finished within that time, TimeoutError is raised and the task is
    # left as it was (it may still run; wait, done?, cancel work as
    # before). timeout: 0 only looks.
    def wait(timeout: nil)
      return wait_bounded(Args.seconds(timeout, "timeout")) unless timeout.nil?

      # A task not yet started runs on this thread: interrupts wait until
      # the C call has returned, as in Pool#operate.
      rc = Thread.handle_interrupt(Callbacks::NEVER) { Native.mp_task_wait(@handle) }
      settle(rc, "mp_task_wait")
    end
    alias value wait

    # True once the task has finished or was cancelled; never blocks.
    def done?
      rc = Native.mp_task_done(@handle)
      raise Error.for_code(rc, "mp_task_done") if rc.negative?

      rc == 1
    end

    # Makes sure a task that has not started never runs: true if it never
    # will (also when it was cancelled before), false if it started or
    # finished already.
    def cancel
      rc = Native.mp_task_cancel(@handle)
      case rc
      when Native::OK
        Callbacks.unregister(@entry.key)
        # Its dependents with cancel_on_error are cancelled too.
        pool.dependents.changed
        true
      when Native::EBUSY then false
      else raise Error.for_code(rc, "mp_task_cancel")
      end
    end

    def inspect
      "#<#{self.class.name} #{done? ? 'done' : 'pending'}>"
    end

    private

    # mp_task_wait_for in slices of WAIT_SLICE, with interrupts let in
    # between them: the C call runs no Ruby code, and a result it returned
    # is not lost when an interrupt comes before it is read (the next wait
    # returns it again).
    def wait_bounded(seconds)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
      loop do
        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        slice = left.clamp(0, WAIT_SLICE)
        rc = Native.mp_task_wait_for(@handle, (slice * 1e9).to_i)
        return settle(rc, "mp_task_wait_for") unless rc == Native::ETIMEDOUT
        next if left > slice

        raise TimeoutError.new("the task did not finish within #{seconds} s",
                               code: Native::ETIMEDOUT)
      end
    end

    # What a wait that returned `rc` gives: the value, or an exception. A
    # task that the library cancelled (cancel_on_error) never ran: its block
    # leaves the registry here.
    def settle(rc, what)
      Callbacks.unregister(@entry.key) if rc == Native::ECANCELED
      @entry.op.check(rc, what)
      @entry.result
    end

    public

    # The handle is released when the Task is collected (the task itself
    # still runs: its block is kept by the registry, not by this object).
    def self.releaser(handle)
      ->(_id) { Native.mp_task_release(handle) }
    end
  end
end
