"""``python -m workbench.cli``: the headless command line without the GUI launcher."""

import sys

from . import main

sys.exit(main())
