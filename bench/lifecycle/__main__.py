from bench.lifecycle.main import main

raise SystemExit(main())
