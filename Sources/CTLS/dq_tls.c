/* TLS on OpenSSL for the node and its clients (see dq_tls.h). */
#define _GNU_SOURCE
#include "dq_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct dq_tls_context {
    SSL_CTX *ssl;
    char *server_name;
    dq_tls_log_fn log;
    void *log_user;
    atomic_int refs;
};

static void set_error(char *error, size_t len, const char *what) {
    if (error == NULL || len == 0) return;
    unsigned long e = ERR_get_error();
    if (e != 0) {
        char reason[256];
        ERR_error_string_n(e, reason, sizeof reason);
        snprintf(error, len, "%s: %s", what, reason);
    } else {
        snprintf(error, len, "%s", what);
    }
    ERR_clear_error();
}

static void logf_ctx(dq_tls_context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_ctx(dq_tls_context *ctx, const char *fmt, ...) {
    if (ctx->log == NULL) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_user, line);
}

/* The first DNS name of the certificate in file, or NULL. */
static char *first_dns_name(const char *file) {
    FILE *f = fopen(file, "r");
    if (f == NULL) return NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL) return NULL;
    char *out = NULL;
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && out == NULL; i++) {
        GENERAL_NAME *n = sk_GENERAL_NAME_value(names, i);
        if (n->type == GEN_DNS) {
            const unsigned char *s = ASN1_STRING_get0_data(n->d.dNSName);
            out = strndup((const char *)s, (size_t)ASN1_STRING_length(n->d.dNSName));
        }
    }
    GENERAL_NAMES_free(names);
    X509_free(x);
    return out;
}

dq_tls_context *dq_tls_context_new(const char *cert, const char *key, const char *ca, const char *server_name,
                                   char *error, size_t error_len) {
    /* A peer that goes away mid-write must not end the process: writes then fail with EPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (ca == NULL) {
        set_error(error, error_len, "a CA file is required");
        return NULL;
    }
    if ((cert == NULL) != (key == NULL)) {
        set_error(error, error_len, "a certificate needs its key, and a key its certificate");
        return NULL;
    }
    SSL_CTX *ssl = SSL_CTX_new(TLS_method());
    if (ssl == NULL) {
        set_error(error, error_len, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    /* Sessions are long-lived and few: no tickets to send after each handshake. */
    SSL_CTX_set_num_tickets(ssl, 0);
    SSL_CTX_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    char what[1200];
    if (cert != NULL && SSL_CTX_use_certificate_chain_file(ssl, cert) != 1) {
        snprintf(what, sizeof what, "cannot load the certificate %s", cert);
        goto fail;
    }
    if (key != NULL && SSL_CTX_use_PrivateKey_file(ssl, key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            snprintf(what, sizeof what, "the key %s does not match the certificate %s", key, cert);
        } else {
            snprintf(what, sizeof what, "cannot load the key %s", key);
        }
        goto fail;
    }
    if (cert != NULL && SSL_CTX_check_private_key(ssl) != 1) {
        snprintf(what, sizeof what, "the key %s does not match the certificate %s", key, cert);
        goto fail;
    }
    if (SSL_CTX_load_verify_locations(ssl, ca, NULL) != 1) {
        snprintf(what, sizeof what, "cannot load the CA %s", ca);
        goto fail;
    }
    /* Both sides check the other: a server refuses a client that shows no certificate. */
    SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);

    dq_tls_context *ctx = calloc(1, sizeof *ctx);
    ctx->ssl = ssl;
    if (server_name != NULL) ctx->server_name = strdup(server_name);
    else if (cert != NULL) ctx->server_name = first_dns_name(cert);
    atomic_init(&ctx->refs, 1);
    return ctx;
fail:
    set_error(error, error_len, what);
    SSL_CTX_free(ssl);
    return NULL;
}

void dq_tls_context_set_log(dq_tls_context *ctx, dq_tls_log_fn fn, void *user) {
    ctx->log = fn;
    ctx->log_user = user;
}

