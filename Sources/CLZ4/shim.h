// LZ4 frame decoding, to check C-Raft's compressed snapshots before raft_start (it loops forever on a
// truncated one).
#include <lz4frame.h>
