/*
 * io_destroy off the caller's thread.
 *
 * C-Raft 0.15's libuv backend closes a Raft log segment (when it is full, and at every snapshot) on the
 * loop thread, and the close ends with io_destroy(2) of the segment's kernel AIO context. Linux answers
 * io_destroy only after an RCU grace period: 30-40 ms here, during which the node's whole loop (Raft,
 * SQLite, every client) stood still. That stall was the node's tail latency.
 *
 * Nothing uses a context after C-Raft destroys it (its writer has no request in flight by then), so this
 * file defines syscall(), which the dynamic linker binds libraft's (and libuv's) calls to ahead of libc's
 * (an executable's definition comes first), passes every call on to libc unchanged, and only for
 * io_destroy returns 0 at once and lets a short-lived thread make the real call. If the thread cannot be
 * started the call is made in place, as before.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "aio_destroy.h"

typedef long (*syscall_fn)(long, ...);

static _Atomic(syscall_fn) real_syscall;
static atomic_ulong deferred;

static syscall_fn libc_syscall(void)
{
    syscall_fn f = atomic_load(&real_syscall);
    if (f == NULL) {
        f = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
        atomic_store(&real_syscall, f);
    }
    return f;
}

static void *destroy_later(void *ctx)
{
    libc_syscall()(SYS_io_destroy, (long)(uintptr_t)ctx);
    return NULL;
}

long syscall(long number, ...)
{
    /* The kernel ABI passes six arguments in registers, whatever the call uses, as glibc's syscall does. */
    va_list ap;
    va_start(ap, number);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);

    if (number == SYS_io_destroy) {
        pthread_attr_t attr;
        pthread_t thread;
        if (pthread_attr_init(&attr) == 0) {
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&attr, 64 * 1024);
            int rc = pthread_create(&thread, &attr, destroy_later, (void *)(uintptr_t)a1);
            pthread_attr_destroy(&attr);
            if (rc == 0) {
                atomic_fetch_add(&deferred, 1);
                return 0;
            }
        }
    }
    return libc_syscall()(number, a1, a2, a3, a4, a5, a6);
}

unsigned long dqlite_aio_destroys_deferred(void)
{
    return atomic_load(&deferred);
}
