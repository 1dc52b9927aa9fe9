"""The simulated federation: what the hardware under a Virtual Controller holds and does, behind one port."""
