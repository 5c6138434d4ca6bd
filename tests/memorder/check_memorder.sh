#!/bin/sh
# Checks the table "Memory orders at a glance" of docs/design.md against
# the atomic operations of core/src (memorder.awk says how).
#
#   check_memorder.sh check [SRCDIR DESIGN]  the code and the table agree
#   check_memorder.sh list  [SRCDIR]         print every atomic operation:
#                                            field, read/write, operation,
#                                            order, where
#   check_memorder.sh bites [SRCDIR DESIGN]  on copies with one order (or
#                                            one row) changed, the check
#                                            must fail and name the field
#                                            and the order
#
# SRCDIR defaults to core/src and DESIGN to docs/design.md of the tree this
# script is in. Needs only sh and a POSIX awk (mawk will do).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=${1:-check}
src=${2:-$root/core/src}
doc=${3:-$root/docs/design.md}
awk_prog=$here/memorder.awk

# run MODE SRCDIR DESIGN: the headers first (their structs are the shared
# ones), then the .c files.
run() {
    awk -v mode="$1" -f "$awk_prog" "$3" "$2"/*.h "$2"/*.c
}

case $mode in
check)
    run check "$src" "$doc"
    ;;
list)
    run list "$src" "$doc"
    ;;
bites)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    fails=0

    # bite NAME EXPECT1 EXPECT2: the check of $work/src and $work/design.md
    # must fail, and its output must contain both strings.
    bite() {
        if run check "$work/src" "$work/design.md" >"$work/out" 2>&1; then
            echo "check_memorder: FAIL: $1: the check passed: it does not bite"
            fails=$((fails + 1))
        elif grep -F -- "$2" "$work/out" | grep -F -q -- "$3"; then
            echo "$1: rejected, as it must be:"
            grep -F -- "$2" "$work/out" | grep -F -- "$3" | head -n 1 | sed 's/^/    /'
        else
            echo "check_memorder: FAIL: $1: rejected, but no message names $2 and $3:"
            sed 's/^/    /' "$work/out"
            fails=$((fails + 1))
        fi
    }
    # fresh: copies of the sources and the design document.
    fresh() {
        rm -rf "$work/src"
        mkdir "$work/src"
        cp "$src"/*.c "$src"/*.h "$work/src/"
        cp "$doc" "$work/design.md"
    }
    # mutate FILE SED-SCRIPT: applies it, and stops if it changed nothing
    # (the code or the table moved: this script must follow).
    mutate() {
        cp "$1" "$work/orig"
        sed "$2" "$work/orig" >"$1"
        if cmp -s "$1" "$work/orig"; then
            echo "check_memorder: FAIL: the mutation '$2' does not apply to $(basename "$1")"
            exit 1
        fi
    }

    # The unchanged copies pass, or the bites below prove nothing.
    fresh
    run check "$work/src" "$work/design.md" >"$work/out" 2>&1 ||
        { cat "$work/out"; echo "check_memorder: FAIL: the unchanged tree does not pass"; exit 1; }

    # 1. Code: the reset of an emptied deque stores `ts` relaxed.
    fresh
    mutate "$work/src/deque.c" 's/TS(b, b), memory_order_release)/TS(b, b), memory_order_relaxed)/'
    bite "deque.c: ts reset store release -> relaxed" '`deque.ts`' 'relaxed'

    # 2. Code: a submit reads taskq.shutdown acquire, which breaks the SB pair
    #    of the drain.
    fresh
    mutate "$work/src/task.c" 's/\(load_explicit(&pool->tq.shutdown, memory_order\)_seq_cst/\1_acquire/'
    bite "task.c: tq.shutdown load seq_cst -> acquire" '`taskq.shutdown`' 'acquire'

    # 3. Table: the writer order of `flat.seq` says release.
    fresh
    mutate "$work/design.md" '/^| `flat\.seq` |/s/^\(|[^|]*|[^|]*| \)seq_cst /\1release /'
    bite "design.md: flat.seq writer order seq_cst -> release" '`flat.seq`' 'seq_cst'

    # 4. Table: the row of `idle.spinning` is gone.
    fresh
    mutate "$work/design.md" '/^| `idle\.spinning` |/d'
    bite "design.md: no row for idle.spinning" '`idle.spinning`' 'no row'

    # 5. Table: an order the code does not use (acquire reads of
    #    `tasks.settled`).
    fresh
    mutate "$work/design.md" '/^| `tasks\.settled` |/s/^\(|[^|]*|[^|]*|[^|]*|[^|]*| \)seq_cst /\1acquire, seq_cst /'
    bite "design.md: acquire reads of tasks.settled, which the code has not" '`tasks.settled`' 'acquire'

    [ "$fails" = 0 ] || { echo "check_memorder: FAIL: $fails mutation(s) passed the check"; exit 1; }
    echo "check_memorder: every mutation is rejected"
    ;;
*)
    echo "usage: check_memorder.sh check|list|bites [SRCDIR [DESIGN]]" >&2
    exit 2
    ;;
esac
