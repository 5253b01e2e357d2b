"""The job state machine, the services built on it, and the sweep."""
