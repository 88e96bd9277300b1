from guard._cli import main

raise SystemExit(main())
