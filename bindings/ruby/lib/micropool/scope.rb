# frozen_string_literal: true

module Micropool
  # The handle that Pool#scope yields. Tasks spawned into it run on any
  # thread of the pool; Pool#scope returns only when all of them have
  # finished. Spawning is allowed from the scope's block and from inside
  # spawned tasks, never after Pool#scope has returned.
  class Scope
    # @api private
    def initialize(op, pointer)
      @op = op
      @pointer = pointer
      @open = true
    end

    # Adds a task; the block gets this scope (to spawn more). An exception
    # in a task skips the tasks that have not started yet and is raised by
    # Pool#scope.
    def spawn(&block)
      raise ArgumentError, "spawn needs a block" unless block
      raise ClosedError, "the scope has ended" unless @open

      entry = Callbacks::Entry.new(@op, -> { block.call(self) })
      rc = Native.mp_scope_spawn(@pointer, Callbacks::FN, @op.register(entry))
      raise Error.for_code(rc, "mp_scope_spawn") unless rc == Native::OK

      self
    end

    private

    # Pool#scope has returned: the native scope is gone.
    def finish
      @open = false
    end
  end
end
