#include <sqlite3.h>
#include <string.h>

// What Swift cannot import from sqlite3.h by itself: composite result-code macros, variadic functions, and a
// file struct with room for the Swift object behind an open file.

static const int DQS_IOERR_SHORT_READ = SQLITE_IOERR_SHORT_READ;
static const int DQS_IOERR_WRITE = SQLITE_IOERR_WRITE;
static const int DQS_IOERR_READ = SQLITE_IOERR_READ;
static const int DQS_IOERR_TRUNCATE = SQLITE_IOERR_TRUNCATE;
static const int DQS_BUSY_SNAPSHOT = SQLITE_BUSY_SNAPSHOT;

/// An open file of the Swift VFS: SQLite's base struct, then an opaque pointer to the Swift object.
typedef struct dqs_file {
    sqlite3_file base;
    void *ctx;
} dqs_file;

/// sqlite3_db_config for the (int, int*) options, which Swift cannot call because the function is variadic.
static inline int dqs_db_config_int(sqlite3 *db, int op, int value) {
    int out = 0;
    return sqlite3_db_config(db, op, value, &out);
}

/// Sets the error message a PRAGMA file control returns (fnctl[0]), allocated as SQLite expects.
static inline void dqs_pragma_set_error(void *arg, const char *message) {
    char **fnctl = (char **)arg;
    fnctl[0] = sqlite3_mprintf("%s", message);
}

/// SQLITE_TRANSIENT, a macro of a function-pointer cast.
static inline sqlite3_destructor_type dqs_transient(void) { return SQLITE_TRANSIENT; }
