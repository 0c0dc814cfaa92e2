"""One use case per function: parse nothing, trust nothing, re-read state, do one step."""
