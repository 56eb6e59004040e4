#ifndef DQLITE_SWIFT_SPAWN_SHIMS_H
#define DQLITE_SWIFT_SPAWN_SHIMS_H

#include <spawn.h>

/* pipe2(fds, O_CLOEXEC): both ends close on exec, so no other child inherits them. 0 or -1 (errno). */
int dqlite_pipe_cloexec(int fds[2]);

/* posix_spawn_file_actions_addclosefrom_np(actions, from): the child closes every descriptor >= from
 * (glibc 2.34; a GNU extension Swift's Glibc module does not show). 0 or an error number. */
int dqlite_spawn_close_from(posix_spawn_file_actions_t *actions, int from);

#endif
