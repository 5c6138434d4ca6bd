#!/bin/sh
# packages.sh SOURCE_DIR WORK_DIR [GO]
#
# The system install test. As root, on this machine:
#  1. copies SOURCE_DIR (without .git and build trees) to WORK_DIR/src,
#     checks that dpkg-buildpackage stops at once, naming it, when a build
#     dependency is missing, then builds the Debian packages from the copy
#     with `dpkg-buildpackage -us -uc -b` (debian/, debhelper);
#  2. runs lintian on them: any error, or any warning but
#     initial-upload-closes-no-bugs, fails; then checks each package's name,
#     section, Multi-Arch, dependencies and file locations;
#  3. installs them with apt-get install ./<package>.deb;
#  4. from a directory outside the source tree: compiles a C program with
#     pkg-config, builds a CMake project that uses find_package(micropool),
#     checks the installed symbols file with dpkg-shlibdeps, and runs the
#     Lua, Ruby and Go examples against the installed bindings (Go: a new
#     module made with the README's steps, and Debian's GOPATH mode);
#  5. purges the packages (and anything apt installed with them) and checks
#     that none of their files, directories or ldconfig entries is left and
#     that dpkg's package list is the one found at the start.
# GO is the go tool to use (default: go in PATH or Debian's
# /usr/lib/go-1.2x/bin).
set -u

src=${1:?usage: packages.sh SOURCE_DIR WORK_DIR [GO]}
work=${2:?usage: packages.sh SOURCE_DIR WORK_DIR [GO]}
go_tool=${3:-}
src=$(cd "$src" && pwd)
jobs=2

