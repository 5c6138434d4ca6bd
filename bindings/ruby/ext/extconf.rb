# frozen_string_literal: true

# Builds the gem's native kernels (micropool_kernels.c) at `gem install`
# time against the installed libmicropool, found with pkg-config. The
# result, micropool/micropool_kernels.so, is a plain C library that
# lib/micropool/kernels.rb loads with ffi: it defines no Init function and
# is not meant to be `require`d.
require "mkmf"

MISSING = <<~TEXT
  micropool: the C library libmicropool was not found (pkg-config knows no
  package 'micropool'). The gem builds its native kernels against it.
  Install it first:
    Debian:      apt-get install libmicropool-dev
    from source: cmake -S . -B build && cmake --build build && cmake --install build
                 (a prefix of your own: set PKG_CONFIG_PATH to <prefix>/lib/pkgconfig,
                 or <prefix>/lib/<triplet>/pkgconfig, and LD_LIBRARY_PATH to its libdir)
TEXT

abort MISSING unless pkg_config("micropool")
abort "micropool: micropool.h is not usable with the flags pkg-config gives\n#{MISSING}" \
  unless have_header("micropool.h")
abort "micropool: cannot link mp_pool_create from libmicropool\n#{MISSING}" \
  unless have_func("mp_pool_create", "micropool.h")
have_library("m", "sqrt", "math.h")

$CFLAGS << " -std=c11 -fvisibility=hidden"
$defs << "-DMPK_BUILDING"
create_makefile("micropool/micropool_kernels")
