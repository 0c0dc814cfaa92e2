"""The local results page (`vidpipe ui`): the owner's videos, live, with their player and metadata."""
