/* rnnmcu board entry — Xtensa LX106 (the ESP8266 core) on QEMU `lx60 -cpu lx106` (the board
 * `qemu-lx106`).
 *
 * Bare metal, call0 ABI: _start (the ELF entry, where QEMU starts) sets the stack pointer and
 * calls the C start-up, which zeroes .bss, paints the stack and runs the main loop: boot banner,
 * poll the 16550 UART at 0xfd050020 (registers 4 bytes apart) and feed each byte to the
 * portable app.  Counter: the CCOUNT special register; under `qemu -icount shift=0` it advances
 * once every 25 instructions, so counter_scale = 25.
 *
 * Debian's lx106 libgcc has no __udivsi3/__umodsi3 (nor soft-float helpers: keep float off this
 * target); the integer ones are provided here. */
#include <stddef.h>
#include <stdint.h>

#include "rnnmcu_app.h"
#include "rnnmcu_port.h"

#define UART_BASE 0xfd050020u
#define UART_REG(i) (*(volatile uint32_t *)(uintptr_t)(UART_BASE + 4u * (i)))
#define UART_RBR UART_REG(0u) /* read */
#define UART_THR UART_REG(0u) /* write */
#define UART_IER UART_REG(1u)
#define UART_FCR UART_REG(2u) /* write */
#define UART_LCR UART_REG(3u)
#define UART_LSR UART_REG(5u)
#define LSR_DATA_READY 0x01u
#define LSR_THR_EMPTY 0x20u

#define BOARD_FLAGS "-mlongcalls -mtext-section-literals"

const rnnmcu_board_info_t rnnmcu_board_info = {
    .board = "qemu-lx106",
    .clock_hz = 80000000u,
    .counter_kind = (uint8_t)RNNMCU_COUNTER_INSTRUCTIONS,
    .counter_scale = 25u,
    .build_info = "gcc " __VERSION__ " " BOARD_FLAGS,
};

static void uart_putc(uint8_t c)
{
    while ((UART_LSR & LSR_THR_EMPTY) == 0u) {
    }
    UART_THR = c;
}

void rnnmcu_port_write(const uint8_t *buf, size_t n)
{
    for (size_t i = 0u; i < n; ++i) {
        uart_putc(buf[i]);
    }
}

static inline uint32_t ccount(void)
{
    uint32_t v;
    __asm__ volatile("rsr %0, ccount" : "=a"(v));
    return v;
}

/* Returns on a tick edge: CCOUNT advances once per 25 instructions here, so an unsynchronised
 * read would start a measurement at a random phase of the tick (the instruction count at which
 * a request arrives depends on the host's timing) and two identical benchmarks could differ by
 * one tick.  Waiting for the edge costs at most one tick and makes the phase repeatable. */
uint32_t rnnmcu_port_counter(void)
{
    uint32_t t = ccount();
    uint32_t u;
    while ((u = ccount()) == t) {
    }
    return u;
}

/* ---- libgcc gaps ---------------------------------------------------------------------------- */

unsigned int __udivsi3(unsigned int n, unsigned int d);
unsigned int __umodsi3(unsigned int n, unsigned int d);
int __divsi3(int n, int d);
long long __muldi3(long long a, long long b);
unsigned long long __udivdi3(unsigned long long n, unsigned long long d);
unsigned long long __umoddi3(unsigned long long n, unsigned long long d);

/* Restoring shift-and-subtract division; the caller guarantees d != 0 (as for the C operator). */
static unsigned int udivmod(unsigned int n, unsigned int d, unsigned int *rem)
{
    unsigned int q = 0u;
    unsigned int r = 0u;
    for (int bit = 31; bit >= 0; --bit) {
        r = (r << 1) | ((n >> bit) & 1u);
        if (r >= d) {
            r -= d;
            q |= 1u << bit;
        }
    }
    *rem = r;
    return q;
}

unsigned int __udivsi3(unsigned int n, unsigned int d)
{
    unsigned int r;
    return udivmod(n, d, &r);
}

