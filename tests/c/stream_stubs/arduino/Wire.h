/* STAND-IN for compile checks only: arduino-esp32 Wire.h (TwoWire), the part used. */
#ifndef RNNMCU_STREAM_STUB_WIRE_H
#define RNNMCU_STREAM_STUB_WIRE_H
#include <stddef.h>
#include <stdint.h>
class TwoWire {
public:
    bool begin();
    bool begin(int sda, int scl, uint32_t frequency = 0);
    bool setClock(uint32_t frequency);
    void beginTransmission(uint8_t address);
    uint8_t endTransmission(bool sendStop);
    uint8_t endTransmission(void);
    uint8_t requestFrom(uint8_t address, uint8_t size);
    size_t write(uint8_t data);
    int read(void);
};
extern TwoWire Wire;
#endif
