"""The embedded local stack: Postgres, the four functions and the dispatcher on this machine."""