say() { printf '%s\n' "== $*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

if [ "$(id -u)" != 0 ]; then
  echo "SKIPPED: the package test installs packages into this system and must run as root"
  exit 77
fi
for tool in apt-get dpkg dpkg-deb dpkg-query dpkg-shlibdeps dpkg-buildpackage dpkg-parsechangelog dh lintian cmake pkg-config cc readelf ldconfig flock tar; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (Debian: dpkg-dev, debhelper, lintian, ...; see .ci/deps/package.list)"
done
multiarch=$(cc -print-multiarch 2>/dev/null)
[ -n "$multiarch" ] || multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
[ -n "$multiarch" ] || fail "cannot tell this machine's multiarch triplet"
libdir=/usr/lib/$multiarch
# With merged /usr, ldconfig and ldd may name /lib/<triplet> for it.
libdir_re="(/usr)?/lib/$multiarch"
# The Go module's path, and where golang-micropool-dev installs its source
# (Debian's Go team: /usr/share/gocode/src/<import path>).
go_module=micropool.invalid/micropool
go_src=/usr/share/gocode/src/$go_module

mkdir -p "$work"
work=$(cd "$work" && pwd)
state=$work/state
rm -rf "$state" "$work/packages" "$work/build"
mkdir -p "$state"
tmp=$(mktemp -d /tmp/micropool-package-test.XXXXXX)
installed=""

# Whatever happens after the install, the packages go again.
cleanup() {
  if [ -n "$installed" ]; then
    say "cleanup: purging $installed"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=600 $installed >/dev/null 2>&1 ||
      echo "cleanup: apt-get purge $installed failed: remove them by hand"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# One package test at a time on a machine (another build tree's test would
# install and purge the same packages under this one's feet).
lock=/run/lock/micropool-package-test.lock
[ -d /run/lock ] || lock=/tmp/micropool-package-test.lock
exec 9> "$lock"
if ! flock -w 1500 9; then
  fail "another package test holds $lock"
fi

dpkg_state() { dpkg-query -W -f '${binary:Package} ${Version} ${db:Status-Status}\n' | sort; }

# ------------------------------------------------------------ 0. the machine
say "machine: $multiarch, $(dpkg-query -W -f '${Version}' dpkg 2>/dev/null | sed 's/^/dpkg /')"
for p in libmicropool1 libmicropool-dev lua-micropool ruby-micropool golang-micropool-dev; do
  if dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$'; then
    fail "$p is already on this machine ($(dpkg-query -W -f '${db:Status-Status}' "$p")); the test leaves other installs alone: apt-get purge $p first"
  fi
done
if pkg-config --exists micropool 2>/dev/null; then
  fail "pkg-config already finds a micropool ($(pkg-config --variable=pcfiledir micropool)); the test would not know which one it checks"
fi
for f in "$libdir"/libmicropool* /usr/include/micropool.h "$libdir/cmake/micropool" /usr/local/lib/cmake/micropool \
         /usr/local/lib/"$multiarch"/cmake/micropool $go_src; do
  if [ -e "$f" ] || [ -L "$f" ]; then
    fail "$f exists already (not from the packages under test)"
  fi
done
dpkg_state > "$state/dpkg-before"

# ------------------------------------------------------------ 1. dpkg-buildpackage
[ -f "$src/debian/changelog" ] && [ -f "$src/debian/control" ] || fail "$src has no debian/changelog or debian/control"
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version) || fail "dpkg-parsechangelog cannot read $src/debian/changelog"
upstream=${version%-*}
pkgdir=$work/src
tree=$pkgdir/micropool-$upstream
rm -rf "$pkgdir"
mkdir -p "$tree"
say "copying $src to $tree (no .git, no build trees)"
(cd "$src" && tar --exclude=./.git --exclude='./build*' --exclude='./obj-*' -cf - .) | tar -C "$tree" -xf - ||
  fail "copying the source tree failed"

# A build dependency missing: dpkg's database without swig (a copy of the
# real one with swig's entry taken out) must stop dpkg-buildpackage before
# it builds anything, with a message that names swig.
say "dpkg-buildpackage with swig missing from dpkg's database (must fail, naming it)"
grep -q '^Build-Depends:.*swig\|^ *swig,' "$tree/debian/control" || fail "debian/control does not build-depend on swig"
fake=$work/admindir
rm -rf "$fake"
mkdir -p "$fake/updates" "$fake/info"
awk 'BEGIN { RS = ""; ORS = "\n\n" } $0 !~ /(^|\n)Package: swig\n/' /var/lib/dpkg/status > "$fake/status"
[ -f /var/lib/dpkg/arch ] && cp /var/lib/dpkg/arch "$fake/"
if (cd "$tree" && dpkg-buildpackage --admindir="$fake" -us -uc -b) > "$work/missing-dep.log" 2>&1; then
  cat "$work/missing-dep.log"; fail "dpkg-buildpackage went on without swig"
fi
grep -q 'Unmet build dependencies: swig' "$work/missing-dep.log" ||
  { cat "$work/missing-dep.log"; fail "the failed dpkg-buildpackage does not name the missing build dependency swig"; }
grep 'Unmet build dependencies' "$work/missing-dep.log" | sed 's/^/  /'
[ -e "$tree/obj-$multiarch" ] && fail "dpkg-buildpackage started building without swig"
rm -rf "$fake"

say "dpkg-buildpackage -us -uc -b (log: $work/dpkg-buildpackage.log)"
if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=$jobs${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}" \
        dpkg-buildpackage -us -uc -b) > "$work/dpkg-buildpackage.log" 2>&1; then
  tail -n 60 "$work/dpkg-buildpackage.log"; fail "dpkg-buildpackage failed"
fi
changes=$(ls "$pkgdir"/micropool_"$version"_*.changes 2>/dev/null | head -n 1)
[ -n "$changes" ] || fail "dpkg-buildpackage wrote no micropool_${version}_*.changes"
grep -c '^dpkg-deb: building package' "$work/dpkg-buildpackage.log" | sed 's/^/packages built (debug symbol packages included): /'

# The packages expected, "component package".
expected="lib libmicropool1
dev libmicropool-dev
lua lua-micropool
ruby ruby-micropool
go golang-micropool-dev"
checked_bindings="lua ruby go"

# ------------------------------------------------------------ 2. lintian
say "lintian $(basename "$changes")"
lintian --tag-display-limit 0 "$changes" > "$state/lintian.txt" 2>&1
lrc=$?
[ $lrc -le 1 ] || { cat "$state/lintian.txt"; fail "lintian did not run (exit status $lrc)"; }
grep -E '^[EW]: ' "$state/lintian.txt" > "$state/lintian-ew" || true
allowed='^W: [^ ]+: initial-upload-closes-no-bugs( |$)'
errors=$(grep -c '^E: ' "$state/lintian-ew")
warnings=$(grep -c '^W: ' "$state/lintian-ew")
closes=$(grep -Ec "$allowed" "$state/lintian-ew")
echo "lintian: $errors errors, $warnings warnings ($closes of them initial-upload-closes-no-bugs)"
other=$(grep -Ev "$allowed" "$state/lintian-ew" || true)
if [ -n "$other" ]; then
  printf '%s\n' "$other" | sed 's/^/  /'
  fail "lintian reports errors or warnings other than initial-upload-closes-no-bugs"
fi

deb_of() { # package -> path of its .deb
  for f in "$pkgdir/$1"_*.deb; do [ -f "$f" ] && { echo "$f"; return 0; }; done
  return 1
}
field() { dpkg-deb -f "$1" "$2"; }

# ------------------------------------------------------------ 2. fields and files
say "packages (version $version)"
debs=""
names=""
: > "$state/all-files"
echo "$expected" | while read -r comp pkg; do
  deb=$(deb_of "$pkg") || { echo "FAIL: no package $pkg for component $comp in $pkgdir"; exit 1; }
  printf '%-22s %8s bytes  Depends: %s\n' "$pkg" "$(wc -c < "$deb")" "$(field "$deb" Depends)"
done || exit 1
ls "$pkgdir"/*.deb | while read -r deb; do
  p=$(dpkg-deb -f "$deb" Package)
  # dh_strip's debug symbol packages come with the ones of code.
  echo "$expected" | awk '{print $2 "\n" $2 "-dbgsym"}' | grep -qx "$p" || { echo "FAIL: unexpected package $deb"; exit 1; }
done || exit 1

for pkg in $(echo "$expected" | awk '{print $2}'); do
  deb=$(deb_of "$pkg")
  debs="$debs $deb"
  names="$names $pkg"
  [ "$(field "$deb" Package)" = "$pkg" ] || fail "$deb: Package is $(field "$deb" Package)"
  [ "$(field "$deb" Version)" = "$version" ] || fail "$pkg: Version $(field "$deb" Version), want $version"
  # Paths: files and links (not directories), without the leading '.'.
  dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./|/|' > "$state/files-$pkg"
  dpkg-deb -c "$deb" | awk '$1 ~ /^d/ { print $6 }' | sed 's|^\./|/|; s|/$||' > "$state/dirs-$pkg"
  cat "$state/files-$pkg" >> "$state/all-files"
  [ -s "$state/files-$pkg" ] || fail "$pkg ships no file"
  outside=$(grep -v '^/usr/' "$state/files-$pkg" || true)
  [ -z "$outside" ] || fail "$pkg ships files outside /usr: $outside"
  local_files=$(grep '^/usr/local/' "$state/files-$pkg" || true)
  [ -z "$local_files" ] || fail "$pkg ships files in /usr/local: $local_files"
  # Shared objects and archives only in the multiarch directory (or below).
  misplaced=$(grep -E '\.(so(\.[0-9.]+)?|a)$' "$state/files-$pkg" | grep -v "^$libdir/" || true)
  [ -z "$misplaced" ] || fail "$pkg ships libraries outside $libdir: $misplaced"
done
dup=$(sort "$state/all-files" | uniq -d)
[ -z "$dup" ] || fail "files shipped by two packages: $dup"

want_section() { # package section
  s=$(field "$(deb_of "$1")" Section)
  [ "$s" = "$2" ] || fail "$1: Section $s, want $2"
}
want_depends() { # package regex
  d=$(field "$(deb_of "$1")" Depends)
  printf '%s\n' "$d" | grep -Eq "$2" || fail "$1: Depends '$d' does not match /$2/"
}
want_multiarch() { # package value (no: none)
  m=$(field "$(deb_of "$1")" Multi-Arch)
  [ -n "$m" ] || m=no
  [ "$m" = "$2" ] || fail "$1: Multi-Arch '$m', want '$2'"
}
want_file() { # package path
  grep -qx "$2" "$state/files-$1" || fail "$1 does not ship $2"
}

lib=$(deb_of libmicropool1)
want_section libmicropool1 libs
want_multiarch libmicropool1 same
want_depends libmicropool1 'libc6 \(>= '
want_file libmicropool1 "$libdir/libmicropool.so.1"
want_file libmicropool1 "$libdir/libmicropool.so.$upstream"
extra=$(grep -v "^$libdir/libmicropool\.so\.1" "$state/files-libmicropool1" | grep -v '^/usr/share/doc/' || true)
[ -z "$extra" ] || fail "libmicropool1 ships more than the runtime library: $extra"
dpkg-deb --ctrl-tarfile "$lib" | tar -t | sed 's|^\./||' | sort > "$state/control-members"
for m in shlibs symbols triggers; do
  grep -qx "$m" "$state/control-members" || fail "libmicropool1 has no $m control file"
done
dpkg-deb --ctrl-tarfile "$lib" | tar -xO ./triggers > "$state/triggers"
grep -qx 'activate-noawait ldconfig' "$state/triggers" || fail "libmicropool1 does not activate the ldconfig trigger"
dpkg-deb --ctrl-tarfile "$lib" | tar -xO ./shlibs > "$state/shlibs"
grep -Eq '^libmicropool 1 libmicropool1 \(>= [0-9]+\.[0-9]+\.[0-9]+\)$' "$state/shlibs" ||
  fail "libmicropool1's shlibs file is '$(cat "$state/shlibs")'"
dpkg-deb --ctrl-tarfile "$lib" | tar -xO ./symbols > "$state/symbols"
# The symbols file lists exactly the library's versioned symbols.
mkdir -p "$state/lib-root"
dpkg-deb -x "$lib" "$state/lib-root"
readelf --dyn-syms -W "$state/lib-root$libdir/libmicropool.so.1" | awk '
  $1 ~ /^[0-9]+:$/ && $7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") {
    n = $8; if ($7 == "ABS" && index(n, "@") == 0) n = n "@" n; sub(/@@/, "@", n); print n }' |
  sort > "$state/lib-symbols"
awk 'NR > 1 && /^ / { print $1 }' "$state/symbols" | sort > "$state/file-symbols"
if ! cmp -s "$state/lib-symbols" "$state/file-symbols"; then
  diff "$state/file-symbols" "$state/lib-symbols" | sed 's/^/  /'
  fail "libmicropool1's symbols file (<) and the library's dynamic symbols (>) differ"
fi
unversioned=$(grep -v '@MICROPOOL_[0-9]*\.[0-9]*$' "$state/file-symbols" || true)
[ -z "$unversioned" ] || fail "symbols without a MICROPOOL_x.y version: $unversioned"
file "$state/lib-root$libdir/libmicropool.so.$upstream" | grep -q 'stripped' &&
  ! file "$state/lib-root$libdir/libmicropool.so.$upstream" | grep -q 'not stripped' ||
  fail "the packaged libmicropool.so.$upstream is not stripped"
echo "libmicropool1: $(wc -l < "$state/file-symbols") symbols in its symbols file, all versioned, the same as the library's"

want_section libmicropool-dev libdevel
want_multiarch libmicropool-dev same
want_depends libmicropool-dev "(^|, )libmicropool1 \\(= $version\\)"
for f in /usr/include/micropool.h "$libdir/libmicropool.so" "$libdir/libmicropool.a" \
         "$libdir/pkgconfig/micropool.pc" "$libdir/cmake/micropool/micropoolConfig.cmake" \
         "$libdir/cmake/micropool/micropoolConfigVersion.cmake" "$libdir/cmake/micropool/micropoolTargets.cmake"; do
  want_file libmicropool-dev "$f"
done
dpkg-deb -c "$(deb_of libmicropool-dev)" > "$state/contents-dev"
grep -q "\./usr/lib/$multiarch/libmicropool\.so -> libmicropool\.so\.1\$" "$state/contents-dev" ||
  fail "libmicropool-dev's libmicropool.so is not a link to libmicropool.so.1"

for lang in $checked_bindings; do
  case $lang in
    lua)
      want_section lua-micropool interpreters
      want_multiarch lua-micropool same
      want_depends lua-micropool '(^|, )libmicropool1 \(>= '
      grep -q "^$libdir/lua/5\.4/.*\.so\$" "$state/files-lua-micropool" ||
        fail "lua-micropool has no C module in $libdir/lua/5.4"
      want_file lua-micropool /usr/share/lua/5.4/micropool.lua ;;
    ruby)
      want_section ruby-micropool ruby
      # Not Multi-Arch: same: micropool/kernels_path.rb names the kernels'
      # multiarch directory, so it differs between architectures.
      want_multiarch ruby-micropool no
      want_depends ruby-micropool '(^|, )libmicropool1 \(>= '
      want_depends ruby-micropool '(^|, )ruby-ffi'
      want_file ruby-micropool /usr/lib/ruby/vendor_ruby/micropool.rb ;;
    go)
      want_section golang-micropool-dev golang
      want_multiarch golang-micropool-dev foreign
      want_depends golang-micropool-dev '(^|, )libmicropool-dev \(>= '
      [ "$(field "$(deb_of golang-micropool-dev)" Architecture)" = all ] || fail "golang-micropool-dev is not Architecture: all"
      want_file golang-micropool-dev "$go_src/go.mod"
      bad=$(grep -v -e "^$go_src/" -e '^/usr/share/doc/golang-micropool-dev/' "$state/files-golang-micropool-dev" || true)
      [ -z "$bad" ] || fail "golang-micropool-dev ships files outside $go_src: $bad" ;;
  esac
done
for pkg in $names; do
  want_file "$pkg" "/usr/share/doc/$pkg/changelog.Debian.gz"
  want_file "$pkg" "/usr/share/doc/$pkg/copyright"
done
echo "names, versions, sections, Multi-Arch, Depends and file locations: OK"

# Directories that exist now; a package's directory that does not must be
# gone again after the purge.
cat "$state"/dirs-* | sort -u | while read -r d; do
  [ -d "$d" ] && echo "$d"
done > "$state/dirs-existing"

# ------------------------------------------------------------ 3. install
say "apt-get install$(for d in $debs; do printf ' ./%s' "$(basename "$d")"; done)"
installed="$names"   # from here on, cleanup purges them
# shellcheck disable=SC2086
if ! (cd "$pkgdir" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=600 $(for d in $debs; do printf ' ./%s' "$(basename "$d")"; done)) \
        > "$state/apt-install.log" 2>&1; then
  cat "$state/apt-install.log"; fail "apt-get install failed"
fi
dpkg_state > "$state/dpkg-installed"
new=$(comm -13 "$state/dpkg-before" "$state/dpkg-installed" | awk '{print $1}' | sed 's/:.*//' | tr '\n' ' ')
installed="$new"
for pkg in $names; do
  dpkg-query -W -f '${db:Status-Status}' "$pkg" | grep -qx installed || fail "$pkg is not installed after apt-get install"
done
others=$(for p in $new; do echo "$names" | tr ' ' '\n' | grep -qx "$p" || echo "$p"; done | tr '\n' ' ')
echo "installed: $names"
[ -z "$others" ] || echo "apt also installed (removed again at the end): $others"
ldconfig -p | grep -Eq "libmicropool\.so\.1 .*=> $libdir_re/libmicropool\.so\.1\$" ||
  fail "ldconfig does not know $libdir/libmicropool.so.1"

# ------------------------------------------------------------ 4. consumers
cd "$tmp" || fail "cannot enter $tmp"
cp "$src/tests/install/consumer/consumer.c" "$src/tests/install/consumer/CMakeLists.txt" .

say "C with pkg-config (in $tmp)"
# shellcheck disable=SC2046
cc consumer.c $(pkg-config --cflags --libs micropool) -o consumer_pc || fail "cc consumer.c \$(pkg-config --cflags --libs micropool) failed"
[ "$(pkg-config --variable=libdir micropool)" = "$libdir" ] || fail "pkg-config's libdir is $(pkg-config --variable=libdir micropool), want $libdir"
./consumer_pc || fail "the pkg-config consumer failed"
ldd ./consumer_pc | grep -Eq "libmicropool\.so\.1 => $libdir_re/libmicropool\.so\.1 " || fail "consumer_pc does not load $libdir/libmicropool.so.1: $(ldd ./consumer_pc)"

say "dpkg-shlibdeps on the consumer (the installed symbols file)"
mkdir -p shlibdeps/debian && : > shlibdeps/debian/control && cp consumer_pc shlibdeps/
deps=$(cd shlibdeps && dpkg-shlibdeps -O consumer_pc 2>&1) || fail "dpkg-shlibdeps: $deps"
echo "$deps"
# The release of the newest symbol version the consumer binds to (1.1.0
# once it calls a function of 1.1, or 1.1's mp_config_init).
want=$(readelf --dyn-syms -W consumer_pc | sed -n 's/.*@MICROPOOL_\([0-9]*\)\.\([0-9]*\).*/\1.\2/p' |
  sort -t. -k1,1n -k2,2n | tail -n 1)
[ -n "$want" ] || fail "consumer_pc binds to no versioned micropool symbol"
want_re=$(echo "$want" | sed 's/\./\\./g')
echo "$deps" | grep -Eq "libmicropool1 \(>= ${want_re}\.0\)" ||
  fail "dpkg-shlibdeps does not derive libmicropool1 (>= $want.0), the newest version consumer_pc binds to, from the symbols file"

say "CMake project with find_package(micropool)"
cmake -S . -B cmake-build > cmake-consumer.log 2>&1 || { cat cmake-consumer.log; fail "configuring the find_package consumer failed"; }
grep -q "micropool_DIR: $libdir/cmake/micropool\$" cmake-consumer.log || { cat cmake-consumer.log; fail "find_package did not find $libdir/cmake/micropool"; }
cmake --build cmake-build >> cmake-consumer.log 2>&1 || { cat cmake-consumer.log; fail "building the find_package consumer failed"; }
./cmake-build/consumer_shared || fail "consumer_shared failed"
./cmake-build/consumer_static || fail "consumer_static failed"
readelf -d ./cmake-build/consumer_static | grep -q 'libmicropool' && fail "consumer_static needs libmicropool.so: not linked with the static library"
ldd ./cmake-build/consumer_shared | grep -Eq "libmicropool\.so\.1 => $libdir_re/libmicropool\.so\.1 " || fail "consumer_shared does not load $libdir/libmicropool.so.1"
echo "consumer_shared, consumer_static (micropool::micropool, micropool::micropool_static): OK"

# The bindings run with a clean environment: no path into the source or
# build tree, so only the installed packages can be found.
clean_env() {
  env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u RUBYLIB -u RUBYOPT \
      -u MICROPOOL_LIB -u MICROPOOL_KERNELS_LIB -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH "$@"
}
for lang in $checked_bindings; do
  case $lang in
    lua)
      say "Lua example (examples/lua/sum_sort.lua) with the installed lua-micropool"
      command -v lua5.4 >/dev/null || fail "lua5.4 not found"
      cp "$src/examples/lua/sum_sort.lua" .
      clean_env lua5.4 -e 'local m = require "micropool"; local p = package.searchpath("micropool", package.path); print("micropool.lua from " .. p)' |
        grep -q "from /usr/share/lua/5.4/micropool.lua" || fail "lua5.4 does not load /usr/share/lua/5.4/micropool.lua"
      clean_env lua5.4 sum_sort.lua || fail "the Lua example failed" ;;
    ruby)
      say "Ruby example (examples/ruby/demo.rb) with the installed ruby-micropool"
      command -v ruby >/dev/null || fail "ruby not found"
      cp "$src/examples/ruby/demo.rb" .
      where=$(clean_env ruby -e 'require "micropool"; puts $LOADED_FEATURES.grep(/micropool\.rb$/).first') || fail "ruby cannot require micropool"
      [ "$where" = /usr/lib/ruby/vendor_ruby/micropool.rb ] || fail "ruby loads micropool from $where"
      clean_env ruby demo.rb --quick || fail "the Ruby example failed" ;;
    go)
      say "Go: a new module that requires $go_module from $go_src (bindings/go/README.md's steps)"
      if [ -z "$go_tool" ]; then
        go_tool=$(command -v go || true)
        for v in 1.26 1.25 1.24 1.23 1.22 1.21; do
          [ -n "$go_tool" ] && break
          [ -x /usr/lib/go-$v/bin/go ] && go_tool=/usr/lib/go-$v/bin/go
        done
      fi
      [ -n "$go_tool" ] && [ -x "$go_tool" ] || fail "no go tool found for the Go example (golang-1.23-go)"
      # The go tool's own state in the test's directory; no proxy, no
      # toolchain download: nothing may come from the network.
      go_env() {
        clean_env -u GOFLAGS -u GO111MODULE -u GOPATH PATH="$(dirname "$go_tool"):$PATH" \
          GOCACHE="$tmp/gocache" GOMODCACHE="$tmp/gomodcache" XDG_CONFIG_HOME="$tmp/config" \
          GOENV=off GOWORK=off GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=1 "$@"
      }
      mkdir hello && cd hello || fail "cannot make $tmp/hello"
      go_env go mod init example.com/hello > "$tmp/go.log" 2>&1 &&
        go_env go mod edit -require="$go_module@v$upstream" -replace="$go_module=$go_src" >> "$tmp/go.log" 2>&1 ||
        { cat "$tmp/go.log"; fail "go mod init / go mod edit failed"; }
      cp "$src/examples/go/"*.go .
      go_env go build >> "$tmp/go.log" 2>&1 || { cat "$tmp/go.log"; fail "go build of a module requiring $go_module from golang-micropool-dev failed"; }
      sed 's/^/  /' go.mod
      ldd ./hello | grep -Eq "libmicropool\.so\.1 => $libdir_re/libmicropool\.so\.1 " || fail "the Go program does not load $libdir/libmicropool.so.1"
      clean_env ./hello -quick || fail "the Go program (examples/go) failed"
      cd "$tmp" || exit 1
      say "Go: GOPATH mode over /usr/share/gocode (GO111MODULE=off, as dh-golang builds)"
      mkdir gopath-mode && cp "$src/bindings/go/testdata/outside/main.go" gopath-mode/ || fail "cannot make $tmp/gopath-mode"
      (cd gopath-mode && go_env GO111MODULE=off GOPATH=/usr/share/gocode go build -o "$tmp/poolapp" .) > "$tmp/go-gopath.log" 2>&1 ||
        { cat "$tmp/go-gopath.log"; fail "go build in GOPATH mode with GOPATH=/usr/share/gocode failed"; }
      out=$(clean_env "$tmp/poolapp") || fail "the GOPATH-mode program failed"
      echo "  $out"
      echo "$out" | grep -q "^micropool $upstream: sum of squares 30\$" || fail "the GOPATH-mode program printed '$out'" ;;
  esac
