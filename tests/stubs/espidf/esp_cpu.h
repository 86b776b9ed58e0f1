/* STAND-IN for compile checks only (tests/stubs/README.md): ESP-IDF v5
 * components/esp_hw_support/include/esp_cpu.h, the part used (the real one is an inline). */
#ifndef RNNMCU_STUB_ESP_CPU_H
#define RNNMCU_STUB_ESP_CPU_H
#include <stdint.h>
typedef uint32_t esp_cpu_cycle_count_t;
esp_cpu_cycle_count_t esp_cpu_get_cycle_count(void);
#endif
