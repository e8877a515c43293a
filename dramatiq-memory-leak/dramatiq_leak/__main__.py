import sys

from dramatiq_leak.cli import main

sys.exit(main())
