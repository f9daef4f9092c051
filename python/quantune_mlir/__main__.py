"""``python -m quantune_mlir`` runs the CLI."""

import sys

from quantune_mlir.cli import main

sys.exit(main())
