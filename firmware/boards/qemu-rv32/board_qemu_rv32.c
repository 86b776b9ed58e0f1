/* rnnmcu board entry — RV32IMC on QEMU `virt` with `-bios none` (the board `qemu-rv32`).
 *
 * Bare metal: _start (linked first, at 0x80000000 where QEMU jumps) sets gp and sp and calls
 * the C start-up, which zeroes .bss, paints the stack and runs the main loop: boot banner, poll
 * the 16550 UART at 0x10000000 and feed each byte to the portable app.  Counter: the minstret
 * CSR, exact instructions retired. */
#include <stddef.h>
#include <stdint.h>

#include "rnnmcu_app.h"
#include "rnnmcu_port.h"

#define UART_BASE 0x10000000u
#define UART_REG(off) (*(volatile uint8_t *)(uintptr_t)(UART_BASE + (off)))
#define UART_RBR UART_REG(0u) /* read */
#define UART_THR UART_REG(0u) /* write */
#define UART_IER UART_REG(1u)
#define UART_FCR UART_REG(2u) /* write */
#define UART_LCR UART_REG(3u)
#define UART_LSR UART_REG(5u)
#define LSR_DATA_READY 0x01u
#define LSR_THR_EMPTY 0x20u

#define BOARD_FLAGS "-march=rv32imc_zicsr -mabi=ilp32"

const rnnmcu_board_info_t rnnmcu_board_info = {
    .board = "qemu-rv32",
    .clock_hz = 160000000u,
    .counter_kind = (uint8_t)RNNMCU_COUNTER_INSTRUCTIONS,
    .counter_scale = 1u,
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

uint32_t rnnmcu_port_counter(void)
{
    uint32_t v;
    __asm__ volatile("csrr %0, minstret" : "=r"(v));
    return v;
}

/* ---- startup ------------------------------------------------------------------------------ */

extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];

int main(void);
void rnnmcu_board_cstart(void);
void rnnmcu_board_trap(void);

#define STACK_PAINT 0xC0FFEE5Au

__asm__(".section .text.start, \"ax\", @progbits\n"
        ".globl _start\n"
        "_start:\n"
        ".option push\n"
        ".option norelax\n"
        "    la gp, __global_pointer$\n"
        ".option pop\n"
        "    la sp, __stack_top\n"
        "    la t0, rnnmcu_board_trap\n"
        "    csrw mtvec, t0\n"
        "    j rnnmcu_board_cstart\n"
        ".previous\n");

void rnnmcu_board_cstart(void)
{
    uint32_t *p;
    uint32_t *sp;
    for (p = __bss_start; p < __bss_end; ++p) {
        *p = 0u;
    }
    __asm__ volatile("mv %0, sp" : "=r"(sp));
    for (p = __stack_limit; p < sp - 16; ++p) {
        *p = STACK_PAINT;
    }
    (void)main();
    for (;;) {
    }
}

/* Any trap: say so on the link (outside any frame) and stop.  mtvec needs 4-byte alignment. */
__attribute__((aligned(4))) void rnnmcu_board_trap(void)
{
    static const char msg[] = "\nrnnmcu qemu-rv32: trap\n";
    for (const char *s = msg; *s != '\0'; ++s) {
        uart_putc((uint8_t)*s);
    }
    for (;;) {
    }
}

/* ---- main loop ---------------------------------------------------------------------------- */

int main(void)
{
    UART_IER = 0x00u;
    UART_LCR = 0x03u; /* 8N1 */
    UART_FCR = 0xC7u; /* enable and clear the FIFOs: without it input arrives byte by byte, slowly */
    /* A read of RBR makes QEMU poll the serial socket again: a byte that arrived before the FIFO
     * was enabled (and was cleared with it) made it stop, and the link would stay deaf. */
    (void)UART_RBR;
    rnnmcu_app_init();
    rnnmcu_app_banner();
    for (;;) {
        if ((UART_LSR & LSR_DATA_READY) != 0u) {
            rnnmcu_app_rx(UART_RBR);
        }
    }
}
