# memorder.awk: the engine's atomics against docs/design.md's table
# "Memory orders at a glance". Run by check_memorder.sh (see there):
#
#   awk -f memorder.awk -v mode=check|list  design.md  core/src/*.c *.h
#
# From the C sources it takes every atomic operation (atomic_*_explicit,
# their seq_cst forms without _explicit, atomic_init, the fences) and finds
# the struct field it acts on, following a pointer to an atomic passed down
# to a helper (mp__count, mp__wait_zero, ...) to the call sites, and
# a memory order passed as a parameter (mp__flat_open) to the orders the
# callers pass. Each operation is a write (store, exchange, read-modify-
# write, a CAS's success), a read (load, a CAS's failure) or a fence.
#
# From the table it takes each row's words (backticked `struct.field`,
# the struct's name without mp_: `deque.ts`, `task_seg.tail`, `fence` for
# the fences), the orders of the writer column and of the reader column.
#
# check fails (exit 1), naming the field and the order, when
#   - the code writes (reads) a field with an order that no row of that
#     field lists in its writer (reader) order column;
#   - a field declared _Atomic in a struct has no row;
#   - a row lists, for an atomic field, an order that no write (read) of
#     the field in the code uses (the table must be true, not only
#     complete);
#   - a row names a word that is not an atomic field and gives it orders;
#   - an operation cannot be traced to a field (the script must learn it).
# list prints what the code does: field, class, operation, order, where.
#
# Plain C reads and writes of an _Atomic object (x = 1, x++) are seq_cst
# operations that this script does not see; the engine uses none.

function fail(msg) { nfail++; print "check_memorder: " msg }

function is_ident(s) { return s ~ /^[A-Za-z_][A-Za-z0-9_]*$/ }

# ---------------------------------------------------------------- lexing

function add_tok(t, f, l) { ntok++; tok[ntok] = t; tfile[ntok] = f; tline[ntok] = l }

function lex(line, f, l,    c, j, d, n) {
    if (!in_comment && line ~ /^[ \t]*#/) {
        pp_cont = (line ~ /\\$/)
        return
    }
    if (pp_cont) { pp_cont = (line ~ /\\$/); return }
    while (length(line) > 0) {
        if (in_comment) {
            j = index(line, "*/")
            if (!j) return
            line = substr(line, j + 2); in_comment = 0; continue
        }
        c = substr(line, 1, 1)
        if (c ~ /[ \t\r\f]/) { match(line, /^[ \t\r\f]+/); line = substr(line, RLENGTH + 1); continue }
        if (substr(line, 1, 2) == "/*") { in_comment = 1; line = substr(line, 3); continue }
        if (substr(line, 1, 2) == "//") return
        if (c == "\"" || c == "'") {
            n = length(line)
            for (j = 2; j <= n; j++) {
                d = substr(line, j, 1)
                if (d == "\\") j++
                else if (d == c) break
            }
            add_tok("\"\"", f, l); line = substr(line, j + 1); continue
        }
        if (match(line, /^[A-Za-z_][A-Za-z0-9_]*/) || match(line, /^[0-9][A-Za-z0-9_.]*/)) {
            add_tok(substr(line, 1, RLENGTH), f, l); line = substr(line, RLENGTH + 1); continue
        }
        if (substr(line, 1, 2) == "->") { add_tok("->", f, l); line = substr(line, 3); continue }
        add_tok(c, f, l); line = substr(line, 2)
    }
}

# The index of the bracket closing the one at i (same kind), or 0.
function closing(i, hi,    o, c, d) {
    o = tok[i]; c = (o == "(") ? ")" : (o == "[") ? "]" : "}"
    d = 0
    for (; i <= hi; i++) {
        if (tok[i] == o) d++
        else if (tok[i] == c && --d == 0) return i
    }
    return 0
}

# The index of the bracket opening the one at i, or 0.
function opening(i, lo,    o, c, d) {
    c = tok[i]; o = (c == ")") ? "(" : (c == "]") ? "[" : "{"
    d = 0
    for (; i >= lo; i--) {
        if (tok[i] == c) d++
        else if (tok[i] == o && --d == 0) return i
    }
    return 0
}

