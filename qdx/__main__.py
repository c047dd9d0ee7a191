from qdx.cli import main

raise SystemExit(main())
