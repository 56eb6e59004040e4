// dqlite-clock-faults: an LD_PRELOAD library that bends a process's clocks under the control of a file, for
// the chaos bed's clock faults (Jepsen's bump and strobe, libfaketime's rates). The layout and the meaning
// of the file are in include/clock_faults.h; DQLITE_CLOCK_FAULTS names it. No file: no change at all.
//
// Readings: clock_gettime (monotonic, raw, coarse, boottime, realtime), gettimeofday and time. A rate bends
// every clock; jumps and strobes move the wall clock only, as a step of NTP or `date -s` does (monotonic
// clocks never jump). Waits follow the bent clocks, so that timers fire by them: relative timeouts are
// divided by the rate (epoll_wait, epoll_pwait, poll, ppoll, nanosleep, usleep, relative clock_nanosleep
// and timerfds), and absolute deadlines are mapped back to real time (clock_nanosleep with TIMER_ABSTIME,
// timerfd_settime with TFD_TIMER_ABSTIME, pthread_cond_timedwait, pthread_cond_clockwait). What goes to
// the kernel by syscall() (futexes) is not seen.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock_faults.h"

#define NEXT(name) static __typeof__(name) *real_##name
NEXT(clock_gettime);
NEXT(epoll_wait);
NEXT(epoll_pwait);
NEXT(poll);
NEXT(ppoll);
NEXT(nanosleep);
NEXT(clock_nanosleep);
NEXT(timerfd_create);
NEXT(timerfd_settime);
NEXT(pthread_cond_timedwait);
NEXT(pthread_cond_clockwait);

static const volatile struct clock_fault *control;
static atomic_int state; // 0: not set up, 1: being set up, 2: ready
#define MAX_TIMERFDS 4096
static _Atomic int timerfd_clocks[MAX_TIMERFDS]; // clock id + 1 of each timerfd we saw created

static void setup(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&state, &expected, 1)) {
        while (atomic_load(&state) != 2) {
        }
        return;
    }
#define LOOK(name) real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name)
    LOOK(clock_gettime); LOOK(epoll_wait); LOOK(epoll_pwait); LOOK(poll); LOOK(ppoll); LOOK(nanosleep);
    LOOK(clock_nanosleep); LOOK(timerfd_create); LOOK(timerfd_settime); LOOK(pthread_cond_clockwait);
    // The current ABI's version: the unversioned name could resolve to the pre-2.3.2 one.
    real_pthread_cond_timedwait = (__typeof__(real_pthread_cond_timedwait))dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.3.2");
    const char *path = getenv("DQLITE_CLOCK_FAULTS");
    if (path != NULL) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            void *p = mmap(NULL, sizeof(struct clock_fault), PROT_READ, MAP_SHARED, fd, 0);
            close(fd);
            if (p != MAP_FAILED) control = p;
        }
    }
    atomic_store(&state, 2);
}

static inline void ready(void) {
    if (atomic_load_explicit(&state, memory_order_acquire) != 2) setup();
}

static int64_t ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }
static struct timespec ts(int64_t n) {
    if (n < 0) n = 0;
    struct timespec t = {.tv_sec = n / 1000000000, .tv_nsec = n % 1000000000};
    return t;
}

struct view { int64_t mono, real; double rate; };

/* The shifts now and the rate, read under the writer's sequence lock. */
static struct view view_now(void) {
    struct view v = {0, 0, 1.0};
    if (control == NULL) return v;
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t before = control->sequence;
        atomic_thread_fence(memory_order_acquire);
        if (control->magic != CLOCK_FAULT_MAGIC) return v;
        if (before & 1) continue;
        uint32_t mode = control->mode;
        int64_t mono = control->mono_offset_ns, real = control->real_offset_ns, anchor = control->anchor_ns;
        int64_t period = control->period_ns, strobe = control->strobe_ns;
        double rate = control->rate;
        atomic_thread_fence(memory_order_acquire);
        if (control->sequence != before) continue;
        struct timespec t;
        real_clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t since = ns(&t) - anchor;
        if (mode == CLOCK_FAULT_RATE && rate > 0) {
            mono += (int64_t)((double)since * (rate - 1.0));
            v.rate = rate;
        }
        v.mono = mono;
        v.real = mono + real + ((mode == CLOCK_FAULT_STROBE && period > 0 && since > 0 && (since / period) % 2 == 1) ? strobe : 0);
        return v;
    }
    return v;
}

static int is_wall(clockid_t id) { return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_REALTIME_ALARM || id == CLOCK_TAI; }
static int is_elapsed(clockid_t id) {
    return id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_RAW || id == CLOCK_MONOTONIC_COARSE || id == CLOCK_BOOTTIME || id == CLOCK_BOOTTIME_ALARM;
}
static int64_t shift_of(clockid_t id, struct view v) { return is_wall(id) ? v.real : is_elapsed(id) ? v.mono : 0; }

int clock_gettime(clockid_t id, struct timespec *tp) {
    ready();
    int rc = real_clock_gettime(id, tp);
    if (rc == 0 && control != NULL) {
        int64_t shift = shift_of(id, view_now());
        if (shift != 0) *tp = ts(ns(tp) + shift);
    }
    return rc;
}

