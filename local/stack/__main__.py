"""`python -m local.stack`: see local/stack/command_line.py."""

import sys

from local.stack.command_line import main

sys.exit(main())
