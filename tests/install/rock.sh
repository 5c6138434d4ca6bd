#!/bin/sh
# rock.sh SOURCE_DIR BUILD_DIR
#
# The Lua binding as a rock, the way a Lua user installs it:
#  1. the C library (install components lib and dev of BUILD_DIR) goes into
#     a private prefix, as `cmake --install` of a source build puts it;
#  2. `luarocks make` (micropool-1.1.0-1.rockspec) in a copy of bindings/lua
#     with no libmicropool that pkg-config can find must fail and name the
#     package to install;
#  3. `luarocks make --tree=<tmp>`, with pkg-config pointed at the prefix;
#  4. the Lua suite runs with that tree's paths (`luarocks path`) and no
#     path into the source or build tree.
# Nothing is downloaded: the rock depends on nothing but Lua 5.4.
set -u
src=${1:?usage: rock.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: rock.sh SOURCE_DIR BUILD_DIR}
src=$(cd "$src" && pwd)
build=$(cd "$build" && pwd)

say() { printf '%s\n' "== $*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

for tool in luarocks lua5.4 swig cc pkg-config make; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (Debian: luarocks, lua5.4, liblua5.4-dev, swig, gcc, pkg-config, make; see .ci/deps/lua.list)"
done

top=$(mktemp -d "${TMPDIR:-/tmp}/micropool-rock-test.XXXXXX")
trap 'rm -rf "$top"' EXIT
trap 'exit 1' INT TERM
prefix=$top/prefix
tree=$top/tree
mkdir -p "$top/home" "$top/empty"
# luarocks' own files (~/.luarocks, its cache) stay in the test's directory.
export HOME="$top/home"
unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4 LUA_INIT LUA_INIT_5_4 LD_LIBRARY_PATH PKG_CONFIG_PATH
rocks() { luarocks --lua-version=5.4 "$@"; }

say "the C library into $prefix (cmake --install, components lib and dev)"
for c in lib dev; do
  cmake --install "$build" --component "$c" --prefix "$prefix" > "$top/install-$c.log" 2>&1 ||
    { cat "$top/install-$c.log"; fail "cmake --install --component $c failed"; }
done
pc=$(find "$prefix" -name micropool.pc)
[ -n "$pc" ] || fail "no micropool.pc below $prefix"
libdir=$(dirname "$(find "$prefix" -name 'libmicropool.so.1')")

cp -R "$src/bindings/lua" "$top/src"
rm -f "$top/src"/micropool_core_wrap.c "$top/src"/*.so
rockspec=$(cd "$top/src" && ls micropool-*.rockspec | head -n 1)
[ -n "$rockspec" ] || fail "no micropool-*.rockspec in bindings/lua"

say "luarocks make $rockspec with no libmicropool that pkg-config finds (must fail, naming libmicropool-dev)"
if (cd "$top/src" && PKG_CONFIG_LIBDIR="$top/empty" PKG_CONFIG_PATH="$top/empty" \
      rocks make --tree="$top/tree-missing" "$rockspec") > "$top/missing.log" 2>&1; then
  cat "$top/missing.log"; fail "luarocks make succeeded without libmicropool"
fi
grep -q 'libmicropool-dev' "$top/missing.log" ||
  { cat "$top/missing.log"; fail "the failed luarocks make does not name the missing package libmicropool-dev"; }
grep 'libmicropool was not found' "$top/missing.log" | head -n 1 | sed 's/^/  /'

say "luarocks make --tree=$tree $rockspec"
(cd "$top/src" && PKG_CONFIG_PATH=$(dirname "$pc") rocks make --tree="$tree" "$rockspec") > "$top/make.log" 2>&1 ||
  { cat "$top/make.log"; fail "luarocks make failed"; }
grep 'is now installed' "$top/make.log" | sed 's/^/  /'
rocks list --tree="$tree" --porcelain | grep -q '^micropool' || fail "luarocks list --tree=$tree does not list micropool"

# The tree's paths, as `luarocks path` gives them.
LUA_PATH_TREE=$(rocks path --tree="$tree" --lr-path)
LUA_CPATH_TREE=$(rocks path --tree="$tree" --lr-cpath)
[ -n "$LUA_PATH_TREE" ] && [ -n "$LUA_CPATH_TREE" ] || fail "luarocks path --tree=$tree gave no paths"
run() {
  env LUA_PATH_5_4="$LUA_PATH_TREE;;" LUA_CPATH_5_4="$LUA_CPATH_TREE;;" LD_LIBRARY_PATH="$libdir" "$@"
}
where=$(cd "$top" && run lua5.4 -e '
  require "micropool"
  print(package.searchpath("micropool", package.path))
  print(package.searchpath("micropool_core", package.cpath))') || fail "lua5.4 cannot require micropool from the tree"
echo "$where" | sed 's/^/  /'
for f in $where; do
  case "$f" in "$tree"/*) ;; *) fail "lua5.4 loads $f, not from the tree $tree" ;; esac
done

status=0
say "lua5.4 tests/conformance.lua (the tree's module)"
(cd "$top" && run lua5.4 "$top/src/tests/conformance.lua" "$src/tests/conformance/cases.txt") || { echo "FAIL: conformance.lua"; status=1; }
say "lua5.4 tests/conformance.lua, the cases of ABI 1.1 (the tree's module)"
(cd "$top" && run lua5.4 "$top/src/tests/conformance.lua" "$src/tests/conformance/cases-1.1.txt") || { echo "FAIL: conformance.lua (1.1)"; status=1; }
say "lua5.4 tests/binding.lua (the tree's module)"
(cd "$top" && run lua5.4 "$top/src/tests/binding.lua") || { echo "FAIL: binding.lua"; status=1; }
[ $status -eq 0 ] || fail "the Lua suite failed against the rock"
echo "rock: refused without libmicropool, made into a tree, suite passed"
