"""``python -m motioneval`` (and ``torchrun -m motioneval evaluate --distributed ...``)."""
import sys

from .cli.main import main

sys.exit(main())
