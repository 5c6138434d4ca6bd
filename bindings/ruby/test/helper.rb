# frozen_string_literal: true

require "minitest/autorun"
require "micropool"

# The failure a test raises inside a pool block, to see it come back.
class CaseFailure < StandardError; end

# A counter that blocks on several Ruby threads may bump.
class Counter
  def initialize
    @lock = Mutex.new
    @value = 0
  end

  def add(n)
    @lock.synchronize { @value += n }
  end

  def value
    @lock.synchronize { @value }
  end
end

module MicropoolTestHelper
  # Every test leaves no block registered behind it.
  def teardown
    assert_equal 0, Micropool::Callbacks.live, "blocks still registered after the test"
    super
  end
end
