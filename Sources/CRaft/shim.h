#include <raft.h>
#include <raft/uv.h>