const char *dq_tls_context_server_name(const dq_tls_context *ctx) { return ctx->server_name; }

static dq_tls_context *retain(dq_tls_context *ctx) {
    atomic_fetch_add(&ctx->refs, 1);
    return ctx;
}

void dq_tls_context_release(dq_tls_context *ctx) {
    if (ctx == NULL || atomic_fetch_sub(&ctx->refs, 1) != 1) return;
    SSL_CTX_free(ctx->ssl);
    free(ctx->server_name);
    free(ctx);
}

/* An SSL for one connection on fd, as a client (with the server name to check) or a server. */
static SSL *new_ssl(dq_tls_context *ctx, int fd, int client) {
    SSL *ssl = SSL_new(ctx->ssl);
    if (ssl == NULL) return NULL;
    SSL_set_fd(ssl, fd);
    if (client) {
        SSL_set_connect_state(ssl);
        if (ctx->server_name != NULL) {
            SSL_set_tlsext_host_name(ssl, ctx->server_name);
            SSL_set1_host(ssl, ctx->server_name);
        }
    } else {
        SSL_set_accept_state(ssl);
    }
    return ssl;
}

/* Why a handshake failed, for a log line or an error. */
static void describe_failure(SSL *ssl, int rc, char *out, size_t len) {
    long verify = SSL_get_verify_result(ssl);
    unsigned long e = ERR_peek_last_error();
    int kind = SSL_get_error(ssl, rc);
    if (verify != X509_V_OK) {
        snprintf(out, len, "certificate verify failed: %s", X509_verify_cert_error_string(verify));
    } else if (e != 0) {
        char reason[256];
        ERR_error_string_n(e, reason, sizeof reason);
        /* What a plain-TCP dqlite client's first bytes look like to a TLS server. */
        int plain = ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER && SSL_is_server(ssl);
        int cut = ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
        snprintf(out, len, "%s%s", plain ? "not TLS (a client without TLS?): " : cut ? "closed during the handshake: " : "", reason);
    } else if (kind == SSL_ERROR_SYSCALL) {
        snprintf(out, len, "connection closed during the handshake%s%s", errno ? ": " : "", errno ? strerror(errno) : "");
    } else {
        snprintf(out, len, "handshake failed (SSL error %d)", kind);
    }
    ERR_clear_error();
}

/* ---- streams (the caller polls) ---- */

struct dq_tls_stream {
    SSL *ssl;
    int fd;       /* the socket, closed with the stream when owned (server sessions) */
    int owns_fd;
    char error[512];
};

dq_tls_stream *dq_tls_stream_client(dq_tls_context *ctx, int fd) {
    dq_tls_stream *s = calloc(1, sizeof *s);
    s->fd = fd;
    s->ssl = new_ssl(ctx, fd, 1);
    if (s->ssl == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

static long outcome(dq_tls_stream *s, int rc, int handshake) {
    int e = SSL_get_error(s->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ: return DQ_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return DQ_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return 0;
    case SSL_ERROR_SYSCALL:
        if (!handshake && ERR_peek_error() == 0 && errno == 0) return 0; /* the peer closed without close_notify */
        /* fall through */
    default:
        describe_failure(s->ssl, rc, s->error, sizeof s->error);
        return DQ_TLS_FAILED;
    }
}

int dq_tls_stream_handshake(dq_tls_stream *s) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) return 0;
    long o = outcome(s, rc, 1);
    if (o == 0) {
        snprintf(s->error, sizeof s->error, "the server closed the connection during the handshake");
        return DQ_TLS_FAILED;
    }
    return (int)o;
}

long dq_tls_stream_read(dq_tls_stream *s, void *buf, size_t len) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read(s->ssl, buf, len > 1 << 30 ? 1 << 30 : (int)len);
    return rc > 0 ? rc : outcome(s, rc, 0);
}

