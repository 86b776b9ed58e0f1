/* rnnmcu — the `host` board: the firmware app as a native process.  Frames arrive on stdin and
 * replies leave on stdout, so the host side can drive it through a pipe (transport "spawn:").
 * No counter (kind none): BENCH replies 0 ticks.  Exits 0 at end of input. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "rnnmcu_app.h"
#include "rnnmcu_port.h"

#ifndef RNNMCU_BUILD_INFO
#if defined(__clang__)
#define RNNMCU_BUILD_INFO "clang " __clang_version__
#elif defined(__GNUC__)
#define RNNMCU_BUILD_INFO "gcc " __VERSION__
#else
#define RNNMCU_BUILD_INFO "unknown compiler"
#endif
#endif

const rnnmcu_board_info_t rnnmcu_board_info = {
    .board = "host",
    .clock_hz = 0u,
    .counter_kind = (uint8_t)RNNMCU_COUNTER_NONE,
    .counter_scale = 1u,
    .build_info = RNNMCU_BUILD_INFO,
};

void rnnmcu_port_write(const uint8_t *buf, size_t n)
{
    if (n != 0u && fwrite(buf, 1u, n, stdout) != n) {
        /* the reader went away: nothing left to answer */
        _exit(1);
    }
}

uint32_t rnnmcu_port_counter(void) { return 0u; }

int main(void)
{
    uint8_t block[512];
    rnnmcu_app_init();
    rnnmcu_app_banner();
    fflush(stdout);
    for (;;) {
        ssize_t got = read(0, block, sizeof block);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("rnnmcu host: read stdin");
            return 4;
        }
        if (got == 0) {
            break;
        }
        rnnmcu_app_rx_buf(block, (size_t)got);
        if (fflush(stdout) != 0) {
            return 1;
        }
    }
    return 0;
}
