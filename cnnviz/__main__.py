"""`python -m cnnviz explain|serve|top-images|health ...` (see `cnnviz.cli`)."""

from cnnviz.cli import main

raise SystemExit(main())
