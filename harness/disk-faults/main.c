// dqlite-disk-faults: runs a program (a dqlite node) with disk faults it can switch on and off.
//
//   dqlite-disk-faults --control FILE [--scope DIR] -- PROGRAM ARGS...
//
// The program runs in this very process (same pid: the harness signals it as if it were started directly)
// under a seccomp filter that hands every write and sync system call to a supervisor process forked from
// here before the filter was installed (never fork a multi-threaded process after, hence a launcher). For
// each call the supervisor reads FILE (at most every 10 ms) and answers:
//   off | missing file      the call runs as usual
//   eio [PERCENT]           the call fails with EIO   (PERCENT of the matching calls, default 100)
//   enospc [PERCENT]        the call fails with ENOSPC
// Only calls on files under DIR (default: the program's --dir argument) fail; io_submit (C-Raft's kernel
// AIO on its log segments) always matches, since its iocbs are in the program's memory. Sockets, pipes,
// the log and files elsewhere are never touched. The supervisor writes how many calls it failed to
// FILE.injected, and says when the mode changes on standard error (the node's log).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const watched[] = {
    "write", "writev", "pwrite64", "pwritev", "pwritev2", "fsync", "fdatasync", "sync_file_range",
    "fallocate", "ftruncate", "io_submit",
};

enum mode { MODE_OFF, MODE_EIO, MODE_ENOSPC };

struct control {
    const char *path;
    char injected_path[PATH_MAX];
    enum mode mode;
    unsigned percent;
    struct timespec read_at;
    unsigned long long injected;
};

static void usage(void) {
    fprintf(stderr, "usage: dqlite-disk-faults --control FILE [--scope DIR] -- PROGRAM ARGS...\n");
    exit(64);
}

static double since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static const char *mode_name(enum mode m) { return m == MODE_EIO ? "eio" : m == MODE_ENOSPC ? "enospc" : "off"; }

static void write_injected(struct control *c) {
    char text[32];
    int n = snprintf(text, sizeof text, "%llu\n", c->injected);
    int fd = open(c->injected_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, text, (size_t)n) < 0) { /* best effort: the count is a report, not a control */ }
        close(fd);
    }
}

// Re-reads the control file when it is older than 10 ms. A malformed one is reported and counts as off.
static void refresh(struct control *c) {
    if (c->read_at.tv_sec != 0 && since(&c->read_at) < 0.010) return;
    clock_gettime(CLOCK_MONOTONIC, &c->read_at);
    enum mode mode = MODE_OFF;
    unsigned percent = 100;
    FILE *f = fopen(c->path, "re");
    if (f) {
        char word[32] = "";
        int got = fscanf(f, "%31s %u", word, &percent);
        fclose(f);
        if (got >= 1 && strcmp(word, "eio") == 0) mode = MODE_EIO;
        else if (got >= 1 && strcmp(word, "enospc") == 0) mode = MODE_ENOSPC;
        else if (got >= 1 && strcmp(word, "off") != 0) fprintf(stderr, "dqlite-disk-faults: %s: unknown mode '%s', taken as off\n", c->path, word);
        if (got < 2 || percent > 100) percent = 100;
    }
    if (mode != c->mode || percent != c->percent) {
        fprintf(stderr, "dqlite-disk-faults: %s %u%% (failed %llu calls so far)\n", mode_name(mode), percent, c->injected);
        c->mode = mode;
        c->percent = percent;
    }
}

static int under(const char *path, const char *scope) {
    size_t n = strlen(scope);
    while (n > 1 && scope[n - 1] == '/') n--;
    return strncmp(path, scope, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static void supervise(int notify_fd, const char *scope, struct control *c) {
    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    if (seccomp_notify_alloc(&req, &resp) != 0) _exit(70);
    int io_submit_nr = seccomp_syscall_resolve_name("io_submit");
    unsigned seed = (unsigned)getpid();
    for (;;) {
        struct pollfd p = {.fd = notify_fd, .events = POLLIN};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR) continue;
            _exit(0);
        }
        if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) _exit(0);  // the program is gone
        memset(req, 0, sizeof *req);
        if (seccomp_notify_receive(notify_fd, req) != 0) {
            if (errno == EINTR || errno == ENOENT) continue;  // ENOENT: the caller died meanwhile
            _exit(0);
        }
        refresh(c);
        int fail = 0;
        if (c->mode != MODE_OFF && (unsigned)(rand_r(&seed) % 100) < c->percent) {
            if (req->data.nr == io_submit_nr) {
                fail = 1;
            } else {
                char link[64], target[PATH_MAX];
                snprintf(link, sizeof link, "/proc/%u/fd/%llu", req->pid, (unsigned long long)req->data.args[0]);
                ssize_t n = readlink(link, target, sizeof target - 1);
                if (n > 0) {
                    target[n] = '\0';
                    fail = under(target, scope);
                }
            }
        }
        memset(resp, 0, sizeof *resp);
        resp->id = req->id;
        if (fail) {
            resp->error = c->mode == MODE_EIO ? -EIO : -ENOSPC;
            c->injected++;
            write_injected(c);
        } else {
            resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        }
        // ENOENT: the caller was killed while we decided; nothing to answer.
        if (seccomp_notify_respond(notify_fd, resp) != 0 && errno != ENOENT) _exit(0);
    }
}