# Splits tokens lo..hi at commas outside brackets: piece k is
# pa[k] .. pb[k] (pa > pb when empty). Returns the number of pieces.
function split_commas(lo, hi, pa, pb,    n, i, d) {
    split("", pa); split("", pb)
    if (lo > hi) return 0
    n = 1; pa[1] = lo; d = 0
    for (i = lo; i <= hi; i++) {
        if (tok[i] == "(" || tok[i] == "[" || tok[i] == "{") d++
        else if (tok[i] == ")" || tok[i] == "]" || tok[i] == "}") d--
        else if (tok[i] == "," && d == 0) { pb[n] = i - 1; n++; pa[n] = i + 1 }
    }
    pb[n] = hi
    return n
}

function text(lo, hi,    s, i) {
    s = ""
    for (i = lo; i <= hi; i++) s = s tok[i]
    return s
}

# ------------------------------------------------------- declarations

function short(s) { sub(/^mp_/, "", s); return s }

# The declarator name of tokens lo..hi: the identifier after "(*" for a
# function pointer, else the last identifier outside brackets.
function decl_name(lo, hi,    i, name) {
    for (i = lo; i < hi; i++)
        if (tok[i] == "(" && tok[i + 1] == "*" && is_ident(tok[i + 2])) return tok[i + 2]
    name = ""
    for (i = lo; i <= hi; i++) {
        if (tok[i] == "[" || tok[i] == "(") { i = closing(i, hi); if (!i) break; continue }
        if (is_ident(tok[i]) && tok[i] != "const" && tok[i] != "volatile") name = tok[i]
    }
    return name
}

# The struct a type names (the first identifier other than struct, const,
# unsigned...), without checking it is one.
function base_type(lo, hi,    i) {
    for (i = lo; i <= hi; i++)
        if (is_ident(tok[i]) && tok[i] !~ /^(struct|union|const|volatile|unsigned|signed|_Atomic)$/)
            return tok[i]
    return ""
}

# One member declaration of struct S: tokens lo..hi (no ';').
function member(S, lo, hi,    i, j, k, a, z, n, pa, pb, atomic, paren, ty, nm, star, p) {
    # drop alignas(...)
    for (i = lo; i <= hi; i++)
        if (tok[i] == "alignas" && tok[i + 1] == "(") { j = closing(i + 1, hi); lo = j + 1; i = j }
    atomic = 0; paren = 0
    for (i = lo; i <= hi; i++) if (tok[i] == "_Atomic") { atomic = i; break }
    if (atomic && tok[atomic + 1] == "(") {
        j = closing(atomic + 1, hi)
        ty = base_type(atomic + 2, j - 1)
        n = split_commas(j + 1, hi, pa, pb)
        for (k = 1; k <= n; k++) {
            nm = decl_name(pa[k], pb[k])
            add_field(S, nm, "atomic", ty, tline[pa[k]])
        }
        return
    }
    n = split_commas(lo, hi, pa, pb)
    ty = base_type(lo, pb[1])
    for (k = 1; k <= n; k++) {
        nm = decl_name(pa[k], pb[k])
        if (nm == "") continue
        star = 0
        for (p = pa[k]; p <= pb[k]; p++) if (tok[p] == "*") star = 1
        if (atomic) add_field(S, nm, star ? "ptr" : "atomic", ty, tline[pa[k]])
        else add_field(S, nm, "plain", ty, tline[pa[k]])
    }
}

function add_field(S, nm, kind, ty, l,    key) {
    key = S "." nm
    fkind[key] = kind; ftype[key] = ty; fwhere[key] = short_file(FILENAME_OF[S]) ":" l
    fstructs[nm] = fstructs[nm] " " S
    if (kind == "ptr") { nptrf[S]++; ptrf_index[key] = nmem[S] }
    nmem[S]++; mem_at[S, nmem[S]] = nm
}

# Struct body tokens lo..hi of struct S.
function struct_body(S, lo, hi,    i, start, c) {
    start = lo
    for (i = lo; i <= hi; i++) {
        if (tok[i] == "{") { c = closing(i, hi); i = c; continue }
        if (tok[i] == ";") { if (i > start) member(S, start, i - 1); start = i + 1 }
    }
}