unsigned int __umodsi3(unsigned int n, unsigned int d)
{
    unsigned int r;
    (void)udivmod(n, d, &r);
    return r;
}

/* Signed division truncates toward zero, as C requires. */
int __divsi3(int n, int d)
{
    const unsigned int un = n < 0 ? 0u - (unsigned int)n : (unsigned int)n;
    const unsigned int ud = d < 0 ? 0u - (unsigned int)d : (unsigned int)d;
    unsigned int r;
    const unsigned int q = udivmod(un, ud, &r);
    return (int)((n < 0) != (d < 0) ? 0u - q : q);
}

/* 64-bit product from 32-bit halves (the low 64 bits are the same for signed and unsigned). */
long long __muldi3(long long a, long long b)
{
    const unsigned long long ua = (unsigned long long)a, ub = (unsigned long long)b;
    const unsigned int al = (unsigned int)ua, ah = (unsigned int)(ua >> 32);
    const unsigned int bl = (unsigned int)ub, bh = (unsigned int)(ub >> 32);
    /* al * bl as a full 64-bit product from 16-bit pieces (no 64-bit multiply available) */
    const unsigned int a0 = al & 0xFFFFu, a1 = al >> 16, b0 = bl & 0xFFFFu, b1 = bl >> 16;
    const unsigned int p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    const unsigned int mid = (p00 >> 16) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
    const unsigned int lo = (p00 & 0xFFFFu) | (mid << 16);
    const unsigned int hi = p11 + (p01 >> 16) + (p10 >> 16) + (mid >> 16) + al * bh + ah * bl;
    return (long long)(((unsigned long long)hi << 32) | lo);
}

/* 64-bit restoring division (the streaming app's banner prints 64-bit figures). */
static unsigned long long udivmod64(unsigned long long n, unsigned long long d, unsigned long long *rem)
{
    unsigned long long q = 0u, r = 0u;
    for (int bit = 63; bit >= 0; --bit) {
        r = (r << 1) | ((n >> bit) & 1u);
        if (r >= d) {
            r -= d;
            q |= 1ull << bit;
        }
    }
    *rem = r;
    return q;
}

unsigned long long __udivdi3(unsigned long long n, unsigned long long d)
{
    unsigned long long r;
    return udivmod64(n, d, &r);
}

unsigned long long __umoddi3(unsigned long long n, unsigned long long d)
{
    unsigned long long r;
    (void)udivmod64(n, d, &r);
    return r;
}

/* ---- startup ------------------------------------------------------------------------------ */

extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];

int main(void);
void rnnmcu_board_cstart(void);

#define STACK_PAINT 0xC0FFEE5Au

__asm__(".section .text.start, \"ax\"\n"
        ".literal_position\n"
        ".align 4\n"
        ".globl _start\n"
        "_start:\n"
        "    movi a1, __stack_top\n"
        "    movi a0, rnnmcu_board_cstart\n"
        "    callx0 a0\n"
        "1:  j 1b\n"
        ".previous\n");

void rnnmcu_board_cstart(void)
{
    uint32_t *p;
    uint32_t *sp;
    for (p = __bss_start; p < __bss_end; ++p) {
        *p = 0u;
    }
    __asm__ volatile("mov %0, a1" : "=a"(sp));
    for (p = __stack_limit; p < sp - 16; ++p) {
        *p = STACK_PAINT;
    }
    (void)main();
    for (;;) {
    }
}

/* ---- main loop ---------------------------------------------------------------------------- */

int main(void)
{
    UART_IER = 0x00u;
    UART_LCR = 0x03u; /* 8N1 */
    UART_FCR = 0xC7u; /* enable and clear the FIFOs */
    /* A read of RBR makes QEMU poll the serial socket again: a byte that arrived before the FIFO
     * was enabled (and was cleared with it) made it stop, and the link would stay deaf. */
    (void)UART_RBR;
    rnnmcu_app_init();
    rnnmcu_app_banner();
    for (;;) {
        if ((UART_LSR & LSR_DATA_READY) != 0u) {
            rnnmcu_app_rx((uint8_t)UART_RBR);
        }
    }
}
