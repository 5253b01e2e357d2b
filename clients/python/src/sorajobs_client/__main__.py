"""`python -m sorajobs_client`: the same as the `sora-jobs` command."""

import sys

from sorajobs_client.cli import main

sys.exit(main())
