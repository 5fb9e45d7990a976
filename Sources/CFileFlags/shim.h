#include <linux/fs.h>
#include <sys/ioctl.h>

// ioctl is variadic, which Swift cannot call: one fixed-arity wrapper per use.

/// Sets FS_TOPDIR_FL on the directory open at `directory`: ext4 then places each new subdirectory
/// as it places the root's (Orlov's rule: a block group chosen from a hash of the name), not in
/// the parent's group. Returns 0, or -1 with errno (ENOTTY where the file system has no flags).
static inline int eticket_mark_top_directory(int directory) {
    int flags = 0;
    if (ioctl(directory, FS_IOC_GETFLAGS, &flags) != 0) return -1;
    if (flags & FS_TOPDIR_FL) return 0;
    flags |= FS_TOPDIR_FL;
    return ioctl(directory, FS_IOC_SETFLAGS, &flags);
}

/// Whether the directory open at `directory` has FS_TOPDIR_FL: 1, 0, or -1 with errno.
static inline int eticket_is_top_directory(int directory) {
    int flags = 0;
    if (ioctl(directory, FS_IOC_GETFLAGS, &flags) != 0) return -1;
    return (flags & FS_TOPDIR_FL) ? 1 : 0;
}
