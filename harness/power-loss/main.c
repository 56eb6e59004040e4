// dqlite-power-loss: a FUSE passthrough filesystem that can lose power, as LazyFS does.
//
//   dqlite-power-loss --backing DIR --mount DIR [--report FILE] [--seed N] [--writeback-ms N]
//
// Serves DIR (--backing) at the mount point. Every write goes through to the backing files at once (reads
// need no cache of their own), but before a byte that was synced is overwritten, its page is saved; and each
// directory change (create, unlink, rename, mkdir, rmdir, link) is remembered until its directory is synced.
// What "synced" means: fsync or fdatasync of the file (O_SYNC/O_DSYNC writes, and RWF_DSYNC ones, reach us
// as fsync requests from the kernel: generic_write_sync); fsync of the directory for its entries.
//
// Signals:
//   SIGTERM, SIGINT, or an unmount   a clean stop: everything written is kept (a clean shutdown syncs).
//   SIGUSR1                          power loss: stop serving, unmount, then roll every file back to its
//                                    content at its last sync and undo every directory change not synced,
//                                    newest first; write what was discarded to the report; exit.
//   SIGUSR2                          the same, but the newest unsynced write is torn: a prefix of it, a
//                                    whole number of 512-byte sectors drawn from --seed, survives.
// With --writeback-ms N, changes older than N ms at the power loss are kept, as a kernel's periodic
// writeback would have flushed them (ext4 commits its journal every 5 s; dirty pages expire after 30 s):
// per directory change, and per file from its first change since a sync. Without it, nothing is ever
// flushed but by a sync (LazyFS's model, the strictest).
// The harness kills the program using the mount first (a power loss takes everything down together), then
// signals this one, waits for it to exit and starts a new one on the same directories. sync_file_range is not
// a sync (it never reaches a FUSE filesystem, and it promises no durability). The backing store itself is
// never fsynced: the host keeps its power, only the node's view of the disk is made to lose it.
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <fuse3/fuse_lowlevel.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define SECTOR 512
#define STASH ".power-loss-stash"
// The newest write is kept for tearing up to this many bytes (C-Raft's writes are far smaller).
#define TORN_MAX (1 << 20)

static int root_fd = -1;
static const char *mount_point;
static const char *report_path;
static unsigned long long seed = 1;
static long long writeback_ns;  // 0: no periodic writeback
static volatile sig_atomic_t stop_mode;  // 0 clean, 1 power loss, 2 power loss with a torn write
static struct fuse *fs;

// ---- Pages saved since each file's last sync ----

struct saved_page {
    off_t index;    // page number
    size_t length;  // bytes of it below the synced size
    char *data;
};

// A file written (or truncated) since its last sync, by inode: it survives renames and unlinks.
struct file_state {
    ino_t ino;
    int fd;            // our own read-write descriptor, to save pages and roll back
    off_t synced_size; // the size at the last sync
    long long dirty_since; // monotonic ns of the first change since the sync
    struct saved_page *pages;
    size_t npages, cap;
};

static struct file_state *files;
static size_t nfiles, files_cap;

// The newest unsynced write, for tearing.
static struct {
    int valid;
    ino_t ino;
    off_t offset;
    size_t length;
    char *data;
} newest;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

// Whether a change made at `t` had been written back by the periodic writeback before the power loss.
static int flushed(long long t) { return writeback_ns > 0 && now_ns() - t > writeback_ns; }

static void die(const char *what) {
    fprintf(stderr, "dqlite-power-loss: %s: %s\n", what, strerror(errno));
    exit(1);
}

static const char *rel(const char *path) {
    while (*path == '/') path++;
    return *path ? path : ".";
}

static int hidden(const char *path) {
    const char *r = rel(path);
    return strncmp(r, STASH, strlen(STASH)) == 0 && (r[strlen(STASH)] == 0 || r[strlen(STASH)] == '/');
}

