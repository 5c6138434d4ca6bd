# frozen_string_literal: true

require "ffi"

module Micropool
  # The C ABI of libmicropool.so.1, attached with the ffi gem. Nothing here
  # is meant to be called directly: Micropool::Pool wraps it.
  #
  # The library is found through the MICROPOOL_LIB environment variable (a
  # path to libmicropool.so.1, as the build tree's tests use), else by its
  # SONAME through the dynamic linker's search path.
  module Native
    extend FFI::Library

    ffi_lib(ENV["MICROPOOL_LIB"] || ["libmicropool.so.1", "micropool"])

    # Copied from micropool.h; test/test_constants.rb compares each with it.
    OK = 0
    EINVAL = -22
    ENOMEM = -12
    EBUSY = -16
    EDEADLK = -35
    ESHUTDOWN = -108
    ECANCELED = -125
    ETIMEDOUT = -110

    THREADS_MAX = 1024
    PRIO_HIGH = 1         # since 1.1
    PRIO_NORMAL = 0       # since 1.1
    PRIO_LOW = -1         # since 1.1
    ANY_THREAD = 0xffff_ffff # since 1.1: (~0u)
    AFTER_CANCEL_ON_ERROR = 1 # since 1.1
    # Since 1.1: enum mp_trace_kind.
    TRACE_JOB = 1
    TRACE_PART = 2
    TRACE_BROADCAST = 3
    TRACE_SCOPE_TASK = 4
    TRACE_TASK = 5
    TRACE_SLEEP = 6
    SPLIT_DYNAMIC = 0
    SPLIT_STATIC = 1
    DETERMINISTIC = 2

    # mp_config, versioned by its leading size field. ffi finds
    # mp_config_init by name, which gives the library's newest version: it
    # fills a config of the newest size, so this layout must be the whole
    # of the header's (test_constants.rb checks it against the library).
    class Config < FFI::Struct
      layout :size, :size_t,
             :threads, :uint,
             :spin_us, :uint,
             :pin, :int,
             :name, :pointer,
             :on_thread_start, :pointer,
             :on_thread_stop, :pointer,
             :hook_arg, :pointer,
             :stack_size, :size_t,
             :trace, :pointer
    end

    # Since 1.1: mp_task_opts, versioned by its size like mp_config (filled
    # by the library's newest mp_task_opts_init: the whole of the header's
    # layout, which test_constants.rb checks).
    class TaskOpts < FFI::Struct
      layout :size, :size_t,
             :priority, :int,
             :thread, :uint,
             :after, :pointer,
             :nafter, :size_t,
             :flags, :uint,
             :name, :pointer
    end

    # Since 1.1: mp_trace_hooks. The binding's hooks are C functions of its
    # trace recorder (ext/micropool_trace.c), which fills this struct;
    # the layout is here to be checked against the header.
    class TraceHooks < FFI::Struct
      layout :size, :size_t,
             :begin, :pointer,
             :end, :pointer,
             :trace_arg, :pointer
    end

    class Stats < FFI::Struct
      layout :size, :size_t,
             :jobs, :uint64,
             :steals, :uint64,
             :sleeps, :uint64,
             :wakeups, :uint64,
             :tasks_run, :uint64
    end

    # Every callback's `void *arg` is declared as an integer: the binding
    # passes a small key into its registry of live calls (see callbacks.rb),
    # never a Ruby object's address. On the LP64 ABIs that ffi supports a
    # pointer and a uintptr_t are passed the same way.
    callback :mp_fn, [:uintptr_t], :int
    callback :mp_range_fn, [:uintptr_t, :size_t, :size_t], :int
    callback :mp_map_fn, [:uintptr_t, :size_t, :size_t, :pointer], :int
    callback :mp_combine_fn, [:uintptr_t, :pointer, :pointer], :void
    callback :mp_broadcast_fn, [:uintptr_t, :uint, :uint], :int
    callback :mp_scope_fn, [:pointer, :uintptr_t], :int

    attach_function :mp_version, [], :string
    attach_function :mp_strerror, [:int], :string
    attach_function :mp_config_init, [Config.by_ref], :void
    attach_function :mp_pool_create, [Config.by_ref, :pointer], :int
    attach_function :mp_pool_threads, [:pointer], :uint
    attach_function :mp_pool_thread_index, [:pointer], :int
    attach_function :mp_pool_stats, [:pointer, Stats.by_ref], :int
    attach_function :mp_scope_spawn, [:pointer, :mp_fn, :uintptr_t], :int
    attach_function :mp_submit, [:pointer, :mp_fn, :uintptr_t, :pointer], :int
    attach_function :mp_task_done, [:pointer], :int
    attach_function :mp_task_opts_init, [TaskOpts.by_ref], :void
    attach_function :mp_submit_ex, [:pointer, :mp_fn, :uintptr_t, TaskOpts.by_ref, :pointer], :int
    attach_function :mp_task_cancel, [:pointer], :int
    attach_function :mp_task_release, [:pointer], :void

    # Since 1.1.
    attach_function :mp_pool_shared, [:pointer], :int
    attach_function :mp_pool_pinned_fd, [:pointer], :int
    # These two never sleep and run blocks only on the calling thread, so
    # they keep the GVL (see the _held calls below).
    attach_function :mp_pool_run_pinned, [:pointer, :uint64], :int
    attach_function :mp_yield, [:pointer], :int

    # Everything that may wait for work of the pool releases the GVL while
    # it waits: a worker's callback needs the GVL to run Ruby code, and
    # would wait forever for a caller that held it.
    attach_function :mp_pool_destroy, [:pointer], :int, blocking: true
    attach_function :mp_join, [:pointer, :mp_fn, :uintptr_t, :mp_fn, :uintptr_t], :int,
                    blocking: true
    attach_function :mp_for, [:pointer, :size_t, :size_t, :uint, :mp_range_fn, :uintptr_t],
                    :int, blocking: true
    attach_function :mp_reduce, [:pointer, :size_t, :size_t, :uint, :pointer, :size_t,
                                 :mp_map_fn, :mp_combine_fn, :uintptr_t], :int, blocking: true
    attach_function :mp_broadcast, [:pointer, :mp_broadcast_fn, :uintptr_t], :int,
                    blocking: true
    attach_function :mp_scope_run, [:pointer, :mp_scope_fn, :uintptr_t], :int, blocking: true
    attach_function :mp_task_wait, [:pointer], :int, blocking: true
    # Since 1.1. It never runs the task, so no Ruby code runs inside it.
    attach_function :mp_task_wait_for, [:pointer, :uint64], :int, blocking: true

    # The same calls without releasing the GVL, for pools of one thread:
    # there every block runs on the calling thread (the library has no
    # worker to hand work to, and a calling thread only runs work of its
    # own call), so nothing ever waits for the GVL this thread holds, and
    # the call saves releasing and taking it again around each block.
    attach_function :mp_join_held, :mp_join, [:pointer, :mp_fn, :uintptr_t, :mp_fn, :uintptr_t],
                    :int
    attach_function :mp_for_held, :mp_for, [:pointer, :size_t, :size_t, :uint, :mp_range_fn,
                                            :uintptr_t], :int
    attach_function :mp_reduce_held, :mp_reduce, [:pointer, :size_t, :size_t, :uint, :pointer,
                                                  :size_t, :mp_map_fn, :mp_combine_fn,
                                                  :uintptr_t], :int
    attach_function :mp_broadcast_held, :mp_broadcast, [:pointer, :mp_broadcast_fn, :uintptr_t],
                    :int
    attach_function :mp_scope_run_held, :mp_scope_run, [:pointer, :mp_scope_fn, :uintptr_t], :int
  end
end
