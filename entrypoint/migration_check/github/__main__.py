from migration_check.github.action import main

raise SystemExit(main())