static struct file_state *find_file(ino_t ino) {
    for (size_t i = 0; i < nfiles; i++)
        if (files[i].ino == ino) return &files[i];
    return NULL;
}

// The state of the file open as `fd`, made on its first change since a sync (its size then is the synced one).
static struct file_state *track(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return NULL;
    struct file_state *f = find_file(st.st_ino);
    if (f) return f;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int own = open(proc, O_RDWR | O_CLOEXEC);
    if (own < 0) return NULL;
    if (nfiles == files_cap) {
        files_cap = files_cap ? files_cap * 2 : 16;
        files = realloc(files, files_cap * sizeof *files);
        if (!files) die("realloc");
    }
    f = &files[nfiles++];
    memset(f, 0, sizeof *f);
    f->ino = st.st_ino;
    f->fd = own;
    f->synced_size = st.st_size;
    f->dirty_since = now_ns();
    return f;
}

static int page_saved(struct file_state *f, off_t index) {
    // Pages are saved in ascending order of first touch; C-Raft appends, so the newest are at the end.
    for (size_t i = f->npages; i-- > 0;)
        if (f->pages[i].index == index) return 1;
    return 0;
}

// Saves the synced bytes of the pages in [from, to) not saved yet.
static int save_range(struct file_state *f, off_t from, off_t to) {
    if (to > f->synced_size) to = f->synced_size;
    if (from >= to) return 0;
    for (off_t index = from / PAGE; index * PAGE < to; index++) {
        if (page_saved(f, index)) continue;
        off_t start = index * PAGE;
        size_t length = (size_t)((f->synced_size - start) < PAGE ? f->synced_size - start : PAGE);
        char *data = malloc(length);
        if (!data) return -ENOMEM;
        ssize_t n = pread(f->fd, data, length, start);
        if (n < 0) {
            free(data);
            return -errno;
        }
        if ((size_t)n < length) memset(data + n, 0, length - (size_t)n);
        if (f->npages == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 16;
            f->pages = realloc(f->pages, f->cap * sizeof *f->pages);
            if (!f->pages) die("realloc");
        }
        f->pages[f->npages++] = (struct saved_page){index, length, data};
    }
    return 0;
}

static void forget(struct file_state *f) {
    for (size_t i = 0; i < f->npages; i++) free(f->pages[i].data);
    free(f->pages);
    close(f->fd);
    if (newest.valid && newest.ino == f->ino) newest.valid = 0;
    *f = files[--nfiles];
}

// A sync of the file open as `fd`: what it holds now is what a power loss leaves.
static void synced(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    struct file_state *f = find_file(st.st_ino);
    if (f) forget(f);
}

static void note_newest(ino_t ino, const char *buf, size_t size, off_t offset) {
    size_t keep = size < TORN_MAX ? size : TORN_MAX;
    char *copy = realloc(newest.data, keep ? keep : 1);
    if (!copy) return;
    memcpy(copy, buf, keep);
    newest.data = copy;
    newest.valid = 1;
    newest.ino = ino;
    newest.offset = offset;
    newest.length = keep;
}

// ---- Directory changes not yet synced ----

enum op_kind { OP_CREATE, OP_MKDIR, OP_UNLINK, OP_RMDIR, OP_RENAME };

struct dir_op {
    enum op_kind kind;
    char *path;     // created, removed or renamed-to
    char *from;     // rename: the old name
    char *stash;    // unlink, rename over a file: where the old file waits
    char *parents[2];
    int pending[2]; // parents whose fsync is still owed
    long long at;   // monotonic ns
};

static struct dir_op *ops;
static size_t nops, ops_cap;
static unsigned long long stash_counter;

static char *parent_of(const char *r) {
    const char *slash = strrchr(r, '/');
    return slash ? strndup(r, (size_t)(slash - r)) : strdup(".");
}

static void free_op(struct dir_op *o) {
    free(o->path);
    free(o->from);
    free(o->stash);
    free(o->parents[0]);
    free(o->parents[1]);
}

