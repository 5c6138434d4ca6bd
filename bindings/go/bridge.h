/*
 * The C side of the Go binding. Go code never converts an integer to a C
 * pointer: every callback's `arg` is a runtime/cgo.Handle, passed through
 * the functions below as a uintptr_t and cast to void * here, in C, where
 * the library wants it. The library therefore never holds a Go pointer.
 */
#ifndef MICROPOOL_GO_BRIDGE_H
#define MICROPOOL_GO_BRIDGE_H

#include <stddef.h>
#include <stdint.h>
#include <micropool.h>

/* mp_config_init, then the fields that Go sets: spin_us < 0 keeps the
 * library's default; start and stop hooks are installed when hooks is
 * non-zero. */
void micropool_go_config(mp_config *cfg, unsigned threads, int spin_us,
                         int pin, const char *name, uintptr_t hooks);

/* Since 1.1: mp_pool_create with cfg, the tracing hooks installed when
 * trace is non-zero (their struct is copied by the library). */
int micropool_go_create(mp_config *cfg, uintptr_t trace, mp_pool **out);

/* The stack size of the calling thread in bytes, 0 if unknown (for the
 * tests of Config.StackSize). */
size_t micropool_go_stack_size(void);

int micropool_go_join(mp_pool *pool, uintptr_t h);
int micropool_go_for(mp_pool *pool, size_t n, size_t grain, unsigned flags,
                     uintptr_t h);
int micropool_go_reduce(mp_pool *pool, size_t n, size_t grain, unsigned flags,
                        uint64_t *acc, uintptr_t h);
int micropool_go_broadcast(mp_pool *pool, uintptr_t h);
int micropool_go_scope_run(mp_pool *pool, uintptr_t h);
int micropool_go_scope_spawn(mp_scope *scope, uintptr_t h);
int micropool_go_submit(mp_pool *pool, uintptr_t h, mp_task **task);
/* Since 1.1: mp_submit_ex with the options that Go sets. */
int micropool_go_submit_ex(mp_pool *pool, uintptr_t h, int priority, unsigned thread,
                           mp_task *const *after, size_t nafter, unsigned flags,
                           const char *name, mp_task **task);

/* 1 if fd polls readable now, else 0 (PinnedReady). */
int micropool_go_readable(int fd);

/* mp_strerror copied into buf, so that the thread-local text for unknown
 * codes cannot be overwritten before Go reads it. */
void micropool_go_strerror(int code, char *buf, size_t len);

#endif
