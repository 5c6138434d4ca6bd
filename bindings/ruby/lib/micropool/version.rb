# frozen_string_literal: true

module Micropool
  # The version of this binding; it matches the C library's version.
  VERSION = "1.1.0"
end
