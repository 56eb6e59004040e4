#include <raft.h>
#include <raft/uv.h>
#include <raft/fixture.h>