long dq_tls_stream_write(dq_tls_stream *s, const void *buf, size_t len) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write(s->ssl, buf, len > 1 << 30 ? 1 << 30 : (int)len);
    if (rc > 0) return rc;
    long o = outcome(s, rc, 0);
    if (o == 0) {
        snprintf(s->error, sizeof s->error, "the connection was closed");
        return DQ_TLS_FAILED;
    }
    return o;
}

int dq_tls_stream_pending(dq_tls_stream *s) { return SSL_pending(s->ssl); }

const char *dq_tls_stream_error(const dq_tls_stream *s) { return s->error; }

void dq_tls_stream_free(dq_tls_stream *s) {
    if (s == NULL) return;
    SSL_free(s->ssl);
    if (s->owns_fd) close(s->fd);
    free(s);
}

int dq_tls_stream_fd(const dq_tls_stream *s) { return s->fd; }

void dq_tls_stream_close(dq_tls_stream *s) {
    if (s == NULL) return;
    ERR_clear_error();
    SSL_shutdown(s->ssl); /* one try: a close_notify if the socket takes it, no waiting */
    dq_tls_stream_free(s);
}

/* ---- tunnels ---- */

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Runs the handshake on a non-blocking fd until done, failed, or the deadline. 1 on success. */
static int handshake_blocking(SSL *ssl, int fd, long long deadline, char *why, size_t why_len) {
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_do_handshake(ssl);
        if (rc == 1) return 1;
        int e = SSL_get_error(ssl, rc);
        short events;
        if (e == SSL_ERROR_WANT_READ) events = POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE) events = POLLOUT;
        else {
            describe_failure(ssl, rc, why, why_len);
            return 0;
        }
        long long left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = events};
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            snprintf(why, why_len, "handshake timed out");
            return 0;
        }
    }
}

enum { TUNNEL_BUFFER = 64 * 1024 };

/* Carries bytes both ways between plain_fd and the TLS session until either side ends. Both fds non-blocking.
 * Never blocks on one direction while the other has work, so two tunnels facing each other cannot deadlock. */
static void pump(SSL *ssl, int tls_fd, int plain_fd) {
    unsigned char *up = malloc(TUNNEL_BUFFER);   /* read from plain, to be written to TLS */
    unsigned char *down = malloc(TUNNEL_BUFFER); /* read from TLS, to be written to plain */
    size_t up_len = 0, down_off = 0, down_len = 0;
    int plain_eof = 0, tls_eof = 0;
    short write_wants = 0, read_wants = POLLIN;
    for (;;) {
        int progress = 1;
        while (progress) {
            progress = 0;
            /* While a TLS write waits to be retried, its buffer must not change (OpenSSL's rule). */
            if (!plain_eof && write_wants == 0 && up_len < TUNNEL_BUFFER) {
                ssize_t n = read(plain_fd, up + up_len, TUNNEL_BUFFER - up_len);
                if (n > 0) { up_len += (size_t)n; progress = 1; }
                else if (n == 0) plain_eof = 1;
                else if (errno != EAGAIN && errno != EINTR) goto done;
            }
            if (up_len > 0) {
                ERR_clear_error();
                int n = SSL_write(ssl, up, (int)up_len);
                if (n > 0) {
                    memmove(up, up + n, up_len - (size_t)n);
                    up_len -= (size_t)n;
                    write_wants = 0;
                    progress = 1;
                } else {
                    int e = SSL_get_error(ssl, n);
                    if (e == SSL_ERROR_WANT_READ) write_wants = POLLIN;
                    else if (e == SSL_ERROR_WANT_WRITE) write_wants = POLLOUT;
                    else goto done;
                }
            }
            if (down_off > 0 && down_off == down_len) down_off = down_len = 0;
            if (!tls_eof && down_len < TUNNEL_BUFFER) {
                ERR_clear_error();
                int n = SSL_read(ssl, down + down_len, (int)(TUNNEL_BUFFER - down_len));
                if (n > 0) {
                    down_len += (size_t)n;
                    read_wants = POLLIN;
                    progress = 1;
                } else {
                    int e = SSL_get_error(ssl, n);
                    if (e == SSL_ERROR_WANT_READ) read_wants = POLLIN;
                    else if (e == SSL_ERROR_WANT_WRITE) read_wants = POLLOUT;
                    else tls_eof = 1; /* close_notify, or the connection ended */
                }
            }
            if (down_len > down_off) {
                ssize_t n = send(plain_fd, down + down_off, down_len - down_off, MSG_NOSIGNAL);
                if (n > 0) { down_off += (size_t)n; progress = 1; }
                else if (errno != EAGAIN && errno != EINTR) goto done;
            }
        }
        /* No half-closed connections in this protocol: either side's end ends the tunnel once what it sent
         * has been passed on. */
        if ((plain_eof && up_len == 0) || (tls_eof && down_off == down_len)) break;
        struct pollfd p[2] = {{.fd = plain_fd}, {.fd = tls_fd}};
        if (!plain_eof && write_wants == 0 && up_len < TUNNEL_BUFFER) p[0].events |= POLLIN;
        if (down_len > down_off) p[0].events |= POLLOUT;
        if (up_len > 0) p[1].events |= write_wants ? write_wants : POLLOUT;
        if (!tls_eof && down_len < TUNNEL_BUFFER) p[1].events |= read_wants;
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
        if ((p[0].revents & (POLLERR | POLLNVAL)) || (p[1].revents & (POLLERR | POLLNVAL))) break;
    }
    if (plain_eof) SSL_shutdown(ssl);
done:
    free(up);
    free(down);
}

