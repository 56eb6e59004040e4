#ifndef DQLITE_SWIFT_SEGMENT_PREFILL_H
#define DQLITE_SWIFT_SEGMENT_PREFILL_H

/* How many open Raft log segments were filled with zeros when C-Raft allocated them. */
unsigned long dqlite_segments_prefilled(void);

#endif
