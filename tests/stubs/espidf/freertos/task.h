/* STAND-IN for compile checks only (tests/stubs/README.md): FreeRTOS task.h, the part used. */
#ifndef RNNMCU_STUB_FREERTOS_TASK_H
#define RNNMCU_STUB_FREERTOS_TASK_H
#include "freertos/FreeRTOS.h"
void vTaskDelay(const TickType_t xTicksToDelay);
#endif
