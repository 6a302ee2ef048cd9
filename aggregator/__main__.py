"""`python -m aggregator`: the same entry point as the console script."""

from aggregator.cli import main

raise SystemExit(main())
