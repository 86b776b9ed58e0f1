/* STAND-IN for compile checks only: arduino-esp32 esp_arduino_version.h (core 3 by default;
 * -DRNNMCU_STUB_CORE2 checks the core 2 timer API). */
#ifndef RNNMCU_STREAM_STUB_ESP_ARDUINO_VERSION_H
#define RNNMCU_STREAM_STUB_ESP_ARDUINO_VERSION_H
#ifdef RNNMCU_STUB_CORE2
#define ESP_ARDUINO_VERSION_MAJOR 2
#else
#define ESP_ARDUINO_VERSION_MAJOR 3
#endif
#endif