static void set_nonblocking_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Splits "host:port" or "[v6]:port" and resolves it (numeric hosts resolve without a lookup). */
static struct addrinfo *resolve(const char *address, int passive) {
    char host[256], port[16];
    const char *colon = strrchr(address, ':');
    if (colon == NULL || strlen(colon + 1) >= sizeof port) return NULL;
    size_t hlen = (size_t)(colon - address);
    const char *h = address;
    if (hlen >= 2 && address[0] == '[' && address[hlen - 1] == ']') { h++; hlen -= 2; }
    if (hlen >= sizeof host) return NULL;
    memcpy(host, h, hlen);
    host[hlen] = 0;
    strcpy(port, colon + 1);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
    struct addrinfo *list = NULL;
    if (getaddrinfo(host, port, &hints, &list) != 0) return NULL;
    return list;
}

struct dial_args {
    dq_tls_context *ctx;
    char *address;
    int plain_fd;
    int timeout_ms;
};

/* Connects before the deadline; the connected non-blocking fd or -1. */
static int connect_before(const char *address, long long deadline) {
    struct addrinfo *list = resolve(address, 0);
    int fd = -1;
    for (struct addrinfo *ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            long long left = deadline - now_ms();
            int err = 0;
            socklen_t elen = sizeof err;
            if (errno != EINPROGRESS || left <= 0 || poll(&p, 1, (int)left) <= 0 ||
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
                close(fd);
                fd = -1;
            }
        }
    }
    if (list) freeaddrinfo(list);
    return fd;
}

static void *dial_thread(void *arg) {
    struct dial_args *a = arg;
    long long deadline = now_ms() + a->timeout_ms;
    fcntl(a->plain_fd, F_SETFL, fcntl(a->plain_fd, F_GETFL) | O_NONBLOCK);
    int fd = connect_before(a->address, deadline);
    if (fd >= 0) {
        set_nonblocking_nodelay(fd);
        SSL *ssl = new_ssl(a->ctx, fd, 1);
        char why[512];
        if (ssl != NULL && handshake_blocking(ssl, fd, deadline, why, sizeof why)) {
            pump(ssl, fd, a->plain_fd);
        } else if (ssl != NULL) {
            logf_ctx(a->ctx, "TLS: no secure connection to %s: %s", a->address, why);
        }
        SSL_free(ssl);
        close(fd);
    }
    close(a->plain_fd);
    dq_tls_context_release(a->ctx);
    free(a->address);
    free(a);
    return NULL;
}

