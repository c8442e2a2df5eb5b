"""One module per CLI command; see backend.cli for the interface they implement."""
