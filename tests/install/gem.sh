#!/bin/sh
# gem.sh SOURCE_DIR BUILD_DIR
#
# The Ruby binding as a gem, the way a Ruby user installs it:
#  1. the C library (install components lib and dev of BUILD_DIR) goes into
#     a private prefix, as `cmake --install` of a source build puts it;
#  2. `gem build` makes the .gem from a copy of bindings/ruby;
#  3. `gem install --local` of that .gem with no libmicropool that
#     pkg-config can find must fail and name the package to install;
#  4. `gem install --local` into a temporary GEM_HOME, with pkg-config
#     pointed at the prefix, builds the kernels (ext/extconf.rb, mkmf);
#  5. the Ruby suite, as the gem installed it, runs against the installed
#     gem: no path into the source or build tree, the kernels from the gem.
# Nothing is downloaded: the gem's one dependency, ffi, is Debian's ruby-ffi.
set -u
src=${1:?usage: gem.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: gem.sh SOURCE_DIR BUILD_DIR}
src=$(cd "$src" && pwd)
build=$(cd "$build" && pwd)

say() { printf '%s\n' "== $*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

for tool in ruby gem cc pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (Debian: ruby, ruby-dev, gcc, pkg-config; see .ci/deps/ruby.list)"
done
ruby -e 'require "mkmf"' >/dev/null 2>&1 || fail "ruby cannot load mkmf with Ruby's headers (Debian: ruby-dev)"

top=$(mktemp -d "${TMPDIR:-/tmp}/micropool-gem-test.XXXXXX")
trap 'rm -rf "$top"' EXIT
trap 'exit 1' INT TERM
prefix=$top/prefix
mkdir -p "$top/home" "$top/empty"
# The gem tools' own files (~/.gem, ~/.local) stay in the test's directory.
export HOME="$top/home"
unset RUBYLIB RUBYOPT GEM_PATH MICROPOOL_LIB MICROPOOL_KERNELS_LIB LD_LIBRARY_PATH PKG_CONFIG_PATH

say "the C library into $prefix (cmake --install, components lib and dev)"
for c in lib dev; do
  cmake --install "$build" --component "$c" --prefix "$prefix" > "$top/install-$c.log" 2>&1 ||
    { cat "$top/install-$c.log"; fail "cmake --install --component $c failed"; }
done
pc=$(find "$prefix" -name micropool.pc)
[ -n "$pc" ] || fail "no micropool.pc below $prefix"
libdir=$(dirname "$(find "$prefix" -name 'libmicropool.so.1')")

say "gem build micropool.gemspec"
cp -R "$src/bindings/ruby" "$top/src"
(cd "$top/src" && gem build micropool.gemspec) > "$top/build.log" 2>&1 ||
  { cat "$top/build.log"; fail "gem build failed"; }
gemfile=$(ls "$top/src"/micropool-*.gem 2>/dev/null | head -n 1)
[ -n "$gemfile" ] || fail "gem build made no micropool-*.gem"
version=$(basename "$gemfile" .gem | sed "s/^micropool-//")
echo "$(basename "$gemfile"): $(wc -c < "$gemfile") bytes"
tar -xOf "$gemfile" metadata.gz | gzip -d | grep -q 'ext/extconf.rb' ||
  fail "the gem's metadata names no extension ext/extconf.rb"

say "gem install with no libmicropool that pkg-config finds (must fail, naming libmicropool-dev)"
if GEM_HOME="$top/gems-missing" PKG_CONFIG_LIBDIR="$top/empty" PKG_CONFIG_PATH="$top/empty" \
     gem install --local --no-document "$gemfile" > "$top/missing.log" 2>&1; then
  cat "$top/missing.log"; fail "gem install succeeded without libmicropool"
fi
grep -q 'libmicropool-dev' "$top/missing.log" ||
  { cat "$top/missing.log"; fail "the failed gem install does not name the missing package libmicropool-dev"; }
grep 'libmicropool was not found' "$top/missing.log" | head -n 1 | sed 's/^/  /'

gems=$top/gems
say "gem install --local $(basename "$gemfile") into GEM_HOME=$gems"
GEM_HOME=$gems PKG_CONFIG_PATH=$(dirname "$pc") gem install --local --no-document "$gemfile" > "$top/install.log" 2>&1 ||
  { cat "$top/install.log"; find "$gems" -name mkmf.log -exec cat {} \; 2>/dev/null; fail "gem install failed"; }
sed 's/^/  /' "$top/install.log"
gemdir=$gems/gems/micropool-$version
[ -d "$gemdir" ] || fail "no $gemdir after gem install"

run() { # the installed gem, found through GEM_HOME only
  env GEM_HOME="$gems" LD_LIBRARY_PATH="$libdir" \
      MICROPOOL_CASES="$src/tests/conformance/cases.txt" MICROPOOL_HEADER="$prefix/include/micropool.h" "$@"
}
where=$(cd "$top" && run ruby -e '
  require "micropool/kernels"
  puts $LOADED_FEATURES.grep(%r{/micropool\.rb\z}).first
  puts Micropool::Kernels.ffi_libraries.map(&:name).first') || fail "ruby cannot require micropool/kernels from the installed gem"
echo "$where" | sed 's/^/  /'
rb=$(echo "$where" | sed -n 1p)
kernels=$(echo "$where" | sed -n 2p)
case "$rb" in "$gems"/*) ;; *) fail "micropool.rb is loaded from $rb, not from the installed gem" ;; esac
case "$kernels" in "$gems"/*/micropool_kernels.so) ;; *) fail "the kernels are loaded from $kernels, not from the installed gem" ;; esac
readelf -d "$kernels" | grep -q 'NEEDED.*libmicropool\.so\.1' || fail "$kernels does not link libmicropool.so.1"

status=0
for t in "$gemdir"/test/test_*.rb; do
  say "ruby -w $(basename "$t") (installed gem)"
  (cd "$top" && run ruby -w "$t") || { echo "FAIL: $(basename "$t")"; status=1; }
done
say "ruby -w test_conformance.rb with cases-1.1.txt (installed gem)"
(cd "$top" && run env MICROPOOL_CASES="$src/tests/conformance/cases-1.1.txt" ruby -w "$gemdir/test/test_conformance.rb") ||
  { echo "FAIL: test_conformance.rb (cases-1.1.txt)"; status=1; }
[ $status -eq 0 ] || fail "the Ruby suite failed against the installed gem"
echo "gem: built, refused without libmicropool, installed into GEM_HOME, suite passed"
