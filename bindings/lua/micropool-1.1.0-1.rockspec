-- The Lua 5.4 binding as a rock. In a checkout, from this directory:
--   luarocks --lua-version=5.4 make                 (or --tree=<dir>)
-- builds the module against the installed libmicropool (found with
-- pkg-config: Debian's libmicropool-dev, or a `cmake --install` of the
-- project with PKG_CONFIG_PATH pointing at its micropool.pc) and installs
-- micropool.lua and micropool_core.so. The make backend runs rock.mk;
-- swig generates the C wrapper.
rockspec_format = "3.0"
package = "micropool"
version = "1.1.0-1"
source = {
   -- A release tarball of the project; `luarocks make` in a checkout
   -- builds the checkout and fetches nothing.
   url = "micropool-1.1.0.tar.gz",
   dir = "micropool-1.1.0/bindings/lua",
}
description = {
   summary = "Lua binding of micropool, a low-latency work-stealing thread pool",
   detailed = [[
micropool runs fork-join, parallel loops and reductions, broadcasts and
background tasks on a pool of threads. Every pool thread runs Lua in a
state of its own, so Lua code really runs in parallel. Needs the C library
libmicropool installed (Debian: libmicropool-dev) and swig to build.
]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "make",
   makefile = "rock.mk",
   build_variables = {
      CC = "$(CC)",
      CFLAGS = "$(CFLAGS)",
      LIBFLAG = "$(LIBFLAG)",
      LUA_INCDIR = "$(LUA_INCDIR)",
   },
   install_variables = {
      INST_LIBDIR = "$(LIBDIR)",
      INST_LUADIR = "$(LUADIR)",
   },
}
