"""`python -m translator …` (and `torchrun … -m translator …`) runs the command line."""
import sys

from translator.cli import main

sys.exit(main())