static void record(enum op_kind kind, const char *path, const char *from, char *stash) {
    if (nops == ops_cap) {
        ops_cap = ops_cap ? ops_cap * 2 : 64;
        ops = realloc(ops, ops_cap * sizeof *ops);
        if (!ops) die("realloc");
    }
    struct dir_op *o = &ops[nops++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->at = now_ns();
    o->path = strdup(path);
    o->from = from ? strdup(from) : NULL;
    o->stash = stash;
    o->parents[0] = parent_of(path);
    o->pending[0] = 1;
    if (from) {
        o->parents[1] = parent_of(from);
        o->pending[1] = strcmp(o->parents[0], o->parents[1]) != 0;
    }
}

// Keeps the file at `r` under the stash (a hard link), so that undoing its removal can bring it back.
static char *stash_file(const char *r) {
    struct stat st;
    if (fstatat(root_fd, r, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode)) return NULL;
    char *name = NULL;
    if (asprintf(&name, STASH "/%llu", ++stash_counter) < 0) return NULL;
    if (linkat(root_fd, r, root_fd, name, 0) != 0) {
        free(name);
        return NULL;
    }
    return name;
}

static void dir_synced(const char *r) {
    size_t kept = 0;
    for (size_t i = 0; i < nops; i++) {
        struct dir_op *o = &ops[i];
        for (int p = 0; p < 2; p++)
            if (o->pending[p] && strcmp(o->parents[p], r) == 0) o->pending[p] = 0;
        if (!o->pending[0] && !o->pending[1]) {
            if (o->stash) unlinkat(root_fd, o->stash, 0);
            free_op(o);
        } else {
            ops[kept++] = *o;
        }
    }
    nops = kept;
}

// ---- The filesystem ----

static void *pl_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
    // No caching of names or attributes: after a power loss the backing files change under the kernel.
    cfg->use_ino = 1;
    cfg->nullpath_ok = 1;
    cfg->hard_remove = 1;
    cfg->entry_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->negative_timeout = 0;
    // Direct I/O completes in the kernel before its O_DSYNC/RWF_DSYNC fsync is sent, not asynchronously
    // after it (asynchronous direct I/O in FUSE skips generic_write_sync).
    conn->want &= ~FUSE_CAP_ASYNC_DIO;
    return NULL;
}

static int pl_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
    if (fi) return fstat((int)fi->fh, st) == 0 ? 0 : -errno;
    if (hidden(path)) return -ENOENT;
    return fstatat(root_fd, rel(path), st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int pl_access(const char *path, int mask) {
    if (hidden(path)) return -ENOENT;
    return faccessat(root_fd, rel(path), mask, 0) == 0 ? 0 : -errno;
}

static int pl_readlink(const char *path, char *buf, size_t size) {
    ssize_t n = readlinkat(root_fd, rel(path), buf, size - 1);
    if (n < 0) return -errno;
    buf[n] = 0;
    return 0;
}

// An open directory: its stream, and its name (with nullpath_ok the kernel's later calls may come without it).
struct open_dir {
    DIR *stream;
    char *rel;
};

static int pl_opendir(const char *path, struct fuse_file_info *fi) {
    if (hidden(path)) return -ENOENT;
    int fd = openat(root_fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct open_dir *d = calloc(1, sizeof *d);
    if (!d || !(d->stream = fdopendir(fd))) {
        int e = d ? errno : ENOMEM;
        free(d);
        close(fd);
        return -e;
    }
    d->rel = strdup(rel(path));
    fi->fh = (uint64_t)(uintptr_t)d;
    return 0;
}

static int pl_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t offset, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
    (void)path;
    (void)offset;
    (void)flags;
    struct open_dir *d = (struct open_dir *)(uintptr_t)fi->fh;
    int at_root = strcmp(d->rel, ".") == 0;
    rewinddir(d->stream);
    struct dirent *e;
    while ((e = readdir(d->stream))) {
        if (at_root && strcmp(e->d_name, STASH) == 0) continue;
        struct stat st = {.st_ino = e->d_ino, .st_mode = (mode_t)DTTOIF(e->d_type)};
        if (fill(buf, e->d_name, &st, 0, 0)) break;
    }
    return 0;
}

static int pl_releasedir(const char *path, struct fuse_file_info *fi) {
    (void)path;
    struct open_dir *d = (struct open_dir *)(uintptr_t)fi->fh;
    closedir(d->stream);
    free(d->rel);
    free(d);
    return 0;
}

static int pl_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) {
    (void)path;
    (void)datasync;
    dir_synced(((struct open_dir *)(uintptr_t)fi->fh)->rel);
    return 0;
}