struct session_tunnel {
    dq_tls_stream *stream;
    int plain_fd;
};

static void *session_tunnel_thread(void *arg) {
    struct session_tunnel *t = arg;
    pump(t->stream->ssl, t->stream->fd, t->plain_fd);
    close(t->plain_fd);
    dq_tls_stream_free(t->stream);
    free(t);
    return NULL;
}

static int start_detached(void *(*fn)(void *), void *arg);

int dq_tls_stream_into_tunnel(dq_tls_stream *s) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0) {
        dq_tls_stream_free(s);
        return -1;
    }
    struct session_tunnel *t = malloc(sizeof *t);
    t->stream = s;
    t->plain_fd = pair[1];
    if (start_detached(session_tunnel_thread, t) != 0) {
        close(pair[0]);
        close(pair[1]);
        dq_tls_stream_free(s);
        free(t);
        return -1;
    }
    return pair[0];
}

/* Starts fn on a detached thread with a small stack (tunnels hold their buffers on the heap). */
static int start_detached(void *(*fn)(void *), void *arg) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    /* Tunnel threads take no signals: they belong to the process's own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc;
}

int dq_tls_tunnel_dial(dq_tls_context *ctx, const char *address, int plain_fd, int timeout_ms) {
    struct dial_args *a = malloc(sizeof *a);
    a->ctx = retain(ctx);
    a->address = strdup(address);
    a->plain_fd = plain_fd;
    a->timeout_ms = timeout_ms;
    int rc = start_detached(dial_thread, a);
    if (rc != 0) {
        close(plain_fd);
        dq_tls_context_release(ctx);
        free(a->address);
        free(a);
    }
    return rc;
}

/* ---- server ---- */

struct dq_tls_server {
    dq_tls_context *ctx;
    int listen_fd;
    int event_fd;
    pthread_t acceptor;
    pthread_mutex_t lock;
    dq_tls_stream **queue;
    size_t queued, capacity;
    atomic_int refs; /* the owner, the acceptor and each handshake under way */
    atomic_int stopped;
};

static void server_release(dq_tls_server *s) {
    if (atomic_fetch_sub(&s->refs, 1) != 1) return;
    for (size_t i = 0; i < s->queued; i++) dq_tls_stream_free(s->queue[i]);
    free(s->queue);
    close(s->event_fd);
    pthread_mutex_destroy(&s->lock);
    dq_tls_context_release(s->ctx);
    free(s);
}

