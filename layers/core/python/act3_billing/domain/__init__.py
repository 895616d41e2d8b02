"""Pure billing rules: no I/O, no clock reads; time and values come in as arguments."""
