# frozen_string_literal: true

require "ffi"

module Micropool
  # A fixed-size array of native numbers (:double or :int64) in memory of
  # its own: the memory the kernels of Micropool::Kernels work on, in
  # place, with no copy. It is Enumerable (each reads the elements out in
  # chunks), indexable, and cut into views with #slice and #each_slice.
  #
  #   buf = Micropool::Buffer.new(1_000_000)        # zeroed
  #   buf = Micropool::Buffer.from(array)           # copies the Array once
  #   pool.map!(buf, :sin); pool.sum(buf); pool.sort!(buf)
  #   out = pool.map(buf, :sqrt)                    # a new Buffer
  #   buf.each_slice(250_000) { |part| pool.sum(part) }  # views, no copy
  #   buf.to_a                                      # copies back out
  #
  # A Buffer is not resized or moved by Ruby; a view keeps the memory of
  # the buffer it was cut from alive.
  class Buffer
    include Enumerable

    # type => element size in bytes
    TYPES = { double: 8, int64: 8 }.freeze
    # How many elements #each reads from native memory at once.
    CHUNK = 4096
    private_constant :CHUNK

    attr_reader :type, :size
    alias length size

    # A buffer of `size` elements, all zero.
    def self.new(size, type: :double)
      raise TypeError, "size must be an Integer, not #{size.class}" unless size.is_a?(Integer)
      raise ArgumentError, "size must not be negative, got #{size}" if size.negative?

      allocated(size, type, true)
    end

    def self.allocated(size, type, zeroed)
      memory = FFI::MemoryPointer.new(:uint8, [size * element_size(type), 1].max, zeroed)
      allocate.tap { |b| b.send(:setup, memory, 0, size, type, nil) }
    end
    private_class_method :allocated

    # A buffer holding a copy of `values` (an Array of numbers). This is
    # the conversion from Ruby's objects to native numbers, and it costs
    # time in proportion to the size (see the README): convert once, then
    # keep working on the Buffer.
    def self.from(values, type: :double)
      raise TypeError, "expected an Array, not #{values.class}" unless values.is_a?(Array)

      buf = allocated(values.size, type, false) # every element is written below
      unless values.empty?
        # (ffi's put_array_of_* convert element by element in C: several
        # times faster than Array#pack)
        type == :double ? buf.to_ptr.put_array_of_double(0, values) : buf.to_ptr.put_array_of_int64(0, values)
      end
      buf
    end

    def self.element_size(type)
      raise TypeError, "type must be a Symbol, not #{type.class}" unless type.is_a?(Symbol)

      TYPES.fetch(type) do
        raise ArgumentError, "type must be one of #{TYPES.keys.inspect}, got #{type.inspect}"
      end
    end

    # The elements' memory, as an FFI::Pointer that knows its size (for
    # C code that takes a pointer and a count).
    def to_ptr
      @pointer
    end

    def [](index)
      i = position(index)
      i && read(i)
    end

    def []=(index, value)
      i = position(index)
      raise IndexError, "index #{index} outside a buffer of #{@size} elements" unless i

      @type == :double ? @pointer.put_double(i * 8, Float(value)) : @pointer.put_int64(i * 8, Integer(value))
    end

    def each
      return enum_for(:each) { @size } unless block_given?

      (0...@size).step(CHUNK) do |start|
        count = [CHUNK, @size - start].min
        read_array(start, count).each { |v| yield v }
      end
      self
    end

    # All the elements as an Array (a copy).
    def to_a
      read_array(0, @size)
    end

    # A view of `length` elements from `start`: the same memory, no copy.
    def slice(start, length)
      unless start.is_a?(Integer) && length.is_a?(Integer)
        raise TypeError, "slice takes two Integers (start, length)"
      end
      unless start >= 0 && length >= 0 && start + length <= @size
        raise IndexError, "slice #{start}, #{length} outside a buffer of #{@size} elements"
      end

      view = self.class.allocate
      view.send(:setup, @memory, @offset + start, length, @type, self)
      view
    end

    # Yields views of `n` elements that cover the buffer in order (the
    # last one shorter when n does not divide the size); no copy. Without
    # a block, returns an Enumerator of them.
    def each_slice(n)
      raise TypeError, "slice length must be an Integer, not #{n.class}" unless n.is_a?(Integer)
      raise ArgumentError, "slice length must be positive, got #{n}" unless n.positive?
      return enum_for(:each_slice, n) { (@size + n - 1) / n } unless block_given?

      (0...@size).step(n) { |start| yield slice(start, [n, @size - start].min) }
      self
    end

    # A Buffer with a copy of the elements.
    def dup
      copy = self.class.send(:allocated, @size, @type, false)
      copy.to_ptr.put_bytes(0, @pointer.get_bytes(0, @size * 8)) if @size.positive?
      copy
    end
    alias clone dup

    def ==(other)
      other.is_a?(Buffer) && other.type == @type && other.size == @size &&
        other.to_ptr.get_bytes(0, @size * 8) == @pointer.get_bytes(0, @size * 8)
    end

    def inspect
      head = first(5).map(&:to_s).join(", ")
      "#<#{self.class.name} #{@type} x #{@size} [#{head}#{@size > 5 ? ', ...' : ''}]>"
    end

    private

    def setup(memory, offset, size, type, parent)
      @memory = memory       # the allocation, kept alive by every view
      @offset = offset
      @size = size
      @type = type
      @parent = parent
      @pointer = memory.slice(offset * 8, size * 8)
    end

    def position(index)
      raise TypeError, "index must be an Integer, not #{index.class}" unless index.is_a?(Integer)

      i = index.negative? ? index + @size : index
      i >= 0 && i < @size ? i : nil
    end

    def read(i)
      @type == :double ? @pointer.get_double(i * 8) : @pointer.get_int64(i * 8)
    end

    def read_array(start, count)
      return [] if count.zero?

      if @type == :double
        @pointer.get_array_of_double(start * 8, count)
      else
        @pointer.get_array_of_int64(start * 8, count)
      end
    end
  end
end
