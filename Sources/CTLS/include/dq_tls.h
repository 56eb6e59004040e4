#ifndef DQLITE_SWIFT_TLS_H
#define DQLITE_SWIFT_TLS_H

/* TLS for the node and its clients, on OpenSSL (Debian's libssl). Mutual TLS as go-dqlite's app.WithTLS sets
 * it up: every side presents a certificate signed by the cluster's CA and checks the other's against it; a
 * dialler checks the server's name against the first DNS name of its own certificate unless told otherwise.
 *
 * Two ways in:
 * - a stream: TLS on a non-blocking socket the caller polls itself (the Swift client's event loop);
 * - tunnels on threads of their own, for streams the caller cannot wrap (C-Raft reads and writes its
 *   libuv streams itself): the caller gets the plain end of a socketpair and the tunnel carries its bytes
 *   over TLS.
 * A server handshakes on threads of its own and hands each authenticated session over whole; its owner runs
 * it as a stream (a client's connection) or turns it into a tunnel (a Raft peer's). */

#include <stddef.h>

typedef struct dq_tls_context dq_tls_context;
typedef struct dq_tls_stream dq_tls_stream;
typedef struct dq_tls_server dq_tls_server;

/* Called from any thread with one line that says what was refused and why. */
typedef void (*dq_tls_log_fn)(void *user, const char *line);

/* cert and key may be NULL (a client with no certificate); ca is required. server_name NULL: the first DNS
 * name of cert, or no name check when there is none. NULL on error, with the reason in error. */
dq_tls_context *dq_tls_context_new(const char *cert, const char *key, const char *ca, const char *server_name,
                                   char *error, size_t error_len);
/* The log function stays in use by tunnels until the last of them ends; user must live as long. */
void dq_tls_context_set_log(dq_tls_context *ctx, dq_tls_log_fn fn, void *user);
/* The name a dialler checks, or NULL. */
const char *dq_tls_context_server_name(const dq_tls_context *ctx);
/* Drops the caller's reference; tunnels still running keep theirs. */
void dq_tls_context_release(dq_tls_context *ctx);

enum { DQ_TLS_WANT_READ = -1, DQ_TLS_WANT_WRITE = -2, DQ_TLS_FAILED = -3 };

/* A client session on fd (connected, non-blocking; not closed by this layer). */
dq_tls_stream *dq_tls_stream_client(dq_tls_context *ctx, int fd);
/* 0 once the handshake is done, DQ_TLS_WANT_* to poll for and call again, DQ_TLS_FAILED. */
int dq_tls_stream_handshake(dq_tls_stream *s);
/* Bytes moved (> 0), 0 at the peer's end (read only), DQ_TLS_WANT_*, DQ_TLS_FAILED. */
long dq_tls_stream_read(dq_tls_stream *s, void *buf, size_t len);
long dq_tls_stream_write(dq_tls_stream *s, const void *buf, size_t len);
/* The socket the session runs on. */
int dq_tls_stream_fd(const dq_tls_stream *s);
/* Decrypted bytes ready to read without touching the socket. */
int dq_tls_stream_pending(dq_tls_stream *s);
/* Why the last call failed. */
const char *dq_tls_stream_error(const dq_tls_stream *s);
/* Frees the session (and closes its socket when it owns it: a server's session). */
void dq_tls_stream_free(dq_tls_stream *s);
/* Sends close_notify if the socket takes it at once, then frees the session as dq_tls_stream_free. */
void dq_tls_stream_close(dq_tls_stream *s);
/* Hands a server's session to a tunnel on a thread of its own (what it already decrypted goes along): the
 * plain end of a socketpair for a reader that cannot run TLS itself (C-Raft), or -1 (the session is freed). */
int dq_tls_stream_into_tunnel(dq_tls_stream *s);

/* Dials address ("host:port" or "[v6]:port") over TLS on a thread of its own and carries plain_fd's bytes to
 * it both ways. Owns plain_fd from the call on: it is closed when either side ends or the dial fails (a
 * handshake refused is logged). 0, or an errno when no thread could start (plain_fd is then closed). */
int dq_tls_tunnel_dial(dq_tls_context *ctx, const char *address, int plain_fd, int timeout_ms);

/* Listens on address with TLS, each connection handshaken (and its certificate checked) on a thread of its
 * own; each authenticated session is queued and event_fd becomes readable. NULL on error. */
dq_tls_server *dq_tls_server_start(dq_tls_context *ctx, const char *address, char *error, size_t error_len);
int dq_tls_server_event_fd(const dq_tls_server *server);
/* The next queued session (its socket non-blocking, owned by it), or NULL when none is queued. */
dq_tls_stream *dq_tls_server_take(dq_tls_server *server);
/* Stops accepting and closes what was queued; tunnels already running end when either side closes. */
void dq_tls_server_stop(dq_tls_server *server);

#endif
