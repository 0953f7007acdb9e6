"""The console's routes, one router per resource; each module's `router(console)` builds it."""
