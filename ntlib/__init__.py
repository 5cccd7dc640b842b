"""ntlib — runnable companion to He & Glass (ACL 2020), "Negative Training for Neural
Dialogue Response Generation". One module per concept of the paper; see README.md.

Importing ntlib pins torch's CPU float path to AVX2 on x86-64 (:mod:`ntlib.machine.floatpath`) before torch
loads, so every machine computes the committed numbers; ``NTLIB_NATIVE_ISA=1`` opts out."""
from ntlib.machine import floatpath as _floatpath

_floatpath.pin()
__version__ = "0.1.0"
