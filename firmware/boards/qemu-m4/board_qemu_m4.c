/* rnnmcu board entry — Cortex-M4F on QEMU `mps2-an386` (the board `qemu-m4`).
 *
 * Bare metal: vector table at 0x0, reset handler that copies .data, zeroes .bss, paints the stack
 * and enables the FPU, then the main loop: boot banner, poll CMSDK UART0 and feed each byte to the
 * portable app.  Counter: the MPS2 FPGAIO 25 MHz counter; under `qemu -icount shift=0` (1 ns per
 * instruction) it advances once every 40 instructions, so counter_scale = 40. */
#include <stddef.h>
#include <stdint.h>

#include "rnnmcu_app.h"
#include "rnnmcu_port.h"

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* CMSDK APB UART0 */
#define UART0_BASE 0x40004000u
#define UART_DATA REG32(UART0_BASE + 0x00u)
#define UART_STATE REG32(UART0_BASE + 0x04u)
#define UART_CTRL REG32(UART0_BASE + 0x08u)
#define UART_BAUDDIV REG32(UART0_BASE + 0x10u)
#define UART_STATE_TX_FULL 0x1u
#define UART_STATE_RX_FULL 0x2u

/* MPS2 FPGAIO free-running 25 MHz counter */
#define FPGAIO_COUNTER REG32(0x40028018u)

/* System control block: coprocessor access control (FPU) */
#define SCB_CPACR REG32(0xE000ED88u)

#define BOARD_FLAGS "-mthumb -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard"

const rnnmcu_board_info_t rnnmcu_board_info = {
    .board = "qemu-m4",
    .clock_hz = 25000000u,
    .counter_kind = (uint8_t)RNNMCU_COUNTER_INSTRUCTIONS,
    .counter_scale = 40u,
    .build_info = "gcc " __VERSION__ " " BOARD_FLAGS,
};

void rnnmcu_port_write(const uint8_t *buf, size_t n)
{
    for (size_t i = 0u; i < n; ++i) {
        while ((UART_STATE & UART_STATE_TX_FULL) != 0u) {
        }
        UART_DATA = buf[i];
    }
}

/* Returns on a tick edge: the counter advances once per 40 instructions, so an unsynchronised
 * read would start a measurement at a random phase of the tick (the instruction count at which
 * a request arrives depends on the host's timing) and two identical benchmarks could differ by
 * one tick.  Waiting for the edge costs at most one tick and makes the phase repeatable. */
uint32_t rnnmcu_port_counter(void)
{
    uint32_t t = FPGAIO_COUNTER;
    uint32_t u;
    while ((u = FPGAIO_COUNTER) == t) {
    }
    return u;
}

/* ---- startup ------------------------------------------------------------------------------ */

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];

int main(void);
void rnnmcu_board_reset(void);
void rnnmcu_board_fault(void);

/* The stack is painted with this word so that the high-water mark can be read from a debugger
 * or a memory dump (the lowest overwritten word). */
#define STACK_PAINT 0xC0FFEE5Au

void rnnmcu_board_reset(void)
{
    uint32_t *dst = __data_start;
    const uint32_t *src = __data_load;
    while (dst < __data_end) {
        *dst++ = *src++;
    }
    for (dst = __bss_start; dst < __bss_end; ++dst) {
        *dst = 0u;
    }
    /* paint the stack below the current frame */
    {
        uint32_t *sp;
        __asm__ volatile("mov %0, sp" : "=r"(sp));
        for (dst = __stack_limit; dst < sp - 16; ++dst) {
            *dst = STACK_PAINT;
        }
    }
    /* full access to CP10 and CP11 (the FPU) before any floating-point instruction */
    SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    (void)main();
    for (;;) {
    }
}

static void fault_puts(const char *s)
{
    while (*s != '\0') {
        while ((UART_STATE & UART_STATE_TX_FULL) != 0u) {
        }
        UART_DATA = (uint8_t)*s++;
    }
}

/* Any fault or unexpected interrupt: say so on the link (outside any frame) and stop. */
void rnnmcu_board_fault(void)
{
    fault_puts("\nrnnmcu qemu-m4: fault\n");
    for (;;) {
    }
}

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used)) const vector_t rnnmcu_board_vectors[16] = {
    (vector_t)(uintptr_t)__stack_top, /* initial SP */
    rnnmcu_board_reset,               /* reset */
    rnnmcu_board_fault,               /* NMI */
    rnnmcu_board_fault,               /* HardFault */
    rnnmcu_board_fault,               /* MemManage */
    rnnmcu_board_fault,               /* BusFault */
    rnnmcu_board_fault,               /* UsageFault */
    0, 0, 0, 0,                       /* reserved */
    rnnmcu_board_fault,               /* SVCall */
    rnnmcu_board_fault,               /* DebugMon */
    0,                                /* reserved */
    rnnmcu_board_fault,               /* PendSV */
    rnnmcu_board_fault,               /* SysTick */
};

/* ---- main loop ---------------------------------------------------------------------------- */

int main(void)
{
    UART_BAUDDIV = 16u;
    UART_CTRL = 0x3u; /* TX and RX enable */
    /* A read of DATA makes QEMU poll the serial socket again: bytes that arrived before RX was
     * enabled made it stop, and the link would stay deaf. */
    (void)UART_DATA;
    rnnmcu_app_init();
    rnnmcu_app_banner();
    for (;;) {
        if ((UART_STATE & UART_STATE_RX_FULL) != 0u) {
            rnnmcu_app_rx((uint8_t)UART_DATA);
        }
    }
}
