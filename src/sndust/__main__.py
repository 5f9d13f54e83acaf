"""``python -m sndust``: the ``sndust`` command (see :mod:`sndust._app._cli`)."""

import sys

from ._app._cli import main

sys.exit(main())