/* Queues a session for the owner; false once the server is stopped (the caller frees it). */
static int server_enqueue(dq_tls_server *s, dq_tls_stream *session) {
    pthread_mutex_lock(&s->lock);
    int ok = !atomic_load(&s->stopped);
    if (ok) {
        if (s->queued == s->capacity) {
            s->capacity = s->capacity ? 2 * s->capacity : 16;
            s->queue = realloc(s->queue, s->capacity * sizeof *s->queue);
        }
        s->queue[s->queued++] = session;
        uint64_t one = 1;
        ssize_t w = write(s->event_fd, &one, sizeof one);
        (void)w;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

struct accepted {
    dq_tls_server *server;
    int fd;
    char peer[INET6_ADDRSTRLEN + 8];
};

static void *accepted_thread(void *arg) {
    struct accepted *a = arg;
    dq_tls_server *s = a->server;
    set_nonblocking_nodelay(a->fd);
    /* A connection that never sends a byte (a node's leader watch holds such an idle connection to see its
     * leader's process die; a port scan) tried nothing, so it is closed after a while without a log line. */
    struct pollfd first = {.fd = a->fd, .events = POLLIN};
    char byte;
    if (poll(&first, 1, 60000) <= 0 || recv(a->fd, &byte, 1, MSG_PEEK) <= 0) {
        close(a->fd);
        server_release(s);
        free(a);
        return NULL;
    }
    SSL *ssl = new_ssl(s->ctx, a->fd, 0);
    char why[512] = "cannot create a TLS session";
    if (ssl != NULL && handshake_blocking(ssl, a->fd, now_ms() + 10000, why, sizeof why)) {
        /* Authenticated: the owner runs the session from here (its loop reads and writes it). */
        dq_tls_stream *session = calloc(1, sizeof *session);
        session->ssl = ssl;
        session->fd = a->fd;
        session->owns_fd = 1;
        if (!server_enqueue(s, session)) dq_tls_stream_free(session);
        server_release(s);
        free(a);
        return NULL;
    }
    logf_ctx(s->ctx, "TLS: refused a connection from %s: %s", a->peer, why);
    SSL_free(ssl);
    close(a->fd);
    server_release(s);
    free(a);
    return NULL;
}

static void *acceptor_thread(void *arg) {
    dq_tls_server *s = arg;
    while (!atomic_load(&s->stopped)) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                usleep(10000);
                continue;
            }
            break; /* shut down by dq_tls_server_stop */
        }
        struct accepted *a = calloc(1, sizeof *a);
        a->server = s;
        a->fd = fd;
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (peer.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&peer;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
            port = ntohs(in->sin_port);
        } else if (peer.ss_family == AF_INET6) {
            struct sockaddr_in6 *in = (struct sockaddr_in6 *)&peer;
            inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
            port = ntohs(in->sin6_port);
        }
        snprintf(a->peer, sizeof a->peer, "%s:%d", host, port);
        atomic_fetch_add(&s->refs, 1);
        if (start_detached(accepted_thread, a) != 0) {
            close(fd);
            free(a);
            atomic_fetch_sub(&s->refs, 1);
        }
    }
    server_release(s);
    return NULL;
}

dq_tls_server *dq_tls_server_start(dq_tls_context *ctx, const char *address, char *error, size_t error_len) {
    struct addrinfo *list = resolve(address, 1);
    if (list == NULL) {
        snprintf(error, error_len, "bad address %s: expected HOST:PORT", address);
        return NULL;
    }
    int fd = socket(list->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, list->ai_addr, list->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        snprintf(error, error_len, "cannot listen on %s: %s", address, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(list);
        return NULL;
    }
    freeaddrinfo(list);
    dq_tls_server *s = calloc(1, sizeof *s);
    s->ctx = retain(ctx);
    s->listen_fd = fd;
    s->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->refs, 2);
    atomic_init(&s->stopped, 0);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->acceptor, NULL, acceptor_thread, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(error, error_len, "cannot start the TLS acceptor: %s", strerror(rc));
        close(fd);
        atomic_init(&s->refs, 1);
        server_release(s);
        return NULL;
    }
    return s;
}

int dq_tls_server_event_fd(const dq_tls_server *s) { return s->event_fd; }

dq_tls_stream *dq_tls_server_take(dq_tls_server *s) {
    pthread_mutex_lock(&s->lock);
    dq_tls_stream *fd = NULL;
    if (s->queued > 0) {
        fd = s->queue[0];
        memmove(s->queue, s->queue + 1, (s->queued - 1) * sizeof *s->queue);
        s->queued--;
    }
    if (s->queued == 0) {
        uint64_t n;
        ssize_t r = read(s->event_fd, &n, sizeof n);
        (void)r;
    }
    pthread_mutex_unlock(&s->lock);
    return fd;
}

void dq_tls_server_stop(dq_tls_server *s) {
    atomic_store(&s->stopped, 1);
    shutdown(s->listen_fd, SHUT_RDWR); /* wakes accept() */
    pthread_join(s->acceptor, NULL);
    close(s->listen_fd);
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->queued; i++) dq_tls_stream_free(s->queue[i]);
    s->queued = 0;
    pthread_mutex_unlock(&s->lock);
    server_release(s);
}