static int pl_mkdir(const char *path, mode_t mode) {
    if (hidden(path)) return -EPERM;
    if (mkdirat(root_fd, rel(path), mode) != 0) return -errno;
    record(OP_MKDIR, rel(path), NULL, NULL);
    return 0;
}

static int pl_rmdir(const char *path) {
    if (hidden(path)) return -EPERM;
    if (unlinkat(root_fd, rel(path), AT_REMOVEDIR) != 0) return -errno;
    record(OP_RMDIR, rel(path), NULL, NULL);
    return 0;
}

static int pl_unlink(const char *path) {
    if (hidden(path)) return -EPERM;
    const char *r = rel(path);
    char *stash = stash_file(r);
    if (unlinkat(root_fd, r, 0) != 0) {
        int e = errno;
        if (stash) unlinkat(root_fd, stash, 0), free(stash);
        return -e;
    }
    record(OP_UNLINK, r, NULL, stash);
    return 0;
}

static int pl_rename(const char *from, const char *to, unsigned int flags) {
    if (hidden(from) || hidden(to)) return -EPERM;
    if (flags & RENAME_EXCHANGE) return -EINVAL;
    const char *rf = rel(from), *rt = rel(to);
    char *stash = stash_file(rt);
    if (renameat2(root_fd, rf, root_fd, rt, flags) != 0) {
        int e = errno;
        if (stash) unlinkat(root_fd, stash, 0), free(stash);
        return -e;
    }
    record(OP_RENAME, rt, rf, stash);
    return 0;
}

static int pl_link(const char *from, const char *to) {
    if (hidden(from) || hidden(to)) return -EPERM;
    if (linkat(root_fd, rel(from), root_fd, rel(to), 0) != 0) return -errno;
    record(OP_CREATE, rel(to), NULL, NULL);
    return 0;
}

static int pl_symlink(const char *target, const char *path) {
    if (hidden(path)) return -EPERM;
    if (symlinkat(target, root_fd, rel(path)) != 0) return -errno;
    record(OP_CREATE, rel(path), NULL, NULL);
    return 0;
}

static int pl_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
    if (fi) return fchmod((int)fi->fh, mode) == 0 ? 0 : -errno;
    return fchmodat(root_fd, rel(path), mode, 0) == 0 ? 0 : -errno;
}

