"""The ``fengkong`` command line: a thin layer over the library."""
