"""vidpipe's infrastructure: the embedded local stack, the dispatcher and the CLI."""