// glibc declares tv nonnull, but callers pass NULL for the time zone alone: keep the check.
#pragma GCC diagnostic ignored "-Wtautological-pointer-compare"
int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    (void)tz;
    struct timespec t;
    int rc = clock_gettime(CLOCK_REALTIME, &t);
    if (rc == 0 && tv != NULL) {
        tv->tv_sec = t.tv_sec;
        tv->tv_usec = t.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *out) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    if (out != NULL) *out = t.tv_sec;
    return t.tv_sec;
}

/* A relative wait of `n` bent nanoseconds, in real ones. */
static int64_t real_span(int64_t n, struct view v) { return v.rate == 1.0 ? n : (int64_t)((double)n / v.rate); }
static int real_ms(int ms) {
    if (ms <= 0 || control == NULL) return ms;
    int64_t r = real_span((int64_t)ms * 1000000, view_now());
    return (int)((r + 999999) / 1000000);
}
/* An absolute deadline on clock `id`, as bent, in real time on that clock. */
static struct timespec real_deadline(clockid_t id, const struct timespec *deadline) {
    struct view v = view_now();
    struct timespec now;
    real_clock_gettime(id, &now);
    int64_t left = ns(deadline) - (ns(&now) + shift_of(id, v));
    return ts(ns(&now) + (left > 0 ? real_span(left, v) : 0));
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) {
    ready();
    return real_epoll_wait(epfd, events, maxevents, real_ms(timeout));
}

int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout, const sigset_t *sigmask) {
    ready();
    return real_epoll_pwait(epfd, events, maxevents, real_ms(timeout), sigmask);
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout) {
    ready();
    return real_poll(fds, nfds, real_ms(timeout));
}

int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask) {
    ready();
    if (timeout == NULL || control == NULL) return real_ppoll(fds, nfds, timeout, sigmask);
    struct timespec t = ts(real_span(ns(timeout), view_now()));
    return real_ppoll(fds, nfds, &t, sigmask);
}

int nanosleep(const struct timespec *request, struct timespec *remain) {
    ready();
    if (control == NULL || request == NULL) return real_nanosleep(request, remain);
    struct timespec t = ts(real_span(ns(request), view_now()));
    return real_nanosleep(&t, remain);
}

int usleep(useconds_t us) {
    struct timespec t = ts((int64_t)us * 1000);
    return nanosleep(&t, NULL);
}

int clock_nanosleep(clockid_t id, int flags, const struct timespec *request, struct timespec *remain) {
    ready();
    if (control == NULL || request == NULL) return real_clock_nanosleep(id, flags, request, remain);
    if (flags & TIMER_ABSTIME) {
        struct timespec t = real_deadline(id, request);
        return real_clock_nanosleep(id, flags, &t, remain);
    }
    struct timespec t = ts(real_span(ns(request), view_now()));
    return real_clock_nanosleep(id, flags, &t, remain);
}

int timerfd_create(int id, int flags) {
    ready();
    int fd = real_timerfd_create(id, flags);
    if (fd >= 0 && fd < MAX_TIMERFDS) atomic_store(&timerfd_clocks[fd], id + 1);
    return fd;
}

int timerfd_settime(int fd, int flags, const struct itimerspec *value, struct itimerspec *old) {
    ready();
    if (control == NULL || value == NULL || fd < 0 || fd >= MAX_TIMERFDS || atomic_load(&timerfd_clocks[fd]) == 0)
        return real_timerfd_settime(fd, flags, value, old);
    clockid_t id = atomic_load(&timerfd_clocks[fd]) - 1;
    struct view v = view_now();
    struct itimerspec t = *value;
    t.it_interval = ts(real_span(ns(&value->it_interval), v));
    if (ns(&value->it_value) != 0) {
        t.it_value = (flags & TFD_TIMER_ABSTIME) ? real_deadline(id, &value->it_value) : ts(real_span(ns(&value->it_value), v));
        if (ns(&t.it_value) == 0) t.it_value.tv_nsec = 1; // zero would disarm it
    }
    return real_timerfd_settime(fd, flags, &t, old);
}

int pthread_cond_timedwait(pthread_cond_t *restrict cond, pthread_mutex_t *restrict mutex, const struct timespec *restrict abstime) {
    ready();
    if (control == NULL || abstime == NULL) return real_pthread_cond_timedwait(cond, mutex, abstime);
    // glibc keeps the condition variable's clock in bit 0 of __wrefs (pthread_condattr_setclock).
    clockid_t id = (cond->__data.__wrefs & 1) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
    struct timespec t = real_deadline(id, abstime);
    return real_pthread_cond_timedwait(cond, mutex, &t);
}

int pthread_cond_clockwait(pthread_cond_t *restrict cond, pthread_mutex_t *restrict mutex, clockid_t id, const struct timespec *restrict abstime) {
    ready();
    if (control == NULL || abstime == NULL) return real_pthread_cond_clockwait(cond, mutex, id, abstime);
    struct timespec t = real_deadline(id, abstime);
    return real_pthread_cond_clockwait(cond, mutex, id, &t);
}
