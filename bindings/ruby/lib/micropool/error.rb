# frozen_string_literal: true

require "timeout"

module Micropool
  # What every error of micropool answers to: `rescue Micropool::Error`
  # catches them all. It is a module, mixed into each error class, because
  # one of them, TimeoutError, must also be a Timeout::Error (a Ruby class
  # has one superclass). #code is the library's negative errno value (nil
  # for errors the binding detects itself); the message is mp_strerror's
  # text.
  #
  # `raise Micropool::Error, "text"` and `Micropool::Error.new` still work:
  # they make a Micropool::Failure, the plain error of this module.
  module Error
    attr_reader :code

    def initialize(message = nil, code: nil)
      @code = code
      super(message || (code ? Native.mp_strerror(code) : "micropool error"))
    end

    class << self
      def new(message = nil, code: nil)
        Failure.new(message, code: code)
      end

      # What `raise Micropool::Error, message` calls.
      def exception(message = nil)
        Failure.new(message)
      end

      # The exception for a library code, of the class that names it.
      def for_code(code, context = nil)
        klass = CODES.fetch(code, Failure)
        text = Native.mp_strerror(code)
        klass.new(context ? "#{context}: #{text}" : text, code: code)
      end
    end
  end

  class Failure < StandardError; include Error; end          # any other failure
  class InvalidArgument < StandardError; include Error; end  # MP_EINVAL
  class NoMemory < StandardError; include Error; end         # MP_ENOMEM: memory or a thread
  class Busy < StandardError; include Error; end             # MP_EBUSY, or a pool in use elsewhere
  class Deadlock < StandardError; include Error; end         # MP_EDEADLK: the call would wait on itself
  class Shutdown < StandardError; include Error; end         # MP_ESHUTDOWN: the pool is closing
  class Canceled < StandardError; include Error; end         # MP_ECANCELED: the task was cancelled
  class ClosedError < StandardError; include Error; end      # the Ruby pool object was closed
  # MP_ETIMEDOUT: a bounded wait ran out (since 1.1). A Timeout::Error too,
  # so that code which rescues Timeout::Error around a wait keeps working.
  class TimeoutError < Timeout::Error; include Error; end

  Error::CODES = {
    Native::EINVAL => InvalidArgument,
    Native::ENOMEM => NoMemory,
    Native::EBUSY => Busy,
    Native::EDEADLK => Deadlock,
    Native::ESHUTDOWN => Shutdown,
    Native::ECANCELED => Canceled,
    Native::ETIMEDOUT => TimeoutError
  }.freeze
end
