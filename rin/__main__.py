"""`python -m rin` runs the `rin` command."""

import sys

from rin.cli.main import main

sys.exit(main())
