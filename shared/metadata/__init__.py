"""The metadata document: what users come for."""
