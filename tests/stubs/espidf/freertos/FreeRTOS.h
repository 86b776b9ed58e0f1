/* STAND-IN for compile checks only (tests/stubs/README.md): FreeRTOS.h as ESP-IDF ships it. */
#ifndef RNNMCU_STUB_FREERTOS_H
#define RNNMCU_STUB_FREERTOS_H
#include <stdint.h>
typedef uint32_t TickType_t;
#define portMAX_DELAY ((TickType_t)0xffffffffUL)
#define configTICK_RATE_HZ 100
#define pdMS_TO_TICKS(ms) ((TickType_t)(((TickType_t)(ms) * (TickType_t)configTICK_RATE_HZ) / (TickType_t)1000U))
#endif
