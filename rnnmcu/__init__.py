"""rnnmcu: tiny recurrent networks from Keras to microcontrollers, proven bit-exact on the device."""
__version__ = "0.1.0"
