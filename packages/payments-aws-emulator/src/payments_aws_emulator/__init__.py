"""The AWS emulator the platform develops and tests against: moto's server, mended (mends.py).

A package of its own, depending on nothing of ours, so that its image (`make images`) carries
moto and these mends only.
"""
