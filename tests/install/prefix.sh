#!/bin/sh
# prefix.sh SOURCE_DIR BUILD_DIR
#
# cmake --install of an already built tree into a prefix that is not a
# system directory, then consumers outside the source tree that find it
# there: a C program through PKG_CONFIG_PATH and a CMake project through
# CMAKE_PREFIX_PATH. First a DESTDIR install checks that every file goes
# below the prefix (an absolute DESTINATION would escape it).
set -u
src=${1:?usage: prefix.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: prefix.sh SOURCE_DIR BUILD_DIR}
src=$(cd "$src" && pwd)

say() { printf '%s\n' "== $*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

top=$(mktemp -d /tmp/micropool-prefix-test.XXXXXX)
trap 'rm -rf "$top"' EXIT
trap 'exit 1' INT TERM
prefix=$top/opt/micropool
stage=$top/stage

say "DESTDIR=$stage cmake --install --prefix $prefix"
DESTDIR=$stage cmake --install "$build" --prefix "$prefix" > "$top/staged.log" 2>&1 ||
  { cat "$top/staged.log"; fail "cmake --install into DESTDIR failed"; }
escaped=$(find "$stage" ! -type d | grep -v "^$stage$prefix/" || true)
[ -z "$escaped" ] || fail "files installed outside the prefix (absolute DESTINATION?): $escaped"
echo "$(find "$stage" ! -type d | wc -l) files, all below the prefix"

say "cmake --install --prefix $prefix"
cmake --install "$build" --prefix "$prefix" > "$top/install.log" 2>&1 ||
  { cat "$top/install.log"; fail "cmake --install failed"; }
pc=$(find "$prefix" -name micropool.pc)
[ -n "$pc" ] || fail "no micropool.pc below $prefix"
config=$(find "$prefix" -name micropoolConfig.cmake)
[ -n "$config" ] || fail "no micropoolConfig.cmake below $prefix"
lib=$(find "$prefix" -name 'libmicropool.so.1')
[ -n "$lib" ] || fail "no libmicropool.so.1 below $prefix"
libdir=$(dirname "$lib")

mkdir -p "$top/consumer"
cd "$top/consumer" || exit 1
cp "$src/tests/install/consumer/consumer.c" "$src/tests/install/consumer/CMakeLists.txt" .

say "C with PKG_CONFIG_PATH=$(dirname "$pc")"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
[ "$(pkg-config --variable=prefix micropool)" = "$prefix" ] ||
  fail "micropool.pc says prefix=$(pkg-config --variable=prefix micropool), but it was installed into $prefix"
# shellcheck disable=SC2046
cc consumer.c $(pkg-config --cflags --libs micropool) -o consumer_pc ||
  fail "cc consumer.c \$(pkg-config --cflags --libs micropool) failed"
LD_LIBRARY_PATH=$libdir ./consumer_pc || fail "the pkg-config consumer failed"
LD_LIBRARY_PATH=$libdir ldd ./consumer_pc | grep -q "libmicropool\.so\.1 => $libdir/libmicropool\.so\.1 " ||
  fail "consumer_pc does not load $libdir/libmicropool.so.1"
unset PKG_CONFIG_PATH

say "CMake project with CMAKE_PREFIX_PATH=$prefix"
cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix" > cmake.log 2>&1 || { cat cmake.log; fail "configuring the find_package consumer failed"; }
grep -q "micropool_DIR: $(dirname "$config")\$" cmake.log || { cat cmake.log; fail "find_package did not find $(dirname "$config")"; }
cmake --build build >> cmake.log 2>&1 || { cat cmake.log; fail "building the find_package consumer failed"; }
./build/consumer_shared || fail "consumer_shared failed"
ldd ./build/consumer_shared | grep -q "libmicropool\.so\.1 => $libdir/libmicropool\.so\.1 " ||
  fail "consumer_shared does not load $libdir/libmicropool.so.1 (build RPATH)"
./build/consumer_static || fail "consumer_static failed"
if readelf -d ./build/consumer_static | grep -q libmicropool; then
  fail "consumer_static needs libmicropool.so: not linked with the static library"
fi
echo "prefix install: pkg-config and find_package consumers built and ran against $prefix"
