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

    # Waits for the task (running it on this thread if no pool thread has
    # started it) and returns the block's value; raises the block's
    # exception, or Canceled if the task was cancelled.
    def wait
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

    # The handle is released when the Task is collected (the task itself
    # still runs: its block is kept by the registry, not by this object).
    def self.releaser(handle)
      ->(_id) { Native.mp_task_release(handle) }
    end
  end
end
