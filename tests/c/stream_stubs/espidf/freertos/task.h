/* STAND-IN for compile checks only: tests/stubs/espidf/freertos/task.h plus the task
 * notifications the streaming sensor entry uses. */
#include_next <freertos/task.h>
#ifndef RNNMCU_STREAM_STUB_TASK_H
#define RNNMCU_STREAM_STUB_TASK_H
typedef void *TaskHandle_t;
typedef int BaseType_t;
#define pdFALSE ((BaseType_t)0)
#define pdTRUE ((BaseType_t)1)
TaskHandle_t xTaskGetCurrentTaskHandle(void);
void vTaskNotifyGiveFromISR(TaskHandle_t xTaskToNotify, BaseType_t *pxHigherPriorityTaskWoken);
uint32_t ulTaskNotifyTake(BaseType_t xClearCountOnExit, TickType_t xTicksToWait);
#endif
