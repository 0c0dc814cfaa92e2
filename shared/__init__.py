"""vidpipe's shared package: domain, ports, adapters, media and metadata for every function."""
