# frozen_string_literal: true

# The numbers the gem writes by hand (error codes, flags and limits in
# lib/micropool/native.rb, the kernels' codes in lib/micropool/kernels.rb)
# against the C headers they copy: micropool.h (the file named by
# MICROPOOL_HEADER, else the one in the source tree) and
# ext/micropool_kernels.h. A value changed on one side only fails here,
# with its name and both values.

require_relative "helper"
require "micropool/kernels"
require "micropool/trace"

# The integer constants of a C header, by name: every `#define NAME n`
# whose value is an integer literal (with or without parentheses, a sign
# or a u/l suffix), and every member of its enums.
module HeaderConstants
  LITERAL = /\A\(?\s*(~|-)?\s*(0[xX]\h+|\d+)([uUlL]*)\s*\)?\z/

  # The value of an integer literal, or nil for anything else. `~n` is
  # read as C reads it for an unsigned int literal (MP_ANY_THREAD is ~0u).
  def self.literal(text)
    m = LITERAL.match(text.strip)
    return nil unless m

    value = Integer(m[2])
    case m[1]
    when "-" then -value
    when "~"
      return nil unless m[3].match?(/\A[uU]\z/)

      ~value & 0xffff_ffff
    else value
    end
  end

  # The members of `typedef struct NAME { ... } NAME;` in order, as
  # [member, ffi type] pairs: pointers (function pointers too) are
  # :pointer, the integer types their ffi names.
  C_TYPES = {
    "size_t" => :size_t, "int" => :int, "unsigned" => :uint, "unsigned int" => :uint,
    "uint64_t" => :uint64, "int64_t" => :int64, "uint32_t" => :uint32, "int32_t" => :int32
  }.freeze

  def self.struct(path, name)
    text = File.read(path).gsub(%r{/\*.*?\*/}m, " ").gsub(%r{//[^\n]*}, "")
    body = text[/typedef\s+struct\s+#{name}\s*\{(.*?)\}\s*#{name}\s*;/m, 1]
    return nil unless body

    body.split(";").map(&:strip).reject(&:empty?).map do |decl|
      decl = decl.gsub(/\s+/, " ")
      if (fn = decl.match(/\(\s*\*\s*(\w+)\s*\)\s*\(/))
        [fn[1].to_sym, :pointer]
      else
        m = decl.match(/\A(.*?)(\w+)\z/)
        type = m[1].strip
        [m[2].to_sym, type.include?("*") ? :pointer : C_TYPES.fetch(type.sub(/\Aconst /, ""))]
      end
    end
  end

  def self.read(path)
    text = File.read(path).gsub(%r{/\*.*?\*/}m, " ").gsub(%r{//[^\n]*}, "")
    found = {}
    text.scan(/^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+([^\n]+)/) do |name, value|
      value = literal(value)
      found[name] = value if value
    end
    text.scan(/\benum\b[^{;]*\{([^}]*)\}/) { |(body)| read_enum(body, found) }
    found
  end

  # Members without a value count on from the one before, as in C; a member
  # set to an expression this does not evaluate is left out, and so are the
  # members counted from it.
  def self.read_enum(body, found)
    following = 0
    body.split(",").each do |member|
      name, value = member.split("=", 2).map(&:strip)
      next if name.nil? || name.empty?

      following = literal(value) if value
      next if following.nil?

      found[name] = following
      following += 1
    end
  end
end

class TestConstants < Minitest::Test
  include MicropoolTestHelper

  HEADER = ENV["MICROPOOL_HEADER"] ||
           File.expand_path("../../../core/include/micropool.h", __dir__)
  KERNELS_HEADER = File.expand_path("../ext/micropool_kernels.h", __dir__)
  TRACE_HEADER = File.expand_path("../ext/micropool_trace.h", __dir__)

  def header(path)
    assert File.file?(path), "#{path}: no such header (MICROPOOL_HEADER names micropool.h)"
    HeaderConstants.read(path)
  end

  # [ruby name, value, C name] for every pair, and the ones that differ.
  def mismatches(pairs, c_values, c_file)
    pairs.filter_map do |ruby_name, value, c_name|
      if !c_values.key?(c_name)
        "#{ruby_name} is #{value}, but #{c_file} defines no #{c_name}"
      elsif c_values[c_name] != value
        "#{ruby_name} is #{value}, but #{c_file} has #{c_name} = #{c_values[c_name]}"
      end
    end
  end

  def native_constants
    Micropool::Native.constants.sort.filter_map do |name|
      value = Micropool::Native.const_get(name)
      ["Micropool::Native::#{name}", value, "MP_#{name}"] if value.is_a?(Integer)
    end
  end

  def test_the_header_reader_reads_defines_and_enums
    found = HeaderConstants.read(KERNELS_HEADER)
    assert_equal(-34, found["MPK_ERANGE"])
    assert_equal 0, found["MPK_SQRT"]
    assert_equal found["MPK_ABS"] + 1, found["MPK_OP_COUNT"], "a member without a value"
    c = header(HEADER)
    assert_equal(-22, c["MP_EINVAL"], "a parenthesised negative value")
    assert_equal 1024, c["MP_THREADS_MAX"], "a value with a u suffix"
    assert_equal 0xffff_ffff, c["MP_ANY_THREAD"], "~0u"
    assert_equal(-1, c["MP_PRIO_LOW"])
    refute c.key?("MICROPOOL_H"), "a define without a value"
  end

  def test_every_native_constant_matches_micropool_h
    pairs = native_constants
    # OK, the six error codes, THREADS_MAX and the three operation flags.
    assert_operator pairs.size, :>=, 11, "integer constants of Micropool::Native"
    bad = mismatches(pairs, header(HEADER), File.basename(HEADER))
    assert bad.empty?, bad.join("\n")
  end

  def test_every_error_code_of_micropool_h_is_bound
    codes = header(HEADER).select { |name, _| name.match?(/\AMP_E[A-Z]+\z/) }
    refute_empty codes, "no MP_E* codes read from #{HEADER}"
    missing = codes.filter_map do |name, value|
      ruby = name.delete_prefix("MP_")
      "#{name} = #{value} has no Micropool::Native::#{ruby}" unless Micropool::Native.const_defined?(ruby)
    end
    assert missing.empty?, missing.join("\n")
    unmapped = codes.values - Micropool::Error::CODES.keys
    assert_empty unmapped, "codes of #{File.basename(HEADER)} with no Micropool::Error subclass"
  end

  # ffi calls the library's newest mp_config_init, which writes the size of
  # its own mp_config into the first field: a Config of another size would
  # be overrun (or left short) by it.
  def test_the_config_layout_is_the_librarys
    buf = FFI::MemoryPointer.new(:uint8, 1024)
    Micropool::Native.mp_config_init(Micropool::Native::Config.new(buf))
    assert_equal buf.read(:size_t), Micropool::Native::Config.size,
                 "sizeof(mp_config) in the library against Micropool::Native::Config.size"
  end

  def test_the_task_opts_layout_is_the_librarys
    buf = FFI::MemoryPointer.new(:uint8, 1024)
    Micropool::Native.mp_task_opts_init(Micropool::Native::TaskOpts.new(buf))
    assert_equal buf.read(:size_t), Micropool::Native::TaskOpts.size,
                 "sizeof(mp_task_opts) in the library against Micropool::Native::TaskOpts.size"
    opts = Micropool::Native::TaskOpts.new(buf)
    assert_equal [Micropool::Native::PRIO_NORMAL, Micropool::Native::ANY_THREAD, 0, 0],
                 [opts[:priority], opts[:thread], opts[:nafter], opts[:flags]],
                 "the defaults mp_task_opts_init writes"
  end

  # Every struct that native.rb lays out has the members of micropool.h's,
  # in the same order and of the same types.
  def test_every_struct_layout_matches_its_header
    header(HEADER)
    {
      "mp_config" => [Micropool::Native::Config, HEADER],
      "mp_stats" => [Micropool::Native::Stats, HEADER],
      "mp_task_opts" => [Micropool::Native::TaskOpts, HEADER],
      "mp_trace_hooks" => [Micropool::Native::TraceHooks, HEADER],
      "mpk_trace_event" => [Micropool::Trace.const_get(:Recorder)::Event, TRACE_HEADER]
    }.each do |c_name, (klass, path)|
      members = HeaderConstants.struct(path, c_name)
      assert members, "#{File.basename(path)} has no typedef struct #{c_name}"
      layout = klass.new.layout
      ruby = layout.members.map { |m| [m, layout[m].type] }
      expected = members.map { |m, t| [m, FFI.find_type(t)] }
      assert_equal expected, ruby, "#{klass} against #{c_name} (member, type): " \
                                   "the header has #{members.inspect}"
    end
  end

  def test_every_1_1_constant_of_micropool_h_is_bound
    names = header(HEADER).keys.grep(/\AMP_(PRIO_|ANY_THREAD\z|AFTER_|TRACE_)/)
    assert_operator names.size, :>=, 5, "1.1 constants read from #{HEADER}"
    missing = names.reject { |n| Micropool::Native.const_defined?(n.delete_prefix("MP_")) }
    assert_empty missing, "constants of micropool.h with no Micropool::Native constant"
  end

  # The recorder fills an mp_trace_hooks of its own: the library copies
  # `size` bytes of it.
  def test_the_trace_recorder_hooks_are_the_headers_size
    trace = Micropool::Trace.new(capacity: 1)
    hooks = Micropool::Native::TraceHooks.new(trace.attach)
    assert_equal Micropool::Native::TraceHooks.size, hooks[:size]
    refute hooks[:begin].null?
    refute hooks[:end].null?
  ensure
    trace&.detach
  end

  def test_the_trace_phases_match_micropool_trace_h
    c = header(TRACE_HEADER)
    phases = Micropool::Trace.const_get(:Recorder)::PHASES
    assert_equal [c.fetch("MPK_TRACE_BEGIN"), c.fetch("MPK_TRACE_END")],
                 [phases.index(:begin), phases.index(:end)]
    kinds = header(HEADER).select { |n, _| n.start_with?("MP_TRACE_") }
    assert_equal kinds.values.sort, Micropool::Trace::KINDS.keys.sort,
                 "every kind of enum mp_trace_kind has a name in Micropool::Trace::KINDS"
  end

  def test_every_kernels_constant_matches_micropool_kernels_h
    c = header(KERNELS_HEADER)
    pairs = [["Micropool::Kernels::ERANGE", Micropool::Kernels::ERANGE, "MPK_ERANGE"]]
    Micropool::Kernels::OPS.each do |op, value|
      pairs << ["Micropool::Kernels::OPS[:#{op}]", value, "MPK_#{op.upcase}"]
    end
    bad = mismatches(pairs, c, File.basename(KERNELS_HEADER))
    assert bad.empty?, bad.join("\n")
    assert_equal c.fetch("MPK_OP_COUNT"), Micropool::Kernels::OPS.size,
                 "MPK_OP_COUNT against the operations Micropool::Kernels::OPS names"
  end
end