static int send_fd(int sock, int fd) {
    char byte = 0;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd, sizeof fd);
    return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int receive_fd(int sock) {
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    if (recvmsg(sock, &m, 0) != 1) return -1;
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    if (!h || h->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(h), sizeof fd);
    return fd;
}

int main(int argc, char **argv) {
    const char *control = NULL, *scope = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) { i++; break; }
        if (strcmp(argv[i], "--control") == 0 && i + 1 < argc) control = argv[++i];
        else if (strcmp(argv[i], "--scope") == 0 && i + 1 < argc) scope = argv[++i];
        else usage();
    }
    if (!control || i >= argc) usage();
    char **program = argv + i;
    for (int j = i; !scope && j + 1 < argc; j++)
        if (strcmp(argv[j], "--dir") == 0) scope = argv[j + 1];
    if (!scope) { fprintf(stderr, "dqlite-disk-faults: no --scope and no --dir in the program's arguments\n"); return 64; }
    char resolved[PATH_MAX];
    if (!realpath(scope, resolved)) {
        // The node creates its dir on first start: resolve the parent and append the last component.
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", scope);
        char *slash = strrchr(parent, '/');
        const char *last = slash ? slash + 1 : parent;
        char base[PATH_MAX];
        snprintf(base, sizeof base, "%s", last);
        if (slash == parent) strcpy(parent, "/"); else if (slash) *slash = '\0'; else strcpy(parent, ".");
        char rp[PATH_MAX];
        if (!realpath(parent, rp)) { fprintf(stderr, "dqlite-disk-faults: %s: %s\n", scope, strerror(errno)); return 66; }
        snprintf(resolved, sizeof resolved, "%s/%s", strcmp(rp, "/") == 0 ? "" : rp, base);
    }

    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) { perror("dqlite-disk-faults: socketpair"); return 71; }
    pid_t program_pid = getpid();
    pid_t supervisor = fork();
    if (supervisor < 0) { perror("dqlite-disk-faults: fork"); return 71; }
    if (supervisor == 0) {
        close(pair[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != program_pid) _exit(0);
        // Stops, kills and Ctrl-C aimed at the node's process group must not stop the supervisor first.
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        int fd = receive_fd(pair[1]);
        close(pair[1]);
        if (fd < 0) _exit(0);
        struct control c = {.path = control, .mode = MODE_OFF, .percent = 100};
        snprintf(c.injected_path, sizeof c.injected_path, "%s.injected", control);
        write_injected(&c);
        supervise(fd, resolved, &c);
        _exit(0);
    }
    close(pair[1]);

    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) { fprintf(stderr, "dqlite-disk-faults: seccomp_init failed\n"); return 71; }
    for (size_t k = 0; k < sizeof watched / sizeof *watched; k++) {
        int nr = seccomp_syscall_resolve_name(watched[k]);
        if (nr == __NR_SCMP_ERROR) continue;
        int rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
        if (rc != 0) { fprintf(stderr, "dqlite-disk-faults: rule for %s: %s\n", watched[k], strerror(-rc)); return 71; }
    }
    int rc = seccomp_load(ctx);
    if (rc != 0) { fprintf(stderr, "dqlite-disk-faults: seccomp_load: %s\n", strerror(-rc)); return 71; }
    int notify_fd = seccomp_notify_fd(ctx);
    if (notify_fd < 0 || send_fd(pair[0], notify_fd) != 0) { fprintf(stderr, "dqlite-disk-faults: no notification fd\n"); return 71; }
    close(notify_fd);
    close(pair[0]);
    seccomp_release(ctx);
    execvp(program[0], program);
    fprintf(stderr, "dqlite-disk-faults: %s: %s\n", program[0], strerror(errno));
    return 127;
}
