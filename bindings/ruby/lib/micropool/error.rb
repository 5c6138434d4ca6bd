# frozen_string_literal: true

module Micropool
  # The library refused or failed a call. #code is the library's negative
  # errno value (nil for errors the binding detects itself); the message is
  # mp_strerror's text.
  class Error < StandardError
    attr_reader :code

    def initialize(message = nil, code: nil)
      @code = code
      super(message || (code ? Native.mp_strerror(code) : "micropool error"))
    end

    # The exception for a library code, of the subclass that names it.
    def self.for_code(code, context = nil)
      klass = CODES.fetch(code, Error)
      text = Native.mp_strerror(code)
      klass.new(context ? "#{context}: #{text}" : text, code: code)
    end
  end

  class InvalidArgument < Error; end   # MP_EINVAL
  class NoMemory < Error; end          # MP_ENOMEM: memory or a thread
  class Busy < Error; end              # MP_EBUSY, or a pool in use elsewhere
  class Deadlock < Error; end          # MP_EDEADLK: the call would wait on itself
  class Shutdown < Error; end          # MP_ESHUTDOWN: the pool is closing
  class Canceled < Error; end          # MP_ECANCELED: the task was cancelled
  class TimedOut < Error; end          # MP_ETIMEDOUT: a bounded wait ran out
  class ClosedError < Error; end       # the Ruby pool object was closed

  Error::CODES = {
    Native::EINVAL => InvalidArgument,
    Native::ENOMEM => NoMemory,
    Native::EBUSY => Busy,
    Native::EDEADLK => Deadlock,
    Native::ESHUTDOWN => Shutdown,
    Native::ECANCELED => Canceled,
    Native::ETIMEDOUT => TimedOut
  }.freeze
end