static int pl_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
    if (fi) return fchown((int)fi->fh, uid, gid) == 0 ? 0 : -errno;
    return fchownat(root_fd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int pl_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
    if (fi) return futimens((int)fi->fh, tv) == 0 ? 0 : -errno;
    return utimensat(root_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

// Truncation of an open descriptor, tracked: the synced bytes it cuts off are saved first.
static int truncate_fd(int fd, off_t size) {
    struct file_state *f = track(fd);
    if (!f) return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) return -errno;
    if (size < st.st_size) {
        int rc = save_range(f, size, st.st_size);
        if (rc) return rc;
    }
    return ftruncate(fd, size) == 0 ? 0 : -errno;
}

static int pl_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
    if (fi) return truncate_fd((int)fi->fh, size);
    if (hidden(path)) return -ENOENT;
    int fd = openat(root_fd, rel(path), O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = truncate_fd(fd, size);
    close(fd);
    return rc;
}

// Opens the backing file. O_DIRECT is dropped (the backing store need not support it; the kernel already
// honoured it for the mount), O_TRUNC is done as a tracked truncation, O_SYNC/O_DSYNC make every write a sync.
static int open_backing(const char *path, int flags, mode_t mode, int create, struct fuse_file_info *fi) {
    if (hidden(path)) return -ENOENT;
    const char *r = rel(path);
    int existed = faccessat(root_fd, r, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
    int oflags = (flags & ~(O_DIRECT | O_TRUNC | O_NOFOLLOW)) | O_CLOEXEC;
    if ((oflags & O_ACCMODE) == O_WRONLY) oflags = (oflags & ~O_ACCMODE) | O_RDWR;
    int fd = create ? openat(root_fd, r, oflags | O_CREAT, mode) : openat(root_fd, r, oflags);
    if (fd < 0) return -errno;
    if (create && !existed) record(OP_CREATE, r, NULL, NULL);
    if ((flags & O_TRUNC) && existed) {
        int rc = truncate_fd(fd, 0);
        if (rc) {
            close(fd);
            return rc;
        }
    }
    fi->fh = (uint64_t)fd;
    return 0;
}

static int pl_open(const char *path, struct fuse_file_info *fi) { return open_backing(path, fi->flags, 0, 0, fi); }

static int pl_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
    return open_backing(path, fi->flags, mode, 1, fi);
}

static int pl_read(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info *fi) {
    (void)path;
    ssize_t n = pread((int)fi->fh, buf, size, offset);
    return n < 0 ? -errno : (int)n;
}

static int pl_write(const char *path, const char *buf, size_t size, off_t offset, struct fuse_file_info *fi) {
    (void)path;
    int fd = (int)fi->fh;
    struct file_state *f = track(fd);
    if (!f) return -errno;
    int rc = save_range(f, offset, offset + (off_t)size);
    if (rc) return rc;
    ssize_t n = pwrite(fd, buf, size, offset);
    if (n < 0) return -errno;
    if (fi->flags & (O_SYNC | O_DSYNC)) {
        synced(fd);
    } else {
        note_newest(f->ino, buf, (size_t)n, offset);
    }
    return (int)n;
}

static int pl_fallocate(const char *path, int mode, off_t offset, off_t length, struct fuse_file_info *fi) {
    (void)path;
    if (!fi) return -EOPNOTSUPP;
    int fd = (int)fi->fh;
    struct file_state *f = track(fd);
    if (!f) return -errno;
    // Allocation alone changes no byte below the synced size; punching or zeroing does.
    if (mode & ~FALLOC_FL_KEEP_SIZE) {
        int rc = save_range(f, offset, offset + length);
        if (rc) return rc;
    }
    return fallocate(fd, mode, offset, length) == 0 ? 0 : -errno;
}

static int pl_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
    (void)path;
    (void)datasync;
    synced((int)fi->fh);
    return 0;
}

static int pl_flush(const char *path, struct fuse_file_info *fi) {
    (void)path;
    (void)fi;
    return 0;
}

static int pl_release(const char *path, struct fuse_file_info *fi) {
    (void)path;
    close((int)fi->fh);
    return 0;
}

static int pl_statfs(const char *path, struct statvfs *st) {
    (void)path;
    return fstatvfs(root_fd, st) == 0 ? 0 : -errno;
}