done
cd / || exit 1

# ------------------------------------------------------------ 5. purge
say "apt-get purge $installed"
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=600 $installed > "$state/apt-purge.log" 2>&1 ||
  { cat "$state/apt-purge.log"; fail "apt-get purge failed"; }
installed=""
left=""
while read -r f; do
  if [ -e "$f" ] || [ -L "$f" ]; then left="$left $f"; fi
done < "$state/all-files"
# Directories of the packages that did not exist before the install.
[ -z "$left" ] && left=$(cat "$state"/dirs-* | sort -u | while read -r d; do
  if [ -d "$d" ] && ! grep -qx "$d" "$state/dirs-existing"; then printf ' %s' "$d"; fi
done)
[ -z "$left" ] || fail "left on disk after the purge:$left"
ldconfig -p | grep -q 'libmicropool' && fail "ldconfig still lists libmicropool after the purge"
dpkg_state > "$state/dpkg-after"
if ! cmp -s "$state/dpkg-before" "$state/dpkg-after"; then
  diff "$state/dpkg-before" "$state/dpkg-after" | sed 's/^/  /'
  fail "dpkg's package list differs from the one before the test"
fi
echo "nothing left: no file or link of the packages, no directory they made, no ldconfig entry; dpkg's list as before"
echo "checked: libmicropool1 libmicropool-dev$(for l in $checked_bindings; do printf ' %s' "$l"; done | sed 's/lua/lua-micropool/; s/ruby/ruby-micropool/; s/go/golang-micropool-dev/')"
