#ifndef DQLITE_SWIFT_AIO_DESTROY_H
#define DQLITE_SWIFT_AIO_DESTROY_H

/* How many io_destroy calls made through syscall() were finished on a helper thread. */
unsigned long dqlite_aio_destroys_deferred(void);

#endif