static const struct fuse_operations operations = {
    .init = pl_init,
    .getattr = pl_getattr,
    .access = pl_access,
    .readlink = pl_readlink,
    .opendir = pl_opendir,
    .readdir = pl_readdir,
    .releasedir = pl_releasedir,
    .fsyncdir = pl_fsyncdir,
    .mkdir = pl_mkdir,
    .rmdir = pl_rmdir,
    .unlink = pl_unlink,
    .rename = pl_rename,
    .link = pl_link,
    .symlink = pl_symlink,
    .chmod = pl_chmod,
    .chown = pl_chown,
    .utimens = pl_utimens,
    .truncate = pl_truncate,
    .open = pl_open,
    .create = pl_create,
    .read = pl_read,
    .write = pl_write,
    .fallocate = pl_fallocate,
    .fsync = pl_fsync,
    .flush = pl_flush,
    .release = pl_release,
    .statfs = pl_statfs,
};

// ---- The power loss ----

static void remove_tree(int dirfd, const char *r) {
    int fd = openat(dirfd, r, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        DIR *d = fdopendir(fd);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            if (unlinkat(fd, e->d_name, 0) != 0) remove_tree(fd, e->d_name);
        }
        if (d) closedir(d);
        else close(fd);
    }
    unlinkat(dirfd, r, AT_REMOVEDIR);
}

static int undo(struct dir_op *o) {
    switch (o->kind) {
    case OP_CREATE:
        return unlinkat(root_fd, o->path, 0);
    case OP_MKDIR:
        remove_tree(root_fd, o->path);
        return 0;
    case OP_UNLINK:
        return o->stash ? renameat(root_fd, o->stash, root_fd, o->path) : -1;
    case OP_RMDIR:
        return mkdirat(root_fd, o->path, 0755);
    case OP_RENAME:
        if (renameat(root_fd, o->path, root_fd, o->from) != 0) return -1;
        return o->stash ? renameat(root_fd, o->stash, root_fd, o->path) : 0;
    }
    return -1;
}

static const char *op_name(enum op_kind k) {
    static const char *names[] = {"create", "mkdir", "unlink", "rmdir", "rename"};
    return names[k];
}

// Rolls everything back to what was synced. Returns nothing: what it did goes to the report and the log.
static void lose_power(int torn) {
    unsigned long long pages = 0, restored_bytes = 0, cut_bytes = 0, torn_bytes = 0;
    size_t changed_files = 0, undone = 0, failed = 0, written_back = 0;
    // A torn write: its file, offset and the prefix that survives, applied after the rollback.
    int tear = torn && newest.valid && newest.length > SECTOR;
    ino_t tear_ino = newest.ino;
    off_t tear_offset = newest.offset;
    size_t tear_keep = 0;
    if (tear) {
        unsigned long long x = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t sectors = (newest.length - 1) / SECTOR;  // 1 .. all but a part of the last
        tear_keep = (size_t)(1 + (x >> 33) % sectors) * SECTOR;
    }
    for (size_t i = 0; i < nfiles; i++) {
        struct file_state *f = &files[i];
        if (flushed(f->dirty_since)) {
            written_back++;
            continue;
        }
        changed_files++;
        struct stat st;
        if (fstat(f->fd, &st) == 0 && st.st_size > f->synced_size) cut_bytes += (unsigned long long)(st.st_size - f->synced_size);
        for (size_t p = 0; p < f->npages; p++) {
            struct saved_page *s = &f->pages[p];
            if (pwrite(f->fd, s->data, s->length, s->index * PAGE) == (ssize_t)s->length) {
                pages++;
                restored_bytes += s->length;
            }
        }
        if (ftruncate(f->fd, f->synced_size) != 0) failed++;
        if (tear && f->ino == tear_ino && tear_offset <= f->synced_size) {
            if (pwrite(f->fd, newest.data, tear_keep, tear_offset) == (ssize_t)tear_keep) torn_bytes = tear_keep;
        }
    }
    for (size_t i = nops; i-- > 0;) {
        if (flushed(ops[i].at)) {
            written_back++;
            continue;
        }
        if (undo(&ops[i]) == 0) {
            undone++;
            fprintf(stderr, "dqlite-power-loss: undone: %s %s%s%s\n", op_name(ops[i].kind), ops[i].from ? ops[i].from : "",
                    ops[i].from ? " -> " : "", ops[i].path);
        } else {
            failed++;
            fprintf(stderr, "dqlite-power-loss: could not undo %s of %s: %s\n", op_name(ops[i].kind), ops[i].path, strerror(errno));
        }
    }
    fprintf(stderr,
            "dqlite-power-loss: power lost: %zu file(s) rolled back (%llu page(s) restored, %llu byte(s) cut), "
            "%zu directory change(s) undone, torn write kept %llu byte(s), %zu change(s) already written back, %zu failure(s)\n",
            changed_files, pages, cut_bytes, undone, torn_bytes, written_back, failed);
    if (report_path) {
        FILE *r = fopen(report_path, "w");
        if (r) {
            fprintf(r, "files %zu\npages %llu\nrestored_bytes %llu\ncut_bytes %llu\ndir_ops %zu\ntorn_bytes %llu\nwritten_back %zu\nfailures %zu\n",
                    changed_files, pages, restored_bytes, cut_bytes, undone, torn_bytes, written_back, failed);
            fclose(r);
        }
    }
}

