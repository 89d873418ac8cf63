"""The NT kernel model: object manager, processes, dispatcher, memory, I/O, LPC, SMSS."""
