/*
 * Every rename followed by an fsync of the directory it lands in.
 *
 * C-Raft 0.15 closes a log segment by truncating "open-N" after its last batch, syncing the file, and
 * renaming it to "FIRST-LAST", but it never syncs the directory, so the new name is not durable: after a
 * power loss the segment is back under its open name (found by the chaos bed's power-loss faults, which undo
 * directory changes not synced). The node's own loader accepts that state (SegmentFileCheck), and this makes
 * it rare: the rename is synced as soon as it is done.
 *
 * This file defines rename, which the dynamic linker binds libraft's and libuv's calls to ahead of libc's
 * (an executable's definition comes first), as CSegmentPrefill does with posix_fallocate. The rename's own
 * result is returned; a failed directory sync is not an error of the rename (the rename did happen), and is
 * counted in neither direction.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rename_sync.h"

typedef int (*rename_fn)(const char *, const char *);

static _Atomic(rename_fn) real_rename;
static atomic_ulong synced;

static rename_fn libc_rename(void)
{
    rename_fn f = atomic_load(&real_rename);
    if (f == NULL) {
        f = (rename_fn)dlsym(RTLD_NEXT, "rename");
        atomic_store(&real_rename, f);
    }
    return f;
}

/* fsync of the directory that holds `path`. */
static int sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) {
            return -1;
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int rv = fsync(fd);
    close(fd);
    return rv;
}

int rename(const char *oldpath, const char *newpath)
{
    int rv = libc_rename()(oldpath, newpath);
    if (rv != 0) {
        return rv;
    }
    int saved = errno;
    if (sync_parent(newpath) == 0) {
        atomic_fetch_add(&synced, 1);
    }
    errno = saved;
    return rv;
}

unsigned long dqlite_renames_synced(void)
{
    return atomic_load(&synced);
}
