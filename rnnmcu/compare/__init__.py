"""``rnnmcu compare``: the same trained model through rnnmcu (float32, int16, int8) and through
TensorFlow Lite's full-int8 conversion (LiteRT and TFLite Micro), side by side.

A room of its own: it consumes the IR, ``rnnmcu.codegen`` (the references) and the Keras importer,
and neither of those imports it.

* :mod:`rnnmcu.compare.table`          the rows and the table (accuracy, agreement, bytes, RAM)
* :mod:`rnnmcu.compare.tflite_export`  full-int8 TFLite export of an IR model, in a child process
* :mod:`rnnmcu.cli.compare`            the click command
"""
