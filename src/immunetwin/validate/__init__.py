"""immunetwin.validate."""
