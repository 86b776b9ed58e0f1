/* STAND-IN for compile checks only: arduino-esp32 esp32-hal-timer.h, core 3 and core 2 APIs. */
#ifndef RNNMCU_STREAM_STUB_HAL_TIMER_H
#define RNNMCU_STREAM_STUB_HAL_TIMER_H
#include <stdint.h>
#include "esp_arduino_version.h"
struct hw_timer_s;
typedef struct hw_timer_s hw_timer_t;
extern "C" {
#if ESP_ARDUINO_VERSION_MAJOR >= 3
hw_timer_t *timerBegin(uint32_t frequency);
void timerAttachInterrupt(hw_timer_t *timer, void (*userFunc)(void));
void timerAlarm(hw_timer_t *timer, uint64_t alarm_value, bool autoreload, uint64_t reload_count);
#else
hw_timer_t *timerBegin(uint8_t num, uint16_t divider, bool countUp);
void timerAttachInterrupt(hw_timer_t *timer, void (*fn)(void), bool edge);
void timerAlarmWrite(hw_timer_t *timer, uint64_t alarm_value, bool autoreload);
void timerAlarmEnable(hw_timer_t *timer);
#endif
}
#endif
