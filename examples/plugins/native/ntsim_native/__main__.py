"""`python -m ntsim_native`: print native.inc, the service table for the assembler."""

import sys

from .services import nasm_include

sys.stdout.write(nasm_include())
