# frozen_string_literal: true

require "json"
require "micropool"
require "micropool/kernels" # the recorder lives in the same native library

module Micropool
  # Since 1.1. A recorder of what a pool's threads do, for a profiler:
  # give it to Pool.new(trace:) or Pool.open(trace:).
  #
  #   trace = Micropool::Trace.new
  #   Micropool::Pool.open(threads: 4, trace: trace) { |pool| work(pool) }
  #   trace.events               # => [#<struct Micropool::Trace::Event ...>, ...]
  #   trace.write("trace.json")  # Chrome trace-event JSON (Perfetto, chrome://tracing)
  #
  # The library calls its tracing hooks on its worker threads, without the
  # GVL, where no Ruby code can run. So the hooks are C functions (in the
  # gem's native library) that write each begin and end, with a
  # CLOCK_MONOTONIC time stamp, into an array of `capacity` events
  # allocated up front: one atomic add per event, no lock, no allocation,
  # no Ruby. Ruby reads the array afterwards; events recorded past the
  # capacity are counted (#dropped), not kept.
  class Trace
    # The recorder's C side (ext/micropool_trace.h).
    # @api private
    module Recorder
      extend FFI::Library
      ffi_lib(Kernels.library_path)

      PHASES = [:begin, :end].freeze # MPK_TRACE_BEGIN, MPK_TRACE_END

      class Event < FFI::Struct
        layout :ns, :uint64,
               :name, :pointer,
               :kind, :int32,
               :index, :uint32,
               :phase, :uint32,
               :ready, :uint32
      end

      attach_function :mpk_trace_new, [:size_t], :pointer
      attach_function :mpk_trace_hooks, [:pointer], :pointer
      attach_function :mpk_trace_count, [:pointer], :size_t
      attach_function :mpk_trace_capacity, [:pointer], :size_t
      attach_function :mpk_trace_read, [:pointer, :size_t, :size_t, :pointer], :size_t
      attach_function :mpk_trace_free, [:pointer], :void
    end
    private_constant :Recorder

    # kind (enum mp_trace_kind) => the Symbol an Event names it by.
    KINDS = {
      Native::TRACE_JOB => :job,               # a join's half run by another thread
      Native::TRACE_PART => :part,             # a part of each_range / reduce
      Native::TRACE_BROADCAST => :broadcast,   # one index of broadcast
      Native::TRACE_SCOPE_TASK => :scope_task, # a task of a scope
      Native::TRACE_TASK => :task,             # a background task (name: submit's name:)
      Native::TRACE_SLEEP => :sleep            # the thread sleeps in the kernel
    }.freeze

    # phase:: :begin or :end
    # kind::  a Symbol of KINDS
    # thread:: the pool's index of the thread (0: a thread outside the pool)
    # name::  the task's name (submit(name:)), or nil
    # time::  seconds on the monotonic clock, as
    #         Process.clock_gettime(Process::CLOCK_MONOTONIC) gives them
    Event = Struct.new(:phase, :kind, :thread, :name, :time)

    # The C memory and who still needs it: freed once the Trace is
    # collected and no pool uses its hooks any more, whichever comes last
    # (a pool's workers may call the hooks until it is destroyed).
    Life = Struct.new(:pointer, :users, :collected, :lock) do
      def attach
        lock.synchronize { self.users += 1 }
      end

      def detach
        lock.synchronize do
          self.users -= 1
          free_if_unused
        end
      end

      def collect
        lock.synchronize do
          self.collected = true
          free_if_unused
        end
      end

      private

      def free_if_unused
        return unless collected && users.zero? && pointer

        Recorder.mpk_trace_free(pointer)
        self.pointer = nil
      end
    end
    private_constant :Life

    DEFAULT_CAPACITY = 1 << 16

    # capacity:: how many events are kept (each is 32 bytes of C memory,
    #            allocated now).
    def initialize(capacity: DEFAULT_CAPACITY)
      capacity = Args.integer(capacity, "capacity", 1, Args::SIZE_MAX / 32)
      pointer = Recorder.mpk_trace_new(capacity)
      raise NoMemory.new("no memory for a trace of #{capacity} events", code: Native::ENOMEM) if pointer.null?

      @life = Life.new(pointer, 0, false, Mutex.new)
      @capacity = capacity
      @events = []
      @lock = Mutex.new
      ObjectSpace.define_finalizer(self, Trace.finalizer(@life))
    end

    attr_reader :capacity

    # The events recorded so far, in the order their slots were taken (each
    # thread's in the order it recorded them). Safe while pools still run:
    # an event shows once it is fully written.
    def events
      @lock.synchronize do
        fetch_new
        @events.dup
      end
    end

    # How many events the hooks were called for, kept or not.
    def count
      Recorder.mpk_trace_count(@life.pointer)
    end

    # How many were not kept, the capacity being full.
    def dropped
      [count - @capacity, 0].max
    end

    # The events as a Chrome trace-event document (a Hash of
    # "traceEvents"): "B"/"E" events, ts in microseconds from the first
    # event, tid the thread's index, cat the kind, name the task's name or
    # the kind; spans left open by dropped events are closed at the last
    # time stamp.
    def to_chrome
      list = events
      t0 = list.empty? ? 0 : list.map(&:time).min
      last = 0.0
      open = Hash.new { |h, k| h[k] = [] }
      out = []
      list.each do |e|
        ts = ((e.time - t0) * 1e6).round(3)
        last = ts if ts > last
        e.phase == :begin ? open[e.thread].push(e) : open[e.thread].pop
        out << { "ph" => e.phase == :begin ? "B" : "E", "pid" => 1, "tid" => e.thread, "ts" => ts,
                 "cat" => e.kind.to_s, "name" => e.name || e.kind.to_s }
      end
      open.each do |tid, spans|
        spans.reverse_each do |e|
          out << { "ph" => "E", "pid" => 1, "tid" => tid, "ts" => last,
                   "cat" => e.kind.to_s, "name" => e.name || e.kind.to_s }
        end
      end
      names = list.map(&:thread).uniq.sort.map do |tid|
        { "ph" => "M", "pid" => 1, "tid" => tid, "name" => "thread_name",
          "args" => { "name" => tid.zero? ? "thread 0 (callers)" : "worker #{tid}" } }
      end
      { "traceEvents" => names + out }
    end

    # Writes to_chrome as JSON to `target`: a path (the file is replaced) or
    # an IO (written to, not closed). Returns the number of events.
    def write(target)
      doc = to_chrome
      json = JSON.generate(doc)
      case target
      when String then File.write(target, json)
      else
        raise TypeError, "write needs a path or an IO, not #{target.class}" unless target.respond_to?(:write)

        target.write(json)
      end
      doc["traceEvents"].count { |e| e["ph"] != "M" }
    end

    def inspect
      "#<#{self.class.name} #{count} events, capacity #{@capacity}>"
    end

    # @api private: the hooks for mp_config.trace, for a pool that will
    # use them until it is destroyed (then it calls detach).
    def attach
      @life.attach
      Recorder.mpk_trace_hooks(@life.pointer)
    end

    # @api private
    def detach
      @life.detach
    end

    # @api private
    def self.finalizer(life)
      ->(_id) { life.collect }
    end

    private

    BATCH = 4096

    # Copies the events written since the last call into @events.
    def fetch_new
      buffer = FFI::MemoryPointer.new(Recorder::Event, BATCH)
      loop do
        n = Recorder.mpk_trace_read(@life.pointer, @events.size, BATCH, buffer)
        n.times do |i|
          e = Recorder::Event.new(buffer + i * Recorder::Event.size)
          name = e[:name].null? ? nil : e[:name].read_string.freeze
          @events << Event.new(Recorder::PHASES.fetch(e[:phase]), KINDS.fetch(e[:kind], e[:kind]),
                               e[:index], name, e[:ns] / 1e9).freeze
        end
        break if n < BATCH
      end
    end
  end
end
