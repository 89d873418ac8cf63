"""File-system and device drivers: the volume on a host directory, Null, the console."""
