"""Every Chinese user-facing string lives in this package, one module per domain (common, menu, policy, report...)."""
