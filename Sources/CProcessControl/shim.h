#include <signal.h>
#include <sys/prctl.h>

// prctl is variadic, which Swift cannot call: one fixed-arity wrapper per use.

/// Asks the kernel to send `signal` to this process when the thread that started it ends.
static inline int eticket_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}
