// The control file of dqlite-clock-faults (see clock_faults.c); the chaos bed writes it (ClockControl).
#ifndef DQLITE_CLOCK_FAULTS_H
#define DQLITE_CLOCK_FAULTS_H
#include <stdint.h>

#define CLOCK_FAULT_MAGIC 0x324b434f4c435144ULL // "DQCLOCK2", little-endian

enum { CLOCK_FAULT_NONE = 0, CLOCK_FAULT_RATE = 1, CLOCK_FAULT_STROBE = 2 };

// At real CLOCK_MONOTONIC time t the process's clocks read:
//   monotonic, boottime: real + mono(t),   mono(t) = mono_offset_ns + (mode rate ? (t - anchor_ns) * (rate - 1) : 0)
//   realtime:            real + mono(t) + real_offset_ns + (mode strobe and ((t - anchor_ns) / period_ns) odd ? strobe_ns : 0)
struct clock_fault {
    uint64_t magic;
    uint64_t sequence;      // odd while the writer changes the fields below
    uint32_t mode;          // CLOCK_FAULT_*
    uint32_t unused;
    int64_t mono_offset_ns; // the lead monotonic clocks have gathered (they never jump)
    int64_t real_offset_ns; // the wall clock's jump on top of it
    int64_t anchor_ns;      // real CLOCK_MONOTONIC time the rate or strobe counts from
    double rate;            // mode rate: clocks run this many times as fast as the real ones
    int64_t period_ns;      // mode strobe: every other period ...
    int64_t strobe_ns;      // ... the wall clock is this much ahead
};
#endif
