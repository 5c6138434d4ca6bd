# frozen_string_literal: true

require "micropool"
require "micropool/buffer"

module Micropool
  # Numeric kernels written in C (libmicropool_kernels.so.1) that run on a
  # pool with the GVL released: every thread of the pool works at once.
  # This is how Ruby code gets parallel speed-up from micropool; Ruby
  # blocks given to a pool take turns on the GVL instead.
  #
  #   require "micropool/kernels"
  #   Micropool::Pool.open(threads: 2) do |pool|
  #     data = Micropool::Buffer.from(Array.new(1_000_000) { rand })
  #     pool.sum(data)              # => Float
  #     pool.map!(data, :sqrt)      # in place
  #     pool.sort!(data)            # in place, ascending, NaNs last
  #   end
  #
  # Data may be a Micropool::Buffer or an FFI::MemoryPointer (worked on in
  # place), an Array of numbers, or a String of packed native-endian
  # elements (pack("d*") or pack("q*")). Arrays and Strings are copied to native memory for the call (and back for the
  # in-place operations), so other Ruby threads cannot move or resize them
  # under the pool's threads; a MemoryPointer is worked on in place.
  # Element types: :double (default) and :int64.
  #
  # The library is found through MICROPOOL_KERNELS_LIB, else at the path
  # that a CMake install (the Debian package) wrote into
  # micropool/kernels_path.rb, else as micropool/micropool_kernels.so on
  # the load path, where `gem install` puts what ext/extconf.rb built.
  module Kernels
    extend FFI::Library

    begin
      require_relative "kernels_path"
    rescue LoadError
      nil # a gem, or the source tree (where MICROPOOL_KERNELS_LIB says where)
    end

    def self.library_path
      return ENV["MICROPOOL_KERNELS_LIB"] if ENV["MICROPOOL_KERNELS_LIB"]
      return Micropool::KERNELS_LIBRARY if defined?(Micropool::KERNELS_LIBRARY)

      name = "micropool/micropool_kernels.#{RbConfig::CONFIG['DLEXT']}"
      $LOAD_PATH.each do |dir|
        path = File.join(dir, name)
        return path if File.file?(path)
      end
      raise LoadError, "micropool: the native kernels (#{name}) are not on the load path: " \
                       "the gem was installed without building them, or set MICROPOOL_KERNELS_LIB"
    end

    ffi_lib(library_path)

    # Copied from micropool_kernels.h; test/test_constants.rb compares them.
    ERANGE = -34
    OPS = { sqrt: 0, exp: 1, log: 2, sin: 3, cos: 4, square: 5, abs: 6 }.freeze
    # type => [element size, pack directive, name suffix of the C kernels]
    TYPES = { double: [8, "d*", "f64"], int64: [8, "q*", "i64"] }.freeze

    attach_function :mpk_sum_f64, [:pointer, :pointer, :size_t, :pointer], :int, blocking: true
    attach_function :mpk_sum_i64, [:pointer, :pointer, :size_t, :pointer], :int, blocking: true
    attach_function :mpk_sort_f64, [:pointer, :pointer, :size_t], :int, blocking: true
    attach_function :mpk_sort_i64, [:pointer, :pointer, :size_t], :int, blocking: true
    attach_function :mpk_map_f64, [:pointer, :pointer, :size_t, :int], :int, blocking: true

    module_function

    def sum(pool, data, type)
      suffix = element(type)[2]
      out = FFI::MemoryPointer.new(type)
      in_native(pool, data, type, write_back: false) do |ptr, handle, n|
        check(send("mpk_sum_#{suffix}", handle, ptr, n, out), "sum")
      end
      type == :double ? out.read_double : out.read_int64
    end

    def sort(pool, data, type)
      suffix = element(type)[2]
      in_native(pool, data, type, write_back: true) do |ptr, handle, n|
        check(send("mpk_sort_#{suffix}", handle, ptr, n), "sort!")
      end
      data
    end

    def map(pool, data, op)
      raise TypeError, "op must be a Symbol, not #{op.class}" unless op.is_a?(Symbol)

      code = OPS.fetch(op) { raise ArgumentError, "op must be one of #{OPS.keys.inspect}" }
      in_native(pool, data, :double, write_back: true) do |ptr, handle, n|
        check(mpk_map_f64(handle, ptr, n, code), "map!")
      end
      data
    end

    def element(type)
      raise TypeError, "type must be a Symbol, not #{type.class}" unless type.is_a?(Symbol)

      TYPES.fetch(type) do
        raise ArgumentError, "type must be one of #{TYPES.keys.inspect}, got #{type.inspect}"
      end
    end

    def check(rc, what)
      return if rc == Native::OK
      raise RangeError, "#{what}: the int64 sum overflowed" if rc == ERANGE

      raise Error.for_code(rc, what)
    end

    # Yields a native pointer to the elements, the pool's handle and the
    # element count, with the pool marked busy for the call.
    def in_native(pool, data, type, write_back:)
      raise TypeError, "expected a Micropool::Pool, not #{pool.class}" unless pool.is_a?(Pool)

      size, directive, = element(type)
      case data
      when Buffer
        unless data.type == type
          raise ArgumentError, "a Buffer of #{data.type} given where #{type} elements are expected"
        end

        memory = data.to_ptr
        bytes = data.size * size
      when FFI::Pointer
        bytes = data.size
        raise ArgumentError, "an FFI::Pointer without a known size; use an FFI::MemoryPointer" \
          if bytes.negative? || bytes >= (1 << 62)
        raise ArgumentError, "buffer size #{bytes} is not a multiple of #{size}" unless (bytes % size).zero?

        memory = data
      when String
        raise FrozenError.new("can't modify frozen String", receiver: data) if write_back && data.frozen?
        raise ArgumentError, "string size #{data.bytesize} is not a multiple of #{size}" \
          unless (data.bytesize % size).zero?

        bytes = data.bytesize
        memory = FFI::MemoryPointer.new(:uint8, [bytes, 1].max)
        memory.put_bytes(0, data)
      when Array
        raise FrozenError.new("can't modify frozen Array", receiver: data) if write_back && data.frozen?

        packed = data.pack(directive)
        bytes = packed.bytesize
        memory = FFI::MemoryPointer.new(:uint8, [bytes, 1].max)
        memory.put_bytes(0, packed)
      else
        raise TypeError, "expected a Micropool::Buffer, an Array, a packed String or an " \
                         "FFI::MemoryPointer, not #{data.class}"
      end

      handle = pool.acquire
      begin
        yield memory, handle, bytes / size
      ensure
        pool.release
      end
      return unless write_back

      case data
      when String then data.replace(memory.get_bytes(0, bytes).force_encoding(data.encoding))
      when Array then data.replace(memory.get_bytes(0, bytes).unpack(directive))
      end
    end
  end

  class Pool
    # The sum of the elements (Float for :double, Integer for :int64; an
    # int64 overflow raises RangeError). The result does not depend on the
    # number of threads: the parts are combined in a fixed order.
    def sum(data, type: :double)
      Kernels.sum(self, data, type)
    end

    # Sorts the elements in place, ascending (NaNs last); returns data.
    def sort!(data, type: :double)
      Kernels.sort(self, data, type)
    end

    # Applies op (:sqrt, :exp, :log, :sin, :cos, :square, :abs) to every
    # double in place; returns data.
    def map!(data, op)
      Kernels.map(self, data, op)
    end

    # Like map!, on a copy: returns a new Buffer (for a Buffer), Array or
    # String, and leaves data as it was.
    def map(data, op)
      unless data.is_a?(Buffer) || data.is_a?(Array) || data.is_a?(String)
        raise TypeError, "map takes a Micropool::Buffer, an Array or a packed String, " \
                         "not #{data.class} (map! works in place on an FFI::MemoryPointer)"
      end

      Kernels.map(self, data.dup, op)
    end
  end
end
