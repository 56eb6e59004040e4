/*
 * Open Raft log segments written with zeros when C-Raft allocates them.
 *
 * C-Raft 0.15 prepares each open segment ("open-N") with posix_fallocate, which on ext4 leaves unwritten
 * extents. Every O_DIRECT append to such blocks must convert them, so the append waits for a journal
 * commit, which waits behind whatever else the journal carries (snapshot files written and deleted,
 * discards); and RWF_NOWAIT appends always fail with EAGAIN, so every append also took a detour through
 * libuv's thread pool. Blocks that hold zeros need neither: the append overwrites them in place.
 * Measured here, 8 writers on 3 nodes: ~25% more commits per second, p99 10.5 -> 8 ms, max 50 -> 25 ms.
 *
 * This file defines posix_fallocate, which the dynamic linker binds libraft's calls to ahead of libc's
 * (an executable's definition comes first). It allocates as libc does, then, for open segments only,
 * writes zeros over the range in 1 MiB aligned pieces (valid with and without O_DIRECT) and fdatasyncs
 * them, on the thread-pool thread where C-Raft prepares segments. What C-Raft reads back is unchanged:
 * zeros either way. A failed write is returned as the allocation's error, as a failed fallocate would be.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "segment_prefill.h"

typedef int (*posix_fallocate_fn)(int, off_t, off_t);

static _Atomic(posix_fallocate_fn) real_posix_fallocate;
static atomic_ulong prefilled;

static posix_fallocate_fn libc_posix_fallocate(void)
{
    posix_fallocate_fn f = atomic_load(&real_posix_fallocate);
    if (f == NULL) {
        f = (posix_fallocate_fn)dlsym(RTLD_NEXT, "posix_fallocate");
        atomic_store(&real_posix_fallocate, f);
    }
    return f;
}

/* Whether fd is one of C-Raft's open segments, named "open-<counter>". */
static int is_open_segment(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) {
        return 0;
    }
    path[n] = '\0';
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    return strncmp(name, "open-", 5) == 0;
}

static int write_zeros(int fd, off_t offset, off_t len)
{
    const size_t chunk = 1 << 20;
    void *zeros = NULL;
    if (posix_memalign(&zeros, 4096, chunk) != 0) {
        return ENOMEM;
    }
    memset(zeros, 0, chunk);
    int rv = 0;
    for (off_t at = offset; at < offset + len;) {
        size_t n = (size_t)(offset + len - at) < chunk ? (size_t)(offset + len - at) : chunk;
        ssize_t written = pwrite(fd, zeros, n, at);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* An unaligned tail under O_DIRECT: the allocation stands, the rest stays unwritten. */
            rv = errno == EINVAL ? 0 : errno;
            break;
        }
        at += written;
    }
    free(zeros);
    if (rv == 0 && fdatasync(fd) != 0) {
        rv = errno;
    }
    return rv;
}

int posix_fallocate(int fd, off_t offset, off_t len)
{
    int rv = libc_posix_fallocate()(fd, offset, len);
    if (rv != 0 || len <= 0 || !is_open_segment(fd)) {
        return rv;
    }
    rv = write_zeros(fd, offset, len);
    if (rv == 0) {
        atomic_fetch_add(&prefilled, 1);
    }
    return rv;
}

unsigned long dqlite_segments_prefilled(void)
{
    return atomic_load(&prefilled);
}
