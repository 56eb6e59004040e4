// LZ4 frame decoding, to check C-Raft's compressed snapshots before raft_start (it loops forever on a
// truncated one); LZ4 block coding, for compressed FRAMES log entries.
#include <lz4frame.h>
#include <lz4.h>
