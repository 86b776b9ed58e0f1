/* STAND-IN for compile checks only: tests/stubs/arduino/Arduino.h plus the Arduino calls the
 * streaming sensor entry uses (arduino-esp32 signatures). */
#include_next <Arduino.h>
#ifndef RNNMCU_STREAM_STUB_ARDUINO_H
#define RNNMCU_STREAM_STUB_ARDUINO_H
#include <string.h>
#define IRAM_ATTR __attribute__((section(".iram1")))
void delay(uint32_t ms);
#endif