# ------------------------------------------------------------ functions

# Function definition: name at n, parameters (..) from po to pc, body
# { } from bo to bc.
function add_func(n, po, pc, bo, bc,    k, np, pa, pb, F) {
    F = tok[n]
    nfunc++; fn_name[nfunc] = F; fn_lo[nfunc] = po; fn_hi[nfunc] = bc
    fn_file[nfunc] = tfile[n]; fn_byname[F] = nfunc
    np = split_commas(po + 1, pc - 1, pa, pb)
    fn_np[nfunc] = 0
    for (k = 1; k <= np; k++) {
        if (pa[k] == pb[k] && tok[pa[k]] == "void") continue
        fn_np[nfunc]++
        fn_param[nfunc, k] = decl_name(pa[k], pb[k])
    }
    scan_body(nfunc, bo + 1, bc - 1)
}

function param_pos(f, name,    k) {
    for (k = 1; k <= fn_np[f]; k++) if (fn_param[f, k] == name) return k
    return 0
}

# Records atomic operations, calls and struct initializers of function f.
function scan_body(f, lo, hi,    i, t, c, n, pa, pb, k) {
    for (i = lo; i <= hi; i++) {
        t = tok[i]
        if (!is_ident(t) || tok[i + 1] != "(") {
            # struct mp_waiter w = {a, b, ...};
            if (t == "struct" && is_ident(tok[i + 1]) && is_ident(tok[i + 2]) &&
                tok[i + 3] == "=" && tok[i + 4] == "{") {
                c = closing(i + 4, hi)
                n = split_commas(i + 5, c - 1, pa, pb)
                ninit++; init_struct[ninit] = tok[i + 1]; init_func[ninit] = f
                for (k = 1; k <= n; k++) { init_a[ninit, k] = pa[k]; init_b[ninit, k] = pb[k] }
                init_n[ninit] = n
            }
            continue
        }
        if (i > lo && (tok[i - 1] == "." || tok[i - 1] == "->")) continue
        c = closing(i + 1, hi)
        if (!c) continue
        n = split_commas(i + 2, c - 1, pa, pb)
        ncall++; call_name[ncall] = t; call_func[ncall] = f; call_at[ncall] = i
        call_n[ncall] = n
        for (k = 1; k <= n; k++) { call_a[ncall, k] = pa[k]; call_b[ncall, k] = pb[k] }
        if (t ~ /^atomic_/) atomic_op(ncall)
    }
}

# ----------------------------------------------------- atomic operations

# A pending operation: object expression obj_a..obj_b, order expression
# ord_a..ord_b (or a resolved order), read in function f, found at loc.
function atomic_op(cl,    t, f, loc, kind) {
    t = call_name[cl]; f = call_func[cl]
    loc = short_file(tfile[call_at[cl]]) ":" tline[call_at[cl]]
    if (t == "atomic_init") { pend(cl, 1, 0, "init", "w", f, loc, ""); return }
    if (t ~ /^atomic_(thread|signal)_fence$/) { pend(cl, 0, 1, "fence", "f", f, loc, ""); return }
    if (t == "atomic_load_explicit") { pend(cl, 1, 2, "load", "r", f, loc, ""); return }
    if (t == "atomic_load") { pend(cl, 1, -1, "load", "r", f, loc, ""); return }
    if (t == "atomic_flag_test_and_set_explicit") { pend(cl, 1, 2, "test_and_set", "w", f, loc, ""); return }
    if (t == "atomic_flag_clear_explicit") { pend(cl, 1, 2, "clear", "w", f, loc, ""); return }
    if (t ~ /^atomic_flag_(test_and_set|clear)$/) { pend(cl, 1, -1, substr(t, 13), "w", f, loc, ""); return }
    if (t ~ /^atomic_compare_exchange_(weak|strong)_explicit$/) {
        kind = (t ~ /weak/) ? "CAS weak" : "CAS"
        pend(cl, 1, 4, kind, "w", f, loc, "")
        pend(cl, 1, 5, kind " failure", "r", f, loc, "")
        return
    }
    if (t ~ /^atomic_compare_exchange_(weak|strong)$/) {
        kind = (t ~ /weak/) ? "CAS weak" : "CAS"
        pend(cl, 1, -1, kind, "w", f, loc, "")
        pend(cl, 1, -1, kind " failure", "r", f, loc, "")
        return
    }
    if (t ~ /^atomic_(store|exchange|fetch_[a-z]+)_explicit$/) {
        kind = substr(t, 8); sub(/_explicit$/, "", kind)
        pend(cl, 1, 3, kind, "w", f, loc, "")
        return
    }
    if (t ~ /^atomic_(store|exchange|fetch_[a-z]+)$/) {
        pend(cl, 1, -1, substr(t, 8), "w", f, loc, "")
        return
    }
    if (t ~ /_explicit$/ || t ~ /^atomic_(load|store|exchange|fetch|compare|flag)/)
        fail(loc ": " t ": an atomic operation this script does not know")
}