// A clean stop: every directory change stands, so the stashed files go.
static void clean_stop(void) {
    for (size_t i = 0; i < nops; i++)
        if (ops[i].stash) unlinkat(root_fd, ops[i].stash, 0);
}

static void on_signal(int sig) {
    stop_mode = sig == SIGUSR1 ? 1 : sig == SIGUSR2 ? 2 : 0;
    if (fs) fuse_session_exit(fuse_get_session(fs));
}

static void usage(void) {
    fprintf(stderr, "usage: dqlite-power-loss --backing DIR --mount DIR [--report FILE] [--seed N] [--writeback-ms N]\n");
    exit(64);
}

int main(int argc, char **argv) {
    const char *backing = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (strcmp(argv[i], "--backing") == 0) backing = argv[++i];
        else if (strcmp(argv[i], "--mount") == 0) mount_point = argv[++i];
        else if (strcmp(argv[i], "--report") == 0) report_path = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0) seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--writeback-ms") == 0) writeback_ns = strtoll(argv[++i], NULL, 10) * 1000000LL;
        else usage();
    }
    if (!backing || !mount_point) usage();
    root_fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) die(backing);
    // Left from a stop that could not clean up: nothing in it is owed to anyone.
    remove_tree(root_fd, STASH);
    if (mkdirat(root_fd, STASH, 0700) != 0) die("creating the stash");

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);  // no SA_RESTART: the read of /dev/fuse must return so the loop sees the exit
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    // A parent's thread may have started us with these blocked (worker threads of Swift and Dispatch block
    // signals, and a blocked mask survives exec).
    sigset_t ours;
    sigemptyset(&ours);
    sigaddset(&ours, SIGTERM);
    sigaddset(&ours, SIGINT);
    sigaddset(&ours, SIGUSR1);
    sigaddset(&ours, SIGUSR2);
    sigprocmask(SIG_UNBLOCK, &ours, NULL);

    char *fargs[] = {argv[0], "-o", "fsname=dqlite-power-loss,subtype=dqlite-power-loss", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargs);
    fs = fuse_new(&args, &operations, sizeof operations, NULL);
    if (!fs) {
        fprintf(stderr, "dqlite-power-loss: fuse_new failed\n");
        return 1;
    }
    if (fuse_mount(fs, mount_point) != 0) {
        fprintf(stderr, "dqlite-power-loss: cannot mount on %s (needs root and /dev/fuse)\n", mount_point);
        return 1;
    }
    int rc = fuse_loop(fs);  // one thread: every operation sees the saved pages and changes in order
    fuse_unmount(fs);
    if (stop_mode) {
        lose_power(stop_mode == 2);
    } else {
        clean_stop();
    }
    remove_tree(root_fd, STASH);
    fuse_destroy(fs);
    return rc < 0 ? 1 : 0;
}
