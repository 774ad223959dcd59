"""immunetwin.data."""
