# Builds the Lua module for `luarocks make` (micropool-1.1.0-1.rockspec),
# against the libmicropool that pkg-config finds. The CMake build does not
# use this file (see CMakeLists.txt).
#   make -f rock.mk [LUA_INCDIR=/usr/include/lua5.4]
#   make -f rock.mk install INST_LIBDIR=<dir> INST_LUADIR=<dir>

PKG_CONFIG ?= pkg-config
SWIG ?= swig
CC ?= cc
CFLAGS ?= -O2 -fPIC
LIBFLAG ?= -shared
LUA_INCDIR ?= /usr/include/lua5.4

SOURCES = src/mpl_copy.c src/mpl_pool.c src/mpl_ops.c src/mpl_handle.c src/mpl_buffer.c \
          src/mpl_trace.c
MISSING = micropool: the C library libmicropool was not found (pkg-config knows \
no package 'micropool'). Install it first - Debian: apt-get install \
libmicropool-dev; from source: cmake --install of the project, with \
PKG_CONFIG_PATH set to the directory of the installed micropool.pc.

all: micropool_core.so

check-libmicropool:
	@$(PKG_CONFIG) --exists micropool || { echo "$(MISSING)" >&2; exit 1; }
	@command -v $(SWIG) >/dev/null 2>&1 || { echo "micropool: $(SWIG) not found; the rock generates its C wrapper with it (Debian: swig)" >&2; exit 1; }

micropool_core_wrap.c: micropool.i src/mpl.h | check-libmicropool
	$(SWIG) -lua -Isrc -o $@ micropool.i

micropool_core.so: micropool_core_wrap.c $(SOURCES) src/mpl.h src/mpl_internal.h | check-libmicropool
	$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -fvisibility=hidden -Isrc -I$(LUA_INCDIR) \
	  $$($(PKG_CONFIG) --cflags micropool) $(LIBFLAG) -o $@ micropool_core_wrap.c $(SOURCES) \
	  $$($(PKG_CONFIG) --libs micropool) -lpthread

install: micropool_core.so
	mkdir -p $(INST_LIBDIR) $(INST_LUADIR)
	cp micropool_core.so $(INST_LIBDIR)/
	cp micropool.lua $(INST_LUADIR)/

clean:
	rm -f micropool_core.so micropool_core_wrap.c

.PHONY: all check-libmicropool install clean
