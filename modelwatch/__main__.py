from modelwatch.cli import main

raise SystemExit(main())
