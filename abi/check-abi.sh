#!/bin/sh
# check-abi.sh BASELINE LIBRARY HEADERS_DIR
#
# Compares LIBRARY against the ABI baseline (an abidw dump, see dump-abi.sh)
# with abidiff, counting only the types of the public headers in
# HEADERS_DIR. Any difference fails, with two exceptions: symbols added in
# a version node that the baseline does not have (a new MICROPOOL_x.y node),
# and fields added at the end of a struct that carries its own size
# (sized-structs.abignore). A symbol added to a node that has shipped fails
# like any other change.
#
# Exit status: 0 compatible, 1 ABI difference, 2 the check could not run,
# 77 LIBRARY has no debug information (a build type without -g).
set -u

baseline=${1:?usage: check-abi.sh BASELINE LIBRARY HEADERS_DIR}
lib=${2:?usage: check-abi.sh BASELINE LIBRARY HEADERS_DIR}
headers=${3:?usage: check-abi.sh BASELINE LIBRARY HEADERS_DIR}

for tool in abidiff readelf; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "ERROR: $tool not found (Debian packages abigail-tools, binutils)"; exit 2
  fi
done
for f in "$baseline" "$lib"; do
  [ -f "$f" ] || { echo "ERROR: $f does not exist"; exit 2; }
done
if ! readelf -S -W "$lib" | grep -q '\.debug_info'; then
  echo "ERROR: $lib has no debug information; the comparison needs a build with -g"
  echo "       (CMAKE_BUILD_TYPE RelWithDebInfo, the default, or Debug): not compared"
  exit 77
fi

# Fields added at the end of the sized structs are compatible.
suppr="$(dirname -- "$0")/sized-structs.abignore"
[ -f "$suppr" ] || { echo "ERROR: $suppr does not exist"; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/mp-abi.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

abidiff --exported-interfaces-only --suppressions "$suppr" --headers-dir2 "$headers" --drop-private-types "$baseline" "$lib" > "$work/full" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
  echo "OK: $(basename "$lib") has the ABI of $(basename "$baseline")"
  exit 0
fi
# Bits 1 (error) and 2 (usage error) mean abidiff itself failed; a crash
# gives a status above 15.
if [ $rc -gt 15 ] || [ $((rc & 3)) -ne 0 ]; then
  echo "ERROR: abidiff failed (exit status $rc):"; cat "$work/full"; exit 2
fi

# Something differs. Is it only additions?
abidiff --exported-interfaces-only --suppressions "$suppr" --headers-dir2 "$headers" --drop-private-types --no-added-syms "$baseline" "$lib" > "$work/noadd" 2>&1
rc2=$?
if [ $rc2 -ne 0 ]; then
  echo "FAIL: the ABI of $(basename "$lib") differs from $(basename "$baseline") (abidiff exit status $rc):"
  cat "$work/full"
  exit 1
fi

# Only additions: each added symbol must sit in a node the baseline lacks.
sed -n "s/.*<elf-symbol name='\([^']*\)' version='\([^']*\)'.*/\1@\2/p" "$baseline" | sort -u > "$work/old-syms"
sed 's/.*@//' "$work/old-syms" | sort -u > "$work/old-nodes"
readelf --dyn-syms -W "$lib" | awk '
  $1 ~ /^[0-9]+:$/ && $7 != "UND" && $7 != "ABS" && ($5 == "GLOBAL" || $5 == "WEAK") {
    name = $8; sub(/@@/, "@", name); print name
  }' | sort -u > "$work/new-syms"
comm -13 "$work/old-syms" "$work/new-syms" > "$work/added"
if [ ! -s "$work/added" ]; then
  echo "FAIL: abidiff reports additions (exit status $rc) that the symbol tables do not show:"
  cat "$work/full"
  exit 1
fi
status=0
while IFS=@ read -r name node; do
  if [ -z "$node" ] || [ "$node" = "$name" ]; then
    echo "FAIL: $name was added without a symbol version"; status=1
  elif grep -qx "$node" "$work/old-nodes"; then
    echo "FAIL: $name was added to $node, a version node that has shipped; add it in a new node"; status=1
  else
    echo "added: $name in the new node $node"
  fi
done < "$work/added"
if [ $status -ne 0 ]; then
  cat "$work/full"; exit 1
fi
echo "OK: $(basename "$lib") keeps the ABI of $(basename "$baseline") and adds $(wc -l < "$work/added") symbol(s) in new version node(s)"
exit 0
