#ifndef DQLITE_SWIFT_WRITEBACK_H
#define DQLITE_SWIFT_WRITEBACK_H

/* Starts writing a file's dirty pages to its disk without waiting for them: sync_file_range with
 * SYNC_FILE_RANGE_WRITE over the whole file (0 or -1 with errno). glibc declares it only with _GNU_SOURCE,
 * which Swift's Glibc module is not built with. */
int dqlite_start_writeback(int fd);

#endif