# Queues operation: object = argument oa of call cl (0: none), order =
# argument of position oo (-1: seq_cst, the non-explicit form; 0: none).
function pend(cl, oa, oo, kind, cls, f, loc, via) {
    np_++
    p_kind[np_] = kind; p_cls[np_] = cls; p_func[np_] = f; p_loc[np_] = loc; p_via[np_] = via
    p_depth[np_] = 0
    if (oa) { p_oa[np_] = call_a[cl, oa]; p_ob[np_] = call_b[cl, oa] } else { p_oa[np_] = 1; p_ob[np_] = 0 }
    p_key[np_] = oa ? "" : "fence"
    if (oo > 0) { p_ra[np_] = call_a[cl, oo]; p_rb[np_] = call_b[cl, oo]; p_ord[np_] = "" }
    else p_ord[np_] = (oo < 0) ? "seq_cst" : "-"
}

function short_file(f) { sub(/^.*\//, "", f); return f }

# The type of variable v as declared in function f (a parameter or a
# local: TYPE [*|const]... v), or "".
function var_type(f, v,    i, j) {
    for (i = fn_lo[f]; i <= fn_hi[f]; i++) {
        if (tok[i] != v) continue
        j = i - 1
        while (j >= fn_lo[f] && (tok[j] == "*" || tok[j] == "const")) j--
        if (j >= fn_lo[f] && (tok[j] in is_struct)) return tok[j]
    }
    return ""
}

# Resolves the field that object expression lo..hi (read in function f)
# names: returns "S.field", "param:K" (the f's K-th parameter itself),
# "null", or "?reason".
function object_key(f, lo, hi,    i, fld, prev, cands, n, k, S, ty, keep, nk, m, pos) {
    if (lo > hi) return "?empty"
    if (tok[lo] == "&") lo++
    while (tok[lo] == "(" && closing(lo, hi) == hi) { lo++; hi-- }
    if (lo == hi && tok[lo] == "NULL") return "null"
    if (lo == hi && is_ident(tok[lo])) {
        pos = param_pos(f, tok[lo])
        if (pos) return "param:" pos
        return "?the variable `" tok[lo] "` (not a struct field, not a parameter)"
    }
    i = hi
    if (tok[i] == "]") { i = opening(i, lo) - 1 }
    fld = tok[i]
    if (!is_ident(fld) || i - 1 < lo || (tok[i - 1] != "->" && tok[i - 1] != ".")) return "?not a field"
    # Which struct: the ones with a field of this name that is atomic
    # (or a pointer to an atomic), narrowed by the type of what comes
    # before it, then by a struct of the same file.
    n = split(fstructs[fld], cands, " ")
    nk = 0
    for (k = 1; k <= n; k++)
        if (fkind[cands[k] "." fld] != "plain") { nk++; keep[nk] = cands[k] }
    if (nk == 0) return "?`" fld "` is not an atomic field"
    if (nk > 1) {
        prev = i - 2
        if (tok[prev] == "]") prev = opening(prev, lo) - 1
        ty = ""
        if (prev >= lo && is_ident(tok[prev])) {
            if (prev - 1 >= lo && (tok[prev - 1] == "->" || tok[prev - 1] == ".")) {
                ty = ""
                m = split(fstructs[tok[prev]], cands, " ")
                for (k = 1; k <= m; k++)
                    if ((cands[k] "." tok[prev]) in ftype) ty = ty " " ftype[cands[k] "." tok[prev]] " "
            } else ty = " " var_type(f, tok[prev]) " "
        }
        m = 0
        for (k = 1; k <= nk; k++)
            if (index(ty, " " keep[k] " ")) { m++; S = keep[k] }
        if (m != 1) {
            m = 0
            for (k = 1; k <= nk; k++)
                if (FILENAME_OF[keep[k]] == fn_file[f]) { m++; S = keep[k] }
        }
        if (m != 1) return "?cannot tell which struct's `" fld "` (" fstructs[fld] ")"
    } else S = keep[1]
    return S "." fld
}

function order_of(f, lo, hi,    pos) {
    if (lo == hi && tok[lo] ~ /^memory_order_/) return substr(tok[lo], 14)
    if (lo == hi && is_ident(tok[lo])) { pos = param_pos(f, tok[lo]); if (pos) return "param:" pos }
    return "?" text(lo, hi)
}

# Resolves pending operation p: a final record, or new pending records at
# the call sites of its function (or at the initializers of a struct whose
# pointer field it reads through).
function resolve(p,    f, key, ord, objpar, ordpar, c, k, q, ii, S, fld, idx, np) {
    f = p_func[p]
    key = p_key[p]
    if (key == "") key = object_key(f, p_oa[p], p_ob[p])
    ord = p_ord[p]
    if (ord == "") ord = order_of(f, p_ra[p], p_rb[p])
    if (key == "null") return
    if (key ~ /^\?/) { fail(p_loc[p] p_via[p] ": " p_kind[p] " on " text(p_oa[p], p_ob[p]) ": " substr(key, 2)); return }
    if (ord ~ /^\?/) { fail(p_loc[p] p_via[p] ": " p_kind[p] " on " key ": order `" substr(ord, 2) "` is not a memory_order_ constant or a parameter"); return }
    if (p_depth[p] > 16) { fail(p_loc[p] ": cannot follow " key " through the calls"); return }
    if (key !~ /^param:/ && fkind[key] == "ptr") {
        # Through a pointer field: its initializers tell what it points to.
        split(key, S, "."); idx = ptrf_index[key] + 1; np = 0
        for (ii = 1; ii <= ninit; ii++) {
            if (init_struct[ii] != S[1] || idx > init_n[ii]) continue
            np++
            q = clone(p)
            p_func[q] = init_func[ii]; p_key[q] = ""; p_oa[q] = init_a[ii, idx]; p_ob[q] = init_b[ii, idx]
            if (ord ~ /^param:/) { fail(p_loc[p] ": an order parameter through a pointer field"); continue }
            p_ord[q] = ord
            p_via[q] = p_via[p] " via " key
        }
        if (!np) fail(p_loc[p] ": " key " points to an atomic, but no `struct " S[1] " x = {...}` says to which")
        return
    }
    if (key !~ /^param:/ && ord !~ /^param:/) {
        nrec++; r_key[nrec] = short(key); r_cls[nrec] = p_cls[p]; r_kind[nrec] = p_kind[p]
        r_ord[nrec] = ord; r_loc[nrec] = p_loc[p] p_via[p]
        return
    }
    objpar = (key ~ /^param:/) ? substr(key, 7) + 0 : 0
    ordpar = (ord ~ /^param:/) ? substr(ord, 7) + 0 : 0
    np = 0
    for (c = 1; c <= ncall; c++) {
        if (call_name[c] != fn_name[f]) continue
        np++
        q = clone(p)
        p_func[q] = call_func[c]
        p_via[q] = p_via[p] " via " fn_name[f] "() at " short_file(tfile[call_at[c]]) ":" tline[call_at[c]]
        if (objpar) {
            if (objpar > call_n[c]) { fail(p_loc[q] ": too few arguments"); continue }
            p_key[q] = ""; p_oa[q] = call_a[c, objpar]; p_ob[q] = call_b[c, objpar]
        } else p_key[q] = key
        if (ordpar) {
            if (ordpar > call_n[c]) { fail(p_loc[q] ": too few arguments"); continue }
            p_ord[q] = ""; p_ra[q] = call_a[c, ordpar]; p_rb[q] = call_b[c, ordpar]
        } else p_ord[q] = ord
    }
    # A function only ever called through a pointer would end here: say so.
    if (!np) fail(p_loc[p] p_via[p] ": " p_kind[p] " through a parameter of " fn_name[f] "(), which nothing calls by name")
}

function clone(p) {
    np_++
    p_kind[np_] = p_kind[p]; p_cls[np_] = p_cls[p]; p_loc[np_] = p_loc[p]; p_via[np_] = p_via[p]
    p_func[np_] = p_func[p]; p_key[np_] = p_key[p]; p_oa[np_] = p_oa[p]; p_ob[np_] = p_ob[p]
    p_ord[np_] = p_ord[p]; p_ra[np_] = p_ra[p]; p_rb[np_] = p_rb[p]; p_depth[np_] = p_depth[p] + 1
    return np_
}

# ------------------------------------------------------------- the table

function table_row(line,    cells, n, k, w, m, words, key, rest) {
    n = split(line, cells, "|")
    # | word | writer(s) | order | reader(s) | order | why |  -> cells 2..7
    if (n < 8) { fail("design.md:" FNR ": a table row without six cells"); return }
    nrow++
    row_line[nrow] = FNR
    words = cells[2]; rest = words; m = 0
    while (match(rest, /`[^`]*`/)) {
        w = substr(rest, RSTART + 1, RLENGTH - 2); rest = substr(rest, RSTART + RLENGTH)
        gsub(/\[[^]]*\]/, "", w)      # `ctx.jobs[i]` names ctx.jobs
        if (w !~ /^[a-z_]+\.[a-z_]+$/ && w != "fence") continue
        m++; row_word[nrow, m] = w
    }
    row_nw[nrow] = m
    if (!m) fail("design.md:" FNR ": a row without a `struct.field` word: " cells[2])
    for (k = 1; k <= m; k++) {
        key = row_word[nrow, k]
        tab_has[key] = 1; tab_line[key] = tab_line[key] " " FNR
        orders_in(cells[4], key, "w")
        orders_in(cells[6], key, "r")
    }
}

function orders_in(cell, key, cls,    rest, o) {
    rest = cell
    while (match(rest, /(relaxed|consume|acquire|release|acq_rel|seq_cst)/)) {
        o = substr(rest, RSTART, RLENGTH)
        # whole words only
        if ((RSTART == 1 || substr(rest, RSTART - 1, 1) !~ /[A-Za-z0-9_]/) &&
            substr(rest, RSTART + RLENGTH, 1) !~ /[A-Za-z0-9_]/)
            tab_ord[key, cls, o] = 1
        rest = substr(rest, RSTART + RLENGTH)
    }
}

# ------------------------------------------------------------------ main

FNR == 1 {
    in_comment = 0; pp_cont = 0; intable = 0
    isdoc = (FILENAME ~ /\.md$/)
    if (!isdoc) { nsrc++; src[nsrc] = FILENAME; src_first[FILENAME] = ntok + 1 }
}

isdoc {
    if ($0 ~ /^## Memory orders at a glance/) { intable = 1; seen_heading = 1; next }
    if (intable == 1 && $0 ~ /^\|/) { intable = 2; next }          # header
    if (intable == 2 && $0 ~ /^\|[- :|]*$/) { intable = 3; next }  # separator
    if (intable == 3 && $0 ~ /^\|/) { table_row($0); next }
    if (intable == 3) intable = 4
    next
}

{ lex($0, FILENAME, FNR) }

END {
    if (!seen_heading && mode != "list") fail("no \"## Memory orders at a glance\" heading in the design document")
    # Pass 1: structs (their fields) in every file, headers first so that
    # a .c file's own structs are known when its functions are read.
    for (s = 1; s <= nsrc; s++) {
        lo = src_first[src[s]]; hi = (s < nsrc) ? src_first[src[s + 1]] - 1 : ntok
        f_lo[s] = lo; f_hi[s] = hi
        for (i = lo; i <= hi; i++) {
            if (tok[i] == "struct" && is_ident(tok[i + 1]) && tok[i + 2] == "{") {
                c = closing(i + 2, hi)
                is_struct[tok[i + 1]] = 1; FILENAME_OF[tok[i + 1]] = src[s]
                struct_body(tok[i + 1], i + 3, c - 1)
                i = c
            }
        }
    }
    # Pass 2: functions, file by file, at brace depth 0.
    for (s = 1; s <= nsrc; s++) {
        lo = f_lo[s]; hi = f_hi[s]
        for (i = lo; i <= hi; i++) {
            if (tok[i] != "{") continue
            c = closing(i, hi)
            if (!c) { fail(src[s] ": unbalanced braces"); break }
            if (tok[i - 1] == ")") {
                po = opening(i - 1, lo)
                if (po > lo && is_ident(tok[po - 1])) add_func(po - 1, po, i - 1, i, c)
            }
            i = c
        }
    }
    # Resolve every operation (new ones are appended while this runs).
    for (p = 1; p <= np_; p++) resolve(p)

    for (key in fkind) {
        known_field[short(key)] = 1
        if (fkind[key] == "atomic") atomic_field[short(key)] = fwhere[key]
    }
    atomic_field["fence"] = "(any fence)"

    if (mode == "list") {
        for (r = 1; r <= nrec; r++)
            printf "%-22s %-5s %-16s %-8s %s\n", r_key[r], (r_cls[r] == "w") ? "write" : (r_cls[r] == "r") ? "read" : "fence", r_kind[r], r_ord[r], r_loc[r]
        for (key in atomic_field) if (key != "fence") {
            u = 0
            for (r = 1; r <= nrec; r++) if (r_key[r] == key) u = 1
            if (!u) printf "%-22s %-5s %-16s %-8s %s\n", key, "-", "no operation", "-", atomic_field[key]
        }
        exit nfail ? 1 : 0
    }

    # The code against the table.
    for (r = 1; r <= nrec; r++) {
        key = r_key[r]; cls = r_cls[r]; o = r_ord[r]
        if (o == "-") { code_has[key] = 1; continue }     # atomic_init
        code_has[key] = 1
        code_ord[key, cls, o] = 1
        if (!(key in tab_has)) continue                   # reported below, once
        if (cls == "f") ok = ((key, "w", o) in tab_ord) || ((key, "r", o) in tab_ord)
        else ok = ((key, cls, o) in tab_ord)
        if (!ok)
            fail(r_loc[r] ": " r_kind[r] " " o " on `" key "`: the table's " ((cls == "w") ? "writer" : "reader") " order for `" key "` (design.md:" substr(tab_line[key], 2) ") does not list " o)
    }
    for (key in atomic_field) {
        if (key == "fence" && !(key in code_has)) continue
        if (!(key in tab_has))
            fail("`" key "` is atomic in the code (" atomic_field[key] ") but has no row in the table")
    }
    split("relaxed consume acquire release acq_rel seq_cst", ORD, " ")
    for (key in tab_has) {
        if (!(key in known_field) && key != "fence") {
            fail("design.md:" substr(tab_line[key], 2) ": `" key "` names no field of a struct in the code")
            continue
        }
        if (!(key in atomic_field)) {
            for (k = 1; k <= 6; k++)
                if (((key, "w", ORD[k]) in tab_ord) || ((key, "r", ORD[k]) in tab_ord))
                    { fail("design.md:" substr(tab_line[key], 2) ": `" key "` is not an atomic field in the code, but the table gives it an order"); break }
            continue
        }
        for (k = 1; k <= 6; k++) {
            if (key == "fence") continue
            if (((key, "w", ORD[k]) in tab_ord) && !((key, "w", ORD[k]) in code_ord))
                fail("design.md:" substr(tab_line[key], 2) ": the table lists " ORD[k] " writes of `" key "`, the code has none")
            if (((key, "r", ORD[k]) in tab_ord) && !((key, "r", ORD[k]) in code_ord))
                fail("design.md:" substr(tab_line[key], 2) ": the table lists " ORD[k] " reads of `" key "`, the code has none")
        }
    }
    if (nfail) { print "check_memorder: " nfail " mismatch(es) between core/src and the table"; exit 1 }
    n = 0; for (key in atomic_field) n++
    print "check_memorder: " nrec " atomic operations on " n - 1 " atomic fields agree with the table (" nrow " rows)"
}
