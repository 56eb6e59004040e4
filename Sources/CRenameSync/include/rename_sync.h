#ifndef DQLITE_SWIFT_RENAME_SYNC_H
#define DQLITE_SWIFT_RENAME_SYNC_H

/* How many renames were followed by a sync of their directory. */
unsigned long dqlite_renames_synced(void);

#endif
