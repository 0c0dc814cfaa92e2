"""vidpipe's shared package: domain, ports, adapters, media and metadata for every function."""

__version__ = "0.1.0"
