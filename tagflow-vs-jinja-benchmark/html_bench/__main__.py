import sys

from html_bench.cli import main

sys.exit(main())
