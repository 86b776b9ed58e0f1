/* STAND-IN for compile checks only (tests/stubs/README.md): the Arduino API the rnnmcu board
 * entry uses, with the signatures of the real cores.  Not a framework; links to nothing. */
#ifndef RNNMCU_STUB_ARDUINO_H
#define RNNMCU_STUB_ARDUINO_H

#include <stddef.h>
#include <stdint.h>

class Stream {
public:
    virtual int available(void) = 0;
    virtual int read(void) = 0;
    size_t readBytes(char *buffer, size_t length);
    size_t readBytes(uint8_t *buffer, size_t length) { return readBytes((char *)buffer, length); }
    virtual size_t write(const uint8_t *buffer, size_t size) = 0;
    virtual ~Stream() {}
};

class HardwareSerial : public Stream {
public:
    void begin(unsigned long baud);
    int available(void) override;
    int read(void) override;
    size_t write(const uint8_t *buffer, size_t size) override;
#if defined(ARDUINO_ARCH_ESP32)
    size_t setRxBufferSize(size_t new_size); /* arduino-esp32: call before begin() */
#endif
};

extern HardwareSerial Serial;

#if defined(ARDUINO_ARCH_ESP32)
/* arduino-esp32 Esp.h */
class EspClass {
public:
    uint32_t getCpuFreqMHz();
    inline uint32_t getCycleCount() __attribute__((always_inline));
};
uint32_t EspClass::getCycleCount() { return 0u; }
extern EspClass ESP;

/* arduino-esp32 esp32-hal-cpu.h, esp32-hal.h */
extern "C" {
bool setCpuFrequencyMhz(uint32_t cpu_freq_mhz);
uint32_t getCpuFrequencyMhz();
void disableCore0WDT();
}
#endif

#endif
