# frozen_string_literal: true

module Micropool
  # A background task returned by Pool#submit.
  class Task
    # The task's registered block: when it has run (or has been cancelled)
    # it leaves the registry, and a detached task reports its exception.
    class Entry < Callbacks::Entry
      attr_accessor :key

      def initialize(op, block, detached)
        super(op, block)
        @detached = detached
      end

      def finished
        Callbacks.unregister(key)
        return unless @detached && op.failure

        warn "micropool: detached task raised #{op.failure.class}: #{op.failure.message}"
      end
    end
    private_constant :Entry

    # @api private
    def self.submit(pool, pointer, block, detached)
      entry = Entry.new(Callbacks::Operation.new(pool), block, detached)
      entry.key = Callbacks.register(entry)
      out = detached ? nil : FFI::MemoryPointer.new(:pointer)
      rc = Native.mp_submit(pointer, Callbacks::FN, entry.key, out)
      unless rc == Native::OK
        Callbacks.unregister(entry.key)
        raise Error.for_code(rc, "mp_submit")
      end
      detached ? nil : new(out.read_pointer, entry)
    end

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
      @entry.op.check(rc, "mp_task_wait")
      @entry.result
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
        unless rc == Native::ETIMEDOUT
          @entry.op.check(rc, "mp_task_wait_for")
          return @entry.result
        end
        next if left > slice

        raise TimeoutError.new("the task did not finish within #{seconds} s",
                               code: Native::ETIMEDOUT)
      end
    end

    public

    # The handle is released when the Task is collected (the task itself
    # still runs: its block is kept by the registry, not by this object).
    def self.releaser(handle)
      ->(_id) { Native.mp_task_release(handle) }
    end
  end
end
