/* STAND-IN for compile checks only (tests/stubs/README.md): FreeRTOS queue.h, the part used. */
#ifndef RNNMCU_STUB_FREERTOS_QUEUE_H
#define RNNMCU_STUB_FREERTOS_QUEUE_H
#include "freertos/FreeRTOS.h"
struct QueueDefinition;
typedef struct QueueDefinition *QueueHandle_t;
#endif
