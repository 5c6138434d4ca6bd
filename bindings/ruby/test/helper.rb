# frozen_string_literal: true

require "minitest/autorun"
require "io/wait"
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

# Runs a Ruby script in a child process with the gem on its load path and
# returns [exit status, output (stdout and stderr)]. The child is killed if
# it is still running after `limit` seconds, so that a regression shows up
# as a failure instead of hanging the suite.
def run_ruby(script, limit: 20)
  lib = File.expand_path("../lib", __dir__)
  io = IO.popen([RbConfig.ruby, "-I", lib, "-e", script], err: %i[child out])
  output = +""
  deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + limit
  loop do
    left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
    if left <= 0
      Process.kill(:KILL, io.pid)
      output << "\n[killed after #{limit} s]"
      break
    end
    next unless io.wait_readable(left)

    chunk = io.read_nonblock(65_536, exception: false)
    break if chunk.nil?

    output << chunk unless chunk == :wait_readable
  end
  io.close
  [$?, output]
end
