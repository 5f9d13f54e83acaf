"""``python -m sndust``: the ``sndust`` command (see :mod:`sndust._cli`)."""

import sys

from ._cli import main

sys.exit(main())
